"""CloudWatch Logs read API over the job-log store: DescribeLogGroups, DescribeLogStreams, GetLogEvents and
FilterLogEvents, registered under the `Logs_20140328` target (importing this module registers them).

For: the SageMaker SDK's log polling (`logs_for_job`, `sagemaker.logs.multi_stream_iter`), the AWS CLI and
boto3 reading job logs. Requests reach these handlers only for `/aws/sagemaker/...` groups (see `routing`);
validation and serialization are botocore's `logs` model through `emulator.api`. Not for: writing logs or
any other Logs operation (those answer UnknownOperationException for our groups).

Contract details that clients rely on:
- DescribeLogStreams answers a `nextToken` only when more streams really exist (the v2 SDK loops on one).
- GetLogEvents: `startTime` inclusive, `endTime` exclusive; pages hold at most `limit` (default 10,000)
  events and 1 MB; tokens are `f/<digits>/s` and `b/<digits>/s`; reading past the last event gives an
  empty page that returns the same token.
- A group or stream that holds no events does not exist: ResourceNotFoundException.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from emulator.api.errors import ApiError, ValidationError
from emulator.api.json_protocol import JsonService
from emulator.api.pagination import decode_token, encode_token
from emulator.api.registry import Handler, Request, RequestContext, Response, operation
from emulator.logs.patterns import PatternError, compile_pattern
from emulator.logs.routing import TARGET_PREFIX, group_name
from emulator.logs.store import LogEvent, LogStore, Position, StreamInfo, StreamSelection

LOGS_SERVICE = JsonService(TARGET_PREFIX, "logs")

DEFAULT_EVENT_LIMIT = 10_000
MAX_RESPONSE_BYTES = 1_048_576
DEFAULT_DESCRIBE_LIMIT = 50
FILTER_SCAN_BUDGET = 10_000  # rows read per call; a search of a large group continues by nextToken
_NO_LATER_TIME = 10**19 - 1  # fits the token's 20 digits and sorts after every timestamp

_EVENT_TOKEN = re.compile(r"([fb])/(\d{20})(\d{20})/s")


class ResourceNotFoundException(ApiError):
    code = "ResourceNotFoundException"


class InvalidParameterException(ApiError):
    code = "InvalidParameterException"


def logs_operation(name: str, *, blocking: bool = False) -> Callable[[Handler], Handler]:
    return operation(TARGET_PREFIX, name, blocking=blocking)


_STORES: weakref.WeakKeyDictionary[sa.Engine, LogStore] = weakref.WeakKeyDictionary()


def log_store(ctx: RequestContext) -> LogStore:
    """The `LogStore` over the request's database, built once per engine."""
    engine = ctx.store.engine
    store = _STORES.get(engine)
    if store is None:
        store = _STORES[engine] = LogStore(engine)
    return store


# -- DescribeLogGroups -------------------------------------------------------------------------------


@logs_operation("DescribeLogGroups", blocking=True)  # sums every event's size: a thread, not the loop
def describe_log_groups(ctx: RequestContext, request: Request) -> Response:
    if request.get("logGroupNamePattern") and request.get("logGroupNamePrefix"):
        raise InvalidParameterException("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive.")
    groups = log_store(ctx).groups(request.get("logGroupNamePrefix"))
    if request.get("logGroupClass", "STANDARD") != "STANDARD":
        groups = []
    wanted = request.get("logGroupIdentifiers")
    if wanted:
        names = {group_name(identifier) for identifier in wanted}
        groups = [group for group in groups if group.name in names]
    scope = ("DescribeLogGroups", request.get("logGroupNamePrefix"), wanted, request.get("logGroupClass"))
    offset, size = _offset(request, scope), request.get("limit") or DEFAULT_DESCRIBE_LIMIT
    page = groups[offset : offset + size]
    more = offset + size < len(groups)
    return {
        "logGroups": [
            {
                "logGroupName": group.name,
                "creationTime": group.creation_time,
                "metricFilterCount": 0,
                "arn": f"{_group_arn(ctx, group.name)}:*",
                "logGroupArn": _group_arn(ctx, group.name),
                "storedBytes": group.stored_bytes,
                "logGroupClass": "STANDARD",
            }
            for group in page
        ],
        "nextToken": encode_token(offset + size, scope) if more else None,
    }


# -- DescribeLogStreams ------------------------------------------------------------------------------


@logs_operation("DescribeLogStreams")
def describe_log_streams(ctx: RequestContext, request: Request) -> Response:
    store = log_store(ctx)
    group = _existing_group(store, request)
    prefix = request.get("logStreamNamePrefix")
    by_last_event = request.get("orderBy") == "LastEventTime"
    if by_last_event and prefix:
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(request.get("descending", False))
    scope = ("DescribeLogStreams", group, prefix, by_last_event, descending)
    offset, size = _offset(request, scope), request.get("limit") or DEFAULT_DESCRIBE_LIMIT
    streams = store.streams(
        group, prefix=prefix, by_last_event=by_last_event, descending=descending, offset=offset, limit=size + 1
    )
    return {
        "logStreams": [_stream(ctx, group, stream) for stream in streams[:size]],
        "nextToken": encode_token(offset + size, scope) if len(streams) > size else None,
    }


def _stream(ctx: RequestContext, group: str, stream: StreamInfo) -> dict[str, Any]:
    return {
        "logStreamName": stream.name,
        "creationTime": stream.creation_time,
        "firstEventTimestamp": stream.first_event_timestamp,
        "lastEventTimestamp": stream.last_event_timestamp,
        "lastIngestionTime": stream.last_ingestion_time,
        "arn": f"{_group_arn(ctx, group)}:log-stream:{stream.name}",
        "storedBytes": stream.stored_bytes,
    }


