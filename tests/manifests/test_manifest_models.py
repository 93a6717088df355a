"""The canonical Manifest as the API and the store use it: built in Python, from JSON, and back."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cloudfauj.manifests import (
    API_VERSION,
    ApplicationSpec,
    DomainSpec,
    EnvironmentSpec,
    Manifest,
    Metadata,
    NetworkResources,
    Resources,
)

APP_JSON = {
    "apiVersion": API_VERSION,
    "kind": "Application",
    "metadata": {"name": "web", "env": "demo"},
    "spec": {"image": "repo/web:v1", "resources": {"cpu": 256, "memory": 512, "network": {"bind_port": 80}}},
}


def test_the_spec_type_follows_the_kind() -> None:
    assert isinstance(Manifest.model_validate(APP_JSON).spec, ApplicationSpec)
    env = {"kind": "Environment", "metadata": {"name": "demo"}, "spec": {}}
    assert isinstance(Manifest.model_validate(env).spec, EnvironmentSpec)
    domain = {"kind": "Domain", "metadata": {"name": "example.com"}, "spec": {}}
    assert isinstance(Manifest.model_validate(domain).spec, DomainSpec)


def test_a_manifest_round_trips_through_json_in_the_canonical_shape() -> None:
    manifest = Manifest.model_validate(APP_JSON)
    dumped = manifest.model_dump(mode="json")
    assert list(dumped) == ["apiVersion", "kind", "metadata", "spec"]
    assert Manifest.model_validate_json(manifest.model_dump_json()) == manifest
    assert Manifest.model_validate(dumped) == manifest


def test_the_key_names_kind_env_and_name() -> None:
    assert Manifest.model_validate(APP_JSON).key == ("Application", "demo", "web")
    env = Manifest(kind="Environment", metadata=Metadata(name="demo"), spec=EnvironmentSpec())
    assert env.key == ("Environment", "", "demo")


def test_a_manifest_built_in_python_is_validated_like_one_read_from_a_file() -> None:
    resources = Resources(cpu=100, memory=600, network=NetworkResources(bind_port=80))
    assert (resources.cpu, resources.memory) == (256, 1024)
    with pytest.raises(ValidationError):
        Manifest(kind="Application", metadata=Metadata(name="web", env="demo"), spec=DomainSpec())
    with pytest.raises(ValidationError):
        Manifest(kind="Environment", metadata=Metadata(name="Bad Name"), spec=EnvironmentSpec())


def test_a_stored_spec_validates_again_unchanged() -> None:
    spec = Manifest.model_validate(APP_JSON).spec.model_dump(mode="json")
    assert ApplicationSpec.model_validate(spec).model_dump(mode="json") == spec


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"kind": "Service"}, ("kind",)),
        ({"apiVersion": "v1"}, ("apiVersion",)),
        ({"metadata": {"name": "web"}}, ("metadata", "env")),
        (
            {"spec": {"image": "x", "resources": {"cpu": 9999, "memory": 512, "network": {"bind_port": 80}}}},
            ("spec", "resources", "cpu"),
        ),
    ],
)
def test_json_errors_are_located_at_the_field(change: dict[str, object], where: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        Manifest.model_validate({**APP_JSON, **change})
    assert [e["loc"] for e in caught.value.errors()] == [where]


def test_the_json_schema_lists_the_three_specs() -> None:
    schema = Manifest.model_json_schema()
    refs = {one["$ref"].rsplit("/", 1)[1] for one in schema["properties"]["spec"]["anyOf"]}
    assert refs == {"DomainSpec", "EnvironmentSpec", "ApplicationSpec"}
