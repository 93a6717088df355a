"""Controllers: one module per kind, each converging one object through the AWS gateway.

`CONTROLLERS` maps a kind to its controller; the reactor looks them up here.
"""

from __future__ import annotations

from controllers.application import ApplicationController
from controllers.base import Change, Context, Controller, Done, Result, Wait
from controllers.environment import EnvironmentController

__all__ = ["CONTROLLERS", "Change", "Context", "Controller", "Done", "Result", "Wait"]

CONTROLLERS: dict[str, Controller] = {
    "Environment": EnvironmentController(),
    "Application": ApplicationController(),
}
