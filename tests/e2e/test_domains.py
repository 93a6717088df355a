"""Custom domains end to end on the sandbox: a domain's zone and certificate, an environment's load
balancer, apps served at https://<env>-<app>.<domain>, re-applies that create nothing, unhealthy targets
that fail a deployment, and deletion guarded by what uses the domain.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MANIFESTS, Stack, wait_for

pytestmark = pytest.mark.e2e

APP = """name: {name}
type: server
healthcheck:
  path: /health
visibility: public
resources: {{cpu: 256, memory: 512, network: {{bind_port: 8080}}}}
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    st = Stack(tmp_path).start()
    yield st
    st.stop()


def counts(st: Stack) -> dict[str, int]:
    """What moto would silently duplicate: zones, records, certificates, ALBs, listeners, rules, groups."""
    r53, elb = st.aws("route53"), st.aws("elbv2")
    zones = r53.list_hosted_zones()["HostedZones"]
    albs = elb.describe_load_balancers()["LoadBalancers"]
    listeners = [
        x for a in albs for x in elb.describe_listeners(LoadBalancerArn=a["LoadBalancerArn"])["Listeners"]
    ]
    return {
        "zones": len(zones),
        "records": sum(
            len(r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]) for z in zones
        ),
        "certificates": len(st.aws("acm").list_certificates()["CertificateSummaryList"]),
        "albs": len(albs),
        "listeners": len(listeners),
        "rules": sum(len(elb.describe_rules(ListenerArn=x["ListenerArn"])["Rules"]) for x in listeners),
        "target_groups": len(elb.describe_target_groups()["TargetGroups"]),
    }


def deploy(st: Stack, name: str, image: str) -> Any:
    path = st.workdir / f"{name}.yml"
    path.write_text(APP.format(name=name))
    return st.cf("deploy", "--env", "production", image, "--config", str(path))


