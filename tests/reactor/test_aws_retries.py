"""How the reactor treats AWS errors raised anywhere in a controller: throttling and 5xx that outlasted
botocore's retries are retried with backoff, each retry logged as its own event, until the record's
deadline and never failed before it; access denied and invalid parameters fail the record at once with
AWS's message. A stub controller raises the errors; nothing calls AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import AwsError, AwsTemporaryError, Gateway
from cloudfauj.reactor import Reactor
from cloudfauj.records import Cause, RecordStatus, utcnow
from cloudfauj.settings import Settings
from cloudfauj.store import Desired, SqliteStore
from controllers.base import Change, Context, Done, Result

KEY = "Environment/staging"
THROTTLED = "AWS ecs create_cluster failed: ThrottlingException: Rate exceeded"


def throttled() -> AwsTemporaryError:
    return AwsTemporaryError(THROTTLED, service="ecs", operation="create_cluster", code="ThrottlingException")


class Scripted:
    """A controller whose reconcile raises the scripted errors, one per attempt, then converges."""

    kind = "Environment"

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)

    def plan(self, ctx: Context) -> list[Change]:
        return []

    def reconcile(self, ctx: Context) -> Result:
        if self.errors:
            raise self.errors.pop(0)
        return Done(message="Converged.")

    def finalize(self, ctx: Context) -> Result:
        return Done()


class Clock:
    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "cloudfauj.db")
    yield store
    store.close()


def reactor(store: SqliteStore, controller: Scripted, now: Clock) -> Reactor:
    aws = Gateway(region="us-east-1", endpoint_url=None, installation_id="t", credentials=("a", "b"))
    settings = Settings(backoff_base_seconds=1, backoff_max_seconds=60)
    return Reactor(store, aws, settings, {"Environment": controller}, now=now, jitter=lambda: 1.0)


def apply(store: SqliteStore) -> str:
    spec: dict[str, Any] = {"network": "aws", "orchestrator": "aws_ecs_fargate"}
    (written,) = store.apply(
        [Desired("Environment", "staging", None, spec)],
        cause=Cause.APPLY,
        initiator="t",
        source=None,
        deadline_seconds=900,
    )
    assert written.record is not None
    return written.record.id


def test_repeated_throttles_back_off_and_each_retry_is_one_event(store: SqliteStore) -> None:
    record_id = apply(store)
    r = reactor(store, Scripted(throttled(), throttled(), throttled()), Clock())
    delays = [r.attempt(KEY) for _ in range(3)]
    assert delays == [1.0, 2.0, 4.0]  # exponential backoff (jitter pinned)
    current = store.get_record(record_id)
    assert current is not None and current.status == RecordStatus.IN_PROGRESS
    assert r.attempt(KEY) is None
    done = store.get_record(record_id)
    assert done is not None and done.status == RecordStatus.SUCCEEDED
    warnings = [e.message for e in store.events(record_id) if e.type == "warning"]
    assert warnings == [f"Retry {n} after a transient AWS error: {THROTTLED}" for n in (1, 2, 3)]


def test_throttling_never_fails_a_deployment_before_its_deadline_and_then_says_why(
    store: SqliteStore,
) -> None:
    record_id = apply(store)
    now = Clock()
    r = reactor(store, Scripted(*[throttled() for _ in range(30)]), now)
    for _ in range(20):
        r.attempt(KEY)
        now.at += timedelta(seconds=40)  # 20 attempts over 13 minutes of a 15-minute deadline
        current = store.get_record(record_id)
        assert current is not None and current.status == RecordStatus.IN_PROGRESS
    now.at += timedelta(minutes=5)
    r.attempt(KEY)
    failed = store.get_record(record_id)
    assert failed is not None and failed.status == RecordStatus.FAILED
    assert "deadline exceeded" in (failed.reason or "")
    assert f"Retry 20 after a transient AWS error: {THROTTLED}" in (failed.reason or "")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDeniedException", "User: arn:aws:iam::1:user/ci is not authorized to perform this"),
        ("InvalidParameterException", "Invalid parameter: capacityProviders"),
    ],
)  # fmt: skip
def test_access_denied_and_invalid_parameters_fail_at_once_with_awss_message(
    store: SqliteStore, code: str, message: str
) -> None:
    record_id = apply(store)
    text = f"AWS ecs create_cluster failed: {code}: {message}"
    error = AwsError(text, service="ecs", operation="create_cluster", code=code)
    r = reactor(store, Scripted(error), Clock())
    assert r.attempt(KEY) is None
    failed = store.get_record(record_id)
    assert failed is not None and failed.status == RecordStatus.FAILED
    assert failed.reason == text
