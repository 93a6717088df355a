"""API tokens: roles and who may do what, secrets and their hashes, and an installation's first admin token.

Where it sits (ARCHITECTURE §9): the store keeps `Token`s — a name, a role and the hash of the secret,
never the secret; the API asks a `TokenAuthenticator` whose a bearer secret is, then checks the role
against the operation's (`Role.allows`) and, for changes, against the kinds of objects touched
(`require_change`); `cloudfauj server` calls `ensure_admin_token` at start-up.

Each role may do what the one before it may, and more:

    viewer     every GET under /v1
    deployer   apply, diff, rollback, cancel, reconcile and delete — of Applications only
    admin      everything: environments, domains, tokens
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudfauj import userconfig
from cloudfauj.errors import Forbidden
from cloudfauj.manifests.names import name_problem

if TYPE_CHECKING:
    from cloudfauj.store.base import Store

__all__ = [
    "ADMIN_TOKEN_FILE",
    "ADMIN_TOKEN_NAME",
    "CHANGEABLE_KINDS",
    "Identity",
    "Role",
    "Token",
    "TokenAuthenticator",
    "ensure_admin_token",
    "hash_secret",
    "new_secret",
    "require_change",
    "token_name_problem",
    "write_secret_file",
]

log = logging.getLogger("cloudfauj.tokens")

ADMIN_TOKEN_NAME = "admin"  # the token an installation's first start creates
ADMIN_TOKEN_FILE = "admin-token"  # ... and the file in the data dir that holds its secret
SECRET_PREFIX = "cf_"  # makes a leaked secret recognisable (secret scanners, logs)


class Role(StrEnum):
    VIEWER = "viewer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what `needed` may."""
        return _RANK[self] >= _RANK[needed]

    def holders(self) -> str:
        """The roles that allow this one, for messages: `deployer or admin`."""
        return " or ".join(role for role in Role if role.allows(self))


_RANK = {Role.VIEWER: 0, Role.DEPLOYER: 1, Role.ADMIN: 2}

# The kinds of objects a role may change (apply, diff, delete, reconcile, cancel a record of); None: all.
CHANGEABLE_KINDS: dict[Role, frozenset[str] | None] = {
    Role.VIEWER: frozenset(),
    Role.DEPLOYER: frozenset({"Application"}),
    Role.ADMIN: None,
}


def require_change(role: Role, kind: str, name: str, *, verb: str) -> None:
    """Raise `Forbidden` unless a token of `role` may `verb` an object of `kind`."""
    kinds = CHANGEABLE_KINDS[role]
    if kinds is None or kind in kinds:
        return
    may = " and ".join(sorted(f"{k.lower()}s" for k in kinds)) or "nothing"
    raise Forbidden(
        f"A {role} token may not {verb} {kind} '{name}': it may change {may} only. "
        "Use an admin token for that."
    )


@dataclass(frozen=True)
class Identity:
    """Who a request comes from: the token's name (every record's initiator) and its role."""

    name: str
    role: Role


@dataclass(frozen=True)
class Token:
    """A stored token. `token_hash` never leaves the server: `to_dict` is what the API shows."""

    name: str
    role: Role
    token_hash: str
    created_at: str
    revoked_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": str(self.role),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
        }


def new_secret() -> str:
    """A fresh secret: 32 random bytes from the OS, URL-safe, with a recognisable prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """What the store keeps of a secret.

    SHA-256 rather than a deliberately slow password hash (scrypt, bcrypt): those exist to make guessing
    a low-entropy *password* from its hash expensive. Our secrets are 256 random bits, which nobody can
    guess from a hash however fast it is to compute; a slow hash would only slow down every request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def token_name_problem(name: str) -> str | None:
    """Why `name` cannot name a token (None when it can): the rules of object names."""
    return name_problem(name)


class TokenAuthenticator:
    """The API's authenticator over the store: whose is this bearer secret, if anyone's still?"""

    def __init__(self, store: Store) -> None:
        self._store = store
        # SQLite: the lookup is an indexed read of a local file on this thread's own connection (WAL:
        # it never waits for a writer), about 50 µs, done on the event loop. PostgreSQL: a round trip.
        self.local = store.local

    def authenticate(self, secret: str) -> Identity | None:
        presented = hash_secret(secret)
        # The row is found by the hash of what was presented, so the lookup's timing can say nothing
        # about any stored secret; the equality that decides is compared in constant time all the same.
        token = self._store.token_by_hash(presented)
        if token is None or token.revoked_at is not None:
            return None
        if not hmac.compare_digest(token.token_hash, presented):
            return None
        return Identity(token.name, token.role)


def ensure_admin_token(store: Store, *, data_dir: Path, installation_id: str, server: str) -> list[Path]:
    """On an installation's first start (no admin token in the store yet), create its admin token and
    hand it over: `<data_dir>/admin-token` and the starting user's CLI config (`cloudfauj.userconfig`).

    Decided in one store transaction, so replicas starting together create exactly one; the files are
    written inside it, so a token is stored only once it has been handed over. Returns the files written
    (none when the installation already had an admin token). The secret itself is never logged.
    """
    secret = new_secret()
    written: list[Path] = []

    def publish() -> None:
        written.append(write_secret_file(data_dir / ADMIN_TOKEN_FILE, secret))
        try:
            written.append(userconfig.save_token(installation_id, secret, server=server))
        except userconfig.ConfigError as e:  # the data dir's copy is enough to get started
            log.warning("could not record the admin token in the CLI config: %s", e.message)

    created = store.create_first_admin(ADMIN_TOKEN_NAME, hash_secret(secret), publish=publish)
    return written if created is not None else []


def write_secret_file(path: Path, secret: str) -> Path:
    """Write `secret` to `path`, readable by its owner only (even when the file existed before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(secret + "\n")
    return path
