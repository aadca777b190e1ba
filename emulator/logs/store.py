"""`LogStore`: job log lines in the `log_events` table — the one module that writes SQL for them.

For: the worker appending what a job prints (`append`, one transaction however many lines), and the read
queries behind the CloudWatch Logs API (groups, streams, a stream's events by time window and position,
events across streams). Not for: wire names, tokens or filter-pattern syntax (see `api` and `patterns`).

Groups and streams have no table of their own: they exist once they hold an event. Every order is
`(timestamp, id)`; a `Position` is such a pair, so events that share a millisecond keep their insertion order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from emulator.store.tables import log_events

Position = tuple[int, int]  # (timestamp in epoch ms, row id)

_EVENT_OVERHEAD_BYTES = 26  # CloudWatch counts a message's UTF-8 bytes plus 26 per event
_MAX_CODE_POINT = 0x10FFFF


@dataclass(frozen=True)
class LogEvent:
    id: int
    log_stream: str
    timestamp: int
    ingestion_time: int
    message: str

    @property
    def position(self) -> Position:
        return (self.timestamp, self.id)

    @property
    def size(self) -> int:
        """The event's size as CloudWatch counts it for the 1 MB response cap."""
        return len(self.message.encode("utf-8", "surrogatepass")) + _EVENT_OVERHEAD_BYTES


@dataclass(frozen=True)
class StreamInfo:
    name: str
    creation_time: int  # ingestion time of its first event
    first_event_timestamp: int
    last_event_timestamp: int
    last_ingestion_time: int
    stored_bytes: int


@dataclass(frozen=True)
class GroupInfo:
    name: str
    creation_time: int
    stored_bytes: int


@dataclass(frozen=True)
class StreamSelection:
    """Which streams of a group to read: all, the named ones, or those whose name starts with a prefix."""

    names: Sequence[str] | None = None
    prefix: str | None = None


@dataclass(frozen=True)
class FilterResult:
    events: list[LogEvent]
    resume_after: Position | None  # where the next page starts; None when the search is complete


def now_ms() -> int:
    return int(time.time() * 1000)


class LogStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- writing -----------------------------------------------------------------------------------
    def append(
        self,
        log_group: str,
        log_stream: str,
        events: Sequence[tuple[int, str]],
        *,
        ingestion_time: int | None = None,
    ) -> int:
        """Store `(timestamp_ms, message)` pairs in one transaction; returns how many were stored."""
        if not events:
            return 0
        ingested = ingestion_time if ingestion_time is not None else now_ms()
        rows = [
            {
                "log_group": log_group,
                "log_stream": log_stream,
                "timestamp": int(timestamp),
                "ingestion_time": ingested,
                "message": message,
            }
            for timestamp, message in events
        ]
        with self.engine.begin() as connection:
            connection.execute(log_events.insert(), rows)
        return len(rows)

    # -- groups and streams ------------------------------------------------------------------------
    def group_exists(self, log_group: str) -> bool:
        query = sa.select(log_events.c.id).where(log_events.c.log_group == log_group).limit(1)
        return self._scalar(query) is not None

    def stream_exists(self, log_group: str, log_stream: str) -> bool:
        query = (
            sa.select(log_events.c.id)
            .where(log_events.c.log_group == log_group, log_events.c.log_stream == log_stream)
            .limit(1)
        )
        return self._scalar(query) is not None

    def groups(self, prefix: str | None = None) -> list[GroupInfo]:
        """Every group (holding at least one event) whose name starts with `prefix`, by name."""
        column = log_events.c
        query = sa.select(
            column.log_group,
            sa.func.min(column.ingestion_time),
            sa.func.sum(sa.func.length(column.message)) + _EVENT_OVERHEAD_BYTES * sa.func.count(),
        ).group_by(column.log_group)
        if prefix:
            query = query.where(*self._prefix_conditions(column.log_group, prefix))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        found = [GroupInfo(name, int(created), int(size or 0)) for name, created, size in rows]
        return sorted(found, key=lambda group: group.name)

    def streams(
        self,
        log_group: str,
        *,
        prefix: str | None = None,
        by_last_event: bool = False,
        descending: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[StreamInfo]:
        """The group's streams, ordered by name or by last event time, one page of them."""
        column = log_events.c
        last_event = sa.func.max(column.timestamp)
        query = (
            sa.select(
                column.log_stream,
                sa.func.min(column.ingestion_time),
                sa.func.min(column.timestamp),
                last_event,
                sa.func.max(column.ingestion_time),
                sa.func.sum(sa.func.length(column.message)) + _EVENT_OVERHEAD_BYTES * sa.func.count(),
            )
            .where(column.log_group == log_group)
            .group_by(column.log_stream)
        )
        if prefix:
            query = query.where(*self._prefix_conditions(column.log_stream, prefix))
        keys = [last_event, column.log_stream] if by_last_event else [column.log_stream]
        query = query.order_by(*[key.desc() if descending else key.asc() for key in keys]).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            return [StreamInfo(*row[:5], stored_bytes=int(row[5] or 0)) for row in connection.execute(query)]

    # -- events ------------------------------------------------------------------------------------
    def events(
        self,
        log_group: str,
        log_stream: str,
        *,
        start: int | None = None,
        end: int | None = None,
        after: Position | None = None,
        before: Position | None = None,
        limit: int,
        newest_first: bool = False,
    ) -> list[LogEvent]:
        """Up to `limit` events of one stream with `start <= timestamp < end`, strictly after `after` and
        before `before`, taken from the oldest (or newest) end; returned in that order."""
        column = log_events.c
        conditions: list[Any] = [column.log_group == log_group, column.log_stream == log_stream]
        conditions += _window(start, end, end_inclusive=False)
        if after is not None:
            conditions.append(sa.tuple_(column.timestamp, column.id) > sa.tuple_(*after))
        if before is not None:
            conditions.append(sa.tuple_(column.timestamp, column.id) < sa.tuple_(*before))
        order = [column.timestamp.desc(), column.id.desc()] if newest_first else [column.timestamp, column.id]
        query = sa.select(*_EVENT_COLUMNS).where(*conditions).order_by(*order).limit(limit)
        with self.engine.connect() as connection:
            return [LogEvent(*row) for row in connection.execute(query)]

    def filter_events(
        self,
        log_group: str,
        *,
        streams: StreamSelection,
        start: int | None,
        end: int | None,
        after: Position | None,
        matches: Callable[[str], bool],
        limit: int,
        max_bytes: int,
        scan_budget: int,
    ) -> FilterResult:
        """Events of the selected streams with `start <= timestamp <= end` after `after`, oldest first,
        whose message `matches`: at most `limit` events, `max_bytes` bytes and `scan_budget` rows read."""
        query = self._filter_query(log_group, streams, start, end, after).limit(scan_budget)
        found: list[LogEvent] = []
        size = scanned = 0
        last: Position | None = after
        with self.engine.connect() as connection:
            result = connection.execution_options(yield_per=1000).execute(query)
            for row in result:
                event = LogEvent(*row)
                if matches(event.message):
                    if found and (len(found) == limit or size + event.size > max_bytes):
                        return FilterResult(found, last)
                    found.append(event)
                    size += event.size
                last = event.position
                scanned += 1
            result.close()
        return FilterResult(found, last if scanned == scan_budget else None)

    # -- helpers -----------------------------------------------------------------------------------
    def _filter_query(
        self,
        log_group: str,
        streams: StreamSelection,
        start: int | None,
        end: int | None,
        after: Position | None,
    ) -> sa.Select[Any]:
        column = log_events.c
        conditions: list[Any] = [column.log_group == log_group, *_window(start, end, end_inclusive=True)]
        if streams.names is not None:
            conditions.append(column.log_stream.in_(list(streams.names)))
        if streams.prefix:
            conditions += self._prefix_conditions(column.log_stream, streams.prefix)
        if after is not None:
            conditions.append(sa.tuple_(column.timestamp, column.id) > sa.tuple_(*after))
        return sa.select(*_EVENT_COLUMNS).where(*conditions).order_by(column.timestamp, column.id)

    def _prefix_conditions(self, column: sa.ColumnElement[str], prefix: str) -> Iterable[Any]:
        """`column` starts with `prefix`; on SQLite (byte order) also as a range, so the index is used."""
        conditions: list[Any] = [column.startswith(prefix, autoescape=True)]
        if self.engine.dialect.name == "sqlite" and ord(prefix[-1]) < _MAX_CODE_POINT:
            conditions += [column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1)]
        return conditions

    def _scalar(self, query: sa.Select[Any]) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()


_EVENT_COLUMNS = (
    log_events.c.id,
    log_events.c.log_stream,
    log_events.c.timestamp,
    log_events.c.ingestion_time,
    log_events.c.message,
)


def _window(start: int | None, end: int | None, *, end_inclusive: bool) -> list[Any]:
    column = log_events.c.timestamp
    conditions: list[Any] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column <= end if end_inclusive else column < end)
    return conditions
