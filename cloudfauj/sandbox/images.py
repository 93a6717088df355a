"""Images in the emulated ECR: pushing them, and deciding whether a task could run one.

`push_image` is what `cloudfauj sandbox push REPO:TAG [--crash|--unhealthy]` calls: it talks to the
emulator over HTTP with boto3 like any client, so it works against a sandbox in another process and
never imports moto.

ECR holds no image bytes here, only manifests. We push a small OCI manifest whose layer digest is derived
from repo, tag and the flavour (moto's image digest is the sha256 of the concatenated layer digests, so
a crashing, an unhealthy and a normal push of one tag get distinct digests, and pushing the same thing
twice is a no-op). A crashing image carries the annotation `CRASH_ANNOTATION`, an unhealthy one
`UNHEALTHY_ANNOTATION`; the rollout simulation reads them back from moto's ECR backend through
`check_image`, which is the only function here that touches moto.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from cloudfauj.sandbox.faults import exempt

__all__ = [
    "CRASH_ANNOTATION",
    "UNHEALTHY_ANNOTATION",
    "ImageCheck",
    "Unrunnable",
    "Verdict",
    "check_containers",
    "check_image",
    "failed_elb_health_checks",
    "manifest",
    "push_image",
]

CRASH_ANNOTATION = "dev.cloudfauj.sandbox.exit-at-start"
UNHEALTHY_ANNOTATION = "dev.cloudfauj.sandbox.unhealthy"
_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_ECR_REF = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[a-z0-9][a-z0-9._/-]*?)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


@dataclass(frozen=True)
class Unrunnable:
    """Why ECS would stop a task of this image, in ECS's words."""

    stop_code: str  # the task's stopCode
    reason: str  # the task's stoppedReason
    container_reason: str | None  # the container's reason
    exit_code: int | None  # the container's exitCode


@dataclass(frozen=True)
class Verdict:
    """Whether a task of some containers could run, the digests of the ECR images they pull, and the names
    of the containers that run but fail their load balancer's health checks."""

    unrunnable: Unrunnable | None = None
    digests: dict[str, str] = field(default_factory=dict)
    unhealthy: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ImageCheck:
    """The outcome of looking an image reference up: its digest when known, and why it cannot run, if so."""

    digest: str | None = None
    unrunnable: Unrunnable | None = None
    unhealthy: bool = False  # runs, but fails load balancer health checks


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def manifest(repo: str, tag: str, *, crash: bool, unhealthy: bool = False) -> str:
    """The manifest pushed for repo:tag; deterministic, so pushing it again changes nothing."""
    if crash and unhealthy:
        raise ValueError("An image either crashes or runs unhealthy, not both.")
    flavour = "crash" if crash else "unhealthy" if unhealthy else "normal"
    body: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": _OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 1469,
            "digest": _sha256(f"config:{repo}:{tag}:{flavour}"),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "size": 3_145_728,
                "digest": _sha256(f"layer:{repo}:{tag}:{flavour}"),
            }
        ],
    }
    if crash:
        body["annotations"] = {CRASH_ANNOTATION: "true"}
    if unhealthy:
        body["annotations"] = {UNHEALTHY_ANNOTATION: "true"}
    return json.dumps(body, sort_keys=True)


