"""Which controller converges which kind; the reactor looks them up here."""

from __future__ import annotations

from controllers.application import ApplicationController
from controllers.base import Controller
from controllers.domain import DomainController
from controllers.environment import EnvironmentController
from controllers.gc import GarbageCollector

__all__ = ["CONTROLLERS"]

CONTROLLERS: dict[str, Controller] = {
    "Domain": DomainController(),
    "Environment": EnvironmentController(),
    "Application": ApplicationController(),
}
# Not a kind of object: the controller of `cloudfauj gc`'s records, which tears orphans down with the above.
CONTROLLERS["GarbageCollection"] = GarbageCollector(dict(CONTROLLERS))
