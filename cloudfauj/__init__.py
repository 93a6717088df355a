"""Cloudfauj: ship containers to AWS ECS Fargate without writing infrastructure.

Layers (ARCHITECTURE §1): `cli` and `api` call `service`; the `reactor` drives `controllers` (one per
kind) through the AWS gateway in `aws`; everything persists in `store`; `sandbox` is the embedded AWS
emulator for trying it out and for tests.
"""

__version__ = "0.1.0"
