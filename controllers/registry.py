"""Which controller converges which kind; the reactor looks them up here."""

from __future__ import annotations

from controllers.application import ApplicationController
from controllers.base import Controller
from controllers.domain import DomainController
from controllers.environment import EnvironmentController

__all__ = ["CONTROLLERS"]

CONTROLLERS: dict[str, Controller] = {
    "Domain": DomainController(),
    "Environment": EnvironmentController(),
    "Application": ApplicationController(),
}