def push_image(
    endpoint: str,
    repo: str,
    tag: str,
    *,
    crash: bool = False,
    unhealthy: bool = False,
    region: str = "us-east-1",
) -> str:
    """Make image repo:tag exist in the emulated ECR (creating the repository if needed) and return its URI
    '123456789012.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>'. With crash=True its containers exit at start
    in the emulated ECS. With unhealthy=True they run, but in a service with load balancers their targets
    fail the health checks (`unhealthy`) and ECS stops the tasks; a service without load balancers runs
    such an image as a healthy one. crash and unhealthy together raise ValueError. Pushing the same
    repo:tag again does not fail. Uses boto3 against `endpoint`, exempt from the sandbox's injected faults
    (seeding the emulator is not what a fault run tests)."""
    body = manifest(repo, tag, crash=crash, unhealthy=unhealthy)  # ValueError before touching the emulator
    ecr = exempt(
        boto3.client(
            "ecr",
            endpoint_url=endpoint,
            region_name=region,
            # The emulator accepts any credentials; never send a user's real ones to it.
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"mode": "standard", "max_attempts": 2}),
        )
    )
    try:
        uri = ecr.create_repository(repositoryName=repo)["repository"]["repositoryUri"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        uri = ecr.describe_repositories(repositoryNames=[repo])["repositories"][0]["repositoryUri"]
    try:
        ecr.put_image(repositoryName=repo, imageManifest=body, imageTag=tag)
    except ecr.exceptions.ImageAlreadyExistsException:
        pass  # this exact image already carries the tag: pushing twice is a no-op, as with docker push
    return f"{uri}:{tag}"


def _cannot_pull(image: str) -> Unrunnable:
    reason = (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
        f"failed to resolve ref {image}: not found"
    )
    return Unrunnable(stop_code="TaskFailedToStart", reason=reason, container_reason=reason, exit_code=None)


_EXITS_AT_START = Unrunnable(
    stop_code="EssentialContainerExited",
    reason="Essential container in task exited",
    container_reason=None,
    exit_code=1,
)


def failed_elb_health_checks(target_group_arn: str) -> Unrunnable:
    """Why ECS stops a running task whose target failed the health checks of `target_group_arn`."""
    return Unrunnable(
        stop_code="ServiceSchedulerInitiated",
        reason=f"Task failed ELB health checks in (target-group {target_group_arn})",
        container_reason=None,
        exit_code=143,  # the scheduler's SIGTERM
    )


def check_image(image: str, *, account: str, region: str) -> ImageCheck:
    """Whether a Fargate task in `account`/`region` could run `image`, judged by the emulated ECR now.

    Only references to this account's ECR in this region are looked up; anything else (Docker Hub, other
    registries) is assumed pullable, since the emulator cannot see those registries.
    """
    ref = _ECR_REF.match(image)
    if ref is None or ref["account"] != account or ref["region"] != region:
        return ImageCheck()
    # Imported here, not at the top: `push_image` (the CLI) must not pay for importing moto.
    from moto.ecr.models import ecr_backends

    repository = ecr_backends[account][region].repositories.get(ref["repo"])
    if repository is None:
        return ImageCheck(unrunnable=_cannot_pull(image))
    tag = ref["tag"] or (None if ref["digest"] else "latest")
    found = next(
        (
            i
            for i in list(repository.images)
            if (tag is None or tag in i.image_tags) and (ref["digest"] in (None, i.get_image_digest()))
        ),
        None,
    )
    if found is None:
        return ImageCheck(unrunnable=_cannot_pull(image))
    digest = found.get_image_digest()
    annotations = json.loads(found.image_manifest).get("annotations") or {}
    if annotations.get(CRASH_ANNOTATION) == "true":
        return ImageCheck(digest=digest, unrunnable=_EXITS_AT_START)
    return ImageCheck(digest=digest, unhealthy=annotations.get(UNHEALTHY_ANNOTATION) == "true")


def check_containers(containers: list[dict[str, Any]], *, account: str, region: str) -> Verdict:
    """Judge a task definition's containers: a pull failure of any container (its image, or a secret it
    references) stops the task, an exit only when the container is essential. Containers whose image is
    unhealthy are named in `unhealthy`."""
    from cloudfauj.sandbox.secrets import missing_secret  # it imports this module

    digests: dict[str, str] = {}
    unhealthy: set[str] = set()
    why: Unrunnable | None = None
    for container in containers:
        image = container.get("image", "")
        check = check_image(image, account=account, region=region)
        if check.digest:
            digests[image] = check.digest
        if check.unhealthy:
            unhealthy.add(container.get("name", ""))
        unrunnable = check.unrunnable or missing_secret(container, account=account, region=region)
        fatal = unrunnable is not None and (unrunnable.exit_code is None or container.get("essential", True))
        if fatal and why is None:
            why = unrunnable
    return Verdict(why, digests, frozenset(unhealthy))
