"""An ASGI guard around the moto mount: no plain-text or HTML 5xx ever reaches an AWS client.

moto answers operations it does not implement (e.g. IAM SimulatePrincipalPolicy) with a bare
"Internal Server Error". Clients such as the SageMaker SDK v3 cope with a proper AWS error but crash on
that, so the guard replaces such a response with a `NotImplemented` error in the request's protocol:
JSON for `X-Amz-Target` requests, the query protocol's `<ErrorResponse>` for form posts, S3's `<Error>`
otherwise. Well-formed errors from moto pass through untouched.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any
from xml.sax.saxutils import escape

from emulator.api.json_protocol import header

ASGIApp = Any
log = logging.getLogger(__name__)
_STRUCTURED = (b"xml", b"json")


class ForeignErrorGuard:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        replaced = started = False

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal replaced, started
            if message["type"] == "http.response.start":
                started = True
                if _unstructured_failure(message):
                    replaced = True
                    await _send_error(scope, send)
                    return
            if not replaced:
                await send(message)

        try:
            await self._app(scope, receive, guarded_send)
        except Exception:
            log.exception("moto failed on %s %s", scope["method"], scope["path"])
            if started:
                raise
            await _send_error(scope, send)


def _unstructured_failure(start: dict[str, Any]) -> bool:
    if start["status"] < 500:
        return False
    content_type = dict(start.get("headers", ())).get(b"content-type", b"")
    return not any(kind in content_type for kind in _STRUCTURED)


async def _send_error(scope: dict[str, Any], send: Any) -> None:
    request_id = str(uuid.uuid4())
    action = header(scope, b"x-amz-target") or f"{scope['method']} {scope['path']}"
    message = f"{action} is not implemented by this emulator"
    if header(scope, b"x-amz-target"):
        content_type = b"application/x-amz-json-1.1"
        body = json.dumps({"__type": "NotImplemented", "message": message}).encode()
    else:
        content_type = b"text/xml"
        error = f"<Code>NotImplemented</Code><Message>{escape(message)}</Message>"
        form = "application/x-www-form-urlencoded" in (header(scope, b"content-type") or "")
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            if form
            else f"<Error>{error}<RequestId>{request_id}</RequestId></Error>"
        ).encode()
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 501, "headers": headers})
    await send({"type": "http.response.body", "body": body})
