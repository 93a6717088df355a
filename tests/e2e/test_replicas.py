"""Three server replicas on one PostgreSQL database and one sandbox emulator (`cloudfauj sandbox serve`):
applies reach any replica and the work spreads over all of them; a replica SIGKILLed mid-deployment has its
deployments finished by the others soon after its leases expire, with no AWS resource made twice; a
replica paused (SIGSTOP) past its leases has its writes refused when it wakes up.

The leases are short here (3 s, renew deadline 2 s, retry 0.5 s); the defaults are controller-runtime's
15 / 10 / 2 s.
"""

from __future__ import annotations

import signal
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.harness import MANIFESTS, Replicas, wait_for
from tests.postgres import fresh_database

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LEASE = 3.0


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


def replicas(tmp_path: Path, url: str, **kwargs: Any) -> Replicas:
    return Replicas(tmp_path, store=url, lease=(LEASE, 2.0, 0.5), **kwargs)


def manifest(tmp: Path, name: str, tag: str = "1.27") -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(
        "apiVersion: cloudfauj.dev/v1\n"
        "kind: Application\n"
        f"metadata: {{name: {name}, env: staging}}\n"
        "spec:\n"
        f"  image: public.ecr.aws/nginx/nginx:{tag}\n"  # outside ECR: the emulator treats it as pullable
        "  healthcheck: {path: /}\n"
        "  resources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
    )
    return path


def apply_apps(
    st: Replicas, tmp: Path, names: list[str], tag: str = "1.27", skip: int | None = None
) -> list[dict[str, Any]]:
    """Apply each app through replica i % count (but not replica `skip`), several at once; the records."""
    through = [i for i in range(st.count) if i != skip]

    def apply(i: int) -> list[dict[str, Any]]:
        path = manifest(tmp, names[i], tag)
        r = st.cf("apply", "-f", str(path), "--no-wait", "-o", "json", replica=through[i % len(through)])
        assert r.code == 0, str(r)
        records: list[dict[str, Any]] = r.json()
        return records

    with ThreadPoolExecutor(6) as pool:
        return [rec for records in pool.map(apply, range(len(names))) for rec in records]


