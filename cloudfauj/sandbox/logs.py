"""Where the sandbox hooks into moto's CloudWatch Logs: `filter_log_events` honours `logStreamNamePrefix`.

moto 5.2.5 ignores the prefix and returns every stream of the group; AWS reads only the streams whose
names start with it (the way `logs app` reads one app's tasks in a shared environment log group). We
turn the prefix into the list of matching stream names, which moto does honour.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.logs.responses import LogsResponse

__all__ = ["install"]

_installed = False


def _honour_prefix(original: Callable[[LogsResponse], str]) -> Callable[[LogsResponse], str]:
    def filter_log_events(self: LogsResponse) -> str:
        prefix = self._get_param("logStreamNamePrefix")
        if not prefix or self._get_param("logStreamNames"):
            return original(self)
        group = self.logs_backend.groups.get(self._get_param("logGroupName"))
        names = [name for name in (group.streams if group else {}) if name.startswith(prefix)]
        if group is None or not names:
            return original(self) if group is None else json.dumps({"events": [], "searchedLogStreams": []})
        events, next_token, searched = self.logs_backend.filter_log_events(
            self._get_param("logGroupName"),
            names,
            self._get_param("startTime"),
            self._get_param("endTime"),
            self._get_param("limit"),
            self._get_param("nextToken"),
            self._get_param("filterPattern"),
            self._get_param("interleaved", False),
        )
        return json.dumps({"events": events, "nextToken": next_token, "searchedLogStreams": searched})

    return filter_log_events


def install() -> None:
    """Patch moto's Logs responses, once per process."""
    global _installed
    if _installed:
        return
    LogsResponse.filter_log_events = _honour_prefix(LogsResponse.filter_log_events)  # type: ignore[method-assign,assignment]
    _installed = True
