"""Server settings: defaults, then the config file (upstream keys plus ours), then flags, which win.

Durations are plain numbers of seconds so tests can shrink them; the reactor reads them from here.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from cloudfauj.errors import InvalidInput, Problem

__all__ = ["Settings", "load_settings"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bind_host: str = "127.0.0.1"
    bind_port: int = Field(6200, ge=0, le=65535)
    data_dir: Path = Path("cloudfauj-data")
    # None: SQLite in the data dir; a postgresql:// URL: the database several replicas share
    store: str | None = None
    # this process among the replicas (in leases and records' events); default: host name and process id
    replica_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}", min_length=1)
    # per-key leases, as controller-runtime's leader election: a lease lasts `lease_seconds`; its holder
    # renews it every `lease_retry_seconds` and stops working on a key it could not renew for
    # `lease_renew_seconds`; keys nobody holds (a dead replica's) are looked for every `lease_retry_seconds`
    lease_seconds: float = Field(15.0, gt=0)
    lease_renew_seconds: float = Field(10.0, gt=0)
    lease_retry_seconds: float = Field(2.0, gt=0)
    region: str | None = None  # None: the AWS SDK's default chain (AWS_REGION, profile, ...)
    aws_endpoint: str | None = None  # every AWS client goes here (AWS_ENDPOINT_URL works too)
    sandbox: bool = False
    sandbox_port: int = Field(4566, ge=0, le=65535)
    sandbox_rollout_seconds: float = Field(3.0, ge=0)
    # faults the embedded sandbox injects into AWS calls, e.g. "throttle=0.3,error=0.05" (sandbox/faults.py)
    sandbox_faults: str | None = None
    sandbox_throttle: bool = False  # enforce AWS's documented token buckets (sandbox/throttle.py)
    sandbox_latency_ms: float = Field(0.0, ge=0)

    workers: int = Field(8, ge=1, le=256)
    deadline_seconds: float = Field(900, gt=0)  # per record, unless the apply asks for another
    resync_seconds: float = Field(600, gt=0)
    rollout_poll_seconds: float = Field(1.0, gt=0)
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(60.0, gt=0)
    drift: str = Field("correct", pattern="^(correct|report)$")
    max_body_bytes: int = Field(1 << 20, gt=0)
    # HTTPS for the API: a PEM certificate (chain) and its private key, both or neither
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_retention_days: int = 30
    log_level: str = "info"
    log_format: str = Field("text", pattern="^(text|json)$")  # json: one object a line (logformat.py)
    # directory sync (cloudfauj/sync.py): apply what this directory (its git HEAD, in a checkout) holds
    sync_dir: Path | None = None
    sync_prune: bool = False  # and delete what was applied from it and has left it
    sync_poll_seconds: float = Field(10.0, gt=0)  # look again this often even without a file event
    # the AWS call budget: AWS's documented buckets, refilled at `aws_budget_margin` of their rate;
    # `aws_limits` overrides a category's burst and rate, e.g. {"ecs:service-modify": [50, 5]}
    aws_budget: bool = True
    aws_budget_margin: float = Field(0.95, gt=0, le=1)
    # the permissions boundary of every application's task role (a managed policy's ARN): what a task
    # role may ever allow, whatever its manifest attaches; deployer tokens may give an application a
    # task role only when it is set
    task_role_boundary: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/.+$")
    aws_limits: dict[str, tuple[float, float]] = Field(default_factory=dict)

    @field_validator("aws_limits")
    @classmethod
    def _known_categories(cls, limits: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
        from cloudfauj.aws.budget import LIMITS  # boto-free, but keep settings importable alone

        unknown = sorted(set(limits) - set(LIMITS))
        if unknown:
            raise ValueError(f"unknown categories {', '.join(unknown)}; known: {', '.join(sorted(LIMITS))}")
        if any(burst < 1 or rate <= 0 for burst, rate in limits.values()):
            raise ValueError("each category needs a burst of at least 1 and a positive rate")
        return limits

    @field_validator("store")
    @classmethod
    def _store_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(
                "the store must be a PostgreSQL URL, postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE; "
                "leave it out for SQLite in the data dir"
            )
        return url

    @field_validator("replica_id")
    @classmethod
    def _replica_name(cls, name: str) -> str:
        if not name.isprintable() or len(name) > 100:
            raise ValueError("a replica id is at most 100 printable characters")
        return name

    @model_validator(mode="after")
    def _lease_timings(self) -> Settings:
        # client-go's rule: the lease outlasts the renew deadline, which outlasts more than one retry
        if not self.lease_seconds > self.lease_renew_seconds > 1.2 * self.lease_retry_seconds:
            raise ValueError(
                "lease timings must satisfy lease_seconds > lease_renew_seconds > 1.2 x lease_retry_seconds "
                f"(got {self.lease_seconds:g}, {self.lease_renew_seconds:g}, {self.lease_retry_seconds:g})"
            )
        return self

    @field_validator("sandbox_faults")
    @classmethod
    def _fault_plan(cls, text: str | None) -> str | None:
        if text is not None:
            from cloudfauj.sandbox.faults import FaultPlan  # only when asked for: it loads the sandbox

            FaultPlan.parse(text)  # ValueError: one sentence saying what is wrong
        return text

    @model_validator(mode="after")
    def _faults_need_the_sandbox(self) -> Settings:
        if self.sandbox_faults and not self.sandbox:
            raise ValueError(
                "sandbox_faults applies to the embedded emulator (--sandbox); for a separate one, "
                "start it with `cloudfauj sandbox serve --faults ...`"
            )
        return self

    @model_validator(mode="after")
    def _sync_dir_exists(self) -> Settings:
        if self.sync_dir is not None and not self.sync_dir.is_dir():
            raise ValueError(f"sync_dir {self.sync_dir} is not a directory")
        if self.sync_prune and self.sync_dir is None:
            raise ValueError("sync_prune (--prune) prunes what a sync directory applied: give sync_dir too")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: give both files, or neither")
        for path in (self.tls_cert, self.tls_key):
            if path is not None and not path.is_file():
                raise ValueError(f"{path} is not a readable file")
        return self


def load_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Settings from the config file (if any) with flag `overrides` (None values ignored) on top."""
    values: dict[str, Any] = {}
    if config is not None:
        values.update(_read_config(config))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as e:
        problems = [
            Problem(err["msg"], file=str(config) if config else None, field=".".join(map(str, err["loc"])))
            for err in e.errors()
        ]
        raise InvalidInput(problems) from e


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text())
    except OSError as e:
        raise InvalidInput([Problem(f"cannot read the config file: {e.strerror}", file=str(path))]) from e
    except YAMLError as e:
        raise InvalidInput([Problem(f"not valid YAML: {e}", file=str(path))]) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput([Problem("the config file must be a mapping of keys to values", file=str(path))])
    return data
