"""Sending payloads to a serving host: `POST /invocations` over kept-alive HTTP/1.1 connections (one per
thread), retried as `ModelClientConfig` says, and `GET /execution-parameters`.

Plain `http.client`: the per-request cost on our side stays in the tens of microseconds, so a transform's
overhead is the serving host's, not ours.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_MAX_RETRIES = 3


class InvocationError(Exception):
    """`/invocations` answered an error status or could not be reached (after the retries)."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class InvocationClient:
    """A client for one serving host; safe to use from many threads (each gets its own connection)."""

    def __init__(self, base_url: str, timeout: float, max_retries: int, headers: dict[str, str]) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._timeout = timeout
        self._max_retries = max_retries
        self._headers = headers
        self._local = threading.local()
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Response:
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            reply = connection.getresponse()
            return Response(reply.status, reply.read())
        except (OSError, http.client.HTTPException):
            connection.close()  # reconnects on next use
            raise

    def invoke(self, payload: bytes) -> bytes:
        """The response body of a 2xx answer. Connection failures and 5xx answers are retried up to
        `max_retries` times; a 4xx answer is not. InvocationError when no attempt succeeded."""
        failure = InvocationError("no attempt was made")
        for _ in range(self._max_retries + 1):
            try:
                response = self._request("POST", "/invocations", payload, self._headers)
            except (OSError, http.client.HTTPException) as error:
                failure = InvocationError(f"the model container could not be reached at /invocations: {error}")
                continue
            if 200 <= response.status < 300:
                return response.body
            failure = InvocationError(
                f"the model container answered /invocations with {response.status}: {_text(response.body)}",
                response.status,
                response.body,
            )
            if response.status < 500:
                break
        raise failure

    def execution_parameters(self) -> dict[str, Any]:
        """What the container's optional `GET /execution-parameters` says ({} when it has none)."""
        try:
            response = self._request("GET", "/execution-parameters", None, {})
        except (OSError, http.client.HTTPException):
            return {}
        if response.status != 200:
            return {}
        try:
            parsed = json.loads(response.body)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(Exception):
                    connection.close()
            self._connections.clear()


def _text(body: bytes, limit: int = 700) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else text[:limit] + "..."


def ordered_map(
    pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[tuple[T, R]]:
    """`(item, work(item))` in input order, with at most `window` calls in flight (the pool runs them)."""
    pending: deque[tuple[T, Future[R]]] = deque()
    try:
        for item in items:
            pending.append((item, pool.submit(work, item)))
            if len(pending) >= window:
                first, future = pending.popleft()
                yield first, future.result()
        while pending:
            first, future = pending.popleft()
            yield first, future.result()
    finally:
        for _, future in pending:
            future.cancel()
