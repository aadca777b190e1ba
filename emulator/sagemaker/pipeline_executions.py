"""Pipeline executions: Start, Describe, List, ListSteps, ListParametersForExecution,
DescribePipelineDefinitionForExecution, Stop, Retry, Update, and the callback-step Send*Success/Failure.

An execution row keeps the definition as it was at start and its typed parameters (see
`emulator/pipelines/records.py`); the worker's driver (`emulator/pipelines/execution.py`) runs it. These
operations only record requests — start, stop, retry — that the driver then carries out.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from emulator.api.errors import Conflict, ResourceNotFound, ValidationError
from emulator.api.pagination import page_of, query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.pipelines import records
from emulator.pipelines.definition import PipelineDefinition, parse_definition
from emulator.pipelines.expressions import to_text
from emulator.pipelines.parameters import ParameterError, convert_parameters
from emulator.pipelines.scheduler import ExecutionStatus, StepStatus, upstream_closure
from emulator.pipelines.steps.callback import CALLBACK, FAILED, SUCCEEDED, WAITING
from emulator.sagemaker.common import project, sagemaker_operation, without_none
from emulator.sagemaker.pipelines import get_pipeline, pipeline_version
from emulator.store.repository import AlreadyExists, ListQuery, Resource

_TOKEN = "PipelineExecutionToken"  # ClientRequestToken -> execution, for idempotent starts


def get_execution(ctx: RequestContext, arn: str) -> Resource:
    found = ctx.store.get(records.EXECUTION, records.execution_id_of(arn))
    if found is None or found.arn != arn:
        raise ResourceNotFound(f"Pipeline execution '{arn}' does not exist.")
    return found


@sagemaker_operation("StartPipelineExecution")
def start_pipeline_execution(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    token_name = f"{pipeline.arn}|{request['ClientRequestToken']}"
    earlier = ctx.store.get(_TOKEN, token_name)
    if earlier is not None:
        return {"PipelineExecutionArn": earlier.document["PipelineExecutionArn"]}
    described, version_id = pipeline_version(ctx, pipeline, request.get("PipelineVersionId"))
    definition_text = described["PipelineDefinition"]
    definition = parse_definition(definition_text)
    supplied = request.get("PipelineParameters")
    try:
        typed = convert_parameters(definition, supplied)
    except ParameterError as error:
        raise ValidationError(str(error)) from None
    execution_id = records.new_execution_id()
    arn = records.execution_arn(str(pipeline.arn), execution_id)
    selected, reused = _selective_execution(ctx, definition, request.get("SelectiveExecutionConfig"), pipeline)
    now = time.time()
    document = without_none(
        {
            "PipelineArn": pipeline.arn,
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": request.get("PipelineExecutionDisplayName", f"execution-{int(now * 1000)}"),
            "PipelineExecutionStatus": ExecutionStatus.EXECUTING.value,
            "PipelineExecutionDescription": request.get("PipelineExecutionDescription"),
            "PipelineExperimentConfig": _experiment_config(definition, pipeline, execution_id),
            "CreationTime": now,
            "LastModifiedTime": now,
            "ParallelismConfiguration": request.get("ParallelismConfiguration")
            or described.get("ParallelismConfiguration"),
            "SelectiveExecutionConfig": request.get("SelectiveExecutionConfig"),
            "PipelineVersionId": version_id,
        }
    )
    extra = {
        "Definition": definition_text,
        "ParameterValues": typed,
        "ParameterTexts": _parameter_texts(definition, supplied, typed),
        "SelectedSteps": selected,
    }
    for step_record in reused:  # selective execution: results of the source's unselected steps
        _copy_step(ctx, step_record, execution_id, arn)
    ctx.store.insert(
        records.EXECUTION, execution_id, document, arn=arn, status=document["PipelineExecutionStatus"],
        parent=pipeline.arn, extra=extra, created_at=now, enqueue=True,
    )  # fmt: skip
    with contextlib.suppress(AlreadyExists):  # a concurrent retry of the same request
        ctx.store.insert(_TOKEN, token_name, {"PipelineExecutionArn": arn})
    ctx.store.update("Pipeline", pipeline.name, lambda current: {**current.document, "LastRunTime": now})
    return {"PipelineExecutionArn": arn}


def _experiment_config(definition: PipelineDefinition, pipeline: Resource, execution_id: str) -> dict[str, Any] | None:
    """The definition's experiment settings with the execution's names filled in (the SDK's default
    names the experiment after the pipeline and the trial after the execution id)."""
    configured = definition.document.get("PipelineExperimentConfig")
    if not isinstance(configured, dict):
        return None
    variables = {"Execution.PipelineName": pipeline.name, "Execution.PipelineExecutionId": execution_id}
    resolved = {}
    for member in ("ExperimentName", "TrialName"):
        value = configured.get(member)
        if isinstance(value, dict) and value.get("Get") in variables:
            value = variables[value["Get"]]
        if isinstance(value, str):
            resolved[member] = value
    return resolved or None


def _parameter_texts(
    definition: PipelineDefinition, supplied: list[dict[str, str]] | None, typed: dict[str, Any]
) -> list[dict[str, str]]:
    """Every parameter as ListPipelineParametersForExecution shows it: as sent, defaults as text."""
    given = {item["Name"]: item["Value"] for item in supplied or ()}
    texts = []
    for parameter in definition.parameters:
        value = given.get(parameter.name, typed.get(parameter.name))
        texts.append({"Name": parameter.name, "Value": value if isinstance(value, str) else to_text(value)})
    return texts


def _selective_execution(
    ctx: RequestContext, definition: PipelineDefinition, config: dict[str, Any] | None, pipeline: Resource
) -> tuple[list[str] | None, list[Resource]]:
    """Selected step names, and the source's step rows whose results the selected steps need."""
    if config is None:
        return None, []
    source = get_execution(ctx, config["SourcePipelineExecutionArn"])
    if source.parent != pipeline.arn:
        raise ValidationError("SourcePipelineExecutionArn must be an execution of the same pipeline.")
    selected = [item["StepName"] for item in config.get("SelectedSteps", [])]
    known = {step.name for step in definition.steps}
    for name in selected:
        if name not in known:
            raise ValidationError(f"Selected step '{name}' is not a step of the pipeline definition.")
    source_steps = {row.document["StepName"]: row for row in _step_rows(ctx, str(source.arn))}
    reused = []
    for name in sorted(upstream_closure(definition, selected)):
        row = source_steps.get(name)
        if row is None or row.status != StepStatus.SUCCEEDED:
            raise ValidationError(
                f"Step '{name}' is needed by the selected steps but did not succeed in the source execution "
                f"{source.arn}; select it too, or choose a source execution where it succeeded."
            )
        reused.append(row)
    return selected, reused


