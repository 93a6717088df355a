"""A record's event stream sends its events and status changes and ends with `end` once it is terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cloudfauj.api.stream import _frames
from cloudfauj.api.testing import FakeService


def sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) of each message in a server-sent events body."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def test_the_stream_of_a_terminal_record_sends_its_events_then_end(client: Any, service: FakeService) -> None:
    record_id = service.add_record("Environment", "demo", messages=("one", "two"))
    r = client.get(f"/v1/records/{record_id}/events/stream")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    messages = sse(r.text)
    assert [name for name, _ in messages] == ["event", "event", "record", "end"]
    assert [d["message"] for name, d in messages if name == "event"] == ["one", "two"]
    assert messages[-1][1]["id"] == record_id and messages[-1][1]["status"] == "succeeded"


def test_the_stream_follows_a_running_record_until_it_ends(client: Any) -> None:
    apply = client.post(
        "/v1/apply", json={"sources": [{"name": "e.yml", "content": "name: d\norchestrator: x\n"}]}
    )
    record_id = apply.json()["records"][0]["id"]
    messages = sse(client.get(f"/v1/records/{record_id}/events/stream").text)
    statuses = [d["status"] for name, d in messages if name == "record"]
    assert statuses == ["in_progress", "succeeded"]
    assert messages[-1][0] == "end" and [d["seq"] for n, d in messages if n == "event"] == [1, 2]


def test_the_stream_resumes_after_a_seq_or_the_last_event_id(client: Any, service: FakeService) -> None:
    record_id = service.add_record("Domain", "example.com", messages=("one", "two", "three"))
    after = sse(client.get(f"/v1/records/{record_id}/events/stream?after=2").text)
    assert [d["message"] for n, d in after if n == "event"] == ["three"]
    resumed = sse(client.get(f"/v1/records/{record_id}/events/stream", headers={"Last-Event-ID": "1"}).text)
    assert [d["message"] for n, d in resumed if n == "event"] == ["two", "three"]


def test_the_stream_of_an_unknown_record_is_a_json_404(client: Any) -> None:
    r = client.get("/v1/records/nope/events/stream")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_quiet_stream_sends_keepalive_comments() -> None:
    service = FakeService(outcome=lambda record: "hang")
    record_id = service.add_record("Environment", "demo", status="in_progress", messages=())

    async def first_frames(n: int) -> list[str]:
        page = service.record_events(record_id)
        frames = _frames(service, record_id, page, 0, poll=0.001, keepalive=0.0)
        out = [await anext(frames) for _ in range(n)]
        await frames.aclose()
        return out

    frames = asyncio.run(first_frames(3))
    assert frames[0].startswith("event: record")
    assert frames[1:] == [": keepalive\n\n"] * 2


def test_a_request_makes_controllers_wait_while_it_is_handled_but_a_stream_does_not(
    client: Any, service: FakeService, monkeypatch: Any
) -> None:
    from cloudfauj.priority import FOREGROUND

    seen: list[int] = []
    for method in ("list_records", "record_events", "get_record"):
        original = getattr(service, method)

        def spy(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            seen.append(FOREGROUND._busy)
            return _original(*args, **kwargs)

        monkeypatch.setattr(service, method, spy)
    assert client.get("/v1/deployments").status_code == 200
    assert seen == [1]  # the list request is in flight
    record_id = service.add_record("Environment", "demo", messages=("one",))
    assert client.get(f"/v1/records/{record_id}/events/stream").status_code == 200
    assert seen[1:] and set(seen[1:]) == {0}  # the stream's reads: nothing holds the controllers back
    assert FOREGROUND._busy == 0
