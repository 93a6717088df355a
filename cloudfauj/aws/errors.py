"""botocore's exceptions translated, once, into Cloudfauj's tree (STYLE §3).

TemporaryError ← AwsTemporaryError   throttling, 5xx, connection trouble: the reactor backs off
PermanentError ← AwsError            anything else AWS refused; controllers test `.code` for the
                                      conditions they expect (e.g. "InvalidGroup.NotFound")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from cloudfauj.errors import PermanentError, TemporaryError

__all__ = ["THROTTLING_CODES", "AwsError", "AwsTemporaryError", "map_aws_errors"]

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class AwsError(PermanentError):
    """AWS refused a call for a reason retrying will not fix."""

    def __init__(self, message: str, *, service: str, operation: str, code: str) -> None:
        super().__init__(message, details={"service": service, "operation": operation, "code": code})
        self.service, self.operation, self.code = service, operation, code


class AwsTemporaryError(TemporaryError):
    """AWS throttled us, failed on its side, or could not be reached; try again later."""

    def __init__(self, message: str, *, service: str, operation: str, code: str) -> None:
        super().__init__(message, details={"service": service, "operation": operation, "code": code})
        self.service, self.operation, self.code = service, operation, code


@contextmanager
def map_aws_errors(service: str, operation: str) -> Iterator[None]:
    """Translate what botocore raises for one call; the most specific cases first."""
    try:
        yield
    except ClientError as e:
        error = e.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        message = f"AWS {service} {operation} failed: {code}: {error.get('Message', '')}".rstrip(": ")
        if code in THROTTLING_CODES or status >= 500:
            raise AwsTemporaryError(message, service=service, operation=operation, code=code) from e
        raise AwsError(message, service=service, operation=operation, code=code) from e
    except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as e:
        raise AwsTemporaryError(
            f"AWS {service} could not be reached for {operation}: {e}",
            service=service,
            operation=operation,
            code="ConnectionError",
        ) from e
    except (NoCredentialsError, NoRegionError) as e:
        raise AwsError(
            f"AWS {service} {operation} cannot be called: {e}",
            service=service,
            operation=operation,
            code=type(e).__name__,
        ) from e
    except BotoCoreError as e:
        raise AwsTemporaryError(
            f"AWS {service} {operation} failed: {e}",
            service=service,
            operation=operation,
            code=type(e).__name__,
        ) from e
