"""The work queue serialises work per key and honours due times (a fake clock; no sleeping)."""

from __future__ import annotations

import asyncio

from cloudfauj.reactor import WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_key_added_twice_is_handed_out_once() -> None:
    async def scenario() -> list[str]:
        q = WorkQueue(FakeClock())
        q.add("a")
        q.add("a")
        q.add("b")
        got = [await q.get(), await q.get()]
        assert len(q) == 0
        return got

    assert run(scenario()) == ["a", "b"]


def test_a_key_being_processed_is_requeued_after_done_not_given_to_a_second_worker() -> None:
    async def scenario() -> None:
        q = WorkQueue(FakeClock())
        q.add("a")
        assert await q.get() == "a"
        q.add("a")  # arrives while a worker holds it
        assert len(q) == 0 and "a" in q.processing
        q.done("a")
        assert len(q) == 1 and await q.get() == "a"

    run(scenario())


def test_a_delayed_key_waits_for_its_due_time_and_the_earliest_due_time_wins() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        q = WorkQueue(clock)
        q.add("slow", delay=10)
        q.add("soon", delay=5)
        q.add("slow", delay=1)  # moves earlier
        getter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0.01)
        assert not getter.done()
        clock.now += 1
        q.add("wake-up-call", delay=100)  # any add wakes the getter to look at the clock again
        assert await asyncio.wait_for(getter, 1) == "slow"
        clock.now += 4
        assert await asyncio.wait_for(q.get(), 1) == "soon"

    run(scenario())
