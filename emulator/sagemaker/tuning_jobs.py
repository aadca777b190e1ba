"""Hyperparameter tuning jobs: CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob,
ListHyperParameterTuningJobs, StopHyperParameterTuningJob and ListTrainingJobsForHyperParameterTuningJob.

Create checks the request as the service does (definitions, ranges, strategy limits, warm start parents) and
queues the tuning job; the coordinator in the worker (`emulator.jobs.tuning`) launches its training jobs. Those
are ordinary training jobs whose row has the tuning job's ARN as parent and, in `extra["Tuning"]`, the trial's
index, definition, tuned hyperparameters and Hyperband bracket: `trials_of` rebuilds the tuning job's view of
them from the store, for the List operation here and for the coordinator.

Not for: choosing hyperparameters or stopping jobs (`emulator.tuning`, `emulator.jobs.tuning`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from emulator.api.errors import ResourceNotFound, ValidationError
from emulator.api.pagination import page_of, query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import jobs
from emulator.sagemaker.common import list_query, sagemaker_operation, without_none
from emulator.sagemaker.training_jobs import check_supported
from emulator.store.repository import ListQuery, Resource, Store
from emulator.tuning import progress
from emulator.tuning.definitions import Definition, definitions_of
from emulator.tuning.early_stopping import hyperband_plan
from emulator.tuning.progress import Trial
from emulator.tuning.space import SpaceError
from emulator.tuning.strategies import GRID, HYPERBAND

KIND = "HyperParameterTuningJob"
TERMINAL = ("Completed", "Failed", "Stopped")


@sagemaker_operation("CreateHyperParameterTuningJob")
def create_hyper_parameter_tuning_job(ctx: RequestContext, request: Request) -> Response:
    definitions = check_request(ctx, request)
    config = {"TrainingJobEarlyStoppingType": "Off", **request["HyperParameterTuningJobConfig"]}
    if config["Strategy"] == GRID and "MaxNumberOfTrainingJobs" not in config["ResourceLimits"]:
        combinations = sum(len(definition.space.grid()) for definition in definitions)
        config["ResourceLimits"] = {**config["ResourceLimits"], "MaxNumberOfTrainingJobs": combinations}
    initial = {
        **_with_objective_hyperparameter(request, definitions),
        "HyperParameterTuningJobStatus": jobs.IN_PROGRESS,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobStatusCounters": progress.status_counters([]),
        "ObjectiveStatusCounters": progress.objective_counters([]),
    }
    arn = jobs.create_job(
        ctx,
        request,
        kind=KIND,
        arn_type="hyper-parameter-tuning-job",
        name=request["HyperParameterTuningJobName"],
        describe_shape="DescribeHyperParameterTuningJobResponse",
        initial=initial,
        extra={"Seed": secrets.randbits(31)},  # the RandomSeed used when the request gives none
    )
    return {"HyperParameterTuningJobArn": arn}


@sagemaker_operation("DescribeHyperParameterTuningJob")
def describe_hyper_parameter_tuning_job(ctx: RequestContext, request: Request) -> Response:
    document = dict(get_tuning_job(ctx.store, request["HyperParameterTuningJobName"]).document)
    if document["HyperParameterTuningJobStatus"] in (jobs.IN_PROGRESS, jobs.STOPPING):
        document["ConsumedResources"] = {"RuntimeInSeconds": int(time.time() - document["CreationTime"])}
    return document


@sagemaker_operation("ListHyperParameterTuningJobs")
def list_hyper_parameter_tuning_jobs(ctx: RequestContext, request: Request) -> Response:
    query = list_query(KIND, request, default_sort="Name", default_order="Ascending")
    rows, token = query_page(ctx.store.query, query, request)
    summaries = [_tuning_summary(row.document) for row in rows]
    return without_none({"HyperParameterTuningJobSummaries": summaries, "NextToken": token})


@sagemaker_operation("StopHyperParameterTuningJob")
def stop_hyper_parameter_tuning_job(ctx: RequestContext, request: Request) -> Response:
    get_tuning_job(ctx.store, request["HyperParameterTuningJobName"])
    return jobs.stop_job(ctx, KIND, request["HyperParameterTuningJobName"], lambda document: document)


@sagemaker_operation("ListTrainingJobsForHyperParameterTuningJob")
def list_training_jobs_for_hyper_parameter_tuning_job(ctx: RequestContext, request: Request) -> Response:
    tuning = get_tuning_job(ctx.store, request["HyperParameterTuningJobName"])
    trials = trials_of(ctx.store, tuning)
    if request.get("StatusEquals"):
        trials = [trial for trial in trials if trial.status == request["StatusEquals"]]
    sort_by = request.get("SortBy", "Name")
    if sort_by == "FinalObjectiveMetricValue":  # as the service documents: jobs without an objective are left out
        trials = [trial for trial in trials if trial.value is not None]
    trials.sort(key=progress.sort_key(sort_by), reverse=request.get("SortOrder", "Ascending") == "Descending")
    scope = [tuning.name, request.get("StatusEquals"), sort_by, request.get("SortOrder")]
    page, token = page_of(trials, request, default_size=10, scope=scope)
    return without_none({"TrainingJobSummaries": [trial.summary() for trial in page], "NextToken": token})


def get_tuning_job(store: Store, name: str) -> Resource:
    found = store.get(KIND, name)
    if found is None:
        raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {name}")
    return found


def trials_of(store: Store, tuning: Resource) -> list[Trial]:
    """The training jobs a tuning job launched, in launch order, as the tuning job reports them."""
    by_name = {definition.name: definition for definition in definitions_of(tuning.document)}
    query = ListQuery(kind="TrainingJob", parent=tuning.arn, sort_by="created_at", descending=False)
    trials = []
    for row in store.query(query):
        record = row.extra.get("Tuning", {})
        definition = by_name.get(record.get("DefinitionName"))
        if definition is None:
            continue
        trials.append(
            Trial(
                index=int(record["Index"]),
                document=row.document,
                tuned=record["TunedHyperParameters"],
                objective=definition.objective,
                tuning_job_name=tuning.name,
                definition_name=definition.name,
                bracket=int(record.get("Bracket", 0)),
            )
        )
    return sorted(trials, key=lambda trial: trial.index)


def check_request(ctx: RequestContext, request: Request) -> list[Definition]:
    """The request's definitions, after every check the service makes before accepting a tuning job."""
    if request.get("Autotune"):
        raise ValidationError("Autotune is not supported by this emulator; give the tuning job configuration.")
    try:
        definitions = definitions_of(request)
    except ValueError as error:
        raise ValidationError(str(error)) from None
    config = request["HyperParameterTuningJobConfig"]
    _check_strategy(config, definitions)
    for definition in definitions:
        sample = definition.training_request("check", {name: "0" for name in definition.space.names}, [])
        check_supported(sample)
    if "WarmStartConfig" in request:
        _check_warm_start(ctx, request, definitions)
    return definitions


