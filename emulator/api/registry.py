"""The `@operation` registry and the request context handed to every operation.

An operation is one function: ``@operation("SageMaker", "StopTrainingJob")`` over
``def stop_training_job(ctx: RequestContext, request: dict) -> dict``. It receives the validated request
and returns the response dict; dispatch, validation and serialization happen around it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.config import Settings
    from emulator.store.repository import Store

Request = dict[str, Any]
Response = dict[str, Any]


@dataclass
class RequestContext:
    """What an operation may use: settings, the store, the request id, and a client factory."""

    settings: Settings
    store: Store
    request_id: str
    aws: Callable[[str], Any] = field(repr=False)

    @property
    def account_id(self) -> str:
        return self.settings.account_id

    @property
    def region(self) -> str:
        return self.settings.region


Handler = Callable[[RequestContext, Request], Response]


@dataclass(frozen=True)
class Operation:
    """A registered handler. Handlers run on the event loop, since store calls are short local
    transactions; one that waits on the network (another service over HTTP) is `blocking` and runs
    in a worker thread instead."""

    handler: Handler
    blocking: bool


# service target prefix (e.g. "SageMaker") -> operation name -> operation
_OPERATIONS: dict[str, dict[str, Operation]] = {}


def operation(target_prefix: str, name: str, *, blocking: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        table = _OPERATIONS.setdefault(target_prefix, {})
        if name in table:
            raise RuntimeError(f"operation {target_prefix}.{name} registered twice")
        table[name] = Operation(handler, blocking)
        return handler

    return register


def operation_for(target_prefix: str, name: str) -> Operation | None:
    return _OPERATIONS.get(target_prefix, {}).get(name)


def implemented(target_prefix: str) -> list[str]:
    return sorted(_OPERATIONS.get(target_prefix, {}))
