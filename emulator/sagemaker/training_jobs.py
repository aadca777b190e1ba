"""Training jobs: CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs, StopTrainingJob,
UpdateTrainingJob. The worker (`emulator.jobs.training`) runs them."""

from __future__ import annotations

import time
from typing import Any

from emulator.api.errors import ValidationError
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import jobs
from emulator.sagemaker.common import sagemaker_operation, without_none
from emulator.sagemaker.paths import check_relative_path

KIND = "TrainingJob"


def check_supported(request: Request) -> None:
    """Reject what this emulator cannot run, with a reason (also checked for tuning jobs' definitions)."""
    algorithm = request["AlgorithmSpecification"]
    if not algorithm.get("TrainingImage"):
        raise ValidationError(
            "AlgorithmSpecification.TrainingImage is required: this emulator runs container images, "
            "not marketplace algorithms (AlgorithmName)."
        )
    modes = {algorithm.get("TrainingInputMode", "File")}
    for channel in request.get("InputDataConfig", []):
        modes.add(channel.get("InputMode", algorithm.get("TrainingInputMode", "File")))
        if "S3DataSource" not in channel.get("DataSource", {}):
            raise ValidationError(
                f"Channel '{channel['ChannelName']}': only S3DataSource is supported by this emulator."
            )
        check_relative_path(channel["ChannelName"], f"channel name '{channel['ChannelName']}'")
    if "Pipe" in modes:
        raise ValidationError(
            "TrainingInputMode Pipe is not supported by this emulator; use File or FastFile "
            "(both deliver the data as files under /opt/ml/input/data/<channel>)."
        )


@sagemaker_operation("CreateTrainingJob")
def create_training_job(ctx: RequestContext, request: Request) -> Response:
    return {"TrainingJobArn": start_training_job(ctx, request)}


def start_training_job(
    ctx: RequestContext,
    request: Request,
    *,
    parent: str | None = None,
    extra: dict[str, Any] | None = None,
    **members: Any,
) -> str:
    """CreateTrainingJob's work, also used by tuning jobs to launch their training jobs: `members` are
    Describe members the request cannot carry (`TuningJobArn`), `parent` and `extra` link the job to its
    creator (see `jobs.create_job`). Returns the job's ARN."""
    check_supported(request)
    now = time.time()
    initial = jobs.secondary_transition(
        {
            "TrainingJobStatus": jobs.IN_PROGRESS,
            "HyperParameters": request.get("HyperParameters", {}),
            "EnableNetworkIsolation": request.get("EnableNetworkIsolation", False),
            "EnableInterContainerTrafficEncryption": request.get("EnableInterContainerTrafficEncryption", False),
            "EnableManagedSpotTraining": request.get("EnableManagedSpotTraining", False),
            "ModelArtifacts": {"S3ModelArtifacts": ""},
            # The service answers an empty KmsKeyId when none was given; Estimator.attach reads it.
            "OutputDataConfig": {"KmsKeyId": "", **request["OutputDataConfig"]},
            **members,
        },
        "Starting",
        "Launching requested ML instances",
        now,
    )
    return jobs.create_job(
        ctx,
        request,
        kind=KIND,
        arn_type="training-job",
        name=request["TrainingJobName"],
        describe_shape="DescribeTrainingJobResponse",
        initial=initial,
        parent=parent,
        extra=extra,
    )


@sagemaker_operation("DescribeTrainingJob")
def describe_training_job(ctx: RequestContext, request: Request) -> Response:
    return jobs.get_job(ctx, KIND, request["TrainingJobName"]).document


@sagemaker_operation("ListTrainingJobs")
def list_training_jobs(ctx: RequestContext, request: Request) -> Response:
    summaries, token = jobs.list_jobs(ctx, request, kind=KIND, summary_shape="TrainingJobSummary")
    return without_none({"TrainingJobSummaries": summaries, "NextToken": token})


@sagemaker_operation("StopTrainingJob")
def stop_training_job(ctx: RequestContext, request: Request) -> Response:
    def stopping(document: dict[str, Any]) -> dict[str, Any]:
        return jobs.secondary_transition(document, "Stopping", "Stopping the training job", time.time())

    return jobs.stop_job(ctx, KIND, request["TrainingJobName"], stopping)


@sagemaker_operation("UpdateTrainingJob")
def update_training_job(ctx: RequestContext, request: Request) -> Response:
    """Profiler and keep-alive settings have no effect locally; they are recorded as the service does."""
    job = jobs.get_job(ctx, KIND, request["TrainingJobName"])
    if job.status in jobs.TERMINAL and "ResourceConfig" not in request:
        raise ValidationError(f"The training job is in status {job.status} and cannot be updated.")

    def change(current: Any) -> dict[str, Any]:
        document = dict(current.document)
        if "ResourceConfig" in request:
            document["ResourceConfig"] = {**document.get("ResourceConfig", {}), **request["ResourceConfig"]}
        if "ProfilerConfig" in request:
            document["ProfilerConfig"] = request["ProfilerConfig"]
        return {**document, "LastModifiedTime": time.time()}

    ctx.store.update(KIND, job.name, change)
    return {"TrainingJobArn": job.arn}
