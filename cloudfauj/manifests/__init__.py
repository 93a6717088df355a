"""Manifests: the desired state users declare, read from files and validated before anything happens.

Where it sits: the CLI sends files, the API calls `parse_sources()` and stores the `Manifest`s it returns;
the controllers read the specs back. Nothing here touches AWS, HTTP or the store.

    loader.py    YAML documents of a file, line numbers, plain values
    formats.py   upstream files and kind-based documents → one canonical form; field → line
    models.py    the canonical pydantic models and every rule one object can check alone
    problems.py  pydantic errors → located one-sentence problems
    parse.py     parse_sources(): all of the above for a batch, plus duplicates and name collisions
    names.py     naming rules (object names, DNS names, AWS-name collisions)
    sizing.py    Fargate CPU/memory rounding
    workload.py  what an application runs with: variables, secrets, task role, process, scaling
    references.py  the secret references an application may name
"""

from __future__ import annotations

from cloudfauj.manifests.loader import Source
from cloudfauj.manifests.models import (
    API_VERSION,
    KINDS,
    SPEC_BY_KIND,
    ApplicationSpec,
    DomainSpec,
    EnvironmentSpec,
    HealthCheck,
    Kind,
    Manifest,
    Metadata,
    NetworkResources,
    Resources,
)
from cloudfauj.manifests.names import app_collision_key, env_collision_key
from cloudfauj.manifests.parse import ParsedDocument, describe, parse_sources, workload_problems
from cloudfauj.manifests.references import SecretReference, parse_reference
from cloudfauj.manifests.sizing import FARGATE_SIZES, fargate_size

__all__ = [
    "SecretReference",
    "parse_reference",
    "workload_problems",
    "API_VERSION",
    "FARGATE_SIZES",
    "KINDS",
    "SPEC_BY_KIND",
    "ApplicationSpec",
    "DomainSpec",
    "EnvironmentSpec",
    "HealthCheck",
    "Kind",
    "Manifest",
    "Metadata",
    "NetworkResources",
    "ParsedDocument",
    "Resources",
    "Source",
    "app_collision_key",
    "describe",
    "env_collision_key",
    "fargate_size",
    "parse_sources",
]
