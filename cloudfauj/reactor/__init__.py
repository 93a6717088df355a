"""The reactor: work queue, workers, backoff, deadlines, resync (ARCHITECTURE §1, §4)."""

from cloudfauj.reactor.outcomes import Outcome, OutcomeWriter
from cloudfauj.reactor.queue import WorkQueue
from cloudfauj.reactor.runner import Reactor

__all__ = ["Outcome", "OutcomeWriter", "Reactor", "WorkQueue"]
