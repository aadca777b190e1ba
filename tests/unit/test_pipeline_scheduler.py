"""The pure parts of running an execution: the scheduler (DAG from DependsOn, data references and
Condition branches; parallelism; failure and stop), cache keys and windows, retry delays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.pipelines.caching import CacheConfigError, cache_key, cache_window_seconds
from emulator.pipelines.definition import DefinitionError, parse_definition
from emulator.pipelines.retry import next_attempt_delay
from emulator.pipelines.scheduler import (
    ExecutionStatus,
    Plan,
    StepState,
    StepStatus,
    downstream_closure,
    plan,
    upstream_closure,
)

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
OK, FAILED, RUNNING = StepState(StepStatus.SUCCEEDED), StepState(StepStatus.FAILED), StepState(StepStatus.EXECUTING)


def step(name: str, depends_on: list[str] | None = None, **arguments: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {"Name": name, "Type": "Processing", "Arguments": arguments}
    if depends_on:
        raw["DependsOn"] = depends_on
    return raw


def definition(*steps: dict[str, Any]) -> Any:
    return parse_definition(json.dumps({"Version": "2020-12-01", "Steps": list(steps)}))


def condition(name: str, if_steps: list[dict[str, Any]], else_steps: list[dict[str, Any]]) -> dict[str, Any]:
    check = {"Type": "Equals", "LeftValue": 1, "RightValue": 1}
    return {
        "Name": name,
        "Type": "Condition",
        "Arguments": {"Conditions": [check], "IfSteps": if_steps, "ElseSteps": else_steps},
    }


def test_roots_start_first_in_definition_order() -> None:
    graph = definition(step("A"), step("B", ["A"]), step("C"))
    assert plan(graph, {}).start == ("A", "C")


def test_a_step_waits_for_depends_on_and_data_references() -> None:
    reads_a = {"Get": "Steps.A.ProcessingOutputConfig.Outputs['x'].S3Output.S3Uri"}
    graph = definition(step("A"), step("B", Input=reads_a), step("C", ["B"]))
    assert plan(graph, {"A": RUNNING}).start == ()
    assert plan(graph, {"A": OK}).start == ("B",)
    assert plan(graph, {"A": OK, "B": OK}).start == ("C",)
    assert plan(graph, {"A": OK, "B": OK, "C": OK}).ended is ExecutionStatus.SUCCEEDED


def test_parallelism_limits_how_many_start() -> None:
    graph = definition(*(step(f"S{i}") for i in range(5)))
    assert plan(graph, {}, max_parallel=2).start == ("S0", "S1")
    assert plan(graph, {"S0": RUNNING}, max_parallel=2).start == ("S1",)
    assert plan(graph, {"S0": RUNNING, "S1": RUNNING}, max_parallel=2).start == ()
    assert len(plan(graph, {}).start) == 5  # no limit by default, as the service


def test_only_the_branch_taken_starts() -> None:
    graph = definition(step("A"), condition("Check", [step("Yes", ["A"])], [step("No")]), step("Later", ["Yes"]))
    assert plan(graph, {"A": OK}).start == ("Check",)
    taken = {"A": OK, "Check": StepState(StepStatus.SUCCEEDED, outcome=True)}
    assert plan(graph, taken).start == ("Yes",)
    not_taken = {"A": OK, "Check": StepState(StepStatus.SUCCEEDED, outcome=False)}
    assert plan(graph, not_taken).start == ("No",)
    # Later depends on a step of the branch not taken: it never runs, and the execution still succeeds.
    assert plan(graph, {**not_taken, "No": OK}) == Plan((), ExecutionStatus.SUCCEEDED)


def test_after_a_failure_nothing_new_starts_and_running_steps_finish() -> None:
    graph = definition(step("A"), step("B"), step("C", ["A"]))
    during = plan(graph, {"A": FAILED, "B": RUNNING})
    assert during.start == () and during.ended is None
    assert plan(graph, {"A": FAILED, "B": OK}).ended is ExecutionStatus.FAILED


def test_stopping_starts_nothing_and_ends_stopped() -> None:
    graph = definition(step("A"), step("B", ["A"]))
    assert plan(graph, {"A": OK}, stopping=True) == plan(graph, {}, stopping=True)
    assert plan(graph, {"A": StepState(StepStatus.STOPPED)}).ended is ExecutionStatus.STOPPED


def test_selective_execution_runs_only_eligible_steps() -> None:
    graph = definition(step("A"), step("B", ["A"]), step("C", ["B"]))
    assert plan(graph, {"A": OK}, eligible={"B"}).start == ("B",)
    assert plan(graph, {"A": OK, "B": OK}, eligible={"B"}).ended is ExecutionStatus.SUCCEEDED


def test_closures_follow_every_kind_of_edge() -> None:
    graph = definition(step("A"), step("B", ["A"]), condition("Check", [step("D", ["B"])], []), step("E"))
    assert upstream_closure(graph, ["D"]) == {"A", "B", "Check"}
    assert downstream_closure(graph, ["A"]) == {"A", "B", "D"}


def test_cycles_are_refused_when_the_definition_is_parsed() -> None:
    with pytest.raises(DefinitionError, match="cycl"):
        definition(step("A", ["B"]), step("B", ["A"]))


@pytest.mark.parametrize("fixture", sorted(path.name for path in FIXTURES.glob("pipeline-*.json")))
def test_fixture_definitions_start_from_their_roots(fixture: str) -> None:
    document = json.loads((FIXTURES / fixture).read_text())
    graph = parse_definition(json.dumps(document.get("definition", document)))
    first = plan(graph, {}).start
    assert first and all(not graph.step(name).upstream for name in first)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1H", 3600), ("P30D", 30 * 86400), ("30d", 30 * 86400), ("T16m", 960), ("30dT5h", 30 * 86400 + 5 * 3600)],
)
def test_cache_windows_are_iso_8601_durations(text: str, seconds: float) -> None:
    assert cache_window_seconds({"Enabled": True, "ExpireAfter": text}) == seconds


def test_caching_off_or_malformed() -> None:
    assert cache_window_seconds(None) is None
    assert cache_window_seconds({"Enabled": False, "ExpireAfter": "PT1H"}) is None
    with pytest.raises(CacheConfigError, match="ISO 8601"):
        cache_window_seconds({"Enabled": True, "ExpireAfter": "one hour"})


def test_cache_keys_ignore_members_outside_the_step_types_attributes() -> None:
    attributes = ("AppSpecification", "ProcessingInputs")
    base = {"AppSpecification": {"ImageUri": "i"}, "ProcessingOutputConfig": {"Outputs": [{"S3Uri": "s3://x/1"}]}}
    moved = {**base, "ProcessingOutputConfig": {"Outputs": [{"S3Uri": "s3://x/2"}]}}
    changed = {**base, "AppSpecification": {"ImageUri": "j"}}
    assert cache_key("Processing", base, attributes) == cache_key("Processing", moved, attributes)
    assert cache_key("Processing", base, attributes) != cache_key("Processing", changed, attributes)
    assert cache_key("Processing", base, attributes) != cache_key("Training", base, attributes)


def test_retry_delays_back_off_until_attempts_or_time_run_out() -> None:
    policies = [{"ExceptionType": ["Step.THROTTLING"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 2}]
    assert next_attempt_delay(policies, "Step.THROTTLING", attempts_made=1, seconds_since_first_start=0) == 2
    assert next_attempt_delay(policies, "Step.THROTTLING", attempts_made=2, seconds_since_first_start=0) == 6
    assert next_attempt_delay(policies, "Step.THROTTLING", attempts_made=3, seconds_since_first_start=0) is None
    assert next_attempt_delay(policies, "Step.SERVICE_FAULT", attempts_made=1, seconds_since_first_start=0) is None
    assert next_attempt_delay(policies, None, attempts_made=1, seconds_since_first_start=0) is None
    timed = [{"ExceptionType": ["SageMaker.CAPACITY_ERROR"], "IntervalSeconds": 30, "ExpireAfterMin": 1}]
    assert next_attempt_delay(timed, "SageMaker.CAPACITY_ERROR", 1, seconds_since_first_start=10) == 30
    assert next_attempt_delay(timed, "SageMaker.CAPACITY_ERROR", 1, seconds_since_first_start=40) is None
    never = [{"ExceptionType": ["Step.SERVICE_FAULT"], "MaxAttempts": 0}]
    assert next_attempt_delay(never, "Step.SERVICE_FAULT", 1, 0) is None