def _copy_step(ctx: RequestContext, row: Resource, execution_id: str, execution_arn: str) -> None:
    document = {**row.document, "SelectiveExecutionResult": {"SourcePipelineExecutionArn": row.parent}}
    ctx.store.insert(
        records.STEP, records.step_record_name(execution_id, row.document["StepName"]), document,
        status=row.status, parent=execution_arn, extra={"Properties": row.extra.get("Properties", {})},
    )  # fmt: skip


def _step_rows(ctx: RequestContext, execution_arn: str, descending: bool = False) -> list[Resource]:
    return ctx.store.query(ListQuery(kind=records.STEP, parent=execution_arn, descending=descending))


@sagemaker_operation("DescribePipelineExecution")
def describe_pipeline_execution(ctx: RequestContext, request: Request) -> Response:
    return get_execution(ctx, request["PipelineExecutionArn"]).document


@sagemaker_operation("ListPipelineExecutions")
def list_pipeline_executions(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    query = ListQuery(
        kind=records.EXECUTION,
        parent=pipeline.arn,
        created_after=request.get("CreatedAfter"),
        created_before=request.get("CreatedBefore"),
        sort_by="name" if request.get("SortBy") == "PipelineExecutionArn" else "created_at",
        descending=request.get("SortOrder", "Descending") == "Descending",
    )
    rows, token = query_page(ctx.store.query, query, request)
    return without_none({"PipelineExecutionSummaries": [_summary(row.document) for row in rows], "NextToken": token})


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    summary = project(document, "PipelineExecutionSummary")
    summary["StartTime"] = document["CreationTime"]
    if document.get("FailureReason"):
        summary["PipelineExecutionFailureReason"] = document["FailureReason"]
    return summary


@sagemaker_operation("ListPipelineExecutionSteps")
def list_pipeline_execution_steps(ctx: RequestContext, request: Request) -> Response:
    if not request.get("PipelineExecutionArn"):  # optional in the model, needed by the service
        raise ValidationError(
            "1 validation error detected: Value null at 'pipelineExecutionArn' failed to satisfy constraint: "
            "Member must not be null"
        )
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    query = ListQuery(
        kind=records.STEP,
        parent=execution.arn,
        descending=request.get("SortOrder", "Descending") == "Descending",
    )
    rows, token = query_page(ctx.store.query, query, request)
    return without_none({"PipelineExecutionSteps": [row.document for row in rows], "NextToken": token})


@sagemaker_operation("ListPipelineParametersForExecution")
def list_pipeline_parameters_for_execution(ctx: RequestContext, request: Request) -> Response:
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    page, token = page_of(execution.extra.get("ParameterTexts", []), request, default_size=50, scope=execution.arn)
    return without_none({"PipelineParameters": page, "NextToken": token})


@sagemaker_operation("DescribePipelineDefinitionForExecution")
def describe_pipeline_definition_for_execution(ctx: RequestContext, request: Request) -> Response:
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    return {"PipelineDefinition": execution.extra["Definition"], "CreationTime": execution.created_at}


@sagemaker_operation("StopPipelineExecution")
def stop_pipeline_execution(ctx: RequestContext, request: Request) -> Response:
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    moved = ctx.store.transition(
        records.EXECUTION,
        execution.name,
        (ExecutionStatus.EXECUTING.value,),
        ExecutionStatus.STOPPING.value,
        lambda current: {
            **current.document,
            "PipelineExecutionStatus": ExecutionStatus.STOPPING.value,
            "LastModifiedTime": time.time(),
        },
    )
    if moved is None:
        latest = ctx.store.get(records.EXECUTION, execution.name) or execution
        if latest.status != ExecutionStatus.STOPPING:
            raise ValidationError(
                f"Pipeline execution '{execution.arn}' is in status {latest.status} and cannot be stopped."
            )
    return {"PipelineExecutionArn": execution.arn}


@sagemaker_operation("RetryPipelineExecution")
def retry_pipeline_execution(ctx: RequestContext, request: Request) -> Response:
    """Run the failed and stopped steps again (and what depends on them); succeeded steps are kept."""
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    if execution.status not in (ExecutionStatus.FAILED, ExecutionStatus.STOPPED):
        raise ValidationError(
            f"Pipeline execution '{execution.arn}' is in status {execution.status}; "
            "only Failed or Stopped executions can be retried."
        )
    for row in _step_rows(ctx, str(execution.arn)):
        if row.status in (StepStatus.FAILED, StepStatus.STOPPED):
            ctx.store.delete(records.STEP, row.name)

    def retried(current: Resource) -> dict[str, Any]:
        document = {key: value for key, value in current.document.items() if key != "FailureReason"}
        document.update(PipelineExecutionStatus=ExecutionStatus.EXECUTING.value, LastModifiedTime=time.time())
        if request.get("ParallelismConfiguration"):
            document["ParallelismConfiguration"] = request["ParallelismConfiguration"]
        return document

    if ctx.store.transition(records.EXECUTION, execution.name, (execution.status,), "Executing", retried) is None:
        raise Conflict(f"Pipeline execution '{execution.arn}' changed while being retried; try again.")
    ctx.store.work.requeue(records.EXECUTION, execution.name)
    return {"PipelineExecutionArn": execution.arn}


@sagemaker_operation("UpdatePipelineExecution")
def update_pipeline_execution(ctx: RequestContext, request: Request) -> Response:
    execution = get_execution(ctx, request["PipelineExecutionArn"])
    changes = without_none(
        {
            "PipelineExecutionDescription": request.get("PipelineExecutionDescription"),
            "PipelineExecutionDisplayName": request.get("PipelineExecutionDisplayName"),
            "ParallelismConfiguration": request.get("ParallelismConfiguration"),
        }
    )
    ctx.store.update(
        records.EXECUTION,
        execution.name,
        lambda current: {**current.document, **changes, "LastModifiedTime": time.time()},
    )
    return {"PipelineExecutionArn": execution.arn}


@sagemaker_operation("SendPipelineExecutionStepSuccess")
def send_pipeline_execution_step_success(ctx: RequestContext, request: Request) -> Response:
    outcome = {"OutputParameters": request.get("OutputParameters", [])}
    return _complete_callback(ctx, request["CallbackToken"], SUCCEEDED, outcome)


@sagemaker_operation("SendPipelineExecutionStepFailure")
def send_pipeline_execution_step_failure(ctx: RequestContext, request: Request) -> Response:
    outcome = {"FailureReason": request.get("FailureReason") or "The callback step was reported as failed."}
    return _complete_callback(ctx, request["CallbackToken"], FAILED, outcome)


def _complete_callback(ctx: RequestContext, token: str, status: str, outcome: dict[str, Any]) -> Response:
    callback = ctx.store.get(CALLBACK, token)
    if callback is None:
        raise ResourceNotFound(f"Callback token '{token}' does not exist.")
    moved = ctx.store.transition(CALLBACK, token, (WAITING,), status, lambda current: {**current.document, **outcome})
    if moved is None:
        raise Conflict(f"The callback step for token '{token}' has already completed.")
    return {"PipelineExecutionArn": callback.document["PipelineExecutionArn"]}
