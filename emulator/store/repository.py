"""The typed repository over `resources` and `tags`: the only module that writes SQL.

Rows are handed out as frozen `Resource` values. Updates are compare-and-set on `revision` (or on
`status` for status transitions), so concurrent writers (API server, workers) never lose each other's
changes silently: a lost race is reported to the caller, who decides whether to retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from emulator.store import db
from emulator.store.tables import resources, tags
from emulator.store.work_queue import WorkQueue

Document = dict[str, Any]


class AlreadyExists(Exception):
    """A resource of that kind and name (or that ARN) exists already."""


class ConcurrentUpdate(Exception):
    """The row changed between read and write more often than the retry budget allows."""


class _StatusMoved(Exception):
    """Internal: a transition found the status already moved on."""


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    arn: str | None
    status: str | None
    parent: str | None
    created_at: float
    modified_at: float
    revision: int
    document: Document
    extra: Document = field(default_factory=dict)


@dataclass(frozen=True)
class ListQuery:
    """Filters and order for `Store.list`; every field optional except the kind."""

    kind: str
    name_prefix: str | None = None
    name_contains: str | None = None
    parent: str | None = None
    statuses: Sequence[str] | None = None
    created_after: float | None = None
    created_before: float | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    sort_by: str = "created_at"  # created_at | name | status | modified_at
    descending: bool = True
    offset: int = 0
    limit: int | None = None


def _row(row: Any) -> Resource:
    return Resource(
        kind=row.kind,
        name=row.name,
        arn=row.arn,
        status=row.status,
        parent=row.parent,
        created_at=row.created_at,
        modified_at=row.modified_at,
        revision=row.revision,
        document=row.document,
        extra=row.extra,
    )


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.work = WorkQueue(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        engine = db.create_engine(url)
        db.upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- resources ---------------------------------------------------------------------------------
    def insert(
        self,
        kind: str,
        name: str,
        document: Document,
        *,
        arn: str | None = None,
        status: str | None = None,
        parent: str | None = None,
        extra: Document | None = None,
        created_at: float | None = None,
        tag_list: Sequence[Document] = (),
        enqueue: bool = False,
    ) -> Resource:
        """Insert a resource (with its tags, and queued work for the worker when `enqueue`), atomically."""
        now = created_at if created_at is not None else time.time()
        values = {
            "kind": kind,
            "name": name,
            "arn": arn,
            "status": status,
            "parent": parent,
            "created_at": now,
            "modified_at": now,
            "revision": 1,
            "document": document,
            "extra": extra or {},
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(resources.insert().values(**values))
                if tag_list and arn:
                    self._put_tags(connection, arn, tag_list)
                if enqueue:
                    self.work.enqueue(connection, kind, name)
        except IntegrityError as error:
            raise AlreadyExists(f"{kind} {name} already exists") from error
        return Resource(**values)  # type: ignore[arg-type]

    def get(self, kind: str, name: str) -> Resource | None:
        query = sa.select(resources).where(resources.c.kind == kind, resources.c.name == name)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _row(row) if row is not None else None

    def get_by_arn(self, arn: str) -> Resource | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(resources).where(resources.c.arn == arn)).first()
        return _row(row) if row is not None else None

    def update(
        self,
        kind: str,
        name: str,
        change: Callable[[Resource], Document],
        *,
        status: str | None = None,
        extra: Document | None = None,
        attempts: int = 8,
        only_if: tuple[str, ...] | None = None,
    ) -> Resource | None:
        """Apply `change` (returns the new document) with compare-and-set; None if the row is gone."""
        for _ in range(attempts):
            current = self.get(kind, name)
            if current is None:
                return None
            if only_if is not None and current.status not in only_if:
                raise _StatusMoved
            document = change(current)
            now = time.time()
            values: dict[str, Any] = {
                "document": document,
                "modified_at": now,
                "revision": current.revision + 1,
            }
            if status is not None:
                values["status"] = status
            if extra is not None:
                values["extra"] = extra
            statement = (
                resources.update()
                .where(
                    resources.c.kind == kind,
                    resources.c.name == name,
                    resources.c.revision == current.revision,
                )
                .values(**values)
            )
            with self.engine.begin() as connection:
                if connection.execute(statement).rowcount == 1:
                    merged = {**current.__dict__, **values}
                    return Resource(**merged)
        raise ConcurrentUpdate(f"{kind} {name} kept changing while being updated")

    def transition(
        self,
        kind: str,
        name: str,
        from_statuses: Sequence[str],
        to_status: str,
        change: Callable[[Resource], Document],
    ) -> Resource | None:
        """Compare-and-set status change: applies only while the status is one of `from_statuses`.

        Returns the updated resource, or None when the row is gone or its status is no longer one of
        `from_statuses` (someone else moved it on first)."""
        try:
            return self.update(kind, name, change, status=to_status, only_if=tuple(from_statuses))
        except _StatusMoved:
            return None

    def delete(self, kind: str, name: str, *, children_of: str | None = None) -> Resource | None:
        """Delete a resource, its tags, and (optionally) rows whose parent is `children_of`."""
        current = self.get(kind, name)
        if current is None:
            return None
        with self.engine.begin() as connection:
            connection.execute(resources.delete().where(resources.c.kind == kind, resources.c.name == name))
            if current.arn:
                connection.execute(tags.delete().where(tags.c.arn == current.arn))
            if children_of is not None:
                connection.execute(resources.delete().where(resources.c.parent == children_of))
        return current

    def query(self, query: ListQuery) -> list[Resource]:
        statement = sa.select(resources).where(resources.c.kind == query.kind)
        statement = statement.where(*_filters(query))
        column = resources.c[query.sort_by]
        order = column.desc() if query.descending else column.asc()
        tiebreak = resources.c.id.desc() if query.descending else resources.c.id.asc()
        statement = statement.order_by(order, tiebreak).offset(query.offset)
        if query.limit is not None:
            statement = statement.limit(query.limit)
        with self.engine.connect() as connection:
            return [_row(row) for row in connection.execute(statement)]

    # -- tags --------------------------------------------------------------------------------------
    def add_tags(self, arn: str, tag_list: Sequence[Document]) -> None:
        with self.engine.begin() as connection:
            self._put_tags(connection, arn, tag_list)

    def list_tags(self, arn: str) -> list[Document]:
        statement = sa.select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.position)
        with self.engine.connect() as connection:
            return [{"Key": key, "Value": value} for key, value in connection.execute(statement)]

    def delete_tags(self, arn: str, keys: Iterable[str]) -> None:
        with self.engine.begin() as connection:
            connection.execute(tags.delete().where(tags.c.arn == arn, tags.c.key.in_(list(keys))))

    @staticmethod
    def _put_tags(connection: sa.Connection, arn: str, tag_list: Sequence[Document]) -> None:
        highest = connection.execute(
            sa.select(sa.func.coalesce(sa.func.max(tags.c.position), 0)).where(tags.c.arn == arn)
        ).scalar_one()
        for offset, tag in enumerate(tag_list, 1):
            key, value = tag["Key"], tag.get("Value", "")
            updated = connection.execute(tags.update().where(tags.c.arn == arn, tags.c.key == key).values(value=value))
            if updated.rowcount == 0:
                connection.execute(tags.insert().values(arn=arn, key=key, value=value, position=highest + offset))


def _filters(query: ListQuery) -> list[Any]:
    column = resources.c
    conditions: list[Any] = []
    # Case-insensitive on every database (SQLite's LIKE always was; PostgreSQL's LIKE is not).
    if query.name_prefix:
        conditions.append(column.name.istartswith(query.name_prefix, autoescape=True))
    if query.name_contains:
        conditions.append(column.name.icontains(query.name_contains, autoescape=True))
    if query.parent is not None:
        conditions.append(column.parent == query.parent)
    if query.statuses:
        conditions.append(column.status.in_(list(query.statuses)))
    bounds = (
        (query.created_after, column.created_at, ">"),
        (query.created_before, column.created_at, "<"),
        (query.modified_after, column.modified_at, ">"),
        (query.modified_before, column.modified_at, "<"),
    )
    for bound, target, operator in bounds:
        if bound is not None:
            conditions.append(target > bound if operator == ">" else target < bound)
    return conditions
