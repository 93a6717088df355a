"""The HTTP API's request and response bodies, as pydantic models.

Requests are validated with them (strictly: unknown fields and wrong JSON types are errors). Responses
are built by the service as plain dicts (`Record.to_dict()`, `StoredObject.to_dict()`); their models
here exist to document those shapes in `/openapi.json`, so they accept extra keys rather than police
the core's output.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ApplyRequest",
    "ApplyResult",
    "DeleteQuery",
    "DeleteResult",
    "DeploymentsQuery",
    "DiffResult",
    "ErrorBody",
    "EventPage",
    "EventsQuery",
    "Health",
    "NoQuery",
    "ObjectPage",
    "PageQuery",
    "Readiness",
    "RecordPage",
    "RecordOut",
    "RecordsQuery",
    "RecordsResult",
    "ReconcileRequest",
    "RollbackRequest",
    "RollbackResult",
    "ApplicationsQuery",
    "StoredObjectOut",
    "AppLogsQuery",
    "AppLogPage",
    "GcRequest",
    "GcResult",
    "TokenCreated",
    "TokenOut",
    "TokenPage",
    "TokenRequest",
]

KindName = Literal["Environment", "Application", "Domain"]
MAX_ID = 2**63 - 1  # record ids and event seqs are SQLite INTEGERs
# Records also have `cloudfauj gc`'s object-less kind.
RecordKindName = Literal["Environment", "Application", "Domain", "GarbageCollection"]
RecordStatusName = Literal["pending", "in_progress", "succeeded", "failed", "superseded", "cancelled"]


# -- requests ----------------------------------------------------------------------------------------
class _Body(BaseModel):
    # strict: JSON `"yes"` is not a boolean and `"60"` is not a number; forbid: a typo is an error.
    model_config = ConfigDict(extra="forbid", strict=True)


class SourceIn(_Body):
    """One manifest file as the client read it."""

    name: str = Field(min_length=1, max_length=1000, description="The file name as the user gave it.")
    content: str = Field(description="The file's text: one or more YAML documents.")


class ApplyRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sources": [
                        {
                            "name": "cf-env-staging.yml",
                            "content": "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n",
                        }
                    ]
                }
            ]
        }
    )

    sources: list[SourceIn] = Field(min_length=1, max_length=100)
    env: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Target environment of upstream-format application files.",
    )
    image: str | None = Field(
        None, min_length=1, max_length=1000, description="Image of upstream-format application files."
    )
    deadline_seconds: float | None = Field(
        None, ge=30, le=86400, description="Deadline of each record this apply opens."
    )
    source: str | None = Field(None, max_length=1000, description="Free text, e.g. a git SHA and CI URL.")
    force: bool = Field(False, description="Open a record even for unchanged objects.")
    variables: dict[str, str] | None = Field(
        None,
        max_length=200,
        description="Environment variables for every application applied (`--var KEY=VALUE`); they "
        "override the files' `variables` of the same name.",
    )


class _Query(BaseModel):
    # Query strings are text: lax parsing turns "10" into 10 and "true" into True. Unknown parameters
    # are refused so that a misspelt filter is not silently ignored.
    model_config = ConfigDict(extra="forbid")


class NoQuery(_Query):
    """The query of /v1 operations without parameters: any parameter is a mistake."""


class PageQuery(_Query):
    limit: int = Field(100, ge=1, le=500, description="Most items in one page.")
    cursor: str | None = Field(None, description="The previous page's `next_cursor`.")


class ApplicationsQuery(PageQuery):
    env: str | None = Field(None, description="Only applications of this environment.")


class DeploymentsQuery(PageQuery):
    env: str | None = None
    app: str | None = None
    status: RecordStatusName | None = None


class RecordsQuery(PageQuery):
    kind: KindName | None = None
    env: str | None = None
    name: str | None = None
    status: RecordStatusName | None = None


class EventsQuery(_Query):
    after: int = Field(0, ge=0, le=MAX_ID, description="Only events with a greater `seq`.")


class DeleteQuery(_Query):
    cascade: bool = Field(False, description="Also delete what depends on the object.")


# -- responses ---------------------------------------------------------------------------------------
class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProblemOut(_Out):
    """One located thing wrong with the input (`details` of a 400)."""

    file: str | None = None
    document: int | None = None
    line: int | None = None
    field: str | None = None
    message: str
    sentence: str = Field(description="The problem as one sentence, with its location.")


class ErrorDetail(_Out):
    code: str = Field(description="invalid_input, not_found, conflict, payload_too_large, ...")
    message: str
    details: list[ProblemOut] | dict[str, Any] | None = None


class ErrorBody(_Out):
    error: ErrorDetail


class Health(_Out):
    status: Literal["ok"]
    installation_id: str
    version: str


class Readiness(_Out):
    status: Literal["ready", "starting"]


class EventOut(_Out):
    seq: int
    at: str
    type: str = Field(description="info | aws | rollout | warning | error")
    message: str
    action: str | None = None
    resource: str | None = None
    request_id: str | None = None


class RecordOut(_Out):
    """One reconciliation of one object generation; for an Application, a deployment."""

    id: str
    kind: RecordKindName
    name: str
    app: str | None
    env: str | None
    domain: str | None
    image: str | None
    image_digest: str | None
    aws_calls: dict[str, int] = Field(
        default_factory=dict, description="AWS call attempts made for this record, by service:Operation."
    )
    generation: int
    status: RecordStatusName
    reason: str | None
    cause: str
    initiator: str | None
    source: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None
    deadline: str
    duration_seconds: float | None
    spec: dict[str, Any]
    events: list[EventOut] | None = Field(None, description="The event log, where the operation says so.")


class Condition(_Out):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition: str | None = None


class ObjectMetadata(_Out):
    name: str
    env: str | None = Field(None, description="Applications only.")
    generation: int
    created_at: str
    updated_at: str


class ObjectStatus(_Out):
    phase: str
    observed_generation: int
    conditions: list[Condition]
    outputs: dict[str, Any]
    message: str | None = None
    last_record: str | None = None
    checked_at: str | None = Field(None, description="When AWS was last compared with the spec (resync).")


class StoredObjectOut(_Out):
    apiVersion: str
    kind: KindName
    metadata: ObjectMetadata
    spec: dict[str, Any]
    status: ObjectStatus


class ObjectPage(_Out):
    items: list[StoredObjectOut]
    next_cursor: str | None


class RecordPage(_Out):
    items: list[RecordOut]
    next_cursor: str | None


class EventPage(_Out):
    record: RecordOut
    items: list[EventOut]


class AppliedObject(_Out):
    kind: KindName
    name: str
    env: str | None
    generation: int
    changed: bool
    record_id: str | None


class ApplyResult(_Out):
    objects: list[AppliedObject]
    records: list[RecordOut]


class DeleteResult(_Out):
    records: list[RecordOut]


# -- history: rollback, cancel, reconcile --------------------------------------------------------------
class RollbackRequest(_Body):
    to: str | None = Field(
        None,
        min_length=1,
        max_length=40,
        description="The deployment to go back to; default: the newest succeeded one with another spec.",
    )
    source: str | None = Field(None, max_length=1000, description="Free text, e.g. a ticket or CI URL.")


class ReconcileRequest(_Body):
    source: str | None = Field(None, max_length=1000, description="Free text: why, from where.")


class RecordsResult(_Out):
    records: list[RecordOut]


class RollbackResult(_Out):
    target: RecordOut
    records: list[RecordOut]


# -- diff: what an apply would change ------------------------------------------------------------------
class FieldChangeOut(_Out):
    path: str = Field(description="The field of the AWS resource, e.g. `desiredCount`, `cpu`, `image`.")
    old: Any = Field(description="What AWS has now (null when the resource would be created).")
    new: Any = Field(description="What the apply would make it.")


class ResourceChangeOut(_Out):
    resource: str = Field(description="The AWS resource: its kind, and its name or id once it exists.")
    action: str = Field(description="create | update | delete")
    fields: list[FieldChangeOut]


class DiffObjectOut(_Out):
    kind: KindName
    name: str
    env: str | None
    action: Literal["create", "update", "unchanged", "waiting", "blocked"] = Field(
        description="waiting: cannot be planned until what it depends on is ready; blocked: its "
        "reconciliation would fail (`message` says why)."
    )
    changes: list[ResourceChangeOut]
    message: str | None = None


class DiffResult(_Out):
    """What applying the same body would change, per object and AWS resource; nothing was changed."""

    changed: bool = Field(description="Whether the apply would change anything.")
    objects: list[DiffObjectOut]


# -- application logs ----------------------------------------------------------------------------------
class AppLogsQuery(_Query):
    since: str | None = Field(
        None,
        description="Only lines of the last this long: a whole number and a unit, s, m, h or d (`10m`). "
        "Default: every line.",
    )
    cursor: str | None = Field(
        None, description="A previous answer's `next_cursor`: only lines after it (`since` is then ignored)."
    )
    limit: int = Field(1000, ge=1, le=10000, description="Most lines in one answer.")


class LogLineOut(_Out):
    timestamp: str = Field(description="When the task wrote the line (RFC 3339 UTC, millisecond precision).")
    task_id: str = Field(description="The ECS task that wrote it.")
    stream: str = Field(description="Its CloudWatch log stream, `<app>/<container>/<task-id>`.")
    message: str


class AppLogPage(_Out):
    """An application's log lines, every task's interleaved by time, oldest first."""

    items: list[LogLineOut]
    next_cursor: str = Field(description="Pass it as `cursor` to get the lines written since.")
    more: bool = Field(description="`limit` cut this answer short: ask again with `next_cursor` at once.")


# -- tokens ----------------------------------------------------------------------------------------------
RoleName = Literal["viewer", "deployer", "admin"]


class TokenRequest(_Body):
    name: str = Field(min_length=1, max_length=200, description="A name like an object's: `ci-deployer`.")
    role: RoleName = Field(description="viewer (reads), deployer (changes applications), admin (all).")


class TokenCreated(_Out):
    """The new token. Its secret is shown in this answer only: the server keeps a hash of it."""

    name: str
    role: RoleName
    token: str = Field(description="The secret, to send as `Authorization: Bearer <token>`.")


class TokenOut(_Out):
    """A token as listed: never its secret or hash."""

    name: str
    role: RoleName
    created_at: str
    revoked_at: str | None = Field(description="When it was revoked; null while it is valid.")


class TokenPage(_Out):
    items: list[TokenOut]
    next_cursor: str | None


# -- sources of desired state ------------------------------------------------------------------------------
class SourceOut(_Out):
    """A directory the server applies (`server --sync-dir`) and how its last revision went."""

    name: str
    path: str
    type: str | None = Field(description="git (its committed HEAD is applied) or directory")
    prune: bool
    status: str = Field(description="pending, synced (the newest revision is applied) or failed")
    revision: str | None = Field(description="The newest revision seen: a commit SHA or a content digest.")
    applied_revision: str | None
    applied_at: str | None
    checked_at: str | None
    error: str | None = Field(description="Why the newest revision was not applied (status failed).")
    objects: list[str]
    pruned: list[str]


class SourceList(_Out):
    items: list[SourceOut]


# -- garbage collection ----------------------------------------------------------------------------------
class GcRequest(_Body):
    dry_run: bool = Field(description="Only list the orphans; without it their deletion starts (a record).")


class OrphanOut(_Out):
    """An AWS resource carrying this installation's tag whose owner is not a live object."""

    kind: KindName = Field(description="The kind of the owner its tags name.")
    env: str | None
    app: str | None
    domain: str | None
    type: str = Field(description="`service:resource-type` from the ARN, e.g. `ec2:vpc`, `ecs:service`.")
    arn: str


class GcResult(_Out):
    """The orphans found now and, when deleting, the record of their deletion (200 when none)."""

    dry_run: bool
    orphans: list[OrphanOut]
    records: list[RecordOut]
