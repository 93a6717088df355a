"""API requests before controller work: one interpreter runs both, so every millisecond a controller
thread spends parsing an AWS response is a millisecond an apply waits for (Python runs one thread at a
time). Controllers are background work whose backlog the queue already absorbs, so while requests are
being handled they take turns at their next step — before each AWS call and each reconcile attempt —
one step per `max_wait` among them all: a burst of applies is answered at once, and no deployment
starves however long the burst lasts. Between requests they run freely.

Only threads marked `background()` ever pause; a request's own AWS calls (e.g. resolving an image) and
streaming responses, which stay open for minutes, are not counted as requests being handled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["FOREGROUND", "Foreground"]


class Foreground:
    def __init__(self, max_wait: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_wait = max_wait
        self._clock = clock
        self._busy = 0
        self._next_turn = 0.0  # while busy, when the next background step may go
        self._idle = threading.Condition()
        self._local = threading.local()

    @contextmanager
    def request(self) -> Iterator[None]:
        """Around the handling of one API request."""
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                if not self._busy:
                    self._idle.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Marks the calling thread as background work for the duration (a reconcile attempt)."""
        previous = getattr(self._local, "background", False)
        self._local.background = True
        try:
            yield
        finally:
            self._local.background = previous

    def give_way(self, *_: object, **__: object) -> None:
        """On a background thread: return when no request is being handled, or when it is this
        thread's turn (one per `max_wait` while they are). Elsewhere a no-op. Its signature fits a
        botocore event handler."""
        if not self._busy or not getattr(self._local, "background", False):
            return
        with self._idle:
            while self._busy:
                now = self._clock()
                if now >= self._next_turn:
                    self._next_turn = now + self.max_wait
                    return
                self._idle.wait(self._next_turn - now)


#: The process's one gate: the API marks requests, the reactor marks its attempts.
FOREGROUND = Foreground()
