"""The AWS gateway: the only place that creates boto3 clients and calls AWS (ARCHITECTURE §1).

Clients are made once per service (creating clients is not thread-safe; using them is), with botocore's
standard retry mode and few attempts: anything beyond that is the reactor's backoff, so retries never
multiply. An endpoint URL (the sandbox, or any AWS-compatible endpoint) applies to every service.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from cloudfauj.aws.errors import map_aws_errors
from cloudfauj.aws.tags import ownership_tags

__all__ = ["Gateway", "Identity"]


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
    ) -> None:
        self.installation_id = installation_id
        self.endpoint_url = endpoint_url
        key, secret = credentials or (None, None)
        self._session = boto3.session.Session(
            region_name=region, aws_access_key_id=key, aws_secret_access_key=secret
        )
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
            max_pool_connections=32,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return str(self._session.region_name or "")

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
            return self._clients[service]

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """One AWS call with errors mapped to Cloudfauj's tree."""
        method = getattr(self.client(service), operation)
        with map_aws_errors(service, operation):
            return dict(method(**params))

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
