"""The canonical manifest: what the server stores, returns and hands to the controllers.

`Manifest.model_validate()` checks everything that one object can tell about itself (types, allowed
values, names and the AWS names derived from them, Fargate sizes), wherever it comes from: a file read
by `parse_sources()`, a JSON request, or a row of the store. What needs a whole batch (duplicates,
name collisions) or a file (lines, flags) is done by `parse_sources()`; what needs stored state (does
the environment exist?) by the server.

Rule violations are raised as pydantic errors of type "cloudfauj" located at the offending field, so
the file reader can point at a line; `cloudfauj.manifests.problems` turns them into sentences.

Types are strict. Upstream decoded YAML weakly (viper/mapstructure: "600" became 600), and existing
files must keep working, so two conversions are kept on purpose: a string of digits is accepted where an
integer is expected, and an integer where text is expected (`name: 2024`). Nothing else is converted:
a boolean, a float (even 600.0), a list or a mapping where a scalar is expected is an error, never
silently truncated or stringified.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from cloudfauj.manifests.names import (
    app_name_problems,
    dns_name_problem,
    env_name_problems,
    name_problem,
    shown,
)
from cloudfauj.manifests.sizing import cpu_problem, fargate_size, memory_problem
from cloudfauj.manifests.types import (
    MAX_REPLICAS,
    Int,
    StrictModel,
    Text,
    blank_to_none,
    raise_rule_errors,
    rule_error,
    without_empty,
)
from cloudfauj.manifests.workload import Autoscaling, Platform, TaskRole, command_line, environment_problems

__all__ = [
    "API_VERSION",
    "KINDS",
    "SPEC_BY_KIND",
    "ApplicationSpec",
    "DomainSpec",
    "EnvironmentSpec",
    "HealthCheck",
    "Kind",
    "Manifest",
    "Metadata",
    "NetworkResources",
    "Resources",
]

API_VERSION = "cloudfauj.dev/v1"
Kind = Literal["Domain", "Environment", "Application"]
KINDS: tuple[str, ...] = ("Domain", "Environment", "Application")
DriftPolicy = Literal["correct", "report"]


class _Reconciled(StrictModel):
    """A spec the reactor keeps in line with AWS. Its `drift` field says what a resync does when AWS differs:
    `correct` it, or only `report` it; unset, the server's default (`--drift`) applies. Unset, it is
    left out of the stored spec, so specs stored before the field existed compare equal."""

    @model_serializer(mode="wrap")
    def _without_unset_drift(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("drift") is None:
            data.pop("drift", None)
        return data


class Metadata(StrictModel):
    name: Text
    env: Text | None = None


class DomainSpec(StrictModel):
    dns_service: Literal["aws_route53"] = "aws_route53"
    cert_authority: Literal["aws_acm"] = "aws_acm"


class EnvironmentSpec(_Reconciled):
    network: Literal["aws"] = "aws"
    orchestrator: Literal["aws_ecs_fargate"] = "aws_ecs_fargate"
    domain: Annotated[Text | None, BeforeValidator(blank_to_none)] = None
    load_balancer: Annotated[Literal["aws_alb"] | None, BeforeValidator(blank_to_none)] = None
    drift: DriftPolicy | None = None

    @field_validator("domain")
    @classmethod
    def _domain_is_dns(cls, domain: str | None) -> str | None:
        problem = dns_name_problem(domain) if domain is not None else None
        if problem:
            raise rule_error(problem)
        return domain

    @model_validator(mode="after")
    def _domain_needs_load_balancer(self) -> EnvironmentSpec:
        if self.domain is not None and self.load_balancer is None:
            raise_rule_errors(
                "EnvironmentSpec",
                [("load_balancer", "is required when a domain is set: use 'aws_alb'", None)],
            )
        return self


class HealthCheck(StrictModel):
    """`path`: the load balancer's health check of a server; `command` and its timings: the container's
    own health check (ECS runs it in the container), for any type of application."""

    path: Text = "/"
    command: Text | list[Text] | None = None
    interval: Annotated[Int, Field(ge=5, le=300)] | None = None
    timeout: Annotated[Int, Field(ge=2, le=60)] | None = None
    retries: Annotated[Int, Field(ge=1, le=10)] | None = None
    start_period: Annotated[Int, Field(ge=0, le=300)] | None = None

    @field_validator("path")
    @classmethod
    def _path_is_absolute(cls, path: str) -> str:
        # The ALB target group's health check path: AWS requires a leading '/' and ≤ 1024 characters.
        if not path.startswith("/") or len(path) > 1024 or any(c.isspace() for c in path):
            raise rule_error(
                f"must start with '/', have no spaces and at most 1024 characters, not {shown(path)}"
            )
        return path

    @field_validator("command")
    @classmethod
    def _command_for_ecs(cls, command: str | list[str] | None) -> list[str] | None:
        # ECS wants ["CMD-SHELL", "a shell line"] or ["CMD", executable, args...]; a string is a shell line.
        if command is None:
            return None
        if isinstance(command, str):
            command = ["CMD-SHELL", command]
        elif command and command[0] not in ("CMD", "CMD-SHELL"):
            command = ["CMD", *command]
        if len(command) < 2 or not all(part.strip() for part in command[1:2]):
            raise rule_error("must be a command to run, e.g. 'curl -f http://localhost/ || exit 1'")
        return command

    @model_validator(mode="after")
    def _timings_need_command(self) -> HealthCheck:
        timings = [
            f for f in ("interval", "timeout", "retries", "start_period") if getattr(self, f) is not None
        ]
        if timings and self.command is None:
            raise_rule_errors(
                "HealthCheck",
                [(f, "is a timing of the container health check: set 'command' too", None) for f in timings],
            )
        return self

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return without_empty(handler(self), ("command", "interval", "timeout", "retries", "start_period"))


class NetworkResources(StrictModel):
    bind_port: Annotated[Int, Field(ge=1, le=65535)]


class Resources(StrictModel):
    """CPU units and MiB as requested; validation rounds them up to a Fargate size (see sizing.py),
    so the stored spec shows the size that runs, and 100/600 and 256/1024 are the same spec."""

    cpu: Int
    memory: Int
    network: NetworkResources | None = None  # a server's port; a worker has none

    @model_serializer(mode="wrap")
    def _without_network(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return without_empty(handler(self), ("network",))

    # Field validators, not one model validator, so that a size problem is reported even when
    # another field of the mapping is wrong too.
    @field_validator("cpu")
    @classmethod
    def _cpu_in_range(cls, cpu: int) -> int:
        problem = cpu_problem(cpu)
        if problem:
            raise rule_error(problem)
        return cpu

    @field_validator("memory")
    @classmethod
    def _memory_in_range(cls, memory: int, info: ValidationInfo) -> int:
        problem = memory_problem(info.data.get("cpu"), memory)  # no cpu here: it is invalid itself
        if problem:
            raise rule_error(problem)
        return memory

    @model_validator(mode="after")
    def _round_to_fargate_size(self) -> Resources:
        self.cpu, self.memory = fargate_size(self.cpu, self.memory)
        return self


_NEW_APP_FIELDS = (
    "variables",
    "secrets",
    "task_role",
    "command",
    "entrypoint",
    "stop_timeout",
    "platform",
    "autoscaling",
)


class ApplicationSpec(_Reconciled):
    image: Text
    type: Literal["server", "worker"] = "server"
    visibility: Literal["public", "private"] = "public"
    healthcheck: HealthCheck = Field(default_factory=HealthCheck)
    resources: Resources
    replicas: Annotated[Int, Field(ge=0, le=MAX_REPLICAS)] = 1
    drift: DriftPolicy | None = None
    # issue 9 (workload.py): left out of the stored spec when unset, so older specs compare equal
    variables: dict[str, Text] = Field(default_factory=dict)
    secrets: dict[str, Text] = Field(default_factory=dict)
    task_role: TaskRole | None = None
    command: Text | list[Text] | None = None
    entrypoint: Text | list[Text] | None = None
    stop_timeout: Annotated[Int, Field(ge=2, le=120)] | None = None
    platform: Platform | None = None
    autoscaling: Autoscaling | None = None

    @field_validator("image")
    @classmethod
    def _image_is_a_reference(cls, image: str) -> str:
        # Whether the image exists is not an input error (ARCHITECTURE §5): the deployment fails.
        if not image or any(c.isspace() for c in image):
            raise rule_error(
                f"must be an image reference without spaces (e.g. 'repo:tag'), not {shown(image)}"
            )
        return image

    @field_validator("command", "entrypoint")
    @classmethod
    def _as_list(cls, value: str | list[str] | None) -> list[str] | None:
        if value is None:
            return None
        try:
            parts = command_line(value)
        except ValueError as e:  # shlex: an unclosed quote
            raise rule_error(f"cannot be split into words ({e}); write it as a list") from e
        if not parts:
            raise rule_error("must not be empty")
        return parts

    @model_validator(mode="after")
    def _coherent(self) -> ApplicationSpec:
        raise_rule_errors("ApplicationSpec", self._problems())
        return self

    def _problems(self) -> Iterator[tuple[str, str | None, object]]:
        network = self.resources.network
        if self.type == "server" and network is None:
            yield "resources.network", None, None
        if self.type == "worker":
            if network is not None:
                yield (
                    "resources.network.bind_port",
                    "is only for servers: a worker takes no traffic, so it has no port "
                    "(remove 'network', or use 'type: server')",
                    network.bind_port,
                )
            if "path" in self.healthcheck.model_fields_set:
                yield (
                    "healthcheck.path",
                    "is the load balancer's check of a server; a worker has none "
                    "(use 'healthcheck.command' for a container health check)",
                    self.healthcheck.path,
                )
        scaling = self.autoscaling
        if scaling is not None and "replicas" in self.model_fields_set:
            yield (
                "replicas",
                "cannot be set with autoscaling, which owns the count: set autoscaling.min",
                None,
            )
        if (
            scaling is not None
            and scaling.requests_per_target is not None
            and (self.type != "server" or self.visibility != "public")
        ):
            yield (
                "autoscaling.requests_per_target",
                "needs a load balancer: only a public server has one (scale on cpu_target or memory_target)",
                scaling.requests_per_target,
            )
        yield from environment_problems(self.variables, self.secrets)

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("drift") is None:
            data.pop("drift", None)
        return without_empty(data, _NEW_APP_FIELDS)


SPEC_BY_KIND: dict[str, type[BaseModel]] = {
    "Domain": DomainSpec,
    "Environment": EnvironmentSpec,
    "Application": ApplicationSpec,
}


def _metadata_rules(kind: str, meta: Metadata) -> Iterable[tuple[str, str | None, object]]:
    if kind == "Domain":
        problem = dns_name_problem(meta.name)
        if problem:
            yield "name", problem, meta.name
    else:
        problem = name_problem(meta.name)
        if problem:
            yield "name", problem, meta.name
        elif kind == "Environment":
            yield from (("name", p, meta.name) for p in env_name_problems(meta.name))
    if kind != "Application":
        if meta.env is not None:
            article = "an" if kind == "Environment" else "a"
            yield "env", f"is only for Applications: {article} {kind} belongs to no environment", meta.env
        return
    if meta.env is None:
        yield "env", None, None
        return
    env_problem = name_problem(meta.env)
    if env_problem:
        yield "env", env_problem, meta.env
    elif problem is None:
        yield from (("name", p, meta.name) for p in app_name_problems(meta.env, meta.name))


class Manifest(StrictModel):
    """One object: `{"apiVersion", "kind", "metadata", "spec"}`; the spec's type follows `kind`."""

    apiVersion: Text = API_VERSION  # noqa: N815 - the wire name, as in Kubernetes
    kind: Kind
    metadata: Metadata
    spec: DomainSpec | EnvironmentSpec | ApplicationSpec

    @property
    def key(self) -> tuple[str, str, str]:
        """(kind, env or "", name): unique among the objects of one installation."""
        return self.kind, self.metadata.env or "", self.metadata.name

    @field_validator("apiVersion")
    @classmethod
    def _known_api_version(cls, version: str) -> str:
        if version != API_VERSION:
            raise rule_error(f"must be '{API_VERSION}', not {shown(version)}")
        return version

    @field_validator("metadata", mode="wrap")
    @classmethod
    def _metadata_for_kind(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Metadata:
        meta: Metadata = handler(value)
        kind = info.data.get("kind")
        if kind is not None:  # an unknown kind is reported on `kind`; its names are not checked
            raise_rule_errors("Metadata", _metadata_rules(kind, meta))
        return meta

    @field_validator("spec", mode="wrap")
    @classmethod
    def _spec_for_kind(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        # A discriminated union needs the tag inside the spec; ours is beside it, so dispatch here.
        # Errors raised by the spec's own validation keep their location below "spec".
        spec_type = SPEC_BY_KIND.get(info.data.get("kind", ""))
        if spec_type is None:
            return value  # the kind is wrong and reported: errors against a guessed spec would be noise
        return spec_type.model_validate(value, strict=True)