# -- GetLogEvents ------------------------------------------------------------------------------------


@logs_operation("GetLogEvents")
def get_log_events(ctx: RequestContext, request: Request) -> Response:
    store = log_store(ctx)
    group = _existing_group(store, request)
    stream = request["logStreamName"]
    if not store.stream_exists(group, stream):
        raise ResourceNotFoundException("The specified log stream does not exist.")
    start, end = request.get("startTime"), request.get("endTime")
    token = request.get("nextToken")
    forward, position = _parse_event_token(token) if token else (bool(request.get("startFromHead")), None)
    fetched = store.events(
        group,
        stream,
        start=start,
        end=end,
        after=position if forward else None,
        before=None if forward else position,
        limit=request.get("limit") or DEFAULT_EVENT_LIMIT,
        newest_first=not forward,
    )
    events = _within_bytes(fetched)
    if not forward:
        events.reverse()
    if events:
        first, last = events[0].position, events[-1].position
    elif position is not None:
        first = last = position
    else:
        first, last = (end if end is not None else _NO_LATER_TIME, 0), (start or 0, 0)
    return {
        "events": [{"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.ingestion_time} for e in events],
        "nextForwardToken": _event_token("f", last),
        "nextBackwardToken": _event_token("b", first),
    }


def _within_bytes(events: list[LogEvent]) -> list[LogEvent]:
    """The leading events that fit in one response (at least one)."""
    total = 0
    for count, event in enumerate(events):
        total += event.size
        if total > MAX_RESPONSE_BYTES and count > 0:
            return events[:count]
    return list(events)


def _event_token(direction: str, position: Position) -> str:
    timestamp, row_id = position
    return f"{direction}/{min(max(timestamp, 0), _NO_LATER_TIME):020d}{row_id:020d}/s"


def _parse_event_token(token: str) -> tuple[bool, Position]:
    found = _EVENT_TOKEN.fullmatch(token)
    if found is None:
        raise InvalidParameterException("The specified nextToken is invalid.")
    return found.group(1) == "f", (int(found.group(2)), int(found.group(3)))


# -- FilterLogEvents ---------------------------------------------------------------------------------


@logs_operation("FilterLogEvents", blocking=True)  # may read many rows: a thread, not the loop
def filter_log_events(ctx: RequestContext, request: Request) -> Response:
    store = log_store(ctx)
    group = _existing_group(store, request)
    names, prefix = request.get("logStreamNames"), request.get("logStreamNamePrefix")
    if names and prefix:
        raise InvalidParameterException("logStreamNames and logStreamNamePrefix are mutually exclusive.")
    try:
        matches = compile_pattern(request.get("filterPattern"))
    except PatternError as error:
        raise InvalidParameterException(str(error)) from None
    scope = _filter_scope(group, request)
    result = store.filter_events(
        group,
        streams=StreamSelection(names=names, prefix=prefix),
        start=request.get("startTime"),
        end=request.get("endTime"),
        after=_parse_filter_token(request.get("nextToken"), scope),
        matches=matches,
        limit=request.get("limit") or DEFAULT_EVENT_LIMIT,
        max_bytes=MAX_RESPONSE_BYTES,
        scan_budget=FILTER_SCAN_BUDGET,
    )
    resume = result.resume_after
    return {
        "events": [
            {
                "logStreamName": event.log_stream,
                "timestamp": event.timestamp,
                "message": event.message,
                "ingestionTime": event.ingestion_time,
                "eventId": f"{event.id:056d}",
            }
            for event in result.events
        ],
        "searchedLogStreams": [],
        "nextToken": f"{resume[0]:020d}{resume[1]:020d}-{scope}" if resume is not None else None,
    }


def _filter_scope(group: str, request: Request) -> str:
    """A fingerprint of the filters, so a token is only accepted by the search it came from."""
    fields = ("logStreamNames", "logStreamNamePrefix", "startTime", "endTime", "filterPattern")
    scope = json.dumps([group, *[request.get(name) for name in fields]], sort_keys=True)
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def _parse_filter_token(token: str | None, scope: str) -> Position | None:
    if token is None:
        return None
    found = re.fullmatch(r"(\d{20})(\d{20})-([0-9a-f]{16})", token)
    if found is None or found.group(3) != scope:
        raise InvalidParameterException("The specified nextToken is invalid.")
    return int(found.group(1)), int(found.group(2))


# -- shared ------------------------------------------------------------------------------------------


def _existing_group(store: LogStore, request: Request) -> str:
    name, identifier = request.get("logGroupName"), request.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameterException("LogGroupName and LogGroupIdentifier are mutually exclusive.")
    if not (name or identifier):
        raise InvalidParameterException("Either LogGroupName or LogGroupIdentifier must be specified.")
    group = str(name or group_name(str(identifier)))
    if not store.group_exists(group):
        raise ResourceNotFoundException("The specified log group does not exist.")
    return group


def _group_arn(ctx: RequestContext, group: str) -> str:
    return f"arn:aws:logs:{ctx.region}:{ctx.account_id}:log-group:{group}"


def _offset(request: Request, scope: Any) -> int:
    try:
        return decode_token(request.get("nextToken"), scope)
    except ValidationError as error:
        raise InvalidParameterException(error.message) from None
