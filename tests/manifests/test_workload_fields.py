"""The Application fields of issue 9 in both formats: valid manifests keep upstream files meaning what
they meant, and every invalid combination is one located sentence before anything is stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudfauj.errors import InvalidInput
from cloudfauj.manifests import ApplicationSpec, Source, parse_reference, parse_sources, workload_problems

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"


def problems(text: str, **flags: object) -> list[str]:
    with pytest.raises(InvalidInput) as e:
        parse_sources([Source("app.yml", text)], env="staging", image="web:1", **flags)  # type: ignore[arg-type]
    return [f"{p.line} {p.field}: {p.message}" for p in e.value.problems]


def app(text: str, **flags: object) -> ApplicationSpec:
    (doc,) = parse_sources([Source("app.yml", text)], env="staging", image="web:1", **flags)  # type: ignore[arg-type]
    spec = doc.manifest.spec
    assert isinstance(spec, ApplicationSpec)
    return spec


WORKER = "name: jobs\ntype: worker\nresources: {cpu: 256, memory: 512}\n"


def test_an_upstream_file_is_stored_exactly_as_before() -> None:
    text = (ROOT / "manifests" / "nginx_api" / ".cloudfauj.yml").read_text()
    stored = app(text).model_dump(mode="json")
    assert set(stored) == {"image", "type", "visibility", "healthcheck", "resources", "replicas"}
    assert stored["healthcheck"] == {"path": "/ping"} and stored["resources"]["network"] == {"bind_port": 80}


def test_the_example_manifest_is_valid() -> None:
    docs = parse_sources([Source("workloads.yml", (ROOT / "manifests" / "workloads.yml").read_text())])
    specs = {d.manifest.metadata.name: d.manifest.spec.model_dump(mode="json") for d in docs}
    assert specs["storefront"]["healthcheck"]["command"][0] == "CMD-SHELL"
    assert specs["orders_worker"]["command"] == ["python", "-m", "orders.consume"]
    assert "network" not in specs["orders_worker"]["resources"]


def test_a_worker_needs_no_port_and_takes_none() -> None:
    assert app(WORKER).resources.network is None
    found = problems(WORKER.replace("512}", "512, network: {bind_port: 80}}"))
    assert found == [
        "3 resources.network.bind_port: is only for servers: a worker takes no traffic, so it has no port "
        "(remove 'network', or use 'type: server')"
    ]
    assert problems("name: web\ntype: server\nresources: {cpu: 256, memory: 512}\n") == [
        "3 resources.network: is required"
    ]


def test_invalid_scaling_is_refused_with_the_field_and_line() -> None:
    server = "name: web\nresources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
    assert problems(server + "autoscaling: {min: 5, max: 3, cpu_target: 50}\n") == [
        "3 autoscaling.min: must not be greater than max (5 > 3)"
    ]
    assert problems(server + "replicas: 2\nautoscaling: {max: 3, cpu_target: 50}\n") == [
        "3 replicas: cannot be set with autoscaling, which owns the count: set autoscaling.min"
    ]
    assert problems(server + "autoscaling: {max: 3, cpu_targt: 50}\n") == [
        "3 autoscaling.cpu_targt: unknown key; did you mean 'cpu_target'?"
    ]
    found = problems(WORKER + "autoscaling: {max: 3, requests_per_target: 100}\n")
    assert found[0].startswith("4 autoscaling.requests_per_target: needs a load balancer")


def test_secrets_must_be_references_and_names_must_be_environment_names() -> None:
    found = problems(WORKER + "secrets: {DB: hunter2!, OK: /prod/db}\nvariables: {9LIVES: x, OK: y}\n")
    assert found == [
        "5 variables.9LIVES: is not an environment variable name: use letters, digits and '_', not "
        "starting with a digit (not '9LIVES')",
        "4 secrets.DB: must be a Secrets Manager secret ARN, an SSM parameter ARN or an SSM parameter "
        "name (e.g. '/prod/db/password'), not 'hunter2!'; secret values never go in a manifest",
        "4 secrets.OK: is also a variable: an environment variable has one value",
    ]
    assert problems(WORKER + "variables: {DEBUG: true}\n") == [
        "4 variables.DEBUG: must be a string, not the boolean true; put it in quotes if it is text"
    ]


def test_a_secret_in_another_region_is_refused_by_the_server_check() -> None:
    (doc,) = parse_sources(
        [Source("app.yml", WORKER + f"secrets: {{DB: '{ARN.replace('us-east-1', 'eu-west-1')}'}}\n")],
        env="staging",
        image="web:1",
    )
    (problem,) = workload_problems(doc, region="us-east-1", env_domain=None)
    assert (problem.line, problem.field) == (4, "secrets.DB")
    assert problem.message.startswith("is in region 'eu-west-1' but this server deploys to 'us-east-1'")


def test_requests_per_target_needs_an_environment_with_a_load_balancer() -> None:
    text = "name: web\nresources: {cpu: 256, memory: 512, network: {bind_port: 80}}\n"
    (doc,) = parse_sources(
        [Source("app.yml", text + "autoscaling: {max: 3, requests_per_target: 100}\n")],
        env="staging",
        image="web:1",
    )
    (problem,) = workload_problems(doc, region="us-east-1", env_domain=None)
    assert problem.field == "autoscaling.requests_per_target" and "has none" in problem.message
    assert workload_problems(doc, region="us-east-1", env_domain="example.com") == []


def test_task_role_and_process_fields() -> None:
    spec = app(
        WORKER
        + "task_role: {statements: [{Effect: Allow, Action: 'sqs:*', Resource: '*'}]}\n"
        + "entrypoint: \"sh -c\"\ncommand: ['echo hi']\nstop_timeout: 2\nplatform: arm64\n"
    )
    assert spec.entrypoint == ["sh", "-c"] and spec.command == ["echo hi"] and spec.platform == "arm64"
    assert problems(WORKER + "task_role: {}\n") == [
        "4 task_role.policies: or 'statements' is required: a role that grants nothing is not needed"
    ]
    assert problems(WORKER + "task_role: {policies: [AdministratorAccess]}\n")[0].startswith(
        "4 task_role.policies: must be IAM policy ARNs"
    )
    assert problems(WORKER + "healthcheck: {retries: 3}\n") == [
        "4 healthcheck.retries: is a timing of the container health check: set 'command' too"
    ]


def test_var_flags_set_variables_over_the_file() -> None:
    spec = app(WORKER + "variables: {A: file, B: file}\n", variables={"B": "flag", "C": "flag"})
    assert spec.variables == {"A": "file", "B": "flag", "C": "flag"}


def test_the_execution_role_is_granted_exactly_each_referenced_secret() -> None:
    where = {"region": "us-east-1", "account": "123456789012"}
    sm = parse_reference(f"{ARN}:password::")
    assert sm is not None and sm.policy_resource(**where) == ARN
    named = parse_reference("arn:aws:secretsmanager:us-east-1:123456789012:secret:db")
    assert named is not None and named.policy_resource(**where).endswith(":secret:db-??????")
    param = parse_reference("/prod/db")
    assert param is not None
    assert param.policy_resource(**where) == "arn:aws:ssm:us-east-1:123456789012:parameter/prod/db"
    assert parse_reference("aws/reserved") is None and parse_reference("arn:aws:s3:::bucket") is None
