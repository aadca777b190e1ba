"""What clients need to use the emulator: the environment `sagemaker-emulator env` prints, and the
SageMaker Python SDK config file it points `SAGEMAKER_USER_CONFIG_OVERRIDE` at.

Naming the default bucket keeps the SDK from asking STS at a hard-coded AWS URL; opting out of
telemetry keeps it from calling AWS with no timeout. See SAGEMAKER-FACTS.md, "Endpoint configuration".
`SAGEMAKER_VALIDATE_ROLE=false` stops the v3 SDK from checking role ARNs with IAM
SimulatePrincipalPolicy and GetRole: the emulator runs jobs under no IAM role, so there is nothing to check.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from emulator.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Settings


def client_environment(settings: Settings, url: str | None = None) -> dict[str, str]:
    """The variables that point boto3, the AWS CLI and the SageMaker SDK (v2 and v3) at the emulator."""
    return {
        "AWS_ENDPOINT_URL": url or settings.url,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": settings.region,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(write(settings)),
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }


def render(settings: Settings) -> str:
    document = {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {
                "Modules": {
                    "Session": {"DefaultS3Bucket": settings.default_bucket},
                    "TelemetryOptOut": True,
                }
            }
        },
    }
    return yaml.safe_dump(document, sort_keys=False)


def write(settings: Settings) -> Path:
    """Write the file atomically (several processes may do this at once) and return its path."""
    path = settings.sdk_config_path
    path.parent.mkdir(parents=True, exist_ok=True)
    text = render(settings)
    if path.exists() and path.read_text() == text:
        return path
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".sdk-config-")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)
    return path
