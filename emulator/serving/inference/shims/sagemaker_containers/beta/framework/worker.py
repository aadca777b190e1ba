"""`worker.Response(response, status=200, mimetype=...)`: what output_fn may return (read by the server)."""

from __future__ import annotations

from typing import Any


class Response:
    def __init__(
        self,
        response: Any = None,
        accept: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        mimetype: str | None = None,
        **_: Any,
    ) -> None:
        self.response = response
        self.status = status
        self.headers = headers or {}
        self.mimetype = mimetype or accept or "application/json"

    def get_data(self) -> bytes:
        body = self.response
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode("utf-8")
        if isinstance(body, list | tuple):
            return b"".join(part.encode("utf-8") if isinstance(part, str) else bytes(part) for part in body)
        return bytes(body)

    @property
    def status_code(self) -> int:
        return int(self.status)
