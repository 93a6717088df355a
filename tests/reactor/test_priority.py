"""API requests before controller work (cloudfauj.priority): ordering, not timing."""

from __future__ import annotations

import threading

from cloudfauj.priority import Foreground


def test_background_work_waits_for_requests_in_flight_then_goes_on() -> None:
    gate = Foreground(max_wait=30)
    order: list[str] = []
    waiting = threading.Event()

    def controller() -> None:
        with gate.background():
            waiting.set()
            gate.give_way()
            order.append("controller")

    with gate.request():
        worker = threading.Thread(target=controller)
        worker.start()
        waiting.wait(5)
        worker.join(0.2)  # still held back while the request is handled
        order.append("request done")
    worker.join(5)
    assert not worker.is_alive()
    assert order == ["request done", "controller"]


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
