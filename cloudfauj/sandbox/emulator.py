"""The embedded AWS emulator: moto's server in this process, plus the rollout ticker (ARCHITECTURE §8).

`cloudfauj server --sandbox` starts a `Sandbox` next to the API; `cloudfauj sandbox serve` runs one alone
through `serve`. Clients (our controllers, the aws CLI, ecs-deploy) reach it only over HTTP at
`endpoint`. moto is imported when a sandbox starts, not when this module is imported, so the CLI stays
quick; the environment variables moto reads at import time are set by the package's `__init__`.

moto's backends are process-global: two sandboxes in one process share one emulated AWS; each keeps its
own rollout duration, for the services created through it. Besides the ECS patches (`ecs.py`), the
target health of its tasks' targets (`elb.py`) and Cloud Map namespace deletion (`discovery.py`), the
sandbox injects the one AWS-managed IAM policy the product attaches, AmazonECSTaskExecutionRolePolicy,
into every IAM backend moto creates (including after `POST /moto-api/reset`), and any other AWS-managed
policy when a role first attaches it (an app's task role); loading all of them would cost over a second
per reset. With a `FaultPlan`, moto's app sits behind the fault injector (`faults.py`): a share of AWS
calls is throttled or fails.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, cast

from cloudfauj.sandbox.faults import STATS_PATH, FaultInjector, FaultPlan
from cloudfauj.sandbox.throttle import Throttler

__all__ = ["Sandbox", "serve"]

EXECUTION_ROLE_POLICY = "AmazonECSTaskExecutionRolePolicy"
_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}
_patched = False
_patching = threading.Lock()


@functools.cache
def _policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)[EXECUTION_ROLE_POLICY]
    return data


def _inject_policy(backend: Any, policies: list[Any]) -> list[Any]:
    from moto.iam.models import AWSManagedPolicy

    if any(p.name == EXECUTION_ROLE_POLICY for p in policies):
        return policies  # MOTO_IAM_LOAD_MANAGED_POLICIES=true already loaded it
    policy = AWSManagedPolicy.from_data(
        EXECUTION_ROLE_POLICY, backend.account_id, backend.region_name, _policy_data()
    )
    return [*policies, policy]


def _patch_iam() -> None:
    """Every IAM backend (new, or rebuilt by a reset) starts with the execution role policy."""
    from moto.iam.models import IAMBackend, iam_backends

    original = IAMBackend._init_aws_policies

    def _init_aws_policies(self: IAMBackend) -> list[Any]:
        return _inject_policy(self, original(self))

    IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]
    for _, _, backend in iam_backends.iter_backends():  # created before the patch, e.g. by another test
        iam = cast(IAMBackend, backend)  # moto types iter_backends() as yielding any BaseBackend
        for policy in _inject_policy(iam, []):
            iam.managed_policies.setdefault(policy.arn, policy)


@functools.cache
def _managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def _patch_attach() -> None:
    """An AWS-managed policy that an app's task role attaches (`AmazonS3ReadOnlyAccess`) is loaded when it
    is first attached, as if it had always been there: loading all of them up front costs a second per
    reset (see above). An unknown name still fails with NoSuchEntity, as in AWS."""
    from moto.iam.models import AWSManagedPolicy, IAMBackend

    original = IAMBackend.attach_role_policy

    def attach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
        prefix = f"arn:{self.partition}:iam::aws:policy/"
        name = policy_arn.rsplit("/", 1)[-1]
        data = _managed_policies().get(name)
        if policy_arn.startswith(prefix) and policy_arn not in self.managed_policies and data is not None:
            policy = AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            if policy.arn == policy_arn:  # the path matches too
                self.managed_policies[policy.arn] = policy
        original(self, policy_arn, role_name)

    IAMBackend.attach_role_policy = attach_role_policy  # type: ignore[method-assign]


def _prepare_moto() -> None:
    """Import moto and patch it, once per process (two sandboxes may start from two threads)."""
    global _patched
    with _patching:
        if _patched:
            return
        from moto import settings

        from cloudfauj.sandbox import discovery, ecs, elb, logs

        discovery.install()
        ecs.install()
        elb.install()
        logs.install()
        # moto read this at import; if someone imported moto before us, apply the variable now.
        settings.ACM_VALIDATION_WAIT = int(os.environ["MOTO_ACM_VALIDATION_WAIT"])
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access-log line per request
        _patch_iam()
        _patch_attach()
        _patched = True


def _listen(host: str, port: int) -> socket.socket:
    """Bind here, so a busy port raises OSError: werkzeug would print a notice and call sys.exit(1)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _make_server(host: str, port: int, wrap: Callable[[Any], Any]) -> Any:
    """moto's ThreadedMotoServer, serving on a socket we bound (see `_listen`); start() returns once it
    accepts connections. `wrap` may put a middleware (the fault injector) in front of moto's app."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class _Server(ThreadedMotoServer):
        def start(self) -> None:
            app = wrap(DomainDispatcherApplication(create_backend_app))
            sock = _listen(self._ip_address, self._port)
            with sock:  # werkzeug serves on its own duplicate of the descriptor
                self._server = make_server(
                    self._ip_address,
                    self._port,
                    app,
                    True,
                    request_handler=MotoRequestHandler,
                    fd=sock.fileno(),
                )
            # A short poll interval makes stop() take ~0.1 s instead of werkzeug's 0.5 s.
            serve = functools.partial(self._server.serve_forever, poll_interval=0.1)
            self._thread = threading.Thread(target=serve, name="sandbox-moto", daemon=True)
            self._thread.start()
            self._server_ready_event.set()

    return _Server(ip_address=host, port=port, verbose=False)


class Sandbox:
    """moto on loopback plus the ECS simulation; start() returns the endpoint, stop() is idempotent."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 4566,
        rollout_seconds: float = 3.0,
        faults: FaultPlan | None = None,
        throttle: bool = False,
        latency: float = 0.0,
    ) -> None:
        """`throttle`: enforce AWS's documented token buckets; `latency`: seconds added to each AWS call."""
        self._host, self._port, self._rollout_seconds = host, port, rollout_seconds
        self._plan = faults
        self._throttle, self._latency = throttle, latency
        self.throttler: Throttler | None = None
        self.faults: FaultInjector | None = None  # set by start() when there is a plan: its counts
        self._server: Any = None
        self._ticker: Any = None
        self._endpoint: str | None = None

    @property
    def endpoint(self) -> str:
        if self._endpoint is None:
            raise RuntimeError("The sandbox is not running: call start() first.")
        return self._endpoint

    def start(self) -> str:
        """Start moto and the rollout ticker; returns 'http://HOST:PORT' (port=0 picks a free port)."""
        if self._endpoint is not None:
            return self._endpoint
        _prepare_moto()
        from cloudfauj.sandbox import ecs

        server = _make_server(self._host, self._port, self._wrap)
        server.start()
        host, port = server.get_host_and_port()
        ecs.configure(port=port, rollout_seconds=self._rollout_seconds)
        self._server, self._ticker = server, ecs.Ticker()
        self._ticker.start()
        host = _LOOPBACK_FOR_WILDCARD.get(host, host)
        self._endpoint = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        return self._endpoint

    def describe_faults(self) -> str:
        """One line saying which faults this sandbox injects (and the seed that repeats the run)."""
        if self.faults is None:
            return "sandbox: no faults injected"
        plan = self.faults.plan
        return (
            f"sandbox: injecting faults into AWS calls ({plan.describe()}): {plan.throttle:.0%} throttled, "
            f"{plan.error:.0%} HTTP 500 ({plan.after:.0%} of those after the call took effect); "
            f"counts at {self.endpoint}{STATS_PATH}"
        )

    def _wrap(self, app: Any) -> Any:
        if self._throttle or self._latency:
            app = self.throttler = Throttler(app, throttle=self._throttle, latency=self._latency)
        if self._plan is None:
            return app
        self.faults = FaultInjector(app, self._plan)
        return self.faults

    def stop(self) -> None:
        """Stop the ticker and the server; safe to call twice or before start()."""
        ticker, server = self._ticker, self._server
        self._ticker = self._server = self._endpoint = None
        if ticker is not None:
            ticker.stop()
        if server is not None:
            from cloudfauj.sandbox import ecs

            ecs.forget(server.get_host_and_port()[1])
            server.stop()
            server._server.server_close()  # release the listening socket now, not at garbage collection


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 4566,
    rollout_seconds: float = 3.0,
    faults: FaultPlan | None = None,
    throttle: bool = False,
    latency: float = 0.0,
) -> None:
    """Blocking: run the emulator alone (for `cloudfauj sandbox serve`), print one line
    'sandbox: AWS emulator at http://127.0.0.1:PORT (rollouts take N s)' to stderr (and one naming the
    faults it injects, if any), stop cleanly on SIGTERM/SIGINT."""
    stopping = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    sandbox = Sandbox(
        host=host,
        port=port,
        rollout_seconds=rollout_seconds,
        faults=faults,
        throttle=throttle,
        latency=latency,
    )
    try:
        endpoint = sandbox.start()
        print(
            f"sandbox: AWS emulator at {endpoint} (rollouts take {rollout_seconds:g} s)",
            file=sys.stderr,
            flush=True,
        )
        if sandbox.faults is not None:
            print(sandbox.describe_faults(), file=sys.stderr, flush=True)
        if throttle or latency:
            limits = "AWS's documented API rate limits enforced" if throttle else "no rate limits"
            print(
                f"sandbox: {limits}, {latency * 1000:g} ms added to each AWS call",
                file=sys.stderr,
                flush=True,
            )
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
