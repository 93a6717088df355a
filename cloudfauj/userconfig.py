"""The CLI's per-user config file: the API token of each installation whose server this user started.

`$XDG_CONFIG_HOME/cloudfauj/config.yaml` (default `~/.config/cloudfauj/config.yaml`), owner-only:

    installations:
      1a2b3c4d5e6f:                      # the installation id that the server's /healthz reports
        token: cf_...
        server: http://127.0.0.1:6200    # where it was first served (informative)

`cloudfauj server` adds an entry on an installation's first start, the way kind writes a kubeconfig;
the CLI, given no `--token` and no `CLOUDFAUJ_TOKEN`, uses the entry of the installation that its server
reports — so every replica of one installation works for that user, and no other server gets the token.
Other entries, other keys and comments are kept when an entry is added.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

__all__ = ["ConfigError", "config_path", "installation_tokens", "save_token"]


class ConfigError(Exception):
    """The config file cannot be read or written; `lines` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.lines = [message]


def config_path() -> Path:
    # The XDG base-directory spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
    base = os.environ.get("XDG_CONFIG_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".config"
    return root / "cloudfauj" / "config.yaml"


def installation_tokens(path: Path | None = None) -> dict[str, str]:
    """`{installation id: token}` from the config file; empty when there is no file."""
    path = path or config_path()
    entries = _load(path).get("installations") or {}
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: 'installations' must be a mapping of installation ids to entries.")
    return {
        str(key): str(entry["token"])
        for key, entry in entries.items()
        if isinstance(entry, dict) and entry.get("token")
    }


def save_token(installation_id: str, token: str, *, server: str, path: Path | None = None) -> Path:
    """Record `token` for `installation_id`, keeping everything else; the file ends up mode 0600."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(path):
        data = _load(path, round_trip=True)
        entries = data.setdefault("installations", {})
        if not isinstance(entries, dict):
            raise ConfigError(f"{path}: 'installations' must be a mapping; not changing the file.")
        entries[installation_id] = {"token": token, "server": server}
        _replace(path, data)
    return path


def _yaml(round_trip: bool) -> YAML:
    return YAML() if round_trip else YAML(typ="safe")


def _load(path: Path, *, round_trip: bool = False) -> Any:
    try:
        data = _yaml(round_trip).load(path.read_text())
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"Cannot read the Cloudfauj config file {path}: {e.strerror}.") from e
    except YAMLError as e:
        raise ConfigError(f"The Cloudfauj config file {path} is not valid YAML: {e}.") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"The Cloudfauj config file {path} must be a mapping.")
    return data


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (two servers starting for the same user), across processes."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace(path: Path, data: Any) -> None:
    """Write a new file beside the old one and rename it over: readers never see half a file.
    mkstemp creates it mode 0600, so the token is never readable by others, not even for a moment."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            _yaml(round_trip=True).dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
