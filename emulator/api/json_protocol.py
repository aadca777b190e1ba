"""The awsJson1.1 endpoint: one ASGI callable for every JSON-protocol service we serve.

Reads the raw body (a FastAPI body model would reject `application/x-amz-json-1.1`), finds the
operation from `X-Amz-Target`, validates the request by the botocore input shape, runs the registered
handler (on the event loop, or in a worker thread when it is `blocking`; see `registry.Operation`),
and serializes the result by the output shape. Every failure leaves as a JSON AWS error; an
unexpected exception is logged with its traceback and answered with a 500 `InternalFailure` that
carries the request id.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread

from emulator.api import registry
from emulator.api.errors import ApiError, InternalFailure, SerializationError, UnknownOperation
from emulator.api.serialization import serialize
from emulator.api.spec import service_model
from emulator.api.validation import validate_request

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
_CONTENT_TYPE = b"application/x-amz-json-1.1"
_THREADS = anyio.CapacityLimiter(32)

ContextFactory = Callable[[str], registry.RequestContext]
Scope = dict[str, Any]


@dataclass(frozen=True)
class JsonService:
    target_prefix: str  # e.g. "SageMaker", "Logs_20140328"
    botocore_name: str  # e.g. "sagemaker", "logs"


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class JsonProtocolApp:
    def __init__(self, services: list[JsonService], make_context: ContextFactory, *, offload_all: bool) -> None:
        """`offload_all` runs every handler in a worker thread (for a networked database)."""
        self._services = {service.target_prefix: service for service in services}
        self._make_context = make_context
        self._offload_all = offload_all

    def serves(self, scope: Scope) -> bool:
        """Ours: a target of a service we serve, or a JSON-protocol request no AWS service could take
        (no target, or unsigned), which is answered with `UnknownOperationException`."""
        target = header(scope, b"x-amz-target")
        if target is not None and target.partition(".")[0] in self._services:
            return True
        json_protocol = (header(scope, b"content-type") or "").startswith("application/x-amz-json")
        return json_protocol and (target is None or header(scope, b"authorization") is None)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        request_id = str(uuid.uuid4())
        try:
            body = await _read_body(receive)
            status, payload = 200, await self._dispatch(scope, body, request_id)
        except ApiError as error:
            status, payload = error.status, error.body()
        except Exception:
            log.exception("unexpected failure in request %s", request_id)
            failure = InternalFailure(f"An internal error occurred (request id {request_id})")
            status, payload = failure.status, failure.body()
        data = json.dumps(payload, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", _CONTENT_TYPE),
                    (b"content-length", str(len(data)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _dispatch(self, scope: Scope, body: bytes, request_id: str) -> dict[str, Any]:
        target = header(scope, b"x-amz-target")
        prefix, _, name = (target or "").partition(".")
        service = self._services.get(prefix)
        if service is None:
            raise UnknownOperation("Missing X-Amz-Target header" if target is None else f"Unknown target {target!r}")
        model = service_model(service.botocore_name)
        if name not in model.operation_names:
            raise UnknownOperation(f"Operation {name!r} does not exist in {prefix}")
        registered = registry.operation_for(prefix, name)
        if registered is None:
            raise UnknownOperation(f"{name} is not implemented by this emulator: see api_specs/COVERAGE.md for what is")
        operation_model = model.operation_model(name)
        request = validate_request(_parse_json(body), operation_model.input_shape)
        context = self._make_context(request_id)
        if registered.blocking or self._offload_all:
            result = await anyio.to_thread.run_sync(registered.handler, context, request, limiter=_THREADS)
        else:
            result = registered.handler(context, request)
        output_shape = operation_model.output_shape
        return serialize(result, output_shape) if output_shape is not None else {}


async def _read_body(receive: Any) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise SerializationError(f"Request body is larger than {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SerializationError(f"Request body is not valid JSON: {error}") from None
