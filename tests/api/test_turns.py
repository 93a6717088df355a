"""Turns: inline handlers run one per turn of the event loop, first come first served, and a turn is never
lost to an error or to a client that went away."""

from __future__ import annotations

import asyncio

import pytest

from cloudfauj.api.turns import Turns


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


def test_handlers_run_in_arrival_order_with_the_loop_turning_between_any_two() -> None:
    """What a handler schedules (as the loop's poll of the sockets would be) runs before the next handler:
    a request read meanwhile is served after those already waiting, never a whole batch later."""
    log: list[str] = []

    async def request(turns: Turns, n: int) -> None:
        async with turns:
            log.append(f"handler {n}")
            asyncio.get_running_loop().call_soon(log.append, f"loop after {n}")

    async def main() -> None:
        turns = Turns()
        await asyncio.gather(*(request(turns, n) for n in range(4)))

    run(main())
    assert log == [
        "handler 0",
        "loop after 0",
        "handler 1",
        "loop after 1",
        "handler 2",
        "loop after 2",
        "handler 3",
        "loop after 3",
    ]


def test_a_request_arriving_while_others_wait_queues_behind_them() -> None:
    order: list[str] = []

    async def request(turns: Turns, name: str, then: list[asyncio.Task[None]] | None = None) -> None:
        async with turns:
            order.append(name)
            if then is not None:  # a new request read while this one is handled
                then.append(asyncio.create_task(request(turns, "late")))

    async def main() -> None:
        turns = Turns()
        late: list[asyncio.Task[None]] = []
        await asyncio.gather(request(turns, "a", late), request(turns, "b"), request(turns, "c"))
        await asyncio.gather(*late)

    run(main())
    assert order == ["a", "b", "c", "late"]


def test_an_error_in_a_handler_passes_the_turn_on() -> None:
    done: list[str] = []

    async def failing(turns: Turns) -> None:
        async with turns:
            raise ValueError("bad input")

    async def fine(turns: Turns) -> None:
        async with turns:
            done.append("fine")

    async def main() -> None:
        turns = Turns()
        results = await asyncio.gather(failing(turns), fine(turns), return_exceptions=True)
        assert isinstance(results[0], ValueError)

    run(main())
    assert done == ["fine"]


@pytest.mark.parametrize("when", ["while waiting", "just as its turn came"])
def test_a_waiter_whose_client_went_away_does_not_hold_the_others_up(when: str) -> None:
    done: list[str] = []

    async def request(turns: Turns, name: str) -> None:
        async with turns:
            done.append(name)

    async def main() -> None:
        turns = Turns()
        first = asyncio.create_task(request(turns, "first"))
        gone = asyncio.create_task(request(turns, "gone"))
        last = asyncio.create_task(request(turns, "last"))
        await asyncio.sleep(0)  # all three have come; "first" has run, the others wait
        assert done == ["first"]
        if when == "just as its turn came":
            await asyncio.sleep(0)  # the loop has turned once: "gone" is handed the turn, not yet resumed
        gone.cancel()
        await asyncio.wait_for(asyncio.gather(first, last), timeout=1)
        with pytest.raises(asyncio.CancelledError):
            await gone

    run(main())
    assert done == ["first", "last"]


def test_a_lone_request_runs_at_once() -> None:
    async def main() -> None:
        turns = Turns()
        loop_ran: list[bool] = []
        asyncio.get_running_loop().call_soon(loop_ran.append, True)
        async with turns:
            assert loop_ran == []  # no turn of the loop was waited for
        await asyncio.sleep(0)
        async with turns:  # the turn is free again once the loop has turned
            pass

    run(main())


def test_a_turn_left_taken_by_a_loop_that_stopped_does_not_hold_up_the_next_loop() -> None:
    turns = Turns()

    async def taken_and_never_given_back() -> None:
        await turns.__aenter__()

    async def later() -> None:
        async with turns:
            pass

    run(taken_and_never_given_back())
    asyncio.run(asyncio.wait_for(later(), timeout=1))
