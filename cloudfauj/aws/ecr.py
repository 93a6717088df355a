"""Container images in ECR: recognising our account's image references and resolving a tag to its digest.

A deployment pins what it checked: the tag the user wrote is resolved once, at apply time, and the task
definition runs `repository@sha256:…`, so a tag re-pushed later changes nothing until it is applied again.
Images outside ECR, or in another account or region, are left as written (ECS pulls them as they are).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudfauj.aws.errors import AwsError
from cloudfauj.aws.gateway import Gateway

__all__ = ["EcrImage", "Resolution", "parse_ecr_image", "pinned", "resolve"]

_ECR_RE = re.compile(
    r"^(?P<registry>(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?)"
    r"/(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
_NOT_FOUND = ("ImageNotFoundException", "RepositoryNotFoundException")


@dataclass(frozen=True)
class EcrImage:
    registry: str
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """How the user wrote it, e.g. `repo:v1`."""
        if self.digest and not self.tag:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag or 'latest'}"


@dataclass(frozen=True)
class Resolution:
    """What looking an image up found: its digest, or why it cannot run. `checked` is False for images
    we cannot look up (outside this account's ECR), which are deployed as written."""

    checked: bool
    digest: str | None = None
    problem: str | None = None


def parse_ecr_image(image: str) -> EcrImage | None:
    m = _ECR_RE.match(image)
    if m is None:
        return None
    return EcrImage(**m.groupdict())


def pinned(image: str, digest: str | None) -> str:
    """The reference a task definition runs: `registry/repository@digest` when the digest is known."""
    ecr = parse_ecr_image(image)
    if ecr is None or digest is None:
        return image
    return f"{ecr.registry}/{ecr.repository}@{digest}"


def resolve(aws: Gateway, image: str) -> Resolution:
    """Look an image up in this account's ECR (read only)."""
    ecr = parse_ecr_image(image)
    if ecr is None or ecr.account != aws.account or ecr.region != aws.region:
        return Resolution(checked=False)
    wanted = {"imageDigest": ecr.digest} if ecr.digest else {"imageTag": ecr.tag or "latest"}
    try:
        details = aws.call("ecr", "describe_images", repositoryName=ecr.repository, imageIds=[wanted])
    except AwsError as e:
        if e.code not in _NOT_FOUND:
            raise
        if e.code == "RepositoryNotFoundException":
            why = f"ECR repository '{ecr.repository}' does not exist in account {ecr.account} ({ecr.region})"
        else:
            why = f"image {ecr.reference} was not found in ECR repository '{ecr.repository}'"
        return Resolution(checked=True, problem=f"{why}; push the image, then apply again")
    found = details.get("imageDetails") or []
    if not found:
        return Resolution(checked=True, problem=f"image {ecr.reference} was not found in ECR; push it first")
    digest = str(found[0]["imageDigest"])
    if ecr.digest and digest != ecr.digest:
        return Resolution(
            checked=True, problem=f"image {ecr.reference} has digest {digest}, not {ecr.digest}"
        )
    return Resolution(checked=True, digest=digest)
