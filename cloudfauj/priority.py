"""API requests before controller work: one interpreter runs both, so every millisecond a controller
thread spends parsing an AWS response is a millisecond an apply waits for (Python runs one thread at a
time). Controllers are background work whose backlog the queue already absorbs, so while requests are
being handled they take turns at their next step — before each AWS call and each reconcile attempt —
one step per `max_wait` among them all: a burst of applies is answered at once, and no deployment
starves however long the burst lasts. Once no request has been handled for a moment (`quiet`) they run
freely.

Only threads marked `background()` ever pause; a request's own AWS calls (e.g. resolving an image) and
streaming responses, which stay open for minutes, are not counted as requests being handled.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["FOREGROUND", "Foreground"]


class Foreground:
    def __init__(
        self, max_wait: float = 0.05, quiet: float = 0.02, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_wait, self.quiet = max_wait, quiet
        self._clock = clock
        self._lock = threading.Lock()
        self._busy = 0
        self._last_done = -math.inf  # when the last request ended
        self._next_turn = 0.0  # when the next background step may go while requests are handled
        self._waiting: deque[threading.Event] = deque()  # background threads in arrival order
        self._local = threading.local()

    @contextmanager
    def request(self) -> Iterator[None]:
        """Around the handling of one API request."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._last_done = self._clock()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Marks the calling thread as background work for the duration (a reconcile attempt)."""
        previous = getattr(self._local, "background", False)
        self._local.background = True
        try:
            yield
        finally:
            self._local.background = previous

    def _quiet(self, now: float) -> bool:
        return not self._busy and now - self._last_done >= self.quiet

    def give_way(self, *_: object, **__: object) -> None:
        """On a background thread: return once no request has been handled for `quiet`, or at this
        thread's turn (one per `max_wait` until then, in arrival order). Elsewhere a no-op. Its signature
        fits a botocore event handler.

        The quiet time keeps a burst a burst: between one client's response and its next request nothing
        is in flight for an instant, and that instant must not let every waiting controller go. Only the
        first waiter watches the clock; the others sleep until it has gone, so a turn wakes one thread,
        not all of them (each wakeup is a fight for the interpreter lock with the requests)."""
        if not getattr(self._local, "background", False) or self._quiet(self._clock()):
            return
        me = threading.Event()
        with self._lock:
            self._waiting.append(me)
        while True:
            with self._lock:
                now, first = self._clock(), self._waiting[0] is me
                quiet, turn = self._quiet(now), first and now >= self._next_turn
                if quiet or turn:
                    if not quiet:
                        self._next_turn = now + self.max_wait
                    self._waiting.remove(me)
                    if self._waiting:
                        self._waiting[0].set()  # the next one watches the clock now
                    return
                until = self._next_turn if self._busy else min(self._next_turn, self._last_done + self.quiet)
                me.clear()
            me.wait(until - now if first else None)


#: The process's one gate: the API marks requests, the reactor marks its attempts.
FOREGROUND = Foreground()
