"""`cloudfauj gc`: the orphans as a table (or the server's answer with -o json), then, without --dry-run,
the deletion's record followed to its end; exit 0 when nothing is left to do or the deletion succeeded."""

from __future__ import annotations

import json

from tests.cli.conftest import Server
from tests.cli.helpers import CF

ORPHANS = [
    {
        "kind": "Environment",
        "env": "old",
        "app": None,
        "domain": None,
        "type": "ec2:vpc",
        "arn": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
    },
    {
        "kind": "Domain",
        "env": None,
        "app": None,
        "domain": "example.com",
        "type": "route53:hostedzone",
        "arn": "arn:aws:route53:::hostedzone/Z1",
    },
]


def test_a_dry_run_prints_the_orphans_as_a_table_and_deletes_nothing(cf: CF, server: Server) -> None:
    server.service.orphans = list(ORPHANS)
    r = cf("gc", "--dry-run")
    assert r.code == 0, str(r)
    header, *rows = r.out.splitlines()
    assert header.split() == ["KIND", "ENV", "APP", "DOMAIN", "TYPE", "ARN"]
    assert rows[0].split() == ["Environment", "old", "-", "-", "ec2:vpc", ORPHANS[0]["arn"]]
    assert rows[1].split()[3:] == ["example.com", "route53:hostedzone", ORPHANS[1]["arn"]]
    assert "2 orphaned resource(s)" in r.err
    assert server.service.orphans == ORPHANS and server.service.records == {}


def test_gc_follows_the_deletion_and_prints_one_json_document(cf: CF, server: Server) -> None:
    server.service.orphans = list(ORPHANS)
    r = cf("gc", "-o", "json")
    assert r.code == 0, str(r)
    body = json.loads(r.out)
    assert body["dry_run"] is False and body["orphans"] == ORPHANS
    (record,) = body["records"]
    assert record["kind"] == "GarbageCollection" and record["status"] == "succeeded"
    assert "Deleting 2 orphaned resource(s)" in r.err
    assert cf("gc", "--dry-run", "-o", "json").json() == {"dry_run": True, "orphans": [], "records": []}


def test_nothing_to_collect_says_so_and_exits_0(cf: CF) -> None:
    r = cf("gc")
    assert r.code == 0 and r.out == "" and "No orphaned AWS resources" in r.err, str(r)
