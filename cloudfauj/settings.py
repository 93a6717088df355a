"""Server settings: defaults, then the config file (upstream keys plus ours), then flags, which win.

Durations are plain numbers of seconds so tests can shrink them; the reactor reads them from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from cloudfauj.errors import InvalidInput, Problem

__all__ = ["Settings", "load_settings"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bind_host: str = "127.0.0.1"
    bind_port: int = Field(6200, ge=0, le=65535)
    data_dir: Path = Path("cloudfauj-data")
    region: str | None = None  # None: the AWS SDK's default chain (AWS_REGION, profile, ...)
    aws_endpoint: str | None = None  # every AWS client goes here (AWS_ENDPOINT_URL works too)
    sandbox: bool = False
    sandbox_port: int = Field(4566, ge=0, le=65535)
    sandbox_rollout_seconds: float = Field(3.0, ge=0)

    workers: int = Field(8, ge=1, le=256)
    deadline_seconds: float = Field(900, gt=0)  # per record, unless the apply asks for another
    resync_seconds: float = Field(600, gt=0)
    rollout_poll_seconds: float = Field(1.0, gt=0)
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_max_seconds: float = Field(60.0, gt=0)
    drift: str = Field("correct", pattern="^(correct|report)$")
    max_body_bytes: int = Field(1 << 20, gt=0)
    log_retention_days: int = 30
    log_level: str = "info"


def load_settings(config: Path | None, overrides: dict[str, Any]) -> Settings:
    """Settings from the config file (if any) with flag `overrides` (None values ignored) on top."""
    values: dict[str, Any] = {}
    if config is not None:
        values.update(_read_config(config))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(values)
    except ValidationError as e:
        problems = [
            Problem(err["msg"], file=str(config) if config else None, field=".".join(map(str, err["loc"])))
            for err in e.errors()
        ]
        raise InvalidInput(problems) from e


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = YAML(typ="safe").load(path.read_text())
    except OSError as e:
        raise InvalidInput([Problem(f"cannot read the config file: {e.strerror}", file=str(path))]) from e
    except YAMLError as e:
        raise InvalidInput([Problem(f"not valid YAML: {e}", file=str(path))]) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput([Problem("the config file must be a mapping of keys to values", file=str(path))])
    return data
