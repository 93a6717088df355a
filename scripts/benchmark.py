"""The performance benchmark: the four figures of the README's "Performance" table, measured here.

    bash scripts/benchmark.sh            (all four; about 6 minutes on a 2-core machine)
    bash scripts/benchmark.sh --quick    (smaller sizes, to check the script itself)
    bash scripts/benchmark.sh --only=3   (one part; repeatable)

1. AWS calls of a no-op resync of an environment with 1, 50 and 200 apps (target ≤ ⌈N/10⌉ + 10).
2. Wall time to redeploy 1 app and 50 apps at once on the sandbox with AWS's throttling emulated and 50 ms
   of latency per call, next to the minimum the documented buckets impose; ThrottlingExceptions seen.
3. API latency: p50/p99 of `GET /v1/deployments` with 10,000 records, of an apply at 20 concurrent clients,
   and apply → first mutating AWS call.
4. Peak RSS of the server process managing 200 apps (the emulator runs in its own process).

Parts 1 and 2 drive the reactor in this process (so AWS calls are counted exactly, from the gateway's
counter); parts 3 and 4 start the real server as a subprocess. The emulator always runs as
`cloudfauj sandbox serve` in its own process.
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import httpx

from cloudfauj.aws import Gateway
from cloudfauj.aws.accounting import REGISTRY
from cloudfauj.aws.budget import LIMITS, Budget
from cloudfauj.reactor import Reactor
from cloudfauj.records import TERMINAL, Cause, parse_time
from cloudfauj.settings import Settings
from cloudfauj.store import Desired, SqliteStore
from controllers.registry import CONTROLLERS

REGION = "us-east-1"
BIN = str(Path(sys.executable).with_name("cloudfauj"))
ENV_SPEC = {"network": "aws", "orchestrator": "aws_ecs_fargate", "domain": None, "load_balancer": None}
QUICK = "--quick" in sys.argv
ONLY = {int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--only=")} or {1, 2, 3, 4}


def app_spec(image: str) -> dict[str, Any]:
    return {
        "image": image,
        "type": "server",
        "visibility": "public",
        "healthcheck": {"path": "/"},
        "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": 80}},
        "replicas": 1,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CLOUDFAUJ_", "XDG_"))}
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    return env


def wait_http(url: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer in {timeout:g} s")


@contextmanager
def emulator(work: Path, *, throttle: bool, latency_ms: float) -> Iterator[str]:
    port = free_port()
    args = [BIN, "sandbox", "serve", "--port", str(port), "--rollout-seconds", "1"]
    if throttle:
        args.append("--throttle")
    if latency_ms:
        args += ["--latency-ms", str(latency_ms)]
    log = open(work / f"sandbox-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, env=clean_env(work), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        log.close()


def calls_so_far(outcome: str | None = None) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == "cloudfauj_aws_calls_total" and outcome in (None, sample.labels["outcome"]):
                total += sample.value
    return total


class World:
    """A store, a gateway (with or without the call budget) and a reactor running in a background loop."""

    def __init__(self, work: Path, endpoint: str, *, budget: bool) -> None:
        self.store = SqliteStore(work / "cloudfauj.db")
        self.aws = Gateway(
            region=REGION,
            endpoint_url=endpoint,
            installation_id=self.store.installation_id(),
            credentials=("testing", "testing"),
            budget=Budget() if budget else None,
        )
        settings = Settings(rollout_poll_seconds=0.5, resync_seconds=86400, workers=8)
        self.reactor = Reactor(self.store, self.aws, settings, CONTROLLERS)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.reactor.start(), self.loop).result()

    def apply(self, items: list[Desired]) -> list[str]:
        written = self.store.apply(
            items, cause=Cause.APPLY, initiator="bench", source=None, deadline_seconds=1800
        )
        for w in written:
            if w.changed:
                self.reactor.enqueue(w.obj.key)
        return [w.record.id for w in written if w.record]

    def wait(self, records: list[str], timeout: float = 1200) -> float:
        start, end = time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < end:
            found = [self.store.get_record(r) for r in records]
            if all(r is not None and r.status in TERMINAL for r in found):
                bad = [r for r in found if r is not None and r.status != "succeeded"]
                if bad:
                    raise SystemExit(f"{len(bad)} record(s) did not succeed, e.g. {bad[0].reason}")
                return time.monotonic() - start
            time.sleep(0.2)
        raise SystemExit("records did not finish in time")

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.reactor.stop(), self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.store.close()


def apps(env: str, n: int, tag: str) -> list[Desired]:
    return [
        Desired("Application", f"app{i:03d}", env, app_spec(f"nginx:{tag}"), image=f"nginx:{tag}")
        for i in range(n)
    ]


# -- 1 ---------------------------------------------------------------------------------------------
def resync_calls(work: Path, sizes: list[int]) -> list[tuple[int, int, int]]:
    out = []
    with emulator(work, throttle=False, latency_ms=0) as endpoint:
        world = World(work, endpoint, budget=False)
        try:
            for n in sizes:
                env = f"r{n}"
                world.wait(world.apply([Desired("Environment", env, None, ENV_SPEC)]))
                world.wait(world.apply(apps(env, n, "1.27")))
                keys = [f"Environment/{env}"] + [f"Application/{env}/app{i:03d}" for i in range(n)]
                world.reactor.reads.expire()  # as 10 minutes after the deployments: nothing fresh in memory
                before = calls_so_far()
                for key in keys:  # what the periodic resync does for each object
                    world.reactor.attempt(key)
                used = int(calls_so_far() - before)
                out.append((n, used, math.ceil(n / 10) + 10))
        finally:
            world.stop()
    return out


# -- 2 ---------------------------------------------------------------------------------------------
def redeploy_times(work: Path, many: int) -> dict[str, float]:
    with emulator(work, throttle=True, latency_ms=50) as endpoint:
        world = World(work, endpoint, budget=True)
        try:
            world.wait(world.apply([Desired("Environment", "t", None, ENV_SPEC)]))
            world.wait(world.apply(apps("t", many, "1.27")))
            refill = LIMITS["ecs:task-definition-modify"]
            time.sleep(refill.burst / (refill.rate * 0.95) + 1)  # start from full buckets
            throttled = calls_so_far("throttled")
            one = world.wait(world.apply(apps("t", 1, "1.28")))
            time.sleep(refill.burst / (refill.rate * 0.95) + 1)
            all_at_once = world.wait(world.apply(apps("t", many, "1.29")))
            minimum = max(0.0, (many - refill.burst) / refill.rate)
            return {
                "one": one,
                "many": all_at_once,
                "minimum": minimum,
                "bound": 1.2 * (minimum + one),
                "throttled": calls_so_far("throttled") - throttled,
            }
        finally:
            world.stop()


# -- 3 and 4: the server as a subprocess --------------------------------------------------------------
class Server:
    def __init__(self, work: Path, endpoint: str) -> None:
        self.port, self.work = free_port(), work
        args = [BIN, "server", "--port", str(self.port), "--data-dir", str(work / "data"), "--region", REGION]
        args += ["--aws-endpoint", endpoint]
        self.log = open(work / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(args, env=clean_env(work), stdout=self.log, stderr=subprocess.STDOUT)
        wait_http(f"http://127.0.0.1:{self.port}/readyz", timeout=120)
        time.sleep(3)  # serving starts at once; AWS clients load in the background: measure after that
        token_file = work / "data" / "admin-token"
        token = token_file.read_text().strip() if token_file.exists() else None
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=60,
        )

    def apply(self, text: str) -> dict[str, Any]:
        r = self.http.post("/v1/apply", json={"sources": [{"name": "bench.yml", "content": text}]})
        r.raise_for_status()
        return dict(r.json())

    def wait(self, records: list[str], timeout: float = 1200) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            states = [self.http.get(f"/v1/records/{r}").json()["status"] for r in records]
            if all(s in TERMINAL for s in states):
                return
            time.sleep(0.5)
        raise SystemExit("records did not finish in time")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)
        self.log.close()


def manifest(kind: str, name: str, spec: str, env: str | None = None) -> str:
    meta = f"  name: {name}\n" + (f"  env: {env}\n" if env else "")
    return f"apiVersion: cloudfauj.dev/v1\nkind: {kind}\nmetadata:\n{meta}spec:\n{spec}"


APP_SPEC = "  image: nginx:{tag}\n  resources: {{cpu: 256, memory: 512, network: {{bind_port: 80}}}}\n"


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def first_mutation(server: Server) -> list[float]:
    """apply → the first mutating AWS call of its record, for a new app in a ready environment: from the
    record's and the event's own timestamps, looked at once the record has ended, so that watching it
    adds no load."""
    first: list[float] = []
    for i in range(5):
        result = server.apply(manifest("Application", f"f{i}", APP_SPEC.format(tag="1.27"), env="api"))
        record = result["records"][0]
        server.wait([record["id"]])
        events = server.http.get(f"/v1/records/{record['id']}").json().get("events", [])
        mutation = next(e for e in events if e["type"] == "aws")
        created, at = parse_time(record["created_at"]), parse_time(mutation["at"])
        assert created and at
        first.append((at - created).total_seconds())
    return first


_barrier: Any = None


def _keep_barrier(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def apply_client(port: int, token: str, n: int) -> list[float]:
    """One client applying a new image of its own app ten times in a row; the latency of each apply.
    It speaks HTTP with the standard library's client, the lightest there is: the 20 clients share the
    machine's cores with the server, and the figure is meant to be the server's."""
    with closing(HTTPConnection("127.0.0.1", port, timeout=60)) as http:
        headers = {"Authorization": token, "Content-Type": "application/json"}
        http.request("GET", "/healthz")  # connected before the clock starts
        http.getresponse().read()
        _barrier.wait()
        latencies = []
        for i in range(10):
            text = manifest("Application", f"c{n:02d}", APP_SPEC.format(tag=f"{i}"), env="api")
            body = json.dumps({"sources": [{"name": "bench.yml", "content": text}]})
            start = time.perf_counter()
            http.request("POST", "/v1/apply", body=body, headers=headers)
            response = http.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - start)
            if response.status >= 300:
                raise RuntimeError(f"apply answered {response.status}: {answer[:300]!r}")
        return latencies


def api_latency(work: Path, records: int) -> dict[str, tuple[float, float]]:
    data = work / "data"
    data.mkdir(parents=True)
    store = SqliteStore(data / "cloudfauj.db")
    for i in range(records):  # a long history: every apply of a new image is a deployment
        item = Desired("Application", "web", "hist", app_spec(f"nginx:{i}"), image=f"nginx:{i}")
        store.apply([item], cause=Cause.APPLY, initiator="bench", source=None, deadline_seconds=1)
    store.close()
    with emulator(work, throttle=False, latency_ms=0) as endpoint:
        server = Server(work, endpoint)
        try:
            lists = []
            for _ in range(200):
                start = time.perf_counter()
                server.http.get("/v1/deployments", params={"limit": 50}).raise_for_status()
                lists.append(time.perf_counter() - start)
            server.wait(
                [r["id"] for r in server.apply(manifest("Environment", "api", "  network: aws\n"))["records"]]
            )
            first = first_mutation(server)
            # 20 clients as 20 processes (20 CLIs or CI jobs), so that the figure is the server's and
            # not the queueing of 20 client threads for one interpreter.
            token = dict(server.http.headers).get("authorization", "")
            spawn = multiprocessing.get_context("spawn")
            ready = spawn.Barrier(20)  # every client started (each imports this script) and connected
            with spawn.Pool(20, initializer=_keep_barrier, initargs=(ready,)) as pool:
                runs = pool.starmap(apply_client, [(server.port, token, n) for n in range(20)])
            applies = [t for run in runs for t in run]
            return {"list": percentiles(lists), "apply": percentiles(applies), "first": percentiles(first)}
        finally:
            server.stop()


def server_rss(work: Path, n: int) -> float:
    with emulator(work, throttle=False, latency_ms=0) as endpoint:
        server = Server(work, endpoint)
        try:
            env = [
                r["id"] for r in server.apply(manifest("Environment", "rss", "  network: aws\n"))["records"]
            ]
            server.wait(env)
            docs = "---\n".join(
                manifest("Application", f"app{i:03d}", APP_SPEC.format(tag="1.27"), env="rss")
                for i in range(n)
            )
            server.wait([r["id"] for r in server.apply(docs)["records"]])
            return server.peak_rss_mb()
        finally:
            server.stop()


def main() -> None:
    sizes = [1, 10, 20] if QUICK else [1, 50, 200]
    many = 10 if QUICK else 50
    root = Path(tempfile.mkdtemp(prefix="cloudfauj-bench-"))
    try:
        parts = {name: root / name for name in ("resync", "redeploy", "api", "rss")}
        for p in parts.values():
            p.mkdir()
        started = time.monotonic()
        if 1 in ONLY:
            print("1. AWS calls of a no-op resync (one environment)", flush=True)
            for n, used, target in resync_calls(parts["resync"], sizes):
                print(f"   {n:>4} apps: {used:>4} calls   (target ≤ {target})", flush=True)
        if 2 in ONLY:
            print(f"2. Redeploy with throttling emulated and 50 ms per call ({many} apps)", flush=True)
            r = redeploy_times(parts["redeploy"], many)
            print(f"   1 app: {r['one']:.1f} s   {many} apps at once: {r['many']:.1f} s", flush=True)
            print(
                f"   bucket minimum for {many}: {r['minimum']:.1f} s (+ one rollout)"
                f" → target ≤ {r['bound']:.1f} s; throttled calls: {r['throttled']:.0f} (target 0)",
                flush=True,
            )
        if 3 in ONLY:
            n_records = 1000 if QUICK else 10_000
            print(f"3. API latency ({n_records} records; 20 concurrent clients applying)", flush=True)
            a = api_latency(parts["api"], n_records)
            print(
                f"   GET /v1/deployments: p50 {a['list'][0]:.1f} ms,"
                f" p99 {a['list'][1]:.1f} ms (target p99 < 50)"
            )
            print(
                f"   POST /v1/apply:      p50 {a['apply'][0]:.1f} ms,"
                f" p99 {a['apply'][1]:.1f} ms (target p99 < 100)"
            )
            print(f"   apply → first AWS mutation: p50 {a['first'][0]:.0f} ms (target < 200)", flush=True)
        if 4 in ONLY:
            n_rss = 20 if QUICK else 200
            print(f"4. Peak RSS of the server managing {n_rss} apps", flush=True)
            print(f"   {server_rss(parts['rss'], n_rss):.0f} MB (target < 200)", flush=True)
        print(f"(benchmark took {time.monotonic() - started:.0f} s)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
