"""The one exception tree of Cloudfauj.

    CloudfaujError
    ├── InvalidInput        the client sent something wrong (manifest, name, size, request): HTTP 400, exit 2
    ├── NotFound            the named object or record does not exist: HTTP 404, exit 2
    ├── Conflict            the request contradicts stored state (e.g. env still has apps): HTTP 409, exit 2
    ├── Unauthorized        no token, or one that is unknown or revoked: HTTP 401, exit 3
    ├── Forbidden           the token's role may not do that: HTTP 403, exit 3
    ├── Unavailable         this server cannot do that now or at all (no AWS access, no planner): HTTP 503
    ├── LeaseLost           a write under a lease another replica has taken over since: refused, not retried
    └── ReconcileError      raised by controllers and the AWS gateway while converging an object
        ├── TemporaryError  worth retrying after `delay` seconds (throttling, 5xx, dependency not ready)
        └── PermanentError  retrying cannot help (access denied, invalid parameter, image missing)

The API maps the others to HTTP statuses in one table; the reactor turns the last two into
outcomes. Messages are whole sentences that name the object and say what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CloudfaujError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "LeaseLost",
    "NotFound",
    "PermanentError",
    "Problem",
    "ReconcileError",
    "TemporaryError",
    "Unauthorized",
    "Unavailable",
    "WouldBlock",
]


class CloudfaujError(Exception):
    """Root of every error Cloudfauj raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, details: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class WouldBlock(Exception):  # noqa: N818 - named after the condition, as BlockingIOError's EWOULDBLOCK
    """Not an error: an operation asked not to wait on the network (`may_block=False`) would have to. Raised
    before it has done anything; the caller runs it again where waiting is fine (in a thread)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as we can."""

    message: str
    file: str | None = None
    document: int | None = None  # 1-based index of the YAML document in the file
    line: int | None = None  # 1-based
    field: str | None = None  # dotted path, e.g. "resources.network.bind_port"

    def sentence(self) -> str:
        where = []
        if self.file:
            where.append(self.file)
        if self.document and self.document > 1:
            where.append(f"document {self.document}")
        if self.line:
            where.append(f"line {self.line}")
        prefix = ", ".join(where)
        subject = f"field '{self.field}': " if self.field else ""
        text = f"{subject}{self.message}"
        return f"{prefix}: {text}" if prefix else text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "document": self.document,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "sentence": self.sentence(),
        }


class InvalidInput(CloudfaujError):
    """The input cannot be accepted; nothing was stored and AWS was not called."""

    code = "invalid_input"

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        self.problems = problems
        super().__init__("; ".join(p.sentence() for p in problems), details=[p.to_dict() for p in problems])


class NotFound(CloudfaujError):
    code = "not_found"


class Conflict(CloudfaujError):
    code = "conflict"


class Unavailable(CloudfaujError):
    """The request is fine but this server cannot serve it: it was built without what it needs (AWS
    access for logs, a planner for diff). Not the client's fault, and not a bug either."""

    code = "unavailable"


class LeaseLost(CloudfaujError):
    """This replica's lease on a key was taken over (it was paused or cut off past the lease's expiry):
    the write is refused and the work on the key stops here; the newer holder carries it on."""

    code = "lease_lost"


class Unauthorized(CloudfaujError):
    """The request carries no token, or one the server does not know (or that was revoked)."""

    code = "unauthorized"


class Forbidden(CloudfaujError):
    """The token is valid, but its role may not do what was asked (`cloudfauj.tokens` has the rule)."""

    code = "forbidden"


class ReconcileError(CloudfaujError):
    """An attempt to converge an object did not get there."""

    code = "reconcile_error"


class TemporaryError(ReconcileError):
    """Try again later: after `delay` seconds, or with the reactor's backoff when `delay` is None."""

    code = "temporary"

    def __init__(self, message: str, *, delay: float | None = None, details: object = None) -> None:
        super().__init__(message, details=details)
        self.delay = delay


class PermanentError(ReconcileError):
    """Stop retrying: the record fails with this message as its reason."""

    code = "permanent"
