"""End-to-end harness: a real `cloudfauj server` process (and, when asked, a separate `cloudfauj sandbox
serve`), the real CLI run as subprocesses, and boto3 against the emulator to check AWS from outside.

Server and CLI share one HOME, so the CLI finds the admin token the server's first start wrote to the
config file there; raw HTTP calls to the API go through `Stack.api`, which sends that token.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"
BIN = str(Path(sys.executable).parent / "cloudfauj")
ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "manifests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def image_uri(repo: str, tag: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}:{tag}"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@dataclass
class Stack:
    workdir: Path
    separate_sandbox: bool = False
    rollout_seconds: float = 1.0
    port: int = field(default_factory=free_port)
    aws_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    tls: tuple[Path, Path] | None = None  # (certificate, key): the server serves HTTPS with them
    # faults the emulator injects into AWS calls (`--sandbox-faults` / `sandbox serve --faults`); this
    # harness's own boto3 checks (`aws()`) are exempt from them
    sandbox_faults: str | None = None
    server_args: tuple[str, ...] = ()  # more `cloudfauj server` options, e.g. ("--sandbox-throttle",)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def verify(self) -> ssl.SSLContext | bool:
        """How a client here checks the server's certificate: against the self-signed one itself."""
        return ssl.create_default_context(cafile=str(self.tls[0])) if self.tls else True

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLOUDFAUJ_", "XDG_"))}
        keep.update(
            HOME=str(self.workdir / "home"),
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            NO_COLOR="1",
            COLUMNS="200",
            CLOUDFAUJ_SERVER=self.url,
        )
        return keep

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [BIN, *args],
            cwd=self.workdir,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> Stack:
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        if self.separate_sandbox and "sandbox" not in self.procs:
            self._spawn(
                "sandbox",
                [
                    "sandbox",
                    "serve",
                    "--port",
                    str(self.aws_port),
                    "--rollout-seconds",
                    str(self.rollout_seconds),
                    *(["--faults", self.sandbox_faults] if self.sandbox_faults else []),
                ],
            )
            self.wait_http(f"{self.endpoint}/moto-api/", "sandbox")
        self.start_server()
        return self

    def start_server(self) -> None:
        args = ["server", "--port", str(self.port), "--data-dir", str(self.data_dir), "--region", REGION]
        if self.separate_sandbox:
            args += ["--aws-endpoint", self.endpoint]
        else:
            args += [
                "--sandbox",
                "--sandbox-port",
                str(self.aws_port),
                "--sandbox-rollout-seconds",
                str(self.rollout_seconds),
                *(["--sandbox-faults", self.sandbox_faults] if self.sandbox_faults else []),
            ]
        if self.tls:
            args += ["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])]
        self._spawn("server", [*args, *self.server_args])
        self.wait_http(f"{self.url}/readyz", "server", want=200)

    def wait_http(self, url: str, name: str, want: int | None = None, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited:\n{self.log(name)}")
            try:
                code = httpx.get(url, timeout=2, verify=self.verify()).status_code
                if (want is None and code < 500) or code == want:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url}:\n{self.log(name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for name in ("server", "sandbox"):
            self.kill(name, signal.SIGTERM)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    # -- clients ---------------------------------------------------------------------------------
    def cf(
        self, *args: str, cwd: Path | None = None, timeout: float = 300, env: dict[str, str] | None = None
    ) -> Result:
        r = subprocess.run(
            [BIN, *args],
            cwd=cwd or self.workdir,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(r.returncode, r.stdout, r.stderr)

    def admin_token(self) -> str:
        """The secret of the admin token the server's first start wrote to the data dir."""
        return (self.data_dir / "admin-token").read_text().strip()

    def api(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> httpx.Response:
        """A raw API call with `token` (default: the admin token; "" sends none)."""
        secret = self.admin_token() if token is None else token
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        return httpx.request(
            method, f"{self.url}{path}", headers=headers, timeout=30, verify=self.verify(), **kwargs
        )

    def cf_json(self, *args: str) -> Any:
        r = self.cf(*args, "-o", "json")
        assert r.code == 0, str(r)
        return r.json()

    def aws(self, service: str) -> Any:
        """A boto3 client for the emulator, exempt from its injected faults (checks must not flake)."""
        from cloudfauj.sandbox.faults import exempt

        return exempt(
            boto3.client(
                service,
                region_name=REGION,
                endpoint_url=self.endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"mode": "standard", "max_attempts": 2}),
            )
        )

    def push(self, repo: str, tag: str, crash: bool = False) -> str:
        args = ["sandbox", "push", f"{repo}:{tag}", "--endpoint", self.endpoint]
        r = self.cf(*args, *(["--crash"] if crash else []))
        assert r.code == 0, str(r)
        return r.out.strip()

    # -- AWS checks ------------------------------------------------------------------------------
    def installation_id(self) -> str:
        return str(httpx.get(f"{self.url}/healthz", verify=self.verify()).json()["installation_id"])

    def tagged(self) -> list[str]:
        """ARNs of everything carrying this installation's ownership tag (tagging API + IAM + ECS)."""
        tag = self.aws("resourcegroupstaggingapi")
        inst = self.installation_id()
        found = []
        for page in tag.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": "cloudfauj:managed-by", "Values": [inst]}]
        ):
            found += [
                m["ResourceARN"]
                for m in page["ResourceTagMappingList"]
                if not _inactive_ecs(self, m["ResourceARN"])
            ]
        iam = self.aws("iam")
        for role in iam.list_roles()["Roles"]:
            tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]}
            if tags.get("cloudfauj:managed-by") == inst:
                found.append(role["Arn"])
        return sorted(found)

    def services(self, env: str) -> list[dict[str, Any]]:
        ecs = self.aws("ecs")
        cluster = self.cluster(env)
        if cluster is None:
            return []
        arns = ecs.list_services(cluster=cluster["clusterArn"])["serviceArns"]
        out = []
        for i in range(0, len(arns), 10):
            out += ecs.describe_services(cluster=cluster["clusterArn"], services=arns[i : i + 10])["services"]
        return [s for s in out if s["status"] == "ACTIVE"]

    def cluster(self, env: str) -> dict[str, Any] | None:
        ecs = self.aws("ecs")
        arns = ecs.list_clusters()["clusterArns"]
        if not arns:
            return None
        for c in ecs.describe_clusters(clusters=arns, include=["TAGS"])["clusters"]:
            tags = {t["key"]: t["value"] for t in c.get("tags", [])}
            if c["status"] == "ACTIVE" and tags.get("cloudfauj:env") == env:
                return dict(c)
        return None

    def image_of(self, svc: dict[str, Any]) -> str:
        """The image the service's task definition runs, as written: the tag URI it was deployed as when
        the task definition pins that tag's current digest (`repo@sha256:...`)."""
        td = self.aws("ecs").describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
        image = str(td["containerDefinitions"][0]["image"])
        registry_repo, _, digest = image.partition("@")
        if not digest:
            return image
        repo = registry_repo.split("/", 1)[1]
        found = self.aws("ecr").describe_images(repositoryName=repo, imageIds=[{"imageDigest": digest}])
        tags = found["imageDetails"][0].get("imageTags", [])
        return f"{registry_repo}:{tags[0]}" if len(tags) == 1 else image

    def digest_of(self, uri: str) -> str:
        """The digest tag URI `uri` points at now."""
        registry_repo, _, tag = uri.rpartition(":")
        repo = registry_repo.split("/", 1)[1]
        found = self.aws("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        return str(found["imageDetails"][0]["imageDigest"])

    def repush(self, uri: str, content: str) -> str:
        """Push new content under an existing tag (a rebuild); return the new digest."""
        registry_repo, _, tag = uri.rpartition(":")
        repo = registry_repo.split("/", 1)[1]
        layer = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 10, "digest": layer},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "size": 10, "digest": layer}
            ],
        }
        self.aws("ecr").put_image(repositoryName=repo, imageManifest=json.dumps(manifest), imageTag=tag)
        return self.digest_of(uri)


