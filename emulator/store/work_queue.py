"""The worker's queue over `work_items`: enqueue, atomic claim, heartbeats, the Stop flag, handles.

Claiming is atomic on both databases, so two workers never run the same job: on PostgreSQL the oldest
queued row is locked with `FOR UPDATE SKIP LOCKED` (many workers claim different rows at once, nobody
waits); on SQLite (one writer at a time anyway) it is compare-and-set (`UPDATE … WHERE state = 'queued'`
with the row count checked). A worker records runner handles before waiting on them, so a restarted
worker can reattach or fail the job (`owned_by`, `stale`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from emulator.store.tables import work_items

QUEUED, RUNNING, DONE = "queued", "running", "done"


@dataclass(frozen=True)
class WorkItem:
    id: int
    kind: str
    name: str
    state: str
    worker_id: str | None
    heartbeat_at: float | None
    stop_requested: bool
    handles: list[str]


def _item(row: Any) -> WorkItem:
    return WorkItem(
        id=row.id,
        kind=row.kind,
        name=row.name,
        state=row.state,
        worker_id=row.worker_id,
        heartbeat_at=row.heartbeat_at,
        stop_requested=bool(row.stop_requested),
        handles=list(row.handles or []),
    )


class WorkQueue:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def enqueue(self, connection: sa.Connection, kind: str, name: str) -> None:
        """Queue work inside the caller's transaction (the one that creates the resource)."""
        connection.execute(
            work_items.insert().values(
                kind=kind, name=name, state=QUEUED, handles=[], created_at=time.time(), stop_requested=False
            )
        )

    def claim_next(self, worker_id: str, kinds: Sequence[str] | None = None) -> WorkItem | None:
        """Take the oldest queued item for this worker, or None when there is none."""
        query = sa.select(work_items.c.id).where(work_items.c.state == QUEUED)
        if kinds:
            query = query.where(work_items.c.kind.in_(list(kinds)))
        query = query.order_by(work_items.c.id).limit(1)
        if self.engine.dialect.name == "postgresql":
            return self._claim_locked(worker_id, query.with_for_update(skip_locked=True))
        for _ in range(5):
            with self.engine.begin() as connection:
                candidate = connection.execute(query).scalar()
                if candidate is None:
                    return None
                claimed = self._mark_running(connection, candidate, worker_id, only_if_queued=True)
                if claimed is not None:
                    return claimed
        return None

    def _claim_locked(self, worker_id: str, query: sa.Select[Any]) -> WorkItem | None:
        """PostgreSQL: the row lock taken by the SELECT holds until the UPDATE commits."""
        with self.engine.begin() as connection:
            candidate = connection.execute(query).scalar()
            if candidate is None:
                return None
            return self._mark_running(connection, candidate, worker_id, only_if_queued=False)

    @staticmethod
    def _mark_running(
        connection: sa.Connection, item_id: int, worker_id: str, *, only_if_queued: bool
    ) -> WorkItem | None:
        statement = work_items.update().where(work_items.c.id == item_id)
        if only_if_queued:
            statement = statement.where(work_items.c.state == QUEUED)
        claimed = connection.execute(statement.values(state=RUNNING, worker_id=worker_id, heartbeat_at=time.time()))
        if claimed.rowcount != 1:
            return None
        return _item(connection.execute(sa.select(work_items).where(work_items.c.id == item_id)).one())

    def get(self, kind: str, name: str) -> WorkItem | None:
        query = sa.select(work_items).where(work_items.c.kind == kind, work_items.c.name == name)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return _item(row) if row is not None else None

    def request_stop(self, kind: str, name: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                work_items.update()
                .where(work_items.c.kind == kind, work_items.c.name == name)
                .values(stop_requested=True)
            )

    def record_handles(self, item_id: int, handles: list[str]) -> None:
        self._set(item_id, handles=handles)

    def heartbeat(self, worker_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                work_items.update()
                .where(work_items.c.worker_id == worker_id, work_items.c.state == RUNNING)
                .values(heartbeat_at=time.time())
            )

    def take_over(self, item_id: int, old_worker: str | None, new_worker: str) -> bool:
        """Claim a stale running item from a dead worker; False if another worker got there first."""
        with self.engine.begin() as connection:
            taken = connection.execute(
                work_items.update()
                .where(work_items.c.id == item_id, work_items.c.state == RUNNING, work_items.c.worker_id == old_worker)
                .values(worker_id=new_worker, heartbeat_at=time.time())
            ).rowcount
        return bool(taken == 1)

    def finish(self, item_id: int) -> None:
        """Mark a running item done (an item queued again meanwhile, see `requeue`, stays queued)."""
        with self.engine.begin() as connection:
            connection.execute(
                work_items.update().where(work_items.c.id == item_id, work_items.c.state == RUNNING).values(state=DONE)
            )

    def release(self, item_id: int) -> None:
        """Give a running item back to the queue, keeping its Stop flag (a resumable item whose worker is
        shutting down: the next worker takes it at once instead of waiting for it to go stale)."""
        with self.engine.begin() as connection:
            connection.execute(
                work_items.update()
                .where(work_items.c.id == item_id, work_items.c.state == RUNNING)
                .values(state=QUEUED, worker_id=None, heartbeat_at=None)
            )

    def requeue(self, kind: str, name: str) -> None:
        """Queue a resource's work again (a retried pipeline execution): a fresh item for any worker."""
        fresh: dict[str, Any] = {
            "state": QUEUED,
            "worker_id": None,
            "heartbeat_at": None,
            "stop_requested": False,
            "handles": [],
        }
        with self.engine.begin() as connection:
            updated = connection.execute(
                work_items.update().where(work_items.c.kind == kind, work_items.c.name == name).values(**fresh)
            ).rowcount
            if updated == 0:
                self.enqueue(connection, kind, name)

    def remove(self, kind: str, name: str) -> None:
        """Forget the item of a deleted resource whose name may be used again (e.g. an endpoint)."""
        with self.engine.begin() as connection:
            connection.execute(work_items.delete().where(work_items.c.kind == kind, work_items.c.name == name))

    def owned_by(self, worker_id: str) -> list[WorkItem]:
        """Items a worker of this id was running when it last stopped (for reconciliation)."""
        query = sa.select(work_items).where(work_items.c.worker_id == worker_id, work_items.c.state == RUNNING)
        with self.engine.connect() as connection:
            return [_item(row) for row in connection.execute(query)]

    def stale(self, older_than: float) -> list[WorkItem]:
        """Running items whose worker has not sent a heartbeat since `older_than` (epoch seconds)."""
        query = sa.select(work_items).where(work_items.c.state == RUNNING, work_items.c.heartbeat_at < older_than)
        with self.engine.connect() as connection:
            return [_item(row) for row in connection.execute(query)]

    def _set(self, item_id: int, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(work_items.update().where(work_items.c.id == item_id).values(**values))
