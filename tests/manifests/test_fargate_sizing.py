"""Fargate sizing: upstream's rounding up to a valid size, with out-of-range values as errors."""

from __future__ import annotations

import re

import pytest

from cloudfauj.manifests import FARGATE_SIZES, fargate_size


@pytest.mark.parametrize(
    ("asked", "runs"),
    [
        ((100, 600), (256, 1024)),  # upstream's documented example
        ((256, 512), (256, 512)),
        ((1, 1), (256, 512)),  # at or below the first memory size: the first
        ((256, 2048), (256, 2048)),
        ((257, 512), (512, 1024)),
        ((512, 4096), (512, 4096)),
        ((600, 2049), (1024, 3072)),
        ((1024, 8192), (1024, 8192)),
        ((2000, 100), (2048, 4096)),
        ((2048, 16384), (2048, 16384)),
        ((3000, 8192), (4096, 8192)),  # AWS allows 8192 with 4096 units; upstream started at 9216
        ((4096, 30000), (4096, 30720)),
        ((4096, 30720), (4096, 30720)),
    ],
)
def test_sizes_round_up_to_the_next_fargate_size(asked: tuple[int, int], runs: tuple[int, int]) -> None:
    assert fargate_size(*asked) == runs


@pytest.mark.parametrize(
    ("cpu", "memory", "says"),
    [
        (0, 512, "cpu must be between 1 and 4096 CPU units (1024 units = 1 vCPU), not 0"),  # not 4096
        (-256, 512, "cpu must be between 1 and 4096"),
        (4097, 512, "cpu must be between 1 and 4096"),
        (256, 0, "memory must be a positive number of MiB, not 0"),
        (
            256,
            2049,
            "memory 2049 MiB is more than the 2048 MiB Fargate allows with 256 CPU units: raise cpu to 512",
        ),
        (512, 5000, "raise cpu to 1024 or more"),
        (4096, 30721, "Fargate's largest task has 30720 MiB"),
    ],
)
def test_sizes_out_of_range_are_errors_not_caps(cpu: int, memory: int, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        fargate_size(cpu, memory)


def test_the_memory_table_is_awss() -> None:
    assert FARGATE_SIZES[256] == (512, 1024, 2048)
    assert FARGATE_SIZES[512] == (1024, 2048, 3072, 4096)
    assert (FARGATE_SIZES[1024][0], FARGATE_SIZES[1024][-1], len(FARGATE_SIZES[1024])) == (2048, 8192, 7)
    assert (FARGATE_SIZES[2048][0], FARGATE_SIZES[2048][-1], len(FARGATE_SIZES[2048])) == (4096, 16384, 13)
    assert (FARGATE_SIZES[4096][0], FARGATE_SIZES[4096][-1], len(FARGATE_SIZES[4096])) == (8192, 30720, 23)


def test_every_rounded_size_is_a_fixed_point() -> None:
    for cpu, memories in FARGATE_SIZES.items():
        for memory in memories:
            assert fargate_size(cpu, memory) == (cpu, memory)
