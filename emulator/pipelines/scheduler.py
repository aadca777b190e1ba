"""Decide what a pipeline execution does next — pure, no I/O.

For: given the definition and the status of every step that has started, say which steps may start
now (respecting DependsOn, data references, Condition branches and the parallelism limit), and whether
the execution is over and how it ended.

Not for: running steps, evaluating expressions or storing anything (see `execution.py`). A Condition
step's outcome arrives here already evaluated, as `StepState.outcome`.

Rules, as the service behaves:
- a step is ready when it has not started and every upstream step Succeeded; a step inside a
  Condition branch is ready only when that Condition Succeeded with the matching outcome;
- steps in a branch not taken (and any step downstream of one) never start and are never listed;
- once a step has Failed (or the execution is stopping), no new step starts; running steps finish;
- the execution ends when nothing runs and nothing can start: Failed if a step failed, Stopped if it
  was stopped, otherwise Succeeded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from emulator.pipelines.definition import Branch, PipelineDefinition, Step


class StepStatus(StrEnum):
    STARTING = "Starting"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class ExecutionStatus(StrEnum):
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


RUNNING_STEP_STATUSES = frozenset({StepStatus.STARTING, StepStatus.EXECUTING, StepStatus.STOPPING})
ENDED_EXECUTION_STATUSES = frozenset({ExecutionStatus.STOPPED, ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED})


@dataclass(frozen=True)
class StepState:
    status: StepStatus
    outcome: bool | None = None  # a Condition step's result, once it Succeeded


@dataclass(frozen=True)
class Plan:
    start: tuple[str, ...]  # steps to start now, in definition order
    ended: ExecutionStatus | None  # set when the execution is over


def plan(
    definition: PipelineDefinition,
    states: Mapping[str, StepState],
    *,
    max_parallel: int | None = None,
    stopping: bool = False,
    eligible: Collection[str] | None = None,
) -> Plan:
    """What to do next. `eligible` limits which steps may run at all (selective execution)."""
    running = [name for name, state in states.items() if state.status in RUNNING_STEP_STATUSES]
    failed = any(state.status is StepStatus.FAILED for state in states.values())
    stopped = any(state.status is StepStatus.STOPPED for state in states.values())
    ready: list[str] = []
    if not (failed or stopped or stopping):
        ready = [step.name for step in definition.steps if _is_ready(definition, step, states, eligible)]
        if max_parallel is not None:
            ready = ready[: max(0, max_parallel - len(running))]
    if running or ready:
        return Plan(tuple(ready), None)
    if failed:
        return Plan((), ExecutionStatus.FAILED)
    if stopped or stopping:
        return Plan((), ExecutionStatus.STOPPED)
    return Plan((), ExecutionStatus.SUCCEEDED)


def _is_ready(
    definition: PipelineDefinition, step: Step, states: Mapping[str, StepState], eligible: Collection[str] | None
) -> bool:
    if step.name in states or (eligible is not None and step.name not in eligible):
        return False
    for upstream in step.upstream:
        state = states.get(upstream)
        if state is None or state.status is not StepStatus.SUCCEEDED:
            return False
    if step.condition_step is not None:
        outcome = states[step.condition_step].outcome
        return outcome is (step.branch is Branch.IF)
    return True


def upstream_closure(definition: PipelineDefinition, names: Collection[str]) -> set[str]:
    """Every step the named steps depend on, directly or not (the names themselves excluded)."""
    seen: set[str] = set()
    pending = [upstream for name in names for upstream in definition.step(name).upstream]
    while pending:
        name = pending.pop()
        if name not in seen:
            seen.add(name)
            pending.extend(definition.step(name).upstream)
    return seen - set(names)


def downstream_closure(definition: PipelineDefinition, names: Collection[str]) -> set[str]:
    """The named steps and every step that depends on them, directly or not."""
    found = set(names)
    changed = True
    while changed:
        changed = False
        for step in definition.steps:
            if step.name not in found and found.intersection(step.upstream):
                found.add(step.name)
                changed = True
    return found
