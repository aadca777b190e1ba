"""boto3 clients pointed at this emulator's own gateway, for code that talks to S3 and friends.

The API server and the worker reach S3 (and the other moto services) over HTTP like any client would,
never by importing moto. Clients are cached per (url, service) and are thread-safe.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from emulator.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY


@functools.cache
def client(url: str, region: str, service: str) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    )
