"""Both input formats, upstream files and kind-based documents, read into one canonical manifest.

Covers the example files the README uses, multi-document files, and how --env/--image combine with
each format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudfauj.errors import InvalidInput
from cloudfauj.manifests import API_VERSION, Manifest, Source, parse_sources

EXAMPLES = Path(__file__).resolve().parents[2] / "manifests"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-server:v1.0.3"

ENV_FILE = "name: staging\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
UPSTREAM_APP = """\
name: nginx_api
type: server
healthcheck:
  path: "/ping"
visibility: public
resources:
  cpu: 100
  memory: 600
  network:
    bind_port: 80
"""

KIND_APP = f"""\
apiVersion: cloudfauj.dev/v1
kind: Application
metadata: {{name: nginx_api, env: staging}}
spec:
  image: {IMAGE}
  type: server
  visibility: public
  healthcheck: {{path: /ping}}
  resources: {{cpu: 256, memory: 1024, network: {{bind_port: 80}}}}
"""


def example(relative: str) -> Source:
    return Source(relative, (EXAMPLES / relative).read_text())


def only(sources: list[Source], **flags: str) -> Manifest:
    (doc,) = parse_sources(sources, **flags)
    return doc.manifest


def test_an_upstream_app_file_and_its_kind_based_form_give_the_same_manifest() -> None:
    upstream = only([Source(".cloudfauj.yml", UPSTREAM_APP)], env="staging", image=IMAGE)
    kind_based = only([Source("app.yml", KIND_APP)])
    assert upstream == kind_based
    assert upstream.model_dump(mode="json") == {
        "apiVersion": API_VERSION,
        "kind": "Application",
        "metadata": {"name": "nginx_api", "env": "staging"},
        "spec": {
            "image": IMAGE,
            "type": "server",
            "visibility": "public",
            "healthcheck": {"path": "/ping"},
            "resources": {"cpu": 256, "memory": 1024, "network": {"bind_port": 80}},
            "replicas": 1,
        },
    }


def test_an_upstream_environment_file_and_its_kind_based_form_give_the_same_manifest() -> None:
    upstream = ENV_FILE.replace("staging", "prod") + "domain: example.com\nload_balancer: aws_alb\n"
    kind_based = (
        "apiVersion: cloudfauj.dev/v1\nkind: Environment\nmetadata: {name: prod}\n"
        "spec: {network: aws, orchestrator: aws_ecs_fargate, domain: example.com, load_balancer: aws_alb}\n"
    )
    assert only([Source("env.yml", upstream)]) == only([Source("env2.yml", kind_based)])


def test_an_upstream_domain_file_and_its_kind_based_form_give_the_same_manifest() -> None:
    kind_based = "apiVersion: cloudfauj.dev/v1\nkind: Domain\nmetadata: {name: example.com}\nspec: {}\n"
    assert only([example("example.com.yml")]) == only([Source("d.yml", kind_based)])


def test_the_example_environment_file_is_the_upstream_one() -> None:
    manifest = only([example("cf-env-staging.yml")])
    assert manifest.key == ("Environment", "", "staging")
    assert manifest.spec.model_dump() == {
        "network": "aws",
        "orchestrator": "aws_ecs_fargate",
        "domain": None,
        "load_balancer": None,
    }


def test_the_example_app_file_rounds_upstreams_sizes_to_256_cpu_and_1024_mib() -> None:
    manifest = only([example("nginx_api/.cloudfauj.yml")], env="staging", image=IMAGE)
    assert manifest.key == ("Application", "staging", "nginx_api")
    assert manifest.model_dump()["spec"]["resources"] == {
        "cpu": 256,
        "memory": 1024,
        "network": {"bind_port": 80},
    }


def test_the_demo_file_holds_an_environment_and_two_applications_in_order() -> None:
    docs = parse_sources([example("demo.yml")])
    assert [(d.manifest.key, d.document) for d in docs] == [
        (("Environment", "", "demo"), 1),
        (("Application", "demo", "web"), 2),
        (("Application", "demo", "api"), 3),
    ]
    images = [d.manifest.model_dump()["spec"]["image"] for d in docs[1:]]
    assert images == [
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-web:v1",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/demo-api:v1",
    ]


def test_all_example_files_parse_together_in_one_batch() -> None:
    sources = [example(n) for n in ("cf-env-staging.yml", "example.com.yml", "demo.yml")]
    assert len(parse_sources(sources)) == 5


def test_one_file_may_mix_both_formats_and_skip_empty_documents() -> None:
    text = f"---\n{KIND_APP}---\n---\n{ENV_FILE}---\n"
    docs = parse_sources([Source("mixed.yml", text)])
    assert [(d.manifest.kind, d.document) for d in docs] == [("Application", 1), ("Environment", 3)]


def test_json_is_read_as_the_yaml_it_is() -> None:
    text = '{"name": "staging", "network": "aws", "orchestrator": "aws_ecs_fargate"}'
    assert only([Source("env.json", text)]).key == ("Environment", "", "staging")


def test_env_flag_fills_a_missing_metadata_env_and_image_flag_overrides_the_spec() -> None:
    text = KIND_APP.replace(", env: staging", "")
    manifest = only([Source("app.yml", text)], env="prod", image="repo:v2")
    assert manifest.key == ("Application", "prod", "nginx_api")
    assert manifest.model_dump()["spec"]["image"] == "repo:v2"


def test_env_flag_equal_to_metadata_env_is_accepted() -> None:
    assert only([Source("app.yml", KIND_APP)], env="staging").key == ("Application", "staging", "nginx_api")


def test_flags_do_not_touch_environments_and_domains() -> None:
    docs = parse_sources([example("cf-env-staging.yml"), example("example.com.yml")], env="x", image="y")
    assert [d.manifest.metadata.env for d in docs] == [None, None]


def test_upstream_weak_typing_of_digit_strings_is_kept_for_integers() -> None:
    text = UPSTREAM_APP.replace("cpu: 100", 'cpu: "100"').replace("bind_port: 80", "bind_port: '80'")
    manifest = only([Source(".cloudfauj.yml", text)], env="staging", image=IMAGE)
    assert manifest.model_dump()["spec"]["resources"]["network"]["bind_port"] == 80


def test_optional_upstream_keys_take_their_defaults() -> None:
    text = "name: tiny\nresources: {cpu: 256, memory: 512, network: {bind_port: 8080}}\nreplicas: 0\n"
    spec = only([Source(".cloudfauj.yml", text)], env="e", image="i:1").model_dump()["spec"]
    assert (spec["type"], spec["visibility"], spec["healthcheck"], spec["replicas"]) == (
        "server",
        "public",
        {"path": "/"},
        0,
    )


def test_a_blank_domain_means_no_domain_as_upstream() -> None:
    manifest = only(
        [Source("env.yml", "name: dev\nnetwork: aws\norchestrator: aws_ecs_fargate\ndomain: ''\n")]
    )
    assert manifest.model_dump()["spec"]["domain"] is None


@pytest.mark.parametrize("field", ["metadata.name", "spec.resources.cpu", "spec.healthcheck.path"])
def test_line_of_maps_canonical_fields_to_upstream_keys(field: str) -> None:
    (doc,) = parse_sources([Source(".cloudfauj.yml", UPSTREAM_APP)], env="staging", image=IMAGE)
    expected = {"metadata.name": 1, "spec.resources.cpu": 7, "spec.healthcheck.path": 4}[field]
    assert doc.line_of(field) == expected


def test_values_from_flags_are_located_at_the_first_line_of_the_document() -> None:
    text = "# the app\n\n" + UPSTREAM_APP
    (doc,) = parse_sources([Source(".cloudfauj.yml", text)], env="staging", image=IMAGE)
    assert (doc.line_of("metadata.env"), doc.line_of("spec.image")) == (3, 3)
    problem = doc.problem("metadata.env", "environment 'staging' does not exist")
    assert (problem.file, problem.document, problem.line, problem.field) == (".cloudfauj.yml", 1, 3, "--env")
    assert problem.sentence() == (
        ".cloudfauj.yml, line 3: field '--env': environment 'staging' does not exist"
    )


def test_problems_made_by_the_server_point_into_kind_based_documents() -> None:
    docs = parse_sources([example("demo.yml")])
    problem = docs[2].problem("metadata.env", "environment 'demo' is being deleted")
    assert (problem.file, problem.document, problem.line, problem.field) == (
        "demo.yml",
        3,
        32,
        "metadata.env",
    )


def test_a_file_that_only_names_an_environment_is_still_all_or_nothing() -> None:
    with pytest.raises(InvalidInput):
        parse_sources([example("cf-env-staging.yml"), Source("bad.yml", "name: x\n")])
