"""Creating each resource once, whatever AWS answered (ARCHITECTURE §4).

Controllers observe every resource (by its ownership tags, or by its name) before they create it, so a
create runs only for what is missing. An observe can still miss what exists: a create whose answer was
lost (a 500 after AWS acted — the gateway never resends a mutation after a 5xx, the reactor's next
attempt observes first), a listing that lags behind the create (AWS is eventually consistent), another
writer in between. Two defences cover that gap:

- **Idempotency tokens** where AWS takes one (ECS `create_service` clientToken, EC2 `ClientToken`, ACM
  `IdempotencyToken`, Route53 `CallerReference`), derived from the object, its generation and the record
  reconciling it: every attempt of one record sends the same token, and AWS answers a repeat with what
  the first call created; a newer record (a newer generation, a drift repair) gets a new one.
- **"Already exists" is not a failure.** A create refused because the resource is there (a second
  create of one name, a rule or association already in place) ends the attempt as a `TemporaryError`;
  the next attempt observes again and adopts the resource — or, when it is not ours, says so.
  `Context.mutate` applies this to every mutation.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from cloudfauj.aws import AwsError
from cloudfauj.errors import TemporaryError

if TYPE_CHECKING:  # controllers.base imports this module
    from controllers.base import Context

__all__ = ["ALREADY_EXISTS", "already_exists", "client_token"]

#: AWS's answers to a create (or attach, associate, authorize) of something that is already there
ALREADY_EXISTS = frozenset(
    {
        "InvalidGroup.Duplicate",  # EC2 security group of that name in the VPC
        "InvalidPermission.Duplicate",  # EC2 security group rule
        "InvalidSubnet.Conflict",  # EC2 subnet with that CIDR block
        "RouteAlreadyExists",  # EC2 route to that destination
        "Resource.AlreadyAssociated",  # EC2 gateway attached, route table associated
        "EntityAlreadyExists",  # IAM role
        "ResourceAlreadyExistsException",  # CloudWatch Logs log group
        "DuplicateLoadBalancerName",  # ELBv2, when the configuration differs from the existing one
        "DuplicateTargetGroupName",
        "DuplicateListener",
        "PriorityInUse",  # ELBv2 listener rule priority
        "HostedZoneAlreadyExists",  # Route53, for a CallerReference already used
        "NamespaceAlreadyExists",  # Cloud Map namespace of that name
        "ConflictingDomainExists",  # Cloud Map: a namespace of that VPC and name is being created
        "ServiceAlreadyExists",  # Cloud Map service of that name in the namespace
    }
)


def client_token(ctx: Context, purpose: str, size: int = 32) -> str:
    """A token for one create of `purpose` (e.g. "service"), the same in every attempt of this record:
    hex, `size` characters (ACM takes at most 32, ECS 36, EC2 64)."""
    record = ctx.record.id if ctx.record is not None else "plan"
    obj = ctx.obj
    seed = "/".join(
        (ctx.installation_id, obj.kind, obj.env or "", obj.name, str(obj.generation), record, purpose)
    )
    return hashlib.sha256(seed.encode()).hexdigest()[:size]


def already_exists(error: AwsError, resource: str) -> TemporaryError | None:
    """The retry to raise when `error` says a create found `resource` already there, else None."""
    not_idempotent = error.code == "InvalidParameterException" and "not idempotent" in error.message
    if error.code not in ALREADY_EXISTS and not not_idempotent:  # ECS create_service says the latter
        return None
    return TemporaryError(
        f"AWS says {resource} already exists ({error.code}): observing it again before going on.", delay=1
    )
