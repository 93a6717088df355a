"""The Domain controller driven by the reactor's attempt loop against the sandbox emulator: one zone, one
certificate and its validation records, a wait until ACM issues it, no duplicates on a second pass, refusal
of a zone that is not ours, and deletion of only what we created.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.aws import Gateway
from cloudfauj.reactor import Reactor
from cloudfauj.records import Cause, Record, RecordStatus
from cloudfauj.settings import Settings
from cloudfauj.store import Desired, SqliteStore
from controllers.base import Controller, Done
from controllers.domain import DomainController
from tests.conftest import REGION

NAME = "example.com"
SPEC = {"dns_service": "aws_route53", "cert_authority": "aws_acm"}
KEY = f"Domain/{NAME}"


class World:
    """A store, a gateway to the sandbox and a reactor (with only the Domain controller) run by hand."""

    def __init__(self, tmp: Path, endpoint: str) -> None:
        self.store = SqliteStore(tmp / "cloudfauj.db")
        self.aws = Gateway(
            region=REGION,
            endpoint_url=endpoint,
            installation_id=self.store.installation_id(),
            credentials=("testing", "testing"),
        )
        self.controller = DomainController()
        controllers: dict[str, Controller] = {"Domain": self.controller}
        self.reactor = Reactor(self.store, self.aws, Settings(deadline_seconds=60), controllers)

    def apply(self, name: str = NAME) -> None:
        self.store.apply(
            [Desired("Domain", name, None, SPEC)],
            cause=Cause.APPLY,
            initiator="t",
            source=None,
            deadline_seconds=60,
        )

    def delete(self, name: str = NAME) -> None:
        self.store.request_delete("Domain", None, name, initiator=None, deadline_seconds=60)

    def converge(self, name: str = NAME, limit: int = 200) -> tuple[Record, list[float | None]]:
        """Run attempts until the last record is terminal; also return the delays the reactor asked for."""
        delays: list[float | None] = []
        for _ in range(limit):
            delay = self.reactor.attempt(f"Domain/{name}")
            delays.append(delay)
            record = self.store.last_record("Domain", None, name)
            assert record is not None
            if record.terminal:
                return record, delays
            time.sleep(min(delay or 0.05, 0.3))
        raise AssertionError(f"Domain/{name} did not converge")


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = World(tmp_path, sandbox)
    yield w
    w.store.close()


def zones(aws: Any, name: str = NAME) -> list[dict[str, Any]]:
    listed = aws("route53").list_hosted_zones_by_name(DNSName=name)["HostedZones"]
    return [z for z in listed if z["Name"] == name + "."]


def certificates(aws: Any, name: str = NAME) -> list[str]:
    summaries = aws("acm").list_certificates()["CertificateSummaryList"]
    return [s["CertificateArn"] for s in summaries if s["DomainName"] == name]


def records(aws: Any, zone_id: str) -> list[dict[str, Any]]:
    rrsets: list[dict[str, Any]] = aws("route53").list_resource_record_sets(HostedZoneId=zone_id)[
        "ResourceRecordSets"
    ]
    return rrsets


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == type_)


def test_a_domain_waits_for_its_certificate_then_is_ready_and_a_second_pass_changes_nothing(
    world: World, aws: Any
) -> None:
    world.apply()
    fresh = world.store.get_object("Domain", None, NAME)
    assert fresh is not None
    planned = world.controller.plan(world.reactor._context(fresh, None))
    assert [c.describe() for c in planned] == [
        "create hosted-zone",
        "create certificate",
        "create validation-records",
    ]
    assert zones(aws) == []  # plan mutates nothing
    first = world.reactor.attempt(KEY)
    assert first == 5  # waiting for ACM
    obj = world.store.get_object("Domain", None, NAME)
    assert obj is not None and obj.phase == "reconciling"
    issued = condition(obj.status, "CertificateIssued")
    assert issued["status"] == "False" and issued["reason"] == "PendingValidation"
    assert "name servers must be set at the registrar" in issued["message"]
    assert obj.status["outputs"]["certificate_status"] == "PENDING_VALIDATION"

    record, _ = world.converge()
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    obj = world.store.get_object("Domain", None, NAME)
    assert obj is not None and obj.phase == "ready"
    outputs = obj.status["outputs"]
    assert outputs["certificate_status"] == "ISSUED"
    assert len(outputs["name_servers"]) == 4
    assert condition(obj.status, "CertificateIssued")["status"] == "True"
    assert condition(obj.status, "CertificateIssued")["reason"] == "Issued"

    found = zones(aws)
    assert len(found) == 1 and found[0]["Id"].endswith(outputs["zone_id"])
    assert found[0]["Config"]["Comment"] == f"Public hosted zone for {NAME} managed by Cloudfauj"
    assert found[0]["CallerReference"].startswith(f"cloudfauj-{world.aws.installation_id}-{NAME}-")
    tags = aws("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=outputs["zone_id"])
    zone_tags = {t["Key"]: t["Value"] for t in tags["ResourceTagSet"]["Tags"]}
    assert zone_tags["cloudfauj:managed-by"] == world.aws.installation_id
    assert zone_tags["cloudfauj:domain"] == NAME and zone_tags["cloudfauj:kind"] == "Domain"
    assert certificates(aws) == [outputs["certificate_arn"]]
    cert = aws("acm").describe_certificate(CertificateArn=outputs["certificate_arn"])["Certificate"]
    assert set(cert["SubjectAlternativeNames"]) == {NAME, f"*.{NAME}"}
    rr = cert["DomainValidationOptions"][0]["ResourceRecord"]
    rrsets = records(aws, outputs["zone_id"])
    cnames = [r for r in rrsets if r["Type"] == "CNAME"]
    assert len(cnames) == 1  # name and *.name share one validation record
    assert cnames[0]["Name"] == rr["Name"] and cnames[0]["TTL"] == 60
    assert cnames[0]["ResourceRecords"] == [{"Value": rr["Value"]}]

    creates = [e.message for e in world.store.events(record.id) if e.type == "aws"]
    assert sum("create_hosted_zone" in m for m in creates) == 1
    assert sum("request_certificate" in m for m in creates) == 1

    # a second pass: nothing to change, nothing created
    assert world.controller.plan(world.reactor._context(obj, None)) == []
    again = world.controller.reconcile(world.reactor._context(obj, None))
    assert isinstance(again, Done) and again.outputs == outputs
    assert world.reactor.attempt(KEY) is None  # resync: no drift, no new record
    last = world.store.last_record("Domain", None, NAME)
    assert last is not None and last.id == record.id
    assert len(zones(aws)) == 1 and len(certificates(aws)) == 1
    assert records(aws, outputs["zone_id"]) == rrsets


def test_a_foreign_zone_with_the_same_name_fails_the_domain_with_a_clear_reason(
    world: World, aws: Any
) -> None:
    aws("route53").create_hosted_zone(Name=NAME, CallerReference="someone-else")
    world.apply()
    record, _ = world.converge()
    assert record.status == RecordStatus.FAILED
    assert f"A hosted zone for {NAME} exists" in (record.reason or "")
    assert "not managed by this Cloudfauj installation" in (record.reason or "")
    obj = world.store.get_object("Domain", None, NAME)
    assert obj is not None and obj.phase == "failed"
    assert len(zones(aws)) == 1 and certificates(aws) == []


def test_an_untagged_zone_left_by_a_crash_is_adopted_not_duplicated(world: World, aws: Any) -> None:
    # a crash between create_hosted_zone and change_tags_for_resource leaves an untagged zone (ours)
    reference = f"cloudfauj-{world.aws.installation_id}-{NAME}-crashed"
    zone_id = aws("route53").create_hosted_zone(Name=NAME, CallerReference=reference)["HostedZone"]["Id"]
    world.apply()
    record, _ = world.converge()
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    found = zones(aws)
    assert [z["Id"] for z in found] == [zone_id]
    tags = aws("route53").list_tags_for_resource(ResourceType="hostedzone", ResourceId=zone_id.split("/")[-1])
    assert {t["Key"] for t in tags["ResourceTagSet"]["Tags"]} >= {"cloudfauj:managed-by", "cloudfauj:domain"}


def test_deletion_removes_records_certificate_and_zone_and_leaves_other_zones_alone(
    world: World, aws: Any
) -> None:
    other = aws("route53").create_hosted_zone(Name="other.org", CallerReference="foreign")["HostedZone"]["Id"]
    world.apply()
    record, _ = world.converge()
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    world.delete()
    deleted, _ = world.converge()
    assert deleted.status == RecordStatus.SUCCEEDED, deleted.reason
    assert world.store.get_object("Domain", None, NAME) is None
    assert zones(aws) == [] and certificates(aws) == []
    assert [z["Id"] for z in zones(aws, "other.org")] == [other]
    messages = " ".join(e.message for e in world.store.events(deleted.id))
    assert "change_resource_record_sets" in messages and "delete_certificate" in messages
    assert "delete_hosted_zone" in messages


def test_a_foreign_record_in_our_zone_blocks_deletion_with_a_clear_reason(world: World, aws: Any) -> None:
    world.apply()
    record, _ = world.converge()
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    obj = world.store.get_object("Domain", None, NAME)
    assert obj is not None
    zone_id = obj.status["outputs"]["zone_id"]
    aws("route53").change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"www.{NAME}",
                        "Type": "A",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
            ]
        },
    )
    world.delete()
    failed, _ = world.converge()
    assert failed.status == RecordStatus.FAILED
    reason = failed.reason or ""
    assert "still holds records Cloudfauj did not create" in reason and f"www.{NAME}. A" in reason
    assert "delete them, then delete the domain again" in reason
    assert len(zones(aws)) == 1  # the zone (and the user's record) stay
    assert any(r["Name"] == f"www.{NAME}." for r in records(aws, zone_id))


def test_aliases_of_our_applications_make_deletion_wait_instead_of_fail(world: World, aws: Any) -> None:
    world.apply()
    record, _ = world.converge()
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    obj = world.store.get_object("Domain", None, NAME)
    assert obj is not None
    zone_id = obj.status["outputs"]["zone_id"]
    ec2, elb = aws("ec2"), aws("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.7.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate("ab")
    ]
    tags = [{"Key": k, "Value": v} for k, v in world.aws.tags("Environment", env="production").items()]
    alb = elb.create_load_balancer(Name="production-x", Subnets=subnets, Tags=tags)["LoadBalancers"][0]
    alias = {
        "Name": f"production-api.{NAME}",
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": alb["CanonicalHostedZoneId"],
            "DNSName": f"dualstack.{alb['DNSName']}",
            "EvaluateTargetHealth": False,
        },
    }
    r53 = aws("route53")
    r53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": alias}]}
    )
    world.delete()
    assert world.reactor.attempt(KEY) == 5  # waiting for the application's record, not failed
    pending = world.store.last_record("Domain", None, NAME)
    assert pending is not None and not pending.terminal
    assert "applications being deleted" in (pending.progress.get("last_wait") or "")
    r53.change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": alias}]}
    )
    deleted, _ = world.converge()
    assert deleted.status == RecordStatus.SUCCEEDED, deleted.reason
    assert zones(aws) == [] and certificates(aws) == []
