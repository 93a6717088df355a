"""The server's own Prometheus series, beside the AWS call counter of `cloudfauj.aws.accounting`.

All register with that module's `REGISTRY`, which `/metrics` exposes:

- `cloudfauj_reconcile_duration_seconds{kind}`: how long one reconcile attempt took (the reactor times
  each one, whatever its outcome);
- `cloudfauj_queue_depth`: keys waiting in the reactor's work queue (due now or later), read when
  scraped;
- `cloudfauj_deployments_total{status}`: deployments (Application records) that ended, by status
  (succeeded, failed, cancelled — ended by the reactor — and superseded, ended by a newer apply in the
  store; each exported from the start, at 0).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from cloudfauj.aws.accounting import REGISTRY

__all__ = ["DEPLOYMENTS", "QUEUE_DEPTH", "RECONCILE_DURATION", "count_deployment", "watch_queue"]

# Attempts range from a no-op observe (tens of ms) to a create of a whole environment (tens of seconds).
_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
RECONCILE_DURATION = Histogram(
    "cloudfauj_reconcile_duration_seconds",
    "Duration of one reconcile attempt, by kind.",
    ["kind"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("cloudfauj_queue_depth", "Keys waiting in the reactor's work queue.", registry=REGISTRY)
DEPLOYMENTS = Counter(
    "cloudfauj_deployments", "Deployments that ended, by status.", ["status"], registry=REGISTRY
)
ENDED = ("succeeded", "failed", "cancelled", "superseded")
for _status in ENDED:
    DEPLOYMENTS.labels(status=_status)


def watch_queue(depth: Callable[[], int]) -> None:
    """Report `depth()` as the queue depth at each scrape (the last reactor started wins)."""
    QUEUE_DEPTH.set_function(lambda: float(depth()))


def count_deployment(kind: str, status: str, n: int = 1) -> None:
    if kind == "Application" and status in ENDED and n > 0:
        DEPLOYMENTS.labels(status=status).inc(n)
