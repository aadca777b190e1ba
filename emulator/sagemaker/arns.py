"""ARN formatting and parsing for SageMaker resources (pure).

SageMaker lower-cases the resource name inside ARNs: pipeline `MyPipe` is
`arn:aws:sagemaker:us-east-1:123456789012:pipeline/mypipe`.
"""

from __future__ import annotations

import re

_ARN = re.compile(r"^arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]*):(\d{12}|aws):([a-z\-]+)/(.+)$")


def arn(region: str, account_id: str, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{resource_type}/{name.lower()}"


def name_from(name_or_arn: str, resource_type: str) -> str:
    """The resource name of a `name` or an ARN of the given type (as it appears in the ARN)."""
    match = _ARN.match(name_or_arn)
    if match and match.group(3) == resource_type:
        return match.group(4)
    return name_or_arn


def is_arn(value: str) -> bool:
    return _ARN.match(value) is not None
