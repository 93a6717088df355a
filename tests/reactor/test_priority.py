"""API requests before controller work (cloudfauj.priority): ordering, not timing."""

from __future__ import annotations

import threading

from cloudfauj.priority import Foreground


def test_while_requests_are_handled_background_steps_take_turns() -> None:
    now = [100.0]
    gate = Foreground(max_wait=0.05, quiet=0, clock=lambda: now[0])  # a clock that stands still: no turn
    order: list[str] = []
    waiting = threading.Event()

    def controller(name: str) -> None:
        with gate.background():
            waiting.set()
            gate.give_way()
            order.append(name)

    with gate.request():
        controller("first")  # the turn that was free goes at once
        second = threading.Thread(target=controller, args=("second",))
        second.start()
        waiting.wait(5)
        second.join(0.2)  # the next turn is 50 ms of this clock away: held back
        order.append("request done")
    second.join(5)
    assert not second.is_alive()
    assert order == ["first", "request done", "second"]


def test_a_moment_between_two_requests_of_a_burst_releases_no_background_step() -> None:
    now = [100.0]
    gate = Foreground(max_wait=0.05, quiet=0.02, clock=lambda: now[0])
    passed = threading.Event()

    def controller() -> None:
        with gate.background():
            gate.give_way()
        passed.set()

    with gate.request():
        with gate.background():
            gate.give_way()  # takes the turn that was free
        threading.Thread(target=controller).start()
    assert not passed.wait(0.2)  # no request in flight, but one ended just now
    now[0] += 0.03  # quiet for longer than `quiet`
    assert passed.wait(5)


def test_turns_go_one_at_a_time_in_arrival_order() -> None:
    now = [100.0]
    gate = Foreground(max_wait=0.05, quiet=0, clock=lambda: now[0])
    order: list[int] = []
    started: list[threading.Thread] = []

    def controller(n: int) -> None:
        with gate.background():
            gate.give_way()
        order.append(n)

    with gate.request():
        with gate.background():
            gate.give_way()  # the free turn
        for n in range(4):
            started.append(threading.Thread(target=controller, args=(n,)))
            started[-1].start()
            while len(gate._waiting) < n + 1:  # queued before the next one comes
                threading.Event().wait(0.001)
        for turn in range(4):
            now[0] += 0.05  # the next turn
            while len(order) < turn + 1:
                threading.Event().wait(0.001)
            threading.Event().wait(0.1)
            assert order == list(range(turn + 1))  # one step per turn, the earliest first
    for t in started:
        t.join(5)


def test_background_work_is_only_delayed_never_starved() -> None:
    gate = Foreground(max_wait=0.01)
    passed = threading.Event()

    def controller() -> None:
        with gate.background():
            gate.give_way()
        passed.set()

    with gate.request():  # a request that outlasts max_wait many times over
        threading.Thread(target=controller).start()
        assert passed.wait(5)


def test_request_threads_and_idle_gates_never_wait() -> None:
    gate = Foreground(max_wait=30)
    with gate.request():
        gate.give_way()  # not a background thread: e.g. the request's own AWS call
    with gate.background():
        gate.give_way()  # nothing in flight for a while
    fresh = Foreground(max_wait=30, quiet=30)
    with fresh.background():
        fresh.give_way()  # no request ever: nothing to make way for
