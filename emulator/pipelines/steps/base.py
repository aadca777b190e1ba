"""What every step executor implements, and what it gets and gives back.

A step executor turns one step's *resolved* arguments into work (usually a SageMaker job created
through the emulator's own API) and later reports how it ended. It never touches the execution's own
records: the driver (`emulator.pipelines.execution`) stores what executors return.

Not for: evaluating expressions (arguments arrive resolved) or deciding retries (the driver does, from
`Finished.error_type`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from emulator.pipelines.definition import Step
from emulator.pipelines.expressions import EvaluationContext
from emulator.pipelines.scheduler import StepStatus
from emulator.store.repository import Store

# The exception types RetryPolicies name (see README "Retry policies" for how local failures map).
SERVICE_FAULT = "Step.SERVICE_FAULT"
THROTTLING = "Step.THROTTLING"
JOB_INTERNAL_ERROR = "SageMaker.JOB_INTERNAL_ERROR"
CAPACITY_ERROR = "SageMaker.CAPACITY_ERROR"
RESOURCE_LIMIT = "SageMaker.RESOURCE_LIMIT"

_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class StepContext:
    """What a step executor may use: the store (to watch jobs), our own API, and who it runs for."""

    store: Store
    client: Callable[[str], Any]  # service name -> boto3 client of this emulator
    pipeline_name: str
    execution_id: str
    execution_arn: str
    step: Step
    evaluation: EvaluationContext  # for steps that evaluate more than their arguments (Condition)


@dataclass(frozen=True)
class Started:
    """The step's work is under way; `handle` is what `poll` and `stop` need to find it again."""

    metadata: Mapping[str, Any]
    handle: Mapping[str, Any]


@dataclass(frozen=True)
class Finished:
    status: StepStatus  # SUCCEEDED, FAILED or STOPPED
    properties: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] | None = None  # replaces the metadata reported at start, when given
    failure_reason: str | None = None
    error_type: str | None = None  # one of the retryable exception types, when the failure is one


class StepExecutor(Protocol):
    @property
    def cache_attributes(self) -> tuple[str, ...]:
        """The request members whose resolved values decide cache hits (the service's default cache keys)."""
        ...

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished: ...

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None: ...

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None: ...


def plain_response(response: Mapping[str, Any]) -> dict[str, Any]:
    """A boto3 response as plain JSON data to keep as step properties: no ResponseMetadata, and
    timestamps as epoch seconds (as the emulator stores them)."""

    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, Mapping):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, list):
            return [plain(item) for item in value]
        return value

    return {key: plain(value) for key, value in response.items() if key != "ResponseMetadata"}


def random_suffix(length: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def generated_name(ctx: StepContext, max_length: int = 63) -> str:
    """A job or model name as pipelines make them: `pipelines-<execution id>-<step>-<random>`."""
    suffix = random_suffix()
    room = max_length - len("pipelines-") - len(ctx.execution_id) - len(suffix) - 2
    if room < 1:  # short names (tuning jobs: 32 characters) keep only the execution id
        return f"{ctx.execution_id}-{random_suffix(max_length - len(ctx.execution_id) - 1)}"
    step = "".join(c if c.isalnum() or c == "-" else "-" for c in ctx.step.name)[: max(room, 0)]
    return f"pipelines-{ctx.execution_id}-{step}-{suffix}".replace("--", "-")
