"""Invalid input: each problem names its file, document, line and field, in one sentence.

Every case is one small file with exactly one thing wrong, so the test pins the whole location. Then:
a batch reports all its problems at once, and nothing but InvalidInput ever escapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cloudfauj.errors import InvalidInput, Problem
from cloudfauj.manifests import Source, parse_sources

ENV = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = """\
name: nginx_api
type: server
healthcheck:
  path: /ping
visibility: public
resources:
  cpu: 100
  memory: 600
  network:
    bind_port: 80
"""
KIND_APP = """\
apiVersion: cloudfauj.dev/v1
kind: Application
metadata:
  name: web
  env: demo
spec:
  image: repo/web:v1
  resources:
    cpu: 256
    memory: 512
    network:
      bind_port: 80
"""
KIND = "apiVersion: cloudfauj.dev/v1\n"
FLAGS = {"env": "staging", "image": "repo/app:v1"}


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    where: tuple[str, int | None, int | None, str | None]  # file, document, line, field
    says: str
    flags: dict[str, str] | None = None


CASES = {
    "bad yaml syntax": Case(
        {"env.yml": "name: staging\nnetwork: [aws\norchestrator: aws_ecs_fargate\n"},
        ("env.yml", 1, 3, None),
        "the file is not valid YAML: ",
    ),
    "bad yaml in a later document": Case(
        {"all.yml": ENV + "---\n" + "name: x\n  network: aws\n"},
        ("all.yml", 2, 6, None),
        "mapping values are not allowed here",
    ),
    "a key twice in one mapping": Case(
        {"env.yml": ENV + "network: aws\n"},
        ("env.yml", 1, 4, None),
        'found duplicate key "network"',
    ),
    "unknown key with a suggestion": Case(
        {".cloudfauj.yml": APP.replace("healthcheck:", "healtcheck:")},
        (".cloudfauj.yml", 1, 3, "healtcheck"),
        "unknown key; did you mean 'healthcheck'?",
        FLAGS,
    ),
    "unknown key without a suggestion lists the keys": Case(
        {"env.yml": ENV + "colour: blue\n"},
        ("env.yml", 1, 4, "colour"),
        "unknown key; the keys allowed here are 'name', 'network', 'orchestrator', 'domain', "
        "'load_balancer' and 'drift'",
    ),
    "misspelt name in an upstream file is not also reported missing": Case(
        {"env.yml": ENV.replace("name:", "nmae:")},
        ("env.yml", 1, 1, "nmae"),
        "unknown key; did you mean 'name'?",
    ),
    "unknown nested key in a kind-based document": Case(
        {"app.yml": KIND_APP.replace("      bind_port: 80", "      bindport: 80")},
        ("app.yml", 1, 12, "spec.resources.network.bindport"),
        "did you mean 'bind_port'?",
    ),
    "bad name": Case(
        {"env.yml": ENV.replace("staging", "Staging!")},
        ("env.yml", 1, 1, "name"),
        "must be lowercase letters, digits, '-' and '_', starting and ending with a letter or digit",
    ),
    "environment name too long for AWS": Case(
        {"env.yml": ENV.replace("staging", "staging-environment-eu-west")},
        ("env.yml", 1, 1, "name"),
        "AWS allows at most 32",
    ),
    "application name too long for its environment": Case(
        {"app.yml": KIND_APP.replace("name: web", "name: a-rather-long-application-name")},
        ("app.yml", 1, 4, "metadata.name"),
        "its target group name 'demo-a-rather-long-application-name-000000' would have 42 characters",
    ),
    "domain name that is not a DNS name": Case(
        {"example.yml": "name: example_com\ndns_service: aws_route53\ncert_authority: aws_acm\n"},
        ("example.yml", 1, 1, "name"),
        "must be a DNS name",
    ),
    "cpu out of range": Case(
        {".cloudfauj.yml": APP.replace("cpu: 100", "cpu: 8192")},
        (".cloudfauj.yml", 1, 7, "resources.cpu"),
        "must be between 1 and 4096 CPU units (1024 units = 1 vCPU), not 8192",
        FLAGS,
    ),
    "zero cpu, which upstream turned into 4096": Case(
        {".cloudfauj.yml": APP.replace("cpu: 100", "cpu: 0")},
        (".cloudfauj.yml", 1, 7, "resources.cpu"),
        "not 0",
        FLAGS,
    ),
    "memory out of range for the rounded cpu": Case(
        {".cloudfauj.yml": APP.replace("memory: 600", "memory: 4096")},
        (".cloudfauj.yml", 1, 8, "resources.memory"),
        "4096 MiB is more than the 2048 MiB Fargate allows with 100 CPU units (rounded up to 256): "
        "raise cpu to 512 or more",
        FLAGS,
    ),
    "missing field is located at its parent": Case(
        {"app.yml": KIND_APP.replace("      bind_port: 80\n", "      {}\n")},
        ("app.yml", 1, 11, "spec.resources.network.bind_port"),
        "is required",
    ),
    "missing name in an upstream file": Case(
        {"env.yml": "network: aws\norchestrator: aws_ecs_fargate\n"},
        ("env.yml", 1, 1, "name"),
        "is required",
    ),
    "wrong type": Case(
        {".cloudfauj.yml": APP.replace("memory: 600", "memory: lots")},
        (".cloudfauj.yml", 1, 8, "resources.memory"),
        "must be an integer, not 'lots'",
        FLAGS,
    ),
    "a boolean is not an integer": Case(
        {"app.yml": KIND_APP + "  replicas: true\n"},
        ("app.yml", 1, 13, "spec.replicas"),
        "must be an integer, not the boolean true",
    ),
    "too many replicas": Case(
        {"app.yml": KIND_APP + "  replicas: 101\n"},
        ("app.yml", 1, 13, "spec.replicas"),
        "must be at most 100, not the number 101",
    ),
    "port out of range": Case(
        {"app.yml": KIND_APP.replace("bind_port: 80", "bind_port: 70000")},
        ("app.yml", 1, 12, "spec.resources.network.bind_port"),
        "must be at most 65535",
    ),
    "unknown kind": Case(
        {"app.yml": KIND_APP.replace("kind: Application", "kind: Service")},
        ("app.yml", 1, 2, "kind"),
        "must be one of 'Domain', 'Environment' or 'Application', not 'Service'",
    ),
    "bad apiVersion": Case(
        {"app.yml": KIND_APP.replace("cloudfauj.dev/v1", "apps/v1")},
        ("app.yml", 1, 1, "apiVersion"),
        "must be 'cloudfauj.dev/v1', not 'apps/v1'",
    ),
    "missing apiVersion": Case(
        {"app.yml": "# web\n" + KIND_APP.replace("apiVersion: cloudfauj.dev/v1\n", "")},
        ("app.yml", 1, 2, "apiVersion"),
        "is required: use 'cloudfauj.dev/v1'",
    ),
    "empty file": Case(
        {"empty.yml": "# nothing here\n"}, ("empty.yml", None, None, None), "no manifest documents"
    ),
    "only empty documents": Case({"empty.yml": "---\n---\n"}, ("empty.yml", None, None, None), "no manifest"),
    "missing --env for an upstream app": Case(
        {".cloudfauj.yml": APP},
        (".cloudfauj.yml", 1, 1, "--env"),
        "is required: upstream files do not name the environment to deploy to, pass it with --env",
        {"image": "repo/app:v1"},
    ),
    "missing --image for an upstream app": Case(
        {".cloudfauj.yml": APP},
        (".cloudfauj.yml", 1, 1, "--image"),
        "is required: upstream files do not name the image to deploy, pass it with --image",
        {"env": "staging"},
    ),
    "missing env in a kind-based app": Case(
        {"app.yml": KIND_APP.replace("  env: demo\n", "")},
        ("app.yml", 1, 3, "metadata.env"),
        "is required: set the environment to deploy to here, or pass it with --env",
    ),
    "env conflicting with --env": Case(
        {"app.yml": KIND_APP},
        ("app.yml", 1, 5, "metadata.env"),
        "is 'demo' but --env is 'prod': make them agree or drop --env",
        {"env": "prod"},
    ),
    "a bad --env is blamed on the flag": Case(
        {".cloudfauj.yml": APP},
        (".cloudfauj.yml", 1, 1, "--env"),
        "must be lowercase letters",
        {"env": "Prod", "image": "repo/app:v1"},
    ),
    "env on an environment": Case(
        {"env.yml": KIND + "kind: Environment\nmetadata: {name: a, env: b}\nspec: {}\n"},
        ("env.yml", 1, 3, "metadata.env"),
        "is only for Applications: an Environment belongs to no environment",
    ),
    "image key in an upstream app file": Case(
        {".cloudfauj.yml": APP + "image: repo/app:v1\n"},
        (".cloudfauj.yml", 1, 11, "image"),
        "pass the image with --image",
        FLAGS,
    ),
    "duplicate in batch": Case(
        {"a.yml": ENV, "b.yml": "# again\n" + ENV},
        ("b.yml", 1, 2, "name"),
        "Environment 'staging' is defined twice: also in a.yml, document 1, line 1",
    ),
    "'_' and '-' collision in one environment": Case(
        {
            "apps.yml": KIND_APP.replace("name: web", "name: web_ui")
            + "---\n"
            + KIND_APP.replace("web", "web-ui")
        },
        ("apps.yml", 2, 17, "metadata.name"),
        "Application 'web-ui' in environment 'demo' would get the same AWS names ('demo-web-ui') as "
        "Application 'web_ui' in environment 'demo' in apps.yml, document 1, line 4",
    ),
    "names that collide across environments": Case(
        {
            "apps.yml": KIND_APP.replace("name: web", "name: b-c")
            + "---\n"
            + KIND_APP.replace("env: demo", "env: demo-b").replace("name: web", "name: c")
        },
        ("apps.yml", 2, 17, "metadata.name"),
        "AWS names join the environment and application names with '-'",
    ),
    "load_balancer missing with domain": Case(
        {"env.yml": ENV + "domain: example.com\n"},
        ("env.yml", 1, 1, "load_balancer"),
        "is required when a domain is set: use 'aws_alb'",
    ),
    "invalid enum value": Case(
        {"env.yml": ENV.replace("aws_ecs_fargate", "aws_ecs_ec2")},
        ("env.yml", 1, 3, "orchestrator"),
        "only 'aws_ecs_fargate' is supported, not 'aws_ecs_ec2'",
    ),
    "non-mapping document": Case(
        {"list.yml": ENV + "---\n\n- name: x\n"},
        ("list.yml", 2, 6, None),
        "a manifest must be a mapping of keys to values, not a list",
    ),
    "a document of no recognisable kind": Case(
        {"what.yml": "name: x\nregion: eu-west-1\n"},
        ("what.yml", 1, 1, None),
        "cannot tell which kind of manifest this is; write 'apiVersion' and 'kind', or use the keys of "
        "one upstream format: 'dns_service' or 'cert_authority' for a Domain; ",
    ),
    "a document with keys of two kinds": Case(
        {"what.yml": "name: x\nnetwork: aws\ntype: server\n"},
        ("what.yml", 1, 1, None),
        "it has Environment keys ('network') and Application keys ('type')",
    ),
    "a health check path without a leading slash": Case(
        {".cloudfauj.yml": APP.replace("path: /ping", "path: ping")},
        (".cloudfauj.yml", 1, 4, "healthcheck.path"),
        "must start with '/'",
        FLAGS,
    ),
    "a date where text is expected": Case(
        {"env.yml": ENV.replace("name: staging", "name: 2024-01-01")},
        ("env.yml", 1, 1, "name"),
        "must be a string, not the date 2024-01-01; put it in quotes if it is text",
    ),
}


def problems(case: Case) -> list[Problem]:
    sources = [Source(name, text) for name, text in case.files.items()]
    with pytest.raises(InvalidInput) as caught:
        parse_sources(sources, **(case.flags or {}))
    return caught.value.problems


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_each_invalid_input_gives_exactly_one_located_problem(case: Case) -> None:
    (problem,) = problems(case)
    assert (problem.file, problem.document, problem.line, problem.field) == case.where, problem
    assert case.says in problem.message


def test_a_problem_reads_as_one_sentence_with_its_location() -> None:
    (problem,) = problems(CASES["unknown key with a suggestion"])
    assert (
        problem.sentence()
        == ".cloudfauj.yml, line 3: field 'healtcheck': unknown key; did you mean 'healthcheck'?"
    )
    (problem,) = problems(CASES["'_' and '-' collision in one environment"])
    assert problem.sentence().startswith(
        "apps.yml, document 2, line 17: field 'metadata.name': Application 'web-ui'"
    )


def test_all_problems_of_a_batch_are_reported_at_once() -> None:
    sources = [
        Source("env.yml", "name: Staging\nnetwork: gcp\norchestrator: aws_ecs_fargate\ncolour: blue\n"),
        Source("broken.yml", "name: [\n"),
        Source("fine.yml", "name: example.com\ndns_service: aws_route53\ncert_authority: aws_acm\n"),
        Source(
            ".cloudfauj.yml",
            "name: api\nresources: {cpu: 5000, memory: 0, network: {bind_port: 0}}\nhealtcheck: {path: /}\n",
        ),
    ]
    with pytest.raises(InvalidInput) as caught:
        parse_sources(sources)
    found = sorted((p.file, p.line, p.field or "") for p in caught.value.problems)
    assert found == [
        (".cloudfauj.yml", 1, "--env"),
        (".cloudfauj.yml", 1, "--image"),
        (".cloudfauj.yml", 2, "resources.cpu"),
        (".cloudfauj.yml", 2, "resources.memory"),
        (".cloudfauj.yml", 2, "resources.network.bind_port"),
        (".cloudfauj.yml", 3, "healtcheck"),
        ("broken.yml", 2, ""),
        ("env.yml", 1, "name"),
        ("env.yml", 2, "network"),
        ("env.yml", 4, "colour"),
    ]
    assert caught.value.code == "invalid_input" and len(caught.value.details) == 10  # type: ignore[arg-type]


def test_the_error_message_joins_every_sentence() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_sources([Source("a.yml", ""), Source("b.yml", "")])
    assert (
        caught.value.message
        == "a.yml: the file contains no manifest documents; b.yml: the file contains no manifest documents"
    )


ODD_INPUTS = {
    "tab indentation": "name: x\n\tnetwork: aws\n",
    "control character": "name: \x07\n",
    "nul byte": "name: x\x00\n",
    "alias to an undefined anchor": "name: *nowhere\n",
    "alias that contains itself": "name: x\nnetwork: &a {x: *a}\n",
    "reused anchor": "a: &x 1\nb: &x 2\nname: x\nnetwork: aws\n",
    "deeply nested": "name: " + "[" * 200 + "]" * 200 + "\n",
    "complex key": "? [a, b]\n: 1\nname: x\nnetwork: aws\n",
    "null key": "~: 1\nname: x\nnetwork: aws\n",
    "lone surrogate key": 'name: x\nnetwork: aws\n"\\ud800": 1\n',
    "float size": "name: x\ntype: server\nresources: {cpu: 1.5, memory: 512, network: {bind_port: 80}}\n",
    "sequence where a mapping is expected": KIND + "kind: Domain\nmetadata: [a]\nspec: 3\n",
    "kind-based with no kind": KIND + "metadata: {name: x}\nspec: {}\n",
    "kind that is not text": KIND + "kind: [Application]\nmetadata: {name: x}\nspec: {}\n",
    "scalar document": "just text\n",
    "explicitly typed scalars that are not their type": "name: !!int foo\nnetwork: !!bool foo\n",
    "an integer too long to convert": "name: x\ntype: server\nreplicas: " + "9" * 5000 + "\n",
    "a digit string too long to convert": "name: x\ntype: server\nreplicas: '" + "9" * 5000 + "'\n",
    "binary and set values": "name: !!binary aGVsbG8=\nnetwork: !!set {a, b}\n",
}


@pytest.mark.parametrize("text", ODD_INPUTS.values(), ids=list(ODD_INPUTS))
def test_nothing_but_invalid_input_escapes_for_odd_input(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_sources([Source("odd.yml", text)], env="e", image="i")
    for problem in caught.value.problems:
        problem.sentence().encode("utf-8")  # a problem can always be sent
        assert problem.file == "odd.yml"
