"""The ASGI router that splits CloudWatch Logs traffic: SageMaker's log groups are ours, the rest is moto's.

The gateway routes by scope alone, but which app serves a `Logs_20140328.*` request depends on the log
group named in its body. `LogsRouter` sits in front of the moto mount: it buffers the body of a Logs
request, decides with `is_sagemaker_request`, and replays the body to the chosen app. Every other request
passes through untouched (and unbuffered).

Ours: a request whose `logGroupName` or `logGroupIdentifier` (name or ARN) is under `/aws/sagemaker/`, and
DescribeLogGroups whose `logGroupNamePrefix` starts with `/aws/sagemaker`. Everything else — a user's own
groups, DescribeLogGroups without that prefix, Insights queries — goes to moto.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from emulator.api.json_protocol import MAX_BODY_BYTES, header

ASGIApp = Any
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]

TARGET_PREFIX = "Logs_20140328"
SAGEMAKER_GROUP_PREFIX = "/aws/sagemaker/"


def group_name(identifier: str) -> str:
    """A log group's name from a name or an ARN (`arn:aws:logs:<region>:<account>:log-group:<name>[:*]`)."""
    if not identifier.startswith("arn:"):
        return identifier
    _, _, resource = identifier.partition(":log-group:")
    return resource.removesuffix(":*")


def is_sagemaker_request(operation: str, request: Any) -> bool:
    if not isinstance(request, dict):
        return False
    if operation == "DescribeLogGroups":
        prefix = request.get("logGroupNamePrefix")
        return isinstance(prefix, str) and prefix.startswith(SAGEMAKER_GROUP_PREFIX.rstrip("/"))
    group = request.get("logGroupName", request.get("logGroupIdentifier"))
    return isinstance(group, str) and group_name(group).startswith(SAGEMAKER_GROUP_PREFIX)


class LogsRouter:
    def __init__(self, ours: ASGIApp, theirs: ASGIApp) -> None:
        self._ours = ours
        self._theirs = theirs

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Any) -> None:
        target = header(scope, b"x-amz-target") if scope["type"] == "http" else None
        prefix, _, operation = (target or "").partition(".")
        if prefix != TARGET_PREFIX:
            await self._theirs(scope, receive, send)
            return
        buffered, complete = await _buffer(receive)
        body = b"".join(message.get("body", b"") for message in buffered)
        ours = complete and is_sagemaker_request(operation, _json(body))
        await (self._ours if ours else self._theirs)(scope, _replay(buffered, receive), send)


async def _buffer(receive: Receive) -> tuple[list[Message], bool]:
    """The request's body messages, up to MAX_BODY_BYTES; `complete` when the whole body was read."""
    messages: list[Message] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages, message["type"] == "http.request"
        size += len(message.get("body", b""))
    return messages, False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


def _json(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
