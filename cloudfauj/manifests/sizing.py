"""Fargate task sizes: rounding a manifest's CPU and memory up to a size Fargate accepts.

Upstream rounded silently and capped anything too large (reference/upstream.md §4.5). We keep its
rounding, so existing files (cpu 100, memory 600 → 256 CPU units, 1024 MiB) mean what they meant, but a
value Fargate cannot run is an error that says what to change, never a silent cap. The memory lists are
AWS's real ones (upstream started the 4096-CPU list at 9216 MiB; AWS allows 8192).
"""

from __future__ import annotations

__all__ = ["FARGATE_SIZES", "cpu_problem", "fargate_size", "memory_problem", "size_problems"]

#: CPU units → the memory sizes (MiB) Fargate accepts with them, ascending.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
}
_MAX_CPU = max(FARGATE_SIZES)


def _round_cpu(cpu: int) -> int | None:
    return next((size for size in FARGATE_SIZES if size >= cpu), None) if cpu > 0 else None


def cpu_problem(cpu: int) -> str | None:
    """Why Fargate cannot run `cpu` CPU units (None when it can, once rounded up)."""
    if _round_cpu(cpu) is None:
        return f"must be between 1 and {_MAX_CPU} CPU units (1024 units = 1 vCPU), not {cpu}"
    return None


def memory_problem(cpu: int | None, memory: int) -> str | None:
    """Why Fargate cannot run `memory` MiB with `cpu` units (None when it can; cpu None: unknown)."""
    if memory <= 0:
        return f"must be a positive number of MiB, not {memory}"
    rounded = _round_cpu(cpu) if cpu is not None else None
    if cpu is not None and rounded is not None and memory > FARGATE_SIZES[rounded][-1]:
        return _too_much_memory(cpu, rounded, memory)
    return None


def size_problems(cpu: int, memory: int) -> list[tuple[str, str]]:
    """What is wrong with a requested size, as (field, message) pairs: field is "cpu" or "memory"."""
    found = (("cpu", cpu_problem(cpu)), ("memory", memory_problem(cpu, memory)))
    return [(field, message) for field, message in found if message is not None]


def _too_much_memory(cpu: int, rounded: int, memory: int) -> str:
    allowed = FARGATE_SIZES[rounded][-1]
    given = f"{cpu} CPU units" if cpu == rounded else f"{cpu} CPU units (rounded up to {rounded})"
    enough = next((size for size, mems in FARGATE_SIZES.items() if mems[-1] >= memory), None)
    if enough is None:
        advice = f"Fargate's largest task has {FARGATE_SIZES[_MAX_CPU][-1]} MiB"
    else:
        advice = f"raise cpu to {enough} or more, or lower memory"
    return f"{memory} MiB is more than the {allowed} MiB Fargate allows with {given}: {advice}"


def fargate_size(cpu: int, memory: int) -> tuple[int, int]:
    """The Fargate (cpu, memory) to run a task that asked for `cpu` units and `memory` MiB.

    CPU goes up to the next size; memory up to the next size valid for that CPU (anything at or below
    the smallest becomes the smallest). Raises ValueError, with a sentence, for a size out of range.
    """
    problems = size_problems(cpu, memory)
    if problems:
        raise ValueError("; ".join(f"{field} {message}" for field, message in problems))
    rounded = _round_cpu(cpu)
    assert rounded is not None  # size_problems() rejected every CPU value that has no size
    return rounded, next(size for size in FARGATE_SIZES[rounded] if size >= memory)