def _check_strategy(config: dict[str, Any], definitions: list[Definition]) -> None:
    strategy, limits = config["Strategy"], config["ResourceLimits"]
    if "StrategyConfig" in config and strategy != HYPERBAND:
        raise ValidationError("StrategyConfig applies only to the Hyperband strategy.")
    if strategy == GRID:
        try:
            combinations = sum(len(definition.space.grid()) for definition in definitions)
        except SpaceError as error:
            raise ValidationError(str(error)) from None
        given = limits.get("MaxNumberOfTrainingJobs")
        if given is not None and given != combinations:
            raise ValidationError(
                f"With the Grid strategy, MaxNumberOfTrainingJobs must equal the number of distinct categorical "
                f"combinations ({combinations}), or be left out; it is {given}."
            )
    elif "MaxNumberOfTrainingJobs" not in limits:
        raise ValidationError(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy.")
    if strategy == HYPERBAND:
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise ValidationError(
                "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which stops jobs early itself."
            )
        hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")
        for definition in definitions:
            try:
                hyperband_plan(hyperband, definition.static)
            except ValueError as error:
                raise ValidationError(str(error)) from None


def _check_warm_start(ctx: RequestContext, request: Request, definitions: list[Definition]) -> None:
    warm_start = request["WarmStartConfig"]
    if len(definitions) != 1 or definitions[0].name is not None:
        raise ValidationError("WarmStartConfig is supported here only for a tuning job with a TrainingJobDefinition.")
    definition = definitions[0]
    for item in warm_start["ParentHyperParameterTuningJobs"]:
        parent_name = item.get("HyperParameterTuningJobName", "")
        parent = ctx.store.get(KIND, parent_name)
        if parent is None:
            raise ResourceNotFound(f"Amazon SageMaker can't find a tuning job with name {parent_name}")
        if parent.status not in TERMINAL:
            raise ValidationError(
                f"The parent tuning job {parent_name} is {parent.status}; "
                "a parent must be Completed, Stopped or Failed."
            )
        parents = definitions_of(parent.document)
        if len(parents) != 1 or parents[0].name is not None:
            raise ValidationError(f"The parent tuning job {parent_name} must have a TrainingJobDefinition.")
        _check_parent(parent_name, parents[0], definition, warm_start["WarmStartType"])


def _check_parent(parent_name: str, parent: Definition, child: Definition, warm_start_type: str) -> None:
    if parent.objective != child.objective:
        raise ValidationError(
            f"The objective metric of the parent tuning job {parent_name} ({parent.objective.metric_name}, "
            f"{parent.objective.type}) differs from this tuning job's; warm start needs the same objective."
        )
    if warm_start_type != "IdenticalDataAndAlgorithm":
        return
    same = (
        parent.spec["AlgorithmSpecification"].get("TrainingImage")
        == child.spec["AlgorithmSpecification"].get("TrainingImage")
        and parent.spec.get("InputDataConfig") == child.spec.get("InputDataConfig")
        and _hyperparameter_names(parent) == _hyperparameter_names(child)
    )
    if not same:
        raise ValidationError(
            f"WarmStartType IdenticalDataAndAlgorithm needs the same training image, input data and hyperparameter "
            f"names (static plus tunable) as the parent tuning job {parent_name}; use TransferLearning otherwise."
        )


def _with_objective_hyperparameter(request: Request, definitions: list[Definition]) -> dict[str, Any]:
    """The definitions with the static hyperparameter the service adds, `_tuning_objective_metric` (the
    objective's metric name, not JSON-encoded), which every training job then receives."""

    def added(spec: dict[str, Any], definition: Definition) -> dict[str, Any]:
        static = {**spec.get("StaticHyperParameters", {}), "_tuning_objective_metric": definition.objective.metric_name}
        return {**spec, "StaticHyperParameters": static}

    if "TrainingJobDefinition" in request:
        return {"TrainingJobDefinition": added(request["TrainingJobDefinition"], definitions[0])}
    pairs = zip(request["TrainingJobDefinitions"], definitions, strict=True)
    return {"TrainingJobDefinitions": [added(spec, definition) for spec, definition in pairs]}


def _hyperparameter_names(definition: Definition) -> set[str]:
    return (set(definition.static) | set(definition.space.names)) - {"_tuning_objective_metric"}


def _tuning_summary(document: dict[str, Any]) -> dict[str, Any]:
    config = document["HyperParameterTuningJobConfig"]
    return without_none(
        {
            "HyperParameterTuningJobName": document["HyperParameterTuningJobName"],
            "HyperParameterTuningJobArn": document["HyperParameterTuningJobArn"],
            "HyperParameterTuningJobStatus": document["HyperParameterTuningJobStatus"],
            "Strategy": config["Strategy"],
            "CreationTime": document["CreationTime"],
            "HyperParameterTuningEndTime": document.get("HyperParameterTuningEndTime"),
            "LastModifiedTime": document.get("LastModifiedTime"),
            "TrainingJobStatusCounters": document["TrainingJobStatusCounters"],
            "ObjectiveStatusCounters": document["ObjectiveStatusCounters"],
            "ResourceLimits": config["ResourceLimits"],
        }
    )
