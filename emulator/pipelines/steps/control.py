"""Steps that decide rather than run: `Condition` (picks a branch) and `Fail` (ends the execution)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.pipelines.expressions import evaluate_conditions, to_text
from emulator.pipelines.scheduler import StepStatus
from emulator.pipelines.steps.base import Finished, Started, StepContext


class ConditionStep:
    cache_attributes: tuple[str, ...] = ()

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        outcome = evaluate_conditions(arguments.get("Conditions", []), ctx.evaluation)
        text = "True" if outcome else "False"
        return Finished(StepStatus.SUCCEEDED, {"Outcome": text}, metadata={"Condition": {"Outcome": text}})

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        raise AssertionError("a Condition step finishes when it starts")

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        return None


class FailStep:
    cache_attributes: tuple[str, ...] = ()

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        message = arguments.get("ErrorMessage")
        message = "" if message is None else to_text(message)
        return Finished(
            StepStatus.FAILED, {}, metadata={"Fail": {"ErrorMessage": message}}, failure_reason=message or None
        )

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        raise AssertionError("a Fail step finishes when it starts")

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        return None
