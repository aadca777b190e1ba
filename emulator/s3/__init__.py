"""moto, mounted in-process behind the gateway for every request that is not ours (S3, STS, IAM, SQS…).

`AwsMount` is the ASGI app the gateway hands such requests to. This package owns everything about
moto: the account it reports, and (in `durability`) making S3 survive restarts. Nothing outside this
package imports moto.
"""

from __future__ import annotations

import os
from typing import Any

from emulator.config import Settings


class AwsMount:
    """moto's WSGI dispatcher wrapped for ASGI, plus the few direct S3 actions start-up needs."""

    def __init__(self, settings: Settings) -> None:
        os.environ["MOTO_ACCOUNT_ID"] = settings.account_id
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "true")
        from a2wsgi import WSGIMiddleware
        from moto.server import DomainDispatcherApplication, create_backend_app

        self._settings = settings
        self._wsgi = DomainDispatcherApplication(create_backend_app)
        self._asgi = WSGIMiddleware(self._wsgi, workers=16)  # type: ignore[arg-type]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self._asgi(scope, receive, send)  # type: ignore[arg-type]

    def ensure_bucket(self, name: str) -> None:
        from moto.s3.models import s3_backends

        backend = s3_backends[self._settings.account_id]["aws"]
        if name not in backend.buckets:
            backend.create_bucket(name, self._settings.region)

    def close(self) -> None:
        """Flush and release whatever the mount holds (nothing yet)."""
