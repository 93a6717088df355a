"""The AWS gateway: sessions, clients, error mapping and ownership tags. The only boto3 user."""

from cloudfauj.aws.errors import AwsError, AwsTemporaryError
from cloudfauj.aws.gateway import Gateway, Identity
from cloudfauj.aws.tags import MANAGED_BY, as_ec2, as_ecs, from_aws, is_owned, ownership_tags

__all__ = [
    "MANAGED_BY",
    "AwsError",
    "AwsTemporaryError",
    "Gateway",
    "Identity",
    "as_ec2",
    "as_ecs",
    "from_aws",
    "is_owned",
    "ownership_tags",
]
