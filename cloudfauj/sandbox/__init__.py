"""The sandbox: an AWS emulator (moto, in-process, on loopback) that ECS clients cannot tell from ECS.

Used by `cloudfauj server --sandbox`, `cloudfauj sandbox serve|push`, the demo and the tests. moto is
the emulator; the sandbox adds what it lacks for this product (ARCHITECTURE §8): ECS rollouts that
progress, fail and roll back like ECS's, service tasks, ECR images that crash or fail their load
balancer's health checks, target health as an ALB reports it, and the managed IAM
policy for task execution roles.

    emulator.py   Sandbox and serve(): moto's server, moto set-up, IAM policy injection
    ecs.py        patches on moto's ECS classes, and the rollout ticker thread
    rollout.py    the deployment state machine (PRIMARY/ACTIVE, COMPLETED/FAILED, rollback, events)
    tasks.py      service tasks: launched, started, stopped, failed; registered in target groups
    elb.py        target health: initial / unhealthy marks over moto's always-healthy targets
    images.py     push_image, the crash and unhealthy markers, and whether an image could run
    faults.py     fault injection: a share of AWS calls throttled or failing with HTTP 500
"""

import os

# moto reads these when it is first imported; callers may override them.
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # /moto-api/reset in ~10 ms instead of ~250 ms
os.environ.setdefault("MOTO_ACM_VALIDATION_WAIT", "1")  # certificates are ISSUED 1 s after the request

from cloudfauj.sandbox.emulator import Sandbox, serve  # noqa: E402 - after the variables moto reads
from cloudfauj.sandbox.faults import FaultPlan, exempt  # noqa: E402 - after the variables moto reads
from cloudfauj.sandbox.images import push_image  # noqa: E402 - after the variables moto reads

__all__ = ["FaultPlan", "Sandbox", "exempt", "push_image", "serve"]
