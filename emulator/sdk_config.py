"""The SageMaker Python SDK config file that `env` points `SAGEMAKER_USER_CONFIG_OVERRIDE` at.

Naming the default bucket keeps the SDK from asking STS at a hard-coded AWS URL; opting out of
telemetry keeps it from calling AWS with no timeout. See SAGEMAKER-FACTS.md, "Endpoint configuration".
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from emulator.config import Settings


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
