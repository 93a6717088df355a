"""Every route answers with the service's data, passing the request's parameters through unchanged."""

from __future__ import annotations

from typing import Any

from cloudfauj.api.testing import FakeService

ENV = "name: demo\nnetwork: aws\norchestrator: aws_ecs_fargate\n"
APP = "name: web\ntype: server\n"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"


def apply(client: Any, content: str, **extra: Any) -> Any:
    return client.post("/v1/apply", json={"sources": [{"name": "f.yml", "content": content}], **extra})


def last_call(service: FakeService, method: str) -> dict[str, Any]:
    return [args for name, args in service.calls if name == method][-1]


def test_healthz_reports_the_installation_id_and_version(client: Any) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "installation_id": "fake-installation", "version": "0.0.0+fake"}


def test_readyz_is_503_until_the_service_is_ready(client: Any, service: FakeService) -> None:
    service.is_ready = False
    assert (r := client.get("/readyz")).status_code == 503 and r.json() == {"status": "starting"}
    service.is_ready = True
    assert (r := client.get("/readyz")).status_code == 200 and r.json() == {"status": "ready"}


def test_apply_answers_202_with_objects_and_the_records_it_opened(client: Any, service: FakeService) -> None:
    r = apply(client, APP, env="demo", image=IMAGE, deadline_seconds=60, source="abc123 ci/1", force=True)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["objects"] == [
        {
            "kind": "Application",
            "name": "web",
            "env": "demo",
            "generation": 1,
            "changed": True,
            "record_id": body["records"][0]["id"],
        }
    ]
    assert body["records"][0]["status"] == "pending" and body["records"][0]["image"] == IMAGE
    call = last_call(service, "apply")
    assert (call["env"], call["image"], call["deadline_seconds"], call["source"], call["force"]) == (
        "demo",
        IMAGE,
        60,
        "abc123 ci/1",
        True,
    )
    assert [(s.name, s.text) for s in call["sources"]] == [("f.yml", APP)]


def test_apply_runs_on_the_event_loop_unless_it_would_wait_on_the_network(
    client: Any, service: FakeService
) -> None:
    assert apply(client, ENV).status_code == 202
    assert last_call(service, "apply")["may_block"] is False  # in its turn on the loop
    service.apply_would_block = True  # say, an ECR image to look up
    r = apply(client, APP, env="demo", image=IMAGE)
    assert r.status_code == 202 and r.json()["records"][0]["image"] == IMAGE
    assert last_call(service, "apply")["may_block"] is True  # then in a thread


def test_environments_are_listed_fetched_and_deleted_with_cascade(client: Any, service: FakeService) -> None:
    apply(client, ENV)
    (env,) = client.get("/v1/environments").json()["items"]
    assert env["metadata"]["name"] == "demo" and env["kind"] == "Environment"
    assert client.get("/v1/environments/demo").json()["spec"]["orchestrator"] == "aws_ecs_fargate"
    r = client.delete("/v1/environments/demo?cascade=true")
    assert r.status_code == 202 and r.json()["records"][0]["cause"] == "delete"
    assert last_call(service, "delete_object") == {
        "kind": "Environment",
        "name": "demo",
        "env": None,
        "cascade": True,
    }


def test_applications_are_addressed_by_environment_and_name(client: Any, service: FakeService) -> None:
    apply(client, APP, env="demo", image=IMAGE)
    apply(client, APP, env="prod", image=IMAGE)
    assert [a["metadata"]["env"] for a in client.get("/v1/applications").json()["items"]] == ["demo", "prod"]
    assert [a["metadata"]["env"] for a in client.get("/v1/applications?env=prod").json()["items"]] == ["prod"]
    assert (
        client.get("/v1/applications/prod/web").json()["metadata"]
        == client.get("/v1/applications?env=prod").json()["items"][0]["metadata"]
    )
    assert client.delete("/v1/applications/demo/web").status_code == 202
    assert last_call(service, "delete_object")["env"] == "demo"


def test_lists_page_with_limit_and_cursor(client: Any) -> None:
    for name in ("a", "b", "c"):
        apply(client, ENV.replace("demo", name))
    first = client.get("/v1/environments?limit=2").json()
    assert [e["metadata"]["name"] for e in first["items"]] == ["a", "b"] and first["next_cursor"]
    second = client.get("/v1/environments", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["metadata"]["name"] for e in second["items"]] == ["c"] and second["next_cursor"] is None


def test_deployments_are_application_records_filtered_by_app_env_and_status(
    client: Any, service: FakeService
) -> None:
    apply(client, ENV)
    apply(client, APP, env="demo", image=IMAGE)
    (dep,) = client.get("/v1/deployments").json()["items"]
    assert dep["kind"] == "Application" and dep["app"] == "web" and "events" in dep
    client.get("/v1/deployments?app=web&env=demo&status=pending&limit=7")
    assert last_call(service, "list_records") == {
        "kind": "Application",
        "env": "demo",
        "name": "web",
        "status": "pending",
        "limit": 7,
        "cursor": None,
    }


def test_a_deployment_id_of_another_kind_of_record_is_not_found(client: Any) -> None:
    record_id = apply(client, ENV).json()["records"][0]["id"]
    r = client.get(f"/v1/deployments/{record_id}")
    assert r.status_code == 404 and f"/v1/records/{record_id}" in r.json()["error"]["message"]
    assert client.get(f"/v1/records/{record_id}").json()["kind"] == "Environment"


def test_records_filter_by_kind_and_come_newest_first(client: Any) -> None:
    apply(client, ENV)
    apply(client, APP, env="demo", image=IMAGE)
    assert [r["kind"] for r in client.get("/v1/records").json()["items"]] == ["Application", "Environment"]
    assert [r["kind"] for r in client.get("/v1/records?kind=Environment").json()["items"]] == ["Environment"]


def test_record_events_after_a_seq_returns_only_later_events(client: Any, service: FakeService) -> None:
    record_id = service.add_record("Environment", "demo", messages=("one", "two", "three"))
    body = client.get(f"/v1/records/{record_id}/events?after=1").json()
    assert [e["message"] for e in body["items"]] == ["two", "three"]
    assert body["record"]["id"] == record_id and "events" not in body["record"]
    assert [e["seq"] for e in client.get(f"/v1/records/{record_id}").json()["events"]] == [1, 2, 3]
