"""The gateway: one ASGI app on one port that routes each request by reading only its scope.

- `/_emulator/*`                        → the emulator's own endpoints (health)
- `X-Amz-Target` of a service we serve  → the awsJson endpoint (SageMaker)
- `POST /endpoints/<name>/invocations`  → sagemaker-runtime InvokeEndpoint (`emulator.sagemaker.runtime`)
- everything else                       → moto, mounted in-process (S3, STS, IAM, SQS …), behind
  `emulator.logs.routing.LogsRouter`, which takes CloudWatch Logs requests for `/aws/sagemaker/*` groups
"""

from __future__ import annotations

from typing import Any

from emulator.api.json_protocol import JsonProtocolApp
from emulator.sagemaker.runtime import is_invocation

ASGIApp = Any


class Gateway:
    def __init__(self, json_api: JsonProtocolApp, internal: ASGIApp, aws: ASGIApp, runtime: ASGIApp = None) -> None:
        self._json_api = json_api
        self._internal = internal
        self._aws = aws
        self._runtime = runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] != "http":
            return
        elif scope["path"].startswith("/_emulator/"):
            await self._internal(scope, receive, send)
        elif self._json_api.serves(scope):
            await self._json_api(scope, receive, send)
        elif self._runtime is not None and is_invocation(scope):
            await self._runtime(scope, receive, send)
        else:
            await self._aws(scope, receive, send)


async def _lifespan(receive: Any, send: Any) -> None:
    """Start-up work happens before the server binds (see `emulator.server`); just acknowledge."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