def _inactive_ecs(stack: Stack, arn: str) -> bool:
    """ECS keeps deleted services, task definitions and clusters describable; they are not leaks."""
    ecs = stack.aws("ecs")
    if ":task-definition/" in arn:
        return ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["status"] != "ACTIVE"
    if ":cluster/" in arn:
        found = ecs.describe_clusters(clusters=[arn])["clusters"]
        return not found or found[0]["status"] != "ACTIVE"
    if ":task/" in arn:  # tasks carry their service's tags; stopped ones stay describable for a while
        cluster = arn.split("/")[-2]
        found = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"]
        return not found or found[0]["lastStatus"] == "STOPPED"
    if ":service/" in arn:
        cluster = arn.split("/")[-2]
        found = ecs.describe_services(cluster=cluster, services=[arn])["services"]
        return not found or found[0]["status"] != "ACTIVE"
    return False


def wait_for(
    pred: Callable[[], Any], timeout: float = 120, every: float = 0.3, what: str = "condition"
) -> Any:
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = pred()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last={last!r}")


@dataclass
class Replicas(Stack):
    """Several `cloudfauj server` processes (`r0`, `r1`, ...) on one PostgreSQL database (`store`) and one
    `cloudfauj sandbox serve`; each has a data dir and port of its own. `r0` starts first, so its data dir
    holds the admin token; the CLI finds it in the shared HOME's config whichever replica it talks to.
    `self.url` is `r0`'s; `cf(..., replica=i)` talks to another."""

    store: str = ""
    count: int = 3
    # lease, renew deadline, retry period: short, so that failover happens within seconds in the tests
    lease: tuple[float, float, float] = (3.0, 2.0, 0.5)
    sandbox_args: tuple[str, ...] = ()
    ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.separate_sandbox = True
        self.ports = [free_port() for _ in range(self.count)]
        self.port = self.ports[0]

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data-r0"

    def url_of(self, i: int) -> str:
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self) -> Replicas:
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        args = [
            "sandbox",
            "serve",
            "--port",
            str(self.aws_port),
            "--rollout-seconds",
            str(self.rollout_seconds),
        ]
        self._spawn("sandbox", [*args, *self.sandbox_args])
        self.wait_http(f"{self.endpoint}/moto-api/", "sandbox")
        for i in range(self.count):
            self.start_replica(i)
        return self

    def start_replica(self, i: int) -> None:
        config = self.workdir / f"r{i}.yml"
        lease, renew, retry = self.lease
        config.write_text(
            f"lease_seconds: {lease}\nlease_renew_seconds: {renew}\nlease_retry_seconds: {retry}\n"
        )
        args = [
            "server",
            "--config",
            str(config),
            "--port",
            str(self.ports[i]),
            "--data-dir",
            str(self.workdir / f"data-r{i}"),
            "--store",
            self.store,
            "--replica-id",
            f"r{i}",
            "--aws-endpoint",
            self.endpoint,
            "--region",
            REGION,
        ]
        self._spawn(f"r{i}", [*args, *self.server_args])
        self.wait_http(f"{self.url_of(i)}/readyz", f"r{i}", want=200)

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.procs[name].pid, sig)

    def stop(self) -> None:
        for name in list(self.procs):
            if name != "sandbox":
                with contextlib.suppress(ProcessLookupError):
                    self.signal(name, signal.SIGCONT)  # a paused replica cannot stop
                self.kill(name, signal.SIGTERM)
        self.kill("sandbox", signal.SIGTERM)

    def cf(
        self,
        *args: str,
        cwd: Path | None = None,
        timeout: float = 300,
        env: dict[str, str] | None = None,
        replica: int = 0,
    ) -> Result:
        return super().cf(
            *args,
            cwd=cwd,
            timeout=timeout,
            env=env or {**self.env(), "CLOUDFAUJ_SERVER": self.url_of(replica)},
        )

    def metric(self, i: int, name: str) -> float:
        """A counter's value on replica `i` (0 when it has not counted anything yet)."""
        text = httpx.get(f"{self.url_of(i)}/metrics", timeout=10).text
        values = [float(line.split()[-1]) for line in text.splitlines() if line.startswith(f"{name} ")]
        return sum(values)
