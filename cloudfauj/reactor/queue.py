"""A work queue of object keys with client-go's semantics, on asyncio.

A key is queued at most once (the earliest due time wins); a key being processed is never handed to a
second worker — adding it meanwhile marks it dirty, and it is queued again when the worker is done. So
work is serialised per object and parallel across objects. Time comes from an injected clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

__all__ = ["WorkQueue"]


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, str]] = []
        self._due: dict[str, float] = {}
        self._processing: set[str] = set()
        self._dirty: dict[str, float] = {}
        self._counter = itertools.count()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._due)

    @property
    def processing(self) -> frozenset[str]:
        return frozenset(self._processing)

    def add(self, key: str, delay: float = 0.0) -> None:
        due = self._clock() + max(delay, 0.0)
        if key in self._processing:
            self._dirty[key] = min(due, self._dirty.get(key, due))
            return
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._counter), key))
        self._wake.set()

    async def get(self) -> str:
        while True:
            now = self._clock()
            while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                heapq.heappop(self._heap)  # a stale entry: the key was re-added earlier
            if self._heap and self._heap[0][0] <= now:
                _, _, key = heapq.heappop(self._heap)
                del self._due[key]
                self._processing.add(key)
                return key
            self._wake.clear()
            timeout = self._heap[0][0] - now if self._heap else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            due = self._dirty.pop(key)
            self.add(key, due - self._clock())
