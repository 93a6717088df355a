"""The CLI's small pure pieces: the event-stream parser, column layout, time formats, kind names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudfauj.cli.commands.common import InputError, kind_of
from cloudfauj.cli.follow import SSEParser
from cloudfauj.cli.output import age, duration, table


def test_the_sse_parser_joins_data_lines_skips_comments_and_dispatches_on_blank_lines() -> None:
    parser = SSEParser()
    lines = [": keepalive", "", "id: 3", "event: event", 'data: {"a":', "data: 1}", "", "data: x", ""]
    messages = [m for m in (parser.feed(line) for line in lines) if m]
    assert messages == [("event", '{"a":\n1}'), ("message", "x")]


def test_tables_align_columns_without_truncating() -> None:
    out = table(["NAME", "PHASE"], [["a-very-long-name", "ready"], ["b", "failed"]])
    assert out.splitlines() == [
        "NAME               PHASE",
        "a-very-long-name   ready",
        "b                  failed",
    ]


def test_ages_and_durations_read_like_kubectl() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert age("2026-01-02T03:04:00.000000Z", now) == "5s"
    assert age("2026-01-02T01:00:00.000000Z", now) == "2h"
    assert age("2025-12-30T03:04:05.000000Z", now) == "3d"
    assert (duration(12.34), duration(125), duration(None)) == ("12.3s", "2m05s", None)


@pytest.mark.parametrize("word", ["environments", "environment", "env", "envs", "ENV", "Environment"])
def test_kinds_accept_plural_singular_and_short_forms(word: str) -> None:
    assert kind_of(word, ("Environment", "Application")) == "Environment"


def test_a_kind_the_command_does_not_take_is_refused_with_the_choices() -> None:
    with pytest.raises(InputError, match="use one of: environments, applications"):
        kind_of("deployments", ("Environment", "Application"))
