"""Counting AWS calls: every attempt (retries included) by service, operation and outcome.

The counter is `cloudfauj_aws_calls_total{service,operation,outcome}` on `/metrics`; outcome is `ok`,
`throttled` (any service's throttling code) or the AWS error code. While the reactor runs an attempt for
a record, the calls made on that thread are also tallied for the record (`attributed()`), so a record
shows what it cost.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from cloudfauj.aws.errors import THROTTLING_CODES

__all__ = ["REGISTRY", "attributed", "count_attempt"]

REGISTRY = CollectorRegistry(auto_describe=True)
AWS_CALLS = Counter(
    "cloudfauj_aws_calls",
    "AWS API call attempts (retries included) by service, operation and outcome.",
    ["service", "operation", "outcome"],
    registry=REGISTRY,
)
_local = threading.local()


@contextmanager
def attributed() -> Iterator[Tally[str]]:
    """Tally the calls this thread makes inside the block, as `service:Operation` → count."""
    previous = getattr(_local, "tally", None)
    _local.tally = tally = Tally[str]()
    try:
        yield tally
    finally:
        _local.tally = previous


def outcome_of(response: Any, caught_exception: BaseException | None) -> str:
    if caught_exception is not None:
        return type(caught_exception).__name__  # no HTTP answer: a connection error, a timeout
    parsed = response[1] if response else {}
    code = str((parsed.get("Error") or {}).get("Code") or "")
    if not code:
        return "ok"
    return "throttled" if code in THROTTLING_CODES else code


def count_attempt(
    service: str,
    response: Any = None,
    operation: Any = None,
    caught_exception: BaseException | None = None,
    **_: Any,
) -> None:
    """botocore's `needs-retry` hook: it fires once after every attempt, before the retry decision."""
    name = getattr(operation, "name", "?")
    AWS_CALLS.labels(service=service, operation=name, outcome=outcome_of(response, caught_exception)).inc()
    tally = getattr(_local, "tally", None)
    if tally is not None:
        tally[f"{service}:{name}"] += 1
