"""sagemaker-runtime InvokeEndpoint: `POST /endpoints/<name>/invocations` (rest-json), proxied to a serving host.

The request body passes through untouched with Content-Type, Accept and CustomAttributes; the variant is
TargetVariant when given, else chosen by weight; within a variant, hosts take turns. The response carries the
container's body and Content-Type, `x-Amzn-Invoked-Production-Variant`, and the container's custom
attributes. Errors as the runtime service returns them (`x-amzn-ErrorType` header, JSON body):
- ValidationError (400): "Endpoint <name> of account <account> not found." (also while it is not serving),
  an unknown TargetVariant;
- ModelError (424): the container answered with another status than 200 — OriginalStatusCode,
  OriginalMessage (its body), LogStreamArn (the endpoint's log group), Message as the service words it;
  or it did not answer within the 60-second invocation timeout;
- ServiceUnavailable (503): the endpoint's hosts cannot be reached (being replaced after a restart).

Not for: anything about starting hosts (the endpoint executor publishes their URLs in the row's
`extra["Routes"]`).
"""

from __future__ import annotations

import itertools
import json
import logging
import random
import re
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.to_thread

from emulator.api.json_protocol import header
from emulator.config import Settings
from emulator.sagemaker import endpoints
from emulator.serving.client import ServingClient, ServingUnreachable
from emulator.store.repository import Store

log = logging.getLogger(__name__)

PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
MAX_PAYLOAD_BYTES = 25 * 1024 * 1024
INVOCATION_TIMEOUT_SECONDS = 60.0
_FORWARDED = {
    b"content-type": "Content-Type",
    b"accept": "Accept",
    b"x-amzn-sagemaker-custom-attributes": "X-Amzn-SageMaker-Custom-Attributes",
    b"x-amzn-sagemaker-inference-id": "X-Amzn-SageMaker-Inference-Id",
    b"x-amzn-sagemaker-target-model": "X-Amzn-SageMaker-Target-Model",
}
_SERVING = (endpoints.IN_SERVICE, endpoints.UPDATING)
Scope = dict[str, Any]


def is_invocation(scope: Scope) -> bool:
    """InvokeEndpoint by path and method (its signature names the `sagemaker` service, as the API's does)."""
    return (
        scope["method"] == "POST"
        and PATH.match(scope["path"]) is not None
        and b"upload" not in scope.get("query_string", b"")
    )


class InvocationError(Exception):
    def __init__(self, code: str, status: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.fields = code, status, message, fields

    def body(self) -> dict[str, Any]:
        return {**self.fields, "Message": self.message, "message": self.message}


class RuntimeApp:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._client = ServingClient(timeout=INVOCATION_TIMEOUT_SECONDS)
        self._turns: dict[str, Any] = {}
        self._offload = not settings.resolved_database_url.startswith("sqlite")  # a networked database blocks

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        request_id = str(uuid.uuid4())
        name = unquote(PATH.match(scope["path"]).group(1))  # type: ignore[union-attr]
        try:
            body = await _read_body(receive)
            status, headers, content = await self._invoke(name, scope, body)
        except InvocationError as error:
            status, content = error.status, json.dumps(error.body()).encode()
            headers = [(b"content-type", b"application/json"), (b"x-amzn-errortype", error.code.encode())]
        except Exception:
            log.exception("InvokeEndpoint %s failed (request %s)", name, request_id)
            status = 500
            content = json.dumps({"Message": f"An internal error occurred (request id {request_id})"}).encode()
            headers = [(b"content-type", b"application/json"), (b"x-amzn-errortype", b"InternalFailure")]
        headers += [(b"content-length", str(len(content)).encode()), (b"x-amzn-requestid", request_id.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _invoke(self, name: str, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if self._offload:
            routes = await anyio.to_thread.run_sync(self._routes, name)
        else:
            routes = self._routes(name)
        variant = self._variant(name, routes, header(scope, b"x-amzn-sagemaker-target-variant"))
        url = self._next_url(name, variant, routes[variant]["urls"])
        forwarded = {wire: value for key, wire in _FORWARDED.items() if (value := header(scope, key)) is not None}
        try:
            reply = await self._client.post(f"{url}/invocations", body, forwarded)
        except TimeoutError:
            message = "Your invocation timed out while waiting for a response from container primary."
            raise self._model_error(name, 408, message) from None
        except ServingUnreachable as error:
            raise InvocationError(
                "ServiceUnavailable",
                503,
                f"Endpoint {name} of account {self._settings.account_id} cannot be reached right now ({error}); "
                "its serving hosts are being started again. Retry shortly.",
            ) from None
        if reply.status != 200:
            raise self._model_error(name, reply.status, reply.body.decode("utf-8", "replace"))
        headers = [
            (b"content-type", reply.headers.get("content-type", "application/json").encode("latin-1")),
            (b"x-amzn-invoked-production-variant", variant.encode()),
        ]
        custom = reply.headers.get("x-amzn-sagemaker-custom-attributes")
        if custom is not None:
            headers.append((b"x-amzn-sagemaker-custom-attributes", custom.encode("latin-1")))
        return 200, headers, reply.body

    def _routes(self, name: str) -> dict[str, Any]:
        endpoint = self._store.get(endpoints.KIND, name)
        routes = endpoint.extra.get("Routes") if endpoint is not None else None
        if endpoint is None or endpoint.status not in _SERVING or not routes:
            raise InvocationError(
                "ValidationError", 400, f"Endpoint {name} of account {self._settings.account_id} not found."
            )
        return dict(routes)

    def _variant(self, name: str, routes: dict[str, Any], target: str | None) -> str:
        if target is not None:
            if target not in routes:
                raise InvocationError(
                    "ValidationError",
                    400,
                    f"Variant {target} not found for endpoint {name} of account {self._settings.account_id}. "
                    f"Valid variants are: {', '.join(sorted(routes))}.",
                )
            return target
        names = sorted(routes)
        weights = [max(float(routes[variant].get("weight", 1.0)), 0.0) for variant in names]
        if not any(weights):
            raise InvocationError(
                "ValidationError", 400, f"Endpoint {name} has no production variant with a weight above 0."
            )
        return names[0] if len(names) == 1 else random.choices(names, weights)[0]

    def _next_url(self, name: str, variant: str, urls: list[str]) -> str:
        key = f"{name}/{variant}/{','.join(urls)}"
        turns = self._turns.get(key)
        if turns is None:
            turns = self._turns[key] = itertools.cycle(urls)
        return str(next(turns))

    def _model_error(self, name: str, status: int, message: str) -> InvocationError:
        region, account = self._settings.region, self._settings.account_id
        group = endpoints.LOG_GROUP_PREFIX + name
        kind = "client" if 400 <= status < 500 else "server"
        return InvocationError(
            "ModelError",
            424,
            f'Received {kind} error ({status}) from primary with message "{message}". See '
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logEventViewer:group={group} "
            f"in account {account} for more information.",
            ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=f"arn:aws:logs:{region}:{account}:log-group:{group}",
        )


async def _read_body(receive: Callable[[], Any]) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise InvocationError("ValidationError", 400, f"Request payload is larger than {MAX_PAYLOAD_BYTES} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
