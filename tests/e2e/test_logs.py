"""Watching, through the real server and CLI processes on the sandbox: `logs app` reads what an app's
tasks wrote to the environment's log group (lines put there with boto3, as the awslogs driver would),
and `get deployments --watch` shows a deployment appear and change status. Both follow until Ctrl-C.
"""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.harness import BIN, MANIFESTS, Stack

pytestmark = pytest.mark.e2e

APP, ENV = "nginx_api", "staging"
GROUP = f"/cloudfauj/{ENV}"
APP_DIR = MANIFESTS / APP


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An environment with the app deployed, shared by this module's tests (each uses its own tasks).
    Rollouts take 2 s, so a poll every second sees a deployment in progress before it succeeds."""
    st = Stack(tmp_path_factory.mktemp("logs"), rollout_seconds=2.0).start()
    try:
        assert st.cf("env", "create", "--config", str(MANIFESTS / "cf-env-staging.yml")).code == 0
        r = st.cf("deploy", "--env", ENV, "nginx:1.27", cwd=APP_DIR)  # outside ECR: always pullable
        assert r.code == 0, str(r)
        yield st
    finally:
        st.stop()


def task() -> str:
    return uuid.uuid4().hex


def put_lines(st: Stack, task_id: str, lines: list[tuple[float, str]]) -> None:
    """Lines of one task (epoch seconds, message), in its stream `<app>/<container>/<task-id>`."""
    logs = st.aws("logs")
    stream = f"{APP}/{APP}/{task_id}"
    if not logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    events = [{"timestamp": int(at * 1000), "message": text} for at, text in lines]
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=events)


@dataclass
class Running:
    """A CLI process that keeps printing: its stdout lines as they come, and Ctrl-C."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _new: queue.Queue[str] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, st: Stack, *args: str) -> Running:
        proc = subprocess.Popen(
            [BIN, *args],
            cwd=st.workdir,
            env=st.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        running = cls(proc)
        threading.Thread(target=running._read, name="cli-stdout", daemon=True).start()
        return running

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._new.put(line.rstrip("\n"))

    def wait_for(self, pred: Callable[[list[str]], Any], what: str, timeout: float = 15) -> None:
        end = time.monotonic() + timeout
        while not pred(self.lines):
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; stdout so far: {self.lines}")
            try:
                self.lines.append(self._new.get(timeout=left))
            except queue.Empty:
                continue

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; the exit code and stderr."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def running() -> Iterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(st: Stack, *args: str) -> Running:
        started.append(Running.start(st, *args))
        return started[-1]

    yield start
    for r in started:
        r.kill()


def mine(out: str, *tasks: str) -> list[str]:
    """The output lines of these tasks (other tests of the module write to the same group)."""
    return [line for line in out.splitlines() if line.split(" ", 1)[0] in tasks]


def test_logs_app_interleaves_every_tasks_lines_by_time_and_since_filters(stack: Stack) -> None:
    t1, t2, now = task(), task(), time.time()
    put_lines(stack, t1, [(now - 7200, "two hours ago"), (now - 40, "GET / 200"), (now - 20, "bye")])
    put_lines(stack, t2, [(now - 3600, "an hour ago"), (now - 30, "GET /ping 200"), (now - 10, "GET /x 504")])
    r = stack.cf("logs", "app", APP, "--env", ENV)
    assert r.code == 0, str(r)
    assert mine(r.out, t1, t2) == [
        f"{t1} two hours ago",
        f"{t2} an hour ago",
        f"{t1} GET / 200",
        f"{t2} GET /ping 200",
        f"{t1} bye",
        f"{t2} GET /x 504",
    ]
    recent = stack.cf_json("logs", "app", APP, "--since", "5m")  # the environment found by the CLI
    assert [f"{x['task_id']} {x['message']}" for x in recent if x["task_id"] in (t1, t2)] == mine(
        r.out, t1, t2
    )[2:]


def test_logs_app_follow_shows_a_line_written_after_it_started(
    stack: Stack, running: Callable[..., Running]
) -> None:
    t1, t2 = task(), task()
    put_lines(stack, t1, [(time.time(), "before following")])
    follow = running(stack, "logs", "app", APP, "--env", ENV, "--follow", "--since", "1m")
    follow.wait_for(lambda lines: f"{t1} before following" in lines, "the line written before")
    put_lines(stack, t2, [(time.time(), "after following began")])
    put_lines(stack, t1, [(time.time(), "and another")])
    follow.wait_for(lambda lines: f"{t1} and another" in lines, "the lines written after it started")
    code, err = follow.interrupt()
    assert code == 0 and "Traceback" not in err, err
    assert mine("\n".join(follow.lines), t1, t2) == [
        f"{t1} before following",
        f"{t2} after following began",
        f"{t1} and another",
    ]


def test_get_deployments_watch_shows_a_new_deployment_change_status(
    stack: Stack, running: Callable[..., Running]
) -> None:
    watch = running(stack, "get", "deployments", "--watch")
    watch.wait_for(lambda lines: len(lines) >= 2, "the table")
    assert watch.lines[0].split()[:5] == ["ID", "APP", "ENV", "IMAGE", "STATUS"]
    shown = len(watch.lines)
    image = f"nginx:watch-{task()[:8]}"
    r = stack.cf("deploy", "--env", ENV, image, cwd=APP_DIR)
    assert r.code == 0, str(r)

    def statuses(lines: list[str]) -> list[str]:
        return [line.split()[4] for line in lines[shown:] if line.split()[3] == image]

    watch.wait_for(lambda lines: "succeeded" in statuses(lines), "the new deployment to succeed")
    code, err = watch.interrupt()
    assert code == 0 and "Traceback" not in err, err
    seen = statuses(watch.lines)
    assert seen[-1] == "succeeded" and seen[0] in ("pending", "in_progress"), seen