def deployments(st: Replicas, names: list[str], replica: int = 0) -> dict[str, dict[str, Any]]:
    """The newest deployment of each of these apps, as replica `replica` reports it."""
    r = httpx.get(
        f"{st.url_of(replica)}/v1/deployments",
        params={"limit": 500},
        headers={"Authorization": f"Bearer {st.admin_token()}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    newest: dict[str, dict[str, Any]] = {}
    for d in r.json()["items"]:  # newest first
        if d["app"] in names:
            newest.setdefault(d["app"], d)
    return newest


def all_ended(st: Replicas, names: list[str], replica: int = 0) -> dict[str, dict[str, Any]] | None:
    rows = deployments(st, names, replica)
    if len(rows) == len(names) and all(d["status"] not in ("pending", "in_progress") for d in rows.values()):
        return rows
    return None


def events(st: Replicas, record_id: str, replica: int = 0) -> list[dict[str, Any]]:
    r = httpx.get(
        f"{st.url_of(replica)}/v1/records/{record_id}/events",
        headers={"Authorization": f"Bearer {st.admin_token()}"},
        timeout=30,
    )
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def workers_of(evs: list[dict[str, Any]]) -> list[str]:
    """The replicas that worked on a record, in order: named by its start and takeover events."""
    out = []
    for e in evs:
        words = e["message"].rstrip(".").split()
        if e["message"].startswith("Reconciling ") and "replica" in words:
            out.append(words[words.index("replica") + 1])
        elif e["message"].startswith("Replica ") and " took over " in e["message"]:
            out.append(words[1])
    return out


def at(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def assert_one_of_each(st: Replicas, names: list[str]) -> None:
    """Every app has exactly one service and one security group: nothing was created twice."""
    services = Counter(s["serviceName"] for s in st.services("staging"))
    assert services == Counter({n: 1 for n in names}), services
    groups = st.aws("ec2").describe_security_groups(
        Filters=[{"Name": "tag-key", "Values": ["cloudfauj:app"]}]
    )
    per_app = Counter(
        {t["Key"]: t["Value"] for t in g["Tags"]}["cloudfauj:app"] for g in groups["SecurityGroups"]
    )
    assert per_app == Counter({n: 1 for n in names}), per_app


def test_thirty_applications_applied_through_three_replicas_all_deploy_and_the_work_is_shared(
    tmp_path: Path, database: str
) -> None:
    st = replicas(tmp_path, database, rollout_seconds=2).start()
    try:
        ids = {httpx.get(f"{st.url_of(i)}/healthz").json()["installation_id"] for i in range(st.count)}
        assert len(ids) == 1, "every replica is the same installation (one id in the shared store)"
        r = st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml"), replica=1)
        assert r.code == 0, str(r)
        names = [f"app{i:02d}" for i in range(30)]
        started = time.monotonic()
        opened = apply_apps(st, tmp_path, names)
        assert len(opened) == 30
        rows = wait_for(lambda: all_ended(st, names, replica=2), timeout=300, every=1, what="30 deployments")
        took = time.monotonic() - started
        assert {d["status"] for d in rows.values()} == {"succeeded"}, {
            a: d["status"] for a, d in rows.items()
        }
        by: Counter[str] = Counter()
        for d in rows.values():
            who = workers_of(events(st, d["id"]))
            assert who, f"deployment {d['id']}'s events do not say which replica worked on it"
            by.update(set(who))
        print(f"\n30 deployments through 3 replicas in {took:.1f} s; worked on, by replica: {dict(by)}")
        assert len(by) > 1, f"one replica did all the work: {dict(by)}"
        assert_one_of_each(st, names)
    finally:
        st.stop()


def test_a_replica_killed_mid_deployment_has_its_deployments_finished_by_the_others_soon_after_its_leases(
    tmp_path: Path, database: str
) -> None:
    st = replicas(tmp_path, database, rollout_seconds=6).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        names = [f"web{i}" for i in range(9)]
        apply_apps(st, tmp_path, names)

        def in_flight() -> dict[str, list[str]] | None:
            """Deployments in progress, by the replica working on them, once one replica has two."""
            held: dict[str, list[str]] = {}
            for d in deployments(st, names).values():
                who = workers_of(events(st, d["id"])) if d["status"] == "in_progress" else []
                if who:
                    held.setdefault(who[-1], []).append(d["id"])
            return held if max((len(v) for v in held.values()), default=0) >= 2 else None

        held = wait_for(in_flight, timeout=120, every=0.5, what="deployments in progress")
        victim = max(held, key=lambda r: len(held[r]))
        survivor = next(i for i in range(st.count) if f"r{i}" != victim)
        killed_at = time.time()
        st.kill(victim)  # SIGKILL: no lease is let go
        rows = wait_for(
            lambda: all_ended(st, names, survivor), timeout=120, every=0.5, what="every deployment"
        )
        assert {d["status"] for d in rows.values()} == {"succeeded"}, {
            a: d["status"] for a, d in rows.items()
        }

        resumed: list[float] = []
        for record_id in held[victim]:
            evs = events(st, record_id, survivor)
            takeover = [e for e in evs if f"took over from replica {victim}," in e["message"]]
            record = next(d for d in rows.values() if d["id"] == record_id)
            if not takeover:  # it ended just before the kill
                assert at(record["finished_at"]) <= killed_at + 0.5, (record_id, evs)
                continue
            assert workers_of(evs)[-1] != victim
            resumed.append(at(takeover[0]["at"]) - killed_at)
        assert resumed, "no deployment of the killed replica was taken over"
        print(
            f"\nkilled {victim} holding {len(held[victim])} deployments in progress; {len(resumed)} resumed "
            f"elsewhere after {min(resumed):.2f} / {statistics.median(resumed):.2f} / {max(resumed):.2f} s "
            f"(min / median / max; lease {LEASE:g} s)"
        )
        assert max(resumed) <= LEASE + 4, resumed
        assert_one_of_each(st, names)
    finally:
        st.stop()


def busiest(url: str) -> str | None:
    """The replica holding the most live leases on applications (two at least), from the shared store."""
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT holder, count(*) FROM leases WHERE kind = 'Application' "
            "AND expires_at > extract(epoch from clock_timestamp()) GROUP BY holder ORDER BY 2 DESC LIMIT 1"
        ).fetchone()
    return str(row[0]) if row and row[1] >= 2 else None


def test_a_replica_paused_past_its_lease_has_its_writes_refused_when_it_wakes_up(
    tmp_path: Path, database: str
) -> None:
    # Each AWS call takes 300 ms, so a replica's workers are mostly inside an attempt when it is paused:
    # when it wakes, they carry on from where they were, with a lease that is no longer theirs.
    st = replicas(tmp_path, database, rollout_seconds=8, sandbox_args=("--latency-ms", "300")).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        names = [f"api{i}" for i in range(6)]
        refused, paused = 0.0, []
        for round_ in range(3):  # a pause that caught no worker inside an attempt is tried again
            skip = int(paused[-1][1:]) if paused else None
            apply_apps(st, tmp_path, names, tag=f"1.{round_}", skip=skip)
            victim = wait_for(lambda: busiest(st.store), timeout=120, every=0.2, what="a replica at work")
            i = int(victim[1:])
            st.signal(victim, signal.SIGSTOP)
            time.sleep(LEASE + 2)  # past its leases: the others take its keys over
            st.signal(victim, signal.SIGCONT)
            paused.append(victim)
            if _refuses(st, i):
                refused = st.metric(i, "cloudfauj_lease_refused_writes_total")
                break
        assert refused > 0, f"paused {paused}: no write of theirs was refused"
        print(
            f"\npaused {', '.join(paused)} for {LEASE + 2:g} s: {refused:g} write(s) refused after it woke up"
        )
        assert "write refused: the lease on Application/staging/" in st.log(victim)
        rows = wait_for(lambda: all_ended(st, names), timeout=180, every=1, what="every deployment")
        assert {d["status"] for d in rows.values()} == {"succeeded"}, {
            a: d["status"] for a, d in rows.items()
        }
        assert all(d["image"].endswith(f":1.{round_}") for d in rows.values())
        assert_one_of_each(st, names)
    finally:
        st.stop()


def _refuses(st: Replicas, i: int, within: float = 5) -> bool:
    """Whether replica `i` counts a refused write within `within` seconds."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        if st.metric(i, "cloudfauj_lease_refused_writes_total") > 0:
            return True
        time.sleep(0.5)
    return False
