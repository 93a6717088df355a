"""Who is asking, and may they: the bearer token of every /v1 request (ARCHITECTURE §9).

`authorize` runs for each operation that names a role (`routes.Operation.role`), before its query or
body is read, so a caller without a valid token learns nothing and cannot make the server read a large
body: no token, or an unknown or revoked one, is 401; a role below the operation's is 403. The caller's
`Identity` is kept on `request.state.identity`: `routes.initiator_of` puts its name on every record.
"""

from __future__ import annotations

from typing import Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from cloudfauj.errors import Forbidden, Unauthorized
from cloudfauj.tokens import Identity, Role

__all__ = ["Authenticator", "authorize", "identity_of"]


class Authenticator(Protocol):
    """Whose is a bearer secret: `cloudfauj.tokens.TokenAuthenticator` (synchronous: run in a thread,
    unless `local` says its lookup is a read of a local file, cheaper than the hand-over to a thread)."""

    def authenticate(self, secret: str) -> Identity | None: ...


async def authorize(request: Request, needed: Role) -> Identity:
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized(
            "This request needs an API token, sent as `Authorization: Bearer <token>` "
            "(the CLI sends --token, CLOUDFAUJ_TOKEN, or the token in its config file)."
        )
    authenticator = request.app.state.authenticator
    if getattr(authenticator, "local", False):
        identity: Identity | None = authenticator.authenticate(secret)
    else:
        identity = await run_in_threadpool(authenticator.authenticate, secret)
    if identity is None:
        raise Unauthorized("The token was not accepted: it is unknown or has been revoked.")
    if not identity.role.allows(needed):
        raise Forbidden(
            f"Token '{identity.name}' is a {identity.role} token; {request.method} {request.url.path} "
            f"needs a token of role {needed.holders()}."
        )
    request.state.identity = identity
    return identity


def identity_of(request: Request) -> Identity | None:
    """The caller `authorize` found; None on the open endpoints (probes, the OpenAPI document)."""
    identity = getattr(request.state, "identity", None)
    return identity if isinstance(identity, Identity) else None
