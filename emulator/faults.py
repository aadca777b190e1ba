"""Fault injection for testing retry handling: make the next job(s) of a kind fail as the service would
on an internal error, without touching the user's code.

`POST /_emulator/faults {"kind": "TrainingJob", "count": 1, "reason": "..."}` arms faults; each job of that
kind that a worker picks up next consumes one and ends Failed with the reason (by default an
`InternalServerError`, which pipeline retry policies see as `SageMaker.JOB_INTERNAL_ERROR`).
`GET /_emulator/faults` lists the armed ones, `DELETE /_emulator/faults` disarms them.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator.store.repository import ListQuery, Store

FAULT = "InjectedFault"
ARMED, USED = "armed", "used"
DEFAULT_REASON = (
    "InternalServerError: We encountered an internal error. Please try again. (injected by /_emulator/faults)"
)


def arm(store: Store, kind: str, count: int = 1, reason: str | None = None) -> list[str]:
    names = []
    for _ in range(max(count, 0)):
        name = uuid.uuid4().hex
        store.insert(FAULT, name, {"Kind": kind, "Reason": reason or DEFAULT_REASON}, status=ARMED)
        names.append(name)
    return names


def armed(store: Store) -> list[dict[str, Any]]:
    return [row.document for row in store.query(ListQuery(kind=FAULT, statuses=[ARMED], descending=False))]


def disarm(store: Store) -> None:
    for row in store.query(ListQuery(kind=FAULT, statuses=[ARMED])):
        store.delete(FAULT, row.name)


def take(store: Store, kind: str) -> str | None:
    """Consume one armed fault for `kind` (compare-and-set, so two workers never share one); its reason."""
    for row in store.query(ListQuery(kind=FAULT, statuses=[ARMED], descending=False)):
        if row.document.get("Kind") != kind:
            continue
        if store.transition(FAULT, row.name, (ARMED,), USED, lambda current: current.document) is not None:
            return str(row.document["Reason"])
    return None
