"""What real applications need (issue 9), converged by the Application controller against the sandbox:
variables and secret references in the task definition, an execution role that reads exactly the app's
secrets, a task role, process settings, workers and private apps (Cloud Map), and autoscaling that the
drift check leaves alone. Everything the app created goes with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cloudfauj.manifests import ApplicationSpec
from cloudfauj.records import RecordStatus
from cloudfauj.store import Desired
from controllers.registry import CONTROLLERS
from tests.controllers.test_reconcile import World, env, push

SECRET_VALUE = "s3cr3t-Zebra-8271"


@pytest.fixture
def world(tmp_path: Path, sandbox: str) -> Iterator[World]:
    w = World(tmp_path, sandbox)
    yield w
    w.store.close()


def spec(image: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "image": image,
        "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": 80}},
    }
    base.update(fields)
    return ApplicationSpec.model_validate(base).model_dump(mode="json")


def deploy(world: World, name: str, body: dict[str, Any]) -> Any:
    world.apply(Desired("Application", name, "staging", body, image=body["image"]))
    record = world.converge(f"Application/staging/{name}")
    assert record.status == RecordStatus.SUCCEEDED, record.reason
    obj = world.store.get_object("Application", "staging", name)
    assert obj is not None
    return obj


def plan(world: World, name: str) -> list[str]:
    obj = world.store.get_object("Application", "staging", name)
    assert obj is not None
    return [c.describe() for c in CONTROLLERS["Application"].plan(world.reactor._context(obj, None))]


def delete(world: World, name: str) -> None:
    world.store.request_delete("Application", "staging", name, initiator=None, deadline_seconds=60)
    assert world.converge(f"Application/staging/{name}").status == RecordStatus.SUCCEEDED


def test_secrets_are_references_read_by_an_execution_role_of_their_own(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    db = aws("secretsmanager").create_secret(Name="db", SecretString=SECRET_VALUE)["ARN"]
    aws("ssm").put_parameter(Name="/staging/api-key", Value=SECRET_VALUE, Type="SecureString")
    aws("secretsmanager").create_secret(Name="other", SecretString="not-ours")
    bucket_read = aws("iam").create_policy(
        PolicyName="bucket-read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}],
            }
        ),
    )["Policy"]["Arn"]
    image = push(aws, "web", "v1")
    body = spec(
        image,
        variables={"MODE": "production", "WORKERS": 4},
        secrets={"DB_PASSWORD": db, "API_KEY": "/staging/api-key"},
        task_role={
            "policies": [bucket_read, "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
            "statements": [
                {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "arn:aws:sqs:*:*:jobs"}
            ],
        },
        command="gunicorn app:app",
        healthcheck={"path": "/", "command": "curl -f http://localhost/ || exit 1", "retries": 5},
        stop_timeout=60,
        platform="arm64",
    )
    obj = deploy(world, "web", body)

    td = aws("ecs").describe_task_definition(taskDefinition=obj.status["outputs"]["task_definition_arn"])
    td = td["taskDefinition"]
    container = td["containerDefinitions"][0]
    assert sorted((e["name"], e["value"]) for e in container["environment"]) == [
        ("MODE", "production"),
        ("WORKERS", "4"),
    ]
    assert sorted((s["name"], s["valueFrom"]) for s in container["secrets"]) == [
        ("API_KEY", "/staging/api-key"),
        ("DB_PASSWORD", db),
    ]
    assert container["command"] == ["gunicorn", "app:app"] and container["stopTimeout"] == 60
    assert container["healthCheck"]["command"] == ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    assert container["healthCheck"]["retries"] == 5
    assert td["runtimePlatform"]["cpuArchitecture"] == "ARM64"

    iam = aws("iam")
    exec_name = td["executionRoleArn"].split("/")[-1]
    assert exec_name.endswith("-staging-web-exec") and td["executionRoleArn"] != world_env_role(world)
    document = iam.get_role_policy(RoleName=exec_name, PolicyName="cloudfauj-secrets")["PolicyDocument"]
    granted = {a: s["Resource"] for s in document["Statement"] for a in [s["Action"]]}
    assert granted == {
        "secretsmanager:GetSecretValue": [db],
        "ssm:GetParameters": ["arn:aws:ssm:us-east-1:123456789012:parameter/staging/api-key"],
    }
    task_name = td["taskRoleArn"].split("/")[-1]
    attached = iam.list_attached_role_policies(RoleName=task_name)["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == ["AmazonS3ReadOnlyAccess", "bucket-read"]
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=task_name)["Tags"]}
    assert tags["cloudfauj:app"] == "web" and tags["cloudfauj:managed-by"] == world.aws.installation_id
    assert plan(world, "web") == []  # a second pass changes nothing

    # dropping a secret narrows the role; dropping the task role removes it
    body = spec(image, secrets={"DB_PASSWORD": db})
    deploy(world, "web", body)
    document = iam.get_role_policy(RoleName=exec_name, PolicyName="cloudfauj-secrets")["PolicyDocument"]
    assert [s["Action"] for s in document["Statement"]] == ["secretsmanager:GetSecretValue"]
    assert task_name not in [r["RoleName"] for r in iam.list_roles(PathPrefix="/cloudfauj/")["Roles"]]

    delete(world, "web")
    roles = [r["RoleName"] for r in iam.list_roles(PathPrefix="/cloudfauj/")["Roles"]]
    assert roles == [world_env_role(world).split("/")[-1]]


def world_env_role(world: World) -> str:
    obj = world.store.get_object("Environment", None, "staging")
    assert obj is not None
    return str(obj.status["outputs"]["execution_role_arn"])


def test_a_worker_and_a_private_app_run_beside_a_public_one(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    image = push(aws, "web", "v1")
    deploy(world, "web", spec(image))
    worker = deploy(world, "jobs", spec(image, type="worker", resources={"cpu": 256, "memory": 512}))
    private = deploy(world, "api", spec(image, visibility="private"))
    env_out = world.store.get_object("Environment", None, "staging")
    assert env_out is not None
    cluster, vpc = env_out.status["outputs"]["cluster_arn"], env_out.status["outputs"]["vpc_id"]

    ecs = aws("ecs")
    services = {
        s["serviceName"]: s
        for s in ecs.describe_services(cluster=cluster, services=["jobs", "api"])["services"]
    }
    assert services["jobs"]["loadBalancers"] == [] and services["jobs"]["serviceRegistries"] == []
    td = ecs.describe_task_definition(taskDefinition=services["jobs"]["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0].get("portMappings", []) == []
    assert worker.status["outputs"]["url"] is None and worker.status["outputs"]["internal_name"] is None

    assert private.status["outputs"]["internal_name"] == "api.staging.internal"
    (registry,) = services["api"]["serviceRegistries"]
    sd = aws("servicediscovery")
    (namespace,) = sd.list_namespaces()["Namespaces"]
    assert namespace["Name"] == "staging.internal"
    (found,) = [s for s in sd.list_services()["Services"] if s["Arn"] == registry["registryArn"]]
    assert found["Name"] == "api"
    instances = sd.list_instances(ServiceId=found["Id"])["Instances"]
    assert [i["Attributes"]["AWS_INSTANCE_IPV4"] for i in instances]  # ECS registered the running task

    groups = aws("ec2").describe_security_groups(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc]},
            {"Name": "tag:cloudfauj:kind", "Values": ["Application"]},
        ]
    )["SecurityGroups"]
    ingress = {
        next(t["Value"] for t in g["Tags"] if t["Key"] == "cloudfauj:app"): [
            r["CidrIp"] for p in g["IpPermissions"] for r in p.get("IpRanges", [])
        ]
        for g in groups
    }
    assert ingress == {"web": ["0.0.0.0/0"], "jobs": [], "api": [env_out.status["outputs"]["vpc_cidr"]]}
    for name in ("web", "jobs", "api"):
        assert plan(world, name) == [], name

    # the private app goes public: its Cloud Map service goes
    deploy(world, "api", spec(image))
    assert sd.list_services()["Services"] == []
    for name in ("web", "jobs", "api"):
        delete(world, name)
    world.store.request_delete("Environment", None, "staging", initiator=None, deadline_seconds=60)
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    assert sd.list_namespaces()["Namespaces"] == []
    assert aws("route53").list_hosted_zones()["HostedZones"] == []  # the namespace's zone went with it


def test_autoscaling_owns_the_desired_count_and_a_new_max_is_applied(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    image = push(aws, "web", "v1")
    obj = deploy(world, "web", spec(image, autoscaling={"min": 2, "max": 4, "cpu_target": 60}))
    cluster = obj.status["outputs"]["cluster_arn"]
    scaling = aws("application-autoscaling")
    rid = f"service/{cluster.split('/')[-1]}/web"
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 4)
    (policy,) = scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == 60 and policy["PolicyName"] == "cloudfauj-cpu"
    svc = aws("ecs").describe_services(cluster=cluster, services=["web"])["services"][0]
    assert svc["desiredCount"] == 2

    aws("ecs").update_service(cluster=cluster, service="web", desiredCount=3)  # the autoscaler's doing
    assert plan(world, "web") == []

    deploy(world, "web", spec(image, autoscaling={"min": 2, "max": 8, "cpu_target": 60, "memory_target": 70}))
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="ecs", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert target["MaxCapacity"] == 8
    names = sorted(
        p["PolicyName"]
        for p in scaling.describe_scaling_policies(ServiceNamespace="ecs", ResourceId=rid)["ScalingPolicies"]
    )
    assert names == ["cloudfauj-cpu", "cloudfauj-memory"]
    svc = aws("ecs").describe_services(cluster=cluster, services=["web"])["services"][0]
    assert svc["desiredCount"] == 3  # a deployment leaves the autoscaler's count alone

    delete(world, "web")
    assert scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []


def test_gc_finds_and_removes_the_roles_and_cloud_map_service_of_an_app_the_store_lost(
    world: World, aws: Any
) -> None:
    from cloudfauj.service import Service
    from cloudfauj.settings import Settings
    from controllers.gc import GC_KIND, GC_NAME

    world.apply(env())
    world.converge("Environment/staging")
    image = push(aws, "web", "v1")
    db = aws("secretsmanager").create_secret(Name="db", SecretString=SECRET_VALUE)["ARN"]
    task_role = {"statements": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}
    deploy(world, "api", spec(image, visibility="private", secrets={"DB": db}, task_role=task_role))
    world.store.remove_object("Application", "staging", "api")
    svc = Service(
        world.store, Settings(deadline_seconds=60), enqueue=lambda k: None, ready=lambda: True, aws=world.aws
    )
    found = {o["type"] for o in svc.gc(dry_run=True, initiator="t")["orphans"]}
    assert {"iam:role", "servicediscovery:service"} <= found, found
    assert svc.gc(dry_run=False, initiator="t")["records"]
    assert world.converge(f"{GC_KIND}/{GC_NAME}").status == RecordStatus.SUCCEEDED
    assert aws("servicediscovery").list_services()["Services"] == []
    roles = [r["RoleName"] for r in aws("iam").list_roles(PathPrefix="/cloudfauj/")["Roles"]]
    assert roles == [world_env_role(world).split("/")[-1]]


def test_a_deployment_whose_secret_does_not_exist_fails_like_ecs(world: World, aws: Any) -> None:
    world.apply(env())
    world.converge("Environment/staging")
    image = push(aws, "web", "v1")
    body = spec(image, secrets={"API_KEY": "/staging/never-created"})
    world.apply(Desired("Application", "web", "staging", body, image=image))
    record = world.converge("Application/staging/web")
    assert record.status == RecordStatus.FAILED
    assert "ResourceInitializationError" in (record.reason or "") and "never-created" in (record.reason or "")


def test_scaling_on_requests_counts_the_app_target_group_behind_the_load_balancer(
    world: World, aws: Any
) -> None:
    world.apply(
        Desired("Domain", "example.com", None, {"dns_service": "aws_route53", "cert_authority": "aws_acm"})
    )
    assert world.converge("Domain/example.com").status == RecordStatus.SUCCEEDED
    domain_env = {
        "network": "aws",
        "orchestrator": "aws_ecs_fargate",
        "domain": "example.com",
        "load_balancer": "aws_alb",
    }
    world.apply(Desired("Environment", "staging", None, domain_env))
    assert world.converge("Environment/staging").status == RecordStatus.SUCCEEDED
    image = push(aws, "web", "v1")
    obj = deploy(world, "web", spec(image, autoscaling={"max": 3, "requests_per_target": 500}))
    rid = f"service/{obj.status['outputs']['cluster_arn'].split('/')[-1]}/web"
    (policy,) = aws("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="ecs", ResourceId=rid
    )["ScalingPolicies"]
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    (tg,) = aws("elbv2").describe_target_groups()["TargetGroups"]
    assert metric["ResourceLabel"].startswith("app/") and metric["ResourceLabel"].endswith(
        tg["TargetGroupArn"].split(":")[-1]
    )
    assert plan(world, "web") == []


def test_a_task_role_gets_the_servers_permissions_boundary_and_follows_it(world: World, aws: Any) -> None:
    iam = aws("iam")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    first, second = (
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
        for name in ("boundary-1", "boundary-2")
    )
    world.reactor.settings = world.reactor.settings.model_copy(update={"task_role_boundary": first})
    world.apply(env())
    world.converge("Environment/staging")
    task_role = {"policies": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]}
    obj = deploy(world, "web", spec(push(aws, "web", "v1"), task_role=task_role))
    td = aws("ecs").describe_task_definition(taskDefinition=obj.status["outputs"]["task_definition_arn"])
    name = td["taskDefinition"]["taskRoleArn"].split("/")[-1]
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == first
    world.reactor.settings = world.reactor.settings.model_copy(update={"task_role_boundary": second})
    assert any("boundary" in change for change in plan(world, "web")), plan(world, "web")
    deploy(world, "web", spec(push(aws, "web", "v2"), task_role=task_role))
    assert iam.get_role(RoleName=name)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == second