def test_apps_in_a_domain_environment_are_served_at_their_own_https_hostname(stack: Stack) -> None:
    st = stack
    r = st.cf("domain", "add", str(MANIFESTS / "example.com.yml"))
    assert r.code == 0 and "ns-2048.awsdns-64.com" in r.out + r.err, str(r)
    (domain,) = st.cf_json("get", "domains")
    assert domain["status"]["outputs"]["certificate_status"] == "ISSUED"
    assert {c["type"]: c["status"] for c in domain["status"]["conditions"]}["CertificateIssued"] == "True"

    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-production.yml")).code == 0
    (env,) = st.cf_json("get", "environments")
    out = env["status"]["outputs"]
    elb = st.aws("elbv2")
    listeners = {x["Port"]: x for x in elb.describe_listeners(LoadBalancerArn=out["alb_arn"])["Listeners"]}
    assert listeners[443]["Protocol"] == "HTTPS" and listeners[443]["SslPolicy"].startswith(
        "ELBSecurityPolicy-TLS13"
    )
    assert (
        listeners[443]["Certificates"][0]["CertificateArn"] == domain["status"]["outputs"]["certificate_arn"]
    )
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"

    api, web = st.push("api", "v1"), st.push("web", "v1")
    assert deploy(st, "api", api).code == 0
    assert deploy(st, "web_ui", web).code == 0
    apps = {a["metadata"]["name"]: a for a in st.cf_json("get", "applications")}
    assert apps["web_ui"]["status"]["outputs"]["url"] == "https://production-web-ui.example.com"
    table = st.cf("get", "applications")
    assert "https://production-api.example.com" in table.out, str(table)

    rules = [
        r for r in elb.describe_rules(ListenerArn=out["https_listener_arn"])["Rules"] if not r["IsDefault"]
    ]
    assert len(rules) == 2 and len({r["Priority"] for r in rules}) == 2
    zone = domain["status"]["outputs"]["zone_id"]
    records = st.aws("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    aliases = {r["Name"] for r in records if r["Type"] == "A" and "AliasTarget" in r}
    assert aliases == {"production-api.example.com.", "production-web-ui.example.com."}
    sg = st.aws("ec2").describe_security_groups(Filters=[{"Name": "tag:cloudfauj:app", "Values": ["api"]}])[
        "SecurityGroups"
    ][0]
    sources = [
        (p["FromPort"], p.get("IpRanges"), [g["GroupId"] for g in p["UserIdGroupPairs"]])
        for p in sg["IpPermissions"]
    ]
    assert sources == [(8080, [], [out["alb_security_group_id"]])], sources
    tg = elb.describe_target_groups(Names=[rules[0]["Actions"][0]["TargetGroupArn"].split("/")[1]])[
        "TargetGroups"
    ][0]
    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert [h["TargetHealth"]["State"] for h in health] == ["healthy"]

    before = counts(st)
    assert st.cf("domain", "add", str(MANIFESTS / "example.com.yml")).code == 0
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-production.yml")).code == 0
    assert deploy(st, "api", api).code == 0
    assert counts(st) == before
    assert len(st.cf_json("get", "records")) == 4

    r = st.cf("domain", "delete", "example.com")
    assert r.code == 2 and "production" in r.err, str(r)
    r = st.cf("delete", "domain", "example.com", "--cascade")
    assert r.code == 0, str(r)
    assert st.cf_json("get", "domains") == [] and st.cf_json("get", "environments") == []
    assert st.tagged() == []
    assert counts(st) == {k: 0 for k in before}


def test_a_deployment_whose_targets_fail_health_checks_fails_and_rolls_back(stack: Stack) -> None:
    st = stack
    assert st.cf("domain", "add", str(MANIFESTS / "example.com.yml")).code == 0
    assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-production.yml")).code == 0
    good = st.push("api", "v1")
    assert deploy(st, "api", good).code == 0
    r = st.cf("sandbox", "push", "api:v2", "--unhealthy", "--endpoint", st.endpoint)
    assert r.code == 0, str(r)
    r = deploy(st, "api", r.out.strip())
    assert r.code == 1, str(r)
    last = st.cf_json("get", "deployments")[0]
    assert last["status"] == "failed" and "health" in last["reason"].lower(), last
    (svc,) = st.services("production")
    assert st.image_of(svc) == good


def test_dropping_and_restoring_an_environments_domain_moves_its_apps_off_and_back_onto_the_alb(
    stack: Stack,
) -> None:
    st = stack
    assert st.cf("domain", "add", str(MANIFESTS / "example.com.yml")).code == 0
    with_domain = MANIFESTS / "cf-env-production.yml"
    assert st.cf("env", "create", "--config", str(with_domain)).code == 0
    assert deploy(st, "api", st.push("api", "v1")).code == 0
    (domain,) = st.cf_json("get", "domains")
    zone = domain["status"]["outputs"]["zone_id"]

    def aliases() -> set[str]:
        records = st.aws("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return {r["Name"] for r in records if r["Type"] == "A"}

    def settled() -> dict[str, Any] | None:
        (app,) = st.cf_json("get", "applications")
        records = st.cf_json("get", "records")
        busy = [r for r in records if r["status"] in ("pending", "running")]
        return None if busy or app["status"]["phase"] != "ready" else app

    without = st.workdir / "production.yml"
    without.write_text("name: production\nnetwork: aws\norchestrator: aws_ecs_fargate\n")
    assert st.cf("env", "create", "--config", str(without)).code == 0
    app = wait_for(settled, what="the app to converge without the load balancer")
    assert app["status"]["outputs"]["url"] is None
    elb = st.aws("elbv2")
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []
    assert aliases() == set()
    (svc,) = st.services("production")
    assert svc["loadBalancers"] == []
    sg = st.aws("ec2").describe_security_groups(Filters=[{"Name": "tag:cloudfauj:app", "Values": ["api"]}])[
        "SecurityGroups"
    ][0]
    assert [(p["FromPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in sg["IpPermissions"]] == [
        (8080, ["0.0.0.0/0"])
    ]

    assert st.cf("env", "create", "--config", str(with_domain)).code == 0
    app = wait_for(
        lambda: (a := settled()) and a["status"]["outputs"]["url"] and a, what="the app back on the ALB"
    )
    assert app["status"]["outputs"]["url"] == "https://production-api.example.com"
    assert aliases() == {"production-api.example.com."}
    assert len(elb.describe_target_groups()["TargetGroups"]) == 1

    assert st.cf("delete", "domain", "example.com", "--cascade").code == 0
    assert st.tagged() == []
