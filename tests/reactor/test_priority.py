"""API requests before controller work (cloudfauj.priority): ordering, not timing."""

from __future__ import annotations

import threading

from cloudfauj.priority import Foreground


def test_while_requests_are_handled_background_steps_take_turns() -> None:
    now = [100.0]
    gate = Foreground(max_wait=0.05, clock=lambda: now[0])  # a clock that stands still: no new turn
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
        gate.give_way()  # nothing in flight
