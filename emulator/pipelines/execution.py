"""The pipeline execution driver: the worker's executor for `PipelineExecution` items.

It runs in a worker thread and loops: advance running steps (poll, stop, retry), ask the pure scheduler
what may start, start it, and end the execution when the scheduler says so. Every decision is written to
the store before the next one is taken, so a restarted worker resumes an execution exactly where it was
(the item is `resumable`, see `emulator/jobs/worker.py`). Steps never run in this thread for long: jobs
run in the worker's job slots, this loop only watches them.

Not for: the API (see `emulator/sagemaker/pipeline_executions.py`), expression semantics
(`expressions.py`) or what each step type does (`steps/`).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from emulator import aws_clients
from emulator.jobs.context import JobRun
from emulator.pipelines import records
from emulator.pipelines.caching import CacheConfigError, cache_key, cache_window_seconds
from emulator.pipelines.definition import PipelineDefinition, Step, StepType, parse_definition
from emulator.pipelines.expressions import EvaluationContext, ExpressionError, resolve
from emulator.pipelines.retry import next_attempt_delay
from emulator.pipelines.scheduler import (
    ENDED_EXECUTION_STATUSES,
    RUNNING_STEP_STATUSES,
    ExecutionStatus,
    StepState,
    StepStatus,
    plan,
)
from emulator.pipelines.steps import EXECUTORS
from emulator.pipelines.steps.base import SERVICE_FAULT, Finished, Started, StepContext
from emulator.store.repository import AlreadyExists, ListQuery, Resource

log = logging.getLogger(__name__)

# A driver looks at its steps when the worker says a job ended (see `Wakeup`), and at least this
# often, for changes made by other processes (a Stop request, a callback, a job run by another worker).
POLL_SECONDS = 0.1


def run_pipeline_execution(run: JobRun) -> None:
    driver = ExecutionDriver(run)
    while not run.shutdown.is_set():
        generation = run.wakeup.generation
        if driver.tick():
            return
        run.wakeup.wait(generation, POLL_SECONDS)


class ExecutionDriver:
    def __init__(self, run: JobRun) -> None:
        self.run = run
        self.store = run.store
        self.execution_id = run.name

    # -- the loop ---------------------------------------------------------------------------------
    def tick(self) -> bool:
        """One round; True once the execution has ended."""
        execution = self._execution()
        if execution.status in ENDED_EXECUTION_STATUSES:
            return True
        stopping = execution.status == ExecutionStatus.STOPPING
        steps = self._steps()
        for record in steps.values():
            if record.status in RUNNING_STEP_STATUSES:
                self._advance(record, stopping, steps)
        steps = self._steps()
        next_move = plan(
            self.definition,
            {name: _state(record) for name, record in steps.items()},
            max_parallel=self._max_parallel(execution),
            stopping=stopping,
            eligible=self._eligible,
        )
        for name in next_move.start:
            self._start_step(self.definition.step(name), steps)
        if next_move.ended is not None:
            self._end(next_move.ended, steps)
            return True
        return False

    # -- loading ----------------------------------------------------------------------------------
    def _execution(self) -> Resource:
        found = self.store.get(records.EXECUTION, self.execution_id)
        if found is None:
            raise LookupError(f"pipeline execution {self.execution_id} disappeared")
        return found

    @cached_property
    def _start_state(self) -> Resource:
        return self._execution()

    @cached_property
    def definition(self) -> PipelineDefinition:
        return parse_definition(self._start_state.extra["Definition"])

    @cached_property
    def _eligible(self) -> set[str] | None:
        selected = self._start_state.extra.get("SelectedSteps")
        return set(selected) if selected is not None else None

    @property
    def arn(self) -> str:
        return str(self._start_state.arn)

    def _steps(self) -> dict[str, Resource]:
        rows = self.store.query(ListQuery(kind=records.STEP, parent=self.arn, descending=False))
        return {row.document["StepName"]: row for row in rows}

    def _max_parallel(self, execution: Resource) -> int | None:
        configuration = execution.document.get("ParallelismConfiguration") or {}
        value = configuration.get("MaxParallelExecutionSteps")
        return int(value) if value else None

    # -- starting a step --------------------------------------------------------------------------
    def _start_step(self, step: Step, steps: Mapping[str, Resource]) -> None:
        now = time.time()
        document = {
            "StepName": step.name,
            "StepDisplayName": step.raw.get("DisplayName"),
            "StepDescription": step.raw.get("Description"),
            "StartTime": now,
            "StepStatus": StepStatus.STARTING.value,
            "AttemptCount": 0,
        }
        record_name = records.step_record_name(self.execution_id, step.name)
        try:
            self.store.insert(
                records.STEP,
                record_name,
                {key: value for key, value in document.items() if value is not None},
                status=StepStatus.STARTING.value,
                parent=self.arn,
                created_at=now,
                extra={"FirstStartedAt": now},
            )
        except AlreadyExists:
            return  # another driver of this execution got there first
        self._begin(record_name, step, steps)

    def _begin(self, record_name: str, step: Step, steps: Mapping[str, Resource]) -> None:
        """Resolve the step's arguments, then reuse a cached result or make the first attempt."""
        try:
            arguments = resolve(_arguments_to_resolve(step), self._evaluation(steps))
        except ExpressionError as error:
            self._finish(record_name, Finished(StepStatus.FAILED, failure_reason=str(error)))
            return
        if self._reuse_cached(step, record_name, arguments):
            return
        self._attempt(record_name, step, arguments, steps)

    def _attempt(self, record_name: str, step: Step, arguments: dict[str, Any], steps: Mapping[str, Resource]) -> None:
        executor = EXECUTORS[step.type]
        try:
            result = executor.start(self._step_context(step, steps), arguments)
        except ExpressionError as error:  # a Condition whose values cannot be compared: the user's to fix
            result = Finished(StepStatus.FAILED, failure_reason=str(error))
        except Exception as error:  # an emulator bug must fail the step, not the whole loop
            log.error("step %s of %s crashed:\n%s", step.name, self.execution_id, traceback.format_exc())
            result = Finished(
                StepStatus.FAILED, failure_reason=f"InternalServerError: {error!r}", error_type=SERVICE_FAULT
            )

        def started(current: Resource) -> dict[str, Any]:
            document = {**current.document, "AttemptCount": current.document.get("AttemptCount", 0) + 1}
            if isinstance(result, Started):
                document.update(StepStatus=StepStatus.EXECUTING.value, Metadata=dict(result.metadata))
            return document

        if isinstance(result, Started):
            self.run.wakeup.notify()  # the job it created is waiting to be claimed
        extra = self._extra(record_name)
        extra.update(Arguments=arguments, NextAttemptAt=None)
        extra["Handle"] = dict(result.handle) if isinstance(result, Started) else None
        status = StepStatus.EXECUTING.value if isinstance(result, Started) else None
        self.store.update(records.STEP, record_name, started, status=status, extra=extra)
        if isinstance(result, Finished):
            self._finish(record_name, result)

    # -- advancing a running step -------------------------------------------------------------------
    def _advance(self, record: Resource, stopping: bool, steps: Mapping[str, Resource]) -> None:
        step = self.definition.step(record.document["StepName"])
        handle = record.extra.get("Handle")
        if stopping:
            self._stop_step(record, step, handle, steps)
            return
        if handle is None:  # waiting for a retry, or a driver stopped before the first attempt was recorded
            due = record.extra.get("NextAttemptAt")
            if due is not None and time.time() >= due:
                self._attempt(record.name, step, record.extra.get("Arguments", {}), steps)
            elif due is None:
                self._begin(record.name, step, steps)
            return
        try:
            outcome = EXECUTORS[step.type].poll(self._step_context(step, steps), handle)
        except Exception as error:
            log.error("polling step %s crashed:\n%s", step.name, traceback.format_exc())
            outcome = Finished(StepStatus.FAILED, failure_reason=f"InternalServerError: {error!r}")
        if outcome is not None:
            self._finish(record.name, outcome)

    def _stop_step(
        self, record: Resource, step: Step, handle: Mapping[str, Any] | None, steps: Mapping[str, Resource]
    ) -> None:
        if handle is None or record.status == StepStatus.STARTING:
            self._finish(record.name, Finished(StepStatus.STOPPED))
            return
        if record.status != StepStatus.STOPPING:
            EXECUTORS[step.type].stop(self._step_context(step, steps), handle)
            self.store.update(
                records.STEP,
                record.name,
                lambda current: {**current.document, "StepStatus": StepStatus.STOPPING.value},
                status=StepStatus.STOPPING.value,
            )
        outcome = EXECUTORS[step.type].poll(self._step_context(step, steps), handle)
        if outcome is not None:
            self._finish(record.name, outcome)

    def _finish(self, record_name: str, outcome: Finished) -> None:
        """Record how an attempt ended: retried later, or the step's final status."""
        record = self.store.get(records.STEP, record_name)
        assert record is not None
        step = self.definition.step(record.document["StepName"])
        extra = dict(record.extra)
        if outcome.status is StepStatus.FAILED:
            delay = next_attempt_delay(
                step.raw.get("RetryPolicies"),
                outcome.error_type,
                int(record.document.get("AttemptCount", 1)),
                time.time() - float(extra.get("FirstStartedAt", time.time())),
            )
            if delay is not None and self._execution().status == ExecutionStatus.EXECUTING:
                log.info("step %s failed (%s); retrying in %.1fs", step.name, outcome.error_type, delay)
                extra.update(Handle=None, NextAttemptAt=time.time() + delay, LastFailure=outcome.failure_reason)
                self.store.update(records.STEP, record_name, lambda current: dict(current.document), extra=extra)
                return
        now = time.time()

        def ended(current: Resource) -> dict[str, Any]:
            document = {**current.document, "StepStatus": outcome.status.value, "EndTime": now}
            if outcome.metadata is not None:
                document["Metadata"] = dict(outcome.metadata)
            if outcome.failure_reason:
                document["FailureReason"] = outcome.failure_reason[:3072]
            return document

        extra.update(Handle=None, Properties=dict(outcome.properties))
        self.store.update(records.STEP, record_name, ended, status=outcome.status.value, extra=extra)
        if outcome.status is StepStatus.SUCCEEDED:
            self._remember_for_cache(step, record_name, extra.get("Arguments", {}))

    # -- caching ----------------------------------------------------------------------------------
    def _cache_entry(self, step: Step, arguments: dict[str, Any]) -> tuple[str, float] | None:
        try:
            window = cache_window_seconds(step.raw.get("CacheConfig"))
        except CacheConfigError:
            return None
        if window is None:
            return None
        key = cache_key(step.type.value, arguments, EXECUTORS[step.type].cache_attributes)
        pipeline_arn = records.pipeline_arn_of(self.arn)
        return records.cache_entry_name(pipeline_arn, step.name, key), window

    def _reuse_cached(self, step: Step, record_name: str, arguments: dict[str, Any]) -> bool:
        entry = self._cache_entry(step, arguments)
        if entry is None:
            return False
        cached = self.store.get(records.STEP_CACHE, entry[0])
        if cached is None or time.time() - cached.modified_at > entry[1]:
            return False
        source = self.store.get(records.STEP, cached.document["StepRecord"])
        if source is None or source.status != StepStatus.SUCCEEDED:
            return False
        now = time.time()

        def hit(current: Resource) -> dict[str, Any]:
            document = {**current.document, "StepStatus": StepStatus.SUCCEEDED.value, "EndTime": now}
            document["CacheHitResult"] = {"SourcePipelineExecutionArn": str(source.parent)}
            if "Metadata" in source.document:
                document["Metadata"] = source.document["Metadata"]
            return document

        extra = {**self._extra(record_name), "Arguments": arguments, "Properties": source.extra.get("Properties", {})}
        self.store.update(records.STEP, record_name, hit, status=StepStatus.SUCCEEDED.value, extra=extra)
        return True

    def _remember_for_cache(self, step: Step, record_name: str, arguments: dict[str, Any]) -> None:
        entry = self._cache_entry(step, arguments)
        if entry is None:
            return
        document = {"StepRecord": record_name}
        if self.store.get(records.STEP_CACHE, entry[0]) is None:
            self.store.insert(records.STEP_CACHE, entry[0], document)
        else:
            self.store.update(records.STEP_CACHE, entry[0], lambda current: document)

    # -- ending the execution -----------------------------------------------------------------------
    def _end(self, status: ExecutionStatus, steps: Mapping[str, Resource]) -> None:
        reason = _failure_reason(self.definition, steps) if status is ExecutionStatus.FAILED else None

        def ended(current: Resource) -> dict[str, Any]:
            document = {**current.document, "PipelineExecutionStatus": status.value, "LastModifiedTime": time.time()}
            if reason:
                document["FailureReason"] = reason[:1300]
            return document

        self.store.transition(
            records.EXECUTION,
            self.execution_id,
            (ExecutionStatus.EXECUTING.value, ExecutionStatus.STOPPING.value),
            status.value,
            ended,
        )

    # -- helpers ----------------------------------------------------------------------------------
    def _extra(self, record_name: str) -> dict[str, Any]:
        record = self.store.get(records.STEP, record_name)
        return dict(record.extra) if record is not None else {}

    def _step_context(self, step: Step, steps: Mapping[str, Resource]) -> StepContext:
        return StepContext(
            store=self.store,
            client=self._client,
            pipeline_name=records.pipeline_arn_of(self.arn).rsplit("/", 1)[-1],
            execution_id=self.execution_id,
            execution_arn=self.arn,
            step=step,
            evaluation=self._evaluation(steps),
        )

    def _client(self, service: str) -> Any:
        return aws_clients.client(self.run.settings.url, self.run.settings.region, service)

    def _evaluation(self, steps: Mapping[str, Resource]) -> EvaluationContext:
        start = self._start_state
        pipeline_arn = records.pipeline_arn_of(self.arn)
        variables = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.arn,
            "PipelineName": pipeline_arn.rsplit("/", 1)[-1],
            "PipelineArn": pipeline_arn,
            "StartDateTime": _iso(start.created_at),
            "CurrentDateTime": _iso(time.time()),
        }

        def properties(name: str) -> Mapping[str, Any] | None:
            record = steps.get(name)
            if record is None or record.status != StepStatus.SUCCEEDED:
                return None
            return dict(record.extra.get("Properties") or {})

        return EvaluationContext(
            definition=self.definition,
            parameters=start.extra.get("ParameterValues", {}),
            execution=variables,
            step_properties=properties,
            read_json=self._read_json,
        )

    def _read_json(self, uri: str) -> Any:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Error")
            raise ExpressionError(f"cannot read {uri}: {code}") from None
        try:
            return json.loads(body)
        except ValueError as error:
            raise ExpressionError(f"{uri} is not JSON: {error}") from None


def _state(record: Resource) -> StepState:
    status = StepStatus(record.status or StepStatus.STARTING)
    outcome_text = (record.document.get("Metadata") or {}).get("Condition", {}).get("Outcome")
    return StepState(status, None if outcome_text is None else outcome_text == "True")


def _arguments_to_resolve(step: Step) -> dict[str, Any]:
    """What to resolve before a step starts: a Condition's branches are steps of their own, not arguments."""
    if step.type is StepType.CONDITION:
        return {"Conditions": step.arguments.get("Conditions", [])}
    return step.arguments


def _failure_reason(definition: PipelineDefinition, steps: Mapping[str, Resource]) -> str:
    for name, record in steps.items():
        if record.status == StepStatus.FAILED:
            reason = record.document.get("FailureReason") or "the step failed"
            if definition.step(name).type is StepType.FAIL:
                return str(reason)
            return f"Step failure: {name} failed: {reason}"
    return "Step failure: One or multiple steps failed."


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
