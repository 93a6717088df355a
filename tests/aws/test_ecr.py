"""Image references: which ones are this account's ECR images, how a digest pins them, and how a tag is
resolved (against the sandbox's ECR)."""

from __future__ import annotations

from typing import Any

import pytest

from cloudfauj.aws import Gateway, ecr
from cloudfauj.sandbox.images import push_image

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("image", "repository", "tag", "digest"),
    [
        (f"{REGISTRY}/web:v1", "web", "v1", None),
        (f"{REGISTRY}/team/web", "team/web", None, None),
        (f"{REGISTRY}/web@{DIGEST}", "web", None, DIGEST),
        (f"{REGISTRY}/web:v1@{DIGEST}", "web", "v1", DIGEST),
    ],
)
def test_ecr_references_are_recognised(
    image: str, repository: str, tag: str | None, digest: str | None
) -> None:
    found = ecr.parse_ecr_image(image)
    assert found is not None and (found.repository, found.tag, found.digest) == (repository, tag, digest)


@pytest.mark.parametrize("image", ["nginx:1.27", "public.ecr.aws/nginx/nginx:1.27", "ghcr.io/a/b:c"])
def test_other_registries_are_not_ecr(image: str) -> None:
    assert ecr.parse_ecr_image(image) is None
    assert ecr.pinned(image, DIGEST) == image


def test_pinning_replaces_the_tag_with_the_digest() -> None:
    assert ecr.pinned(f"{REGISTRY}/web:v1", DIGEST) == f"{REGISTRY}/web@{DIGEST}"
    assert ecr.pinned(f"{REGISTRY}/web:v1", None) == f"{REGISTRY}/web:v1"


def test_resolving_finds_the_digest_or_says_what_is_missing(sandbox: str, aws: Any) -> None:
    gateway = Gateway(
        region="us-east-1", endpoint_url=sandbox, installation_id="test", credentials=("a", "b")
    )
    uri = push_image(sandbox, "web", "v1")
    found = ecr.resolve(gateway, uri)
    digest = aws("ecr").describe_images(repositoryName="web")["imageDetails"][0]["imageDigest"]
    assert found == ecr.Resolution(checked=True, digest=digest)
    assert ecr.resolve(gateway, ecr.pinned(uri, digest)).digest == digest
    missing = ecr.resolve(gateway, uri.replace(":v1", ":v9"))
    assert missing.checked and missing.digest is None and "web:v9 was not found" in (missing.problem or "")
    no_repo = ecr.resolve(gateway, f"{REGISTRY}/nope:v1")
    assert "repository 'nope' does not exist" in (no_repo.problem or "")
    assert ecr.resolve(gateway, "nginx:1.27") == ecr.Resolution(checked=False)
    assert ecr.resolve(gateway, uri.replace("123456789012", "210987654321")).checked is False
