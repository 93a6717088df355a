"""The AWS gateway: the only place that creates boto3 clients and calls AWS (ARCHITECTURE §1).

Clients are made once per service (creating clients is not thread-safe; using them is), with botocore's
standard retry mode and few attempts (3): anything beyond that is the reactor's backoff, so retries never
multiply. An endpoint URL (the sandbox, or any AWS-compatible endpoint) applies to every service.

Only reads (`describe_*`, `list_*`, `get_*`, …) are resent by botocore after a 5xx or a lost connection.
A mutation that failed that way may have taken effect (AWS acted, then the answer was lost), and sending
it again blind could act twice: a second VPC, an extra task definition revision. So a mutation is resent
only when AWS throttled it (a throttled call did nothing), with botocore's throttling backoff; any other
failure goes back to the reactor as an `AwsTemporaryError`, and its next attempt observes AWS before it
acts again (controllers observe every resource by its tags or name before creating it).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError

from cloudfauj.aws.accounting import count_attempt
from cloudfauj.aws.budget import Budget
from cloudfauj.aws.errors import THROTTLING_CODES, map_aws_errors
from cloudfauj.aws.tags import ownership_tags
from cloudfauj.priority import FOREGROUND

__all__ = ["Gateway", "Identity", "is_read"]

_READS = ("describe_", "list_", "get_", "batch_get_", "filter_", "lookup_", "search_", "head_")


def is_read(operation: str) -> bool:
    """Whether an operation (boto3's snake_case name) only reads, so sending it twice is harmless."""
    return operation.startswith(_READS)


#: The AWS services the controllers and the API call.
SERVICES = (
    "acm",
    "application-autoscaling",
    "ec2",
    "ecr",
    "ecs",
    "elbv2",
    "iam",
    "logs",
    "resourcegroupstaggingapi",
    "route53",
    "servicediscovery",
    "sts",
)


@dataclass(frozen=True)
class Identity:
    account: str
    region: str
    arn: str


class Gateway:
    def __init__(
        self,
        *,
        region: str | None,
        endpoint_url: str | None,
        installation_id: str,
        max_attempts: int = 3,
        timeout: float = 20,
        credentials: tuple[str, str] | None = None,
        budget: Budget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """`budget`: the client-side token buckets every attempt waits on (none: no pacing). `sleep` and
        `jitter` pace the resending of throttled mutations (tests make them instant)."""
        self.installation_id = installation_id
        self._max_attempts, self._sleep, self._jitter = max_attempts, sleep, jitter
        self.budget = budget
        self.endpoint_url = endpoint_url
        key, secret = credentials or (None, None)
        self._session = boto3.session.Session(
            region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
        )
        self._configs = {
            mutations: Config(
                # reads: botocore resends throttled, 5xx and unanswered calls; mutations: see `_mutate`
                retries={"mode": "standard", "total_max_attempts": 1 if mutations else max_attempts},
                connect_timeout=timeout,
                read_timeout=timeout,
                max_pool_connections=32,
            )
            for mutations in (False, True)
        }
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return str(self._session.region_name or "")

    def warm(self, services: tuple[str, ...] = SERVICES) -> None:
        """Create the clients of `services` now (botocore loads each service's model on first use)."""
        for service in services:
            self.client(service)
            self.client(service, mutations=True)

    def client(self, service: str, *, mutations: bool = False) -> Any:
        """The service's client for reads, or (`mutations`) the one botocore never resends calls of."""
        key = f"{service}/mutations" if mutations else service
        with self._lock:
            if key not in self._clients:
                client = self._session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    config=self._configs[mutations],
                )
                client.meta.events.register("needs-retry", functools.partial(count_attempt, service))
                client.meta.events.register("before-send", FOREGROUND.give_way)
                if self.budget is not None:
                    client.meta.events.register(
                        "before-send", functools.partial(self.budget.before_send, service)
                    )
                self._clients[key] = client
            return self._clients[key]

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """One AWS call with errors mapped to Cloudfauj's tree."""
        with map_aws_errors(service, operation):
            if is_read(operation):
                return dict(getattr(self.client(service), operation)(**params))
            return dict(self._mutate(service, operation, params))

    def _mutate(self, service: str, operation: str, params: dict[str, Any]) -> Any:
        """A mutation, sent again only when it surely did nothing: AWS throttled it, or no connection
        was made. Backoff as botocore's for throttling: rand(0, 1) · min(2^(attempt-1), 20) s."""
        method = getattr(self.client(service, mutations=True), operation)
        for attempt in range(1, self._max_attempts + 1):
            try:
                return method(**params)
            except ClientError as e:
                if (
                    attempt == self._max_attempts
                    or e.response.get("Error", {}).get("Code") not in THROTTLING_CODES
                ):
                    raise
            except EndpointConnectionError:  # connecting failed (ConnectTimeoutError included): not sent
                if attempt == self._max_attempts:
                    raise
            self._sleep(self._jitter() * min(2 ** (attempt - 1), 20))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def paginate(self, service: str, operation: str, key: str, /, **params: Any) -> list[Any]:
        """Every item under `key` across all pages."""
        items: list[Any] = []
        with map_aws_errors(service, operation):
            for page in self.client(service).get_paginator(operation).paginate(**params):
                items.extend(page.get(key, []))
        return items

    @functools.cached_property
    def account(self) -> str:
        """The AWS account id these credentials act in (asked once)."""
        return self.identity().account

    def identity(self) -> Identity:
        me = self.call("sts", "get_caller_identity")
        return Identity(account=me["Account"], region=self.region, arn=me["Arn"])

    def tags(self, kind: str, **scope: str | None) -> dict[str, str]:
        return ownership_tags(self.installation_id, kind, **scope)
