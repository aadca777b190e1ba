"""Processing jobs: CreateProcessingJob, DescribeProcessingJob, ListProcessingJobs, StopProcessingJob.
The worker (`emulator.jobs.processing`) runs them."""

from __future__ import annotations

from emulator.api.errors import ValidationError
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import jobs
from emulator.sagemaker.common import sagemaker_operation, without_none
from emulator.sagemaker.paths import check_container_path

KIND = "ProcessingJob"


def _check_supported(request: Request) -> None:
    for item in request.get("ProcessingInputs", []):
        source = item.get("S3Input")
        if source is None:
            raise ValidationError(
                f"Processing input '{item['InputName']}': only S3Input is supported by this emulator."
            )
        check_container_path(source["LocalPath"], f"LocalPath of input '{item['InputName']}'")
        if source.get("S3InputMode") == "Pipe":
            raise ValidationError(f"Processing input '{item['InputName']}': Pipe mode is not supported; use File.")
    for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        target = item.get("S3Output")
        if target is None:
            raise ValidationError(
                f"Processing output '{item['OutputName']}': only S3Output is supported by this emulator."
            )
        check_container_path(target["LocalPath"], f"LocalPath of output '{item['OutputName']}'")


@sagemaker_operation("CreateProcessingJob")
def create_processing_job(ctx: RequestContext, request: Request) -> Response:
    _check_supported(request)
    arn = jobs.create_job(
        ctx,
        request,
        kind=KIND,
        arn_type="processing-job",
        name=request["ProcessingJobName"],
        describe_shape="DescribeProcessingJobResponse",
        initial={"ProcessingJobStatus": jobs.IN_PROGRESS},
    )
    return {"ProcessingJobArn": arn}


@sagemaker_operation("DescribeProcessingJob")
def describe_processing_job(ctx: RequestContext, request: Request) -> Response:
    return jobs.get_job(ctx, KIND, request["ProcessingJobName"]).document


@sagemaker_operation("ListProcessingJobs")
def list_processing_jobs(ctx: RequestContext, request: Request) -> Response:
    summaries, token = jobs.list_jobs(ctx, request, kind=KIND, summary_shape="ProcessingJobSummary")
    return without_none({"ProcessingJobSummaries": summaries, "NextToken": token})


@sagemaker_operation("StopProcessingJob")
def stop_processing_job(ctx: RequestContext, request: Request) -> Response:
    return jobs.stop_job(ctx, KIND, request["ProcessingJobName"])
