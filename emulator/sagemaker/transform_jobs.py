"""Transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs, StopTransformJob.
The worker (`emulator.jobs.transform`) runs them.

The stored document also keeps `LastModifiedTime` (ListTransformJobs summaries have it; the Describe
response does not), so Describe projects the document onto its shape.
"""

from __future__ import annotations

from emulator.api.errors import ValidationError
from emulator.api.registry import Request, RequestContext, Response
from emulator.jobs.transform_filters import check_filter_text
from emulator.sagemaker import jobs, models
from emulator.sagemaker.common import project, sagemaker_operation, without_none

KIND = "TransformJob"
MAX_TOTAL_PAYLOAD_MB = 100


def _check_supported(request: Request) -> None:
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
        raise ValidationError(
            f"S3DataType {source['S3DataType']} is not supported by this emulator; use S3Prefix or ManifestFile."
        )
    concurrent, payload = request.get("MaxConcurrentTransforms"), request.get("MaxPayloadInMB")
    if concurrent and payload and concurrent * payload > MAX_TOTAL_PAYLOAD_MB:
        raise ValidationError(
            f"MaxConcurrentTransforms ({concurrent}) * MaxPayloadInMB ({payload}) must not exceed "
            f"{MAX_TOTAL_PAYLOAD_MB} MB."
        )
    problems = check_filter_text(
        request.get("DataProcessing", {}),
        request["TransformInput"].get("ContentType"),
        request["TransformOutput"].get("Accept"),
    )
    if problems:
        raise ValidationError(problems[0])


@sagemaker_operation("CreateTransformJob")
def create_transform_job(ctx: RequestContext, request: Request) -> Response:
    models.get_model(ctx, request["ModelName"])
    _check_supported(request)
    arn = jobs.create_job(
        ctx,
        request,
        kind=KIND,
        arn_type="transform-job",
        name=request["TransformJobName"],
        describe_shape="DescribeTransformJobResponse",
        initial={"TransformJobStatus": jobs.IN_PROGRESS},
    )
    return {"TransformJobArn": arn}


@sagemaker_operation("DescribeTransformJob")
def describe_transform_job(ctx: RequestContext, request: Request) -> Response:
    document = jobs.get_job(ctx, KIND, request["TransformJobName"]).document
    return project(document, "DescribeTransformJobResponse")


@sagemaker_operation("ListTransformJobs")
def list_transform_jobs(ctx: RequestContext, request: Request) -> Response:
    summaries, token = jobs.list_jobs(ctx, request, kind=KIND, summary_shape="TransformJobSummary")
    return without_none({"TransformJobSummaries": summaries, "NextToken": token})


@sagemaker_operation("StopTransformJob")
def stop_transform_job(ctx: RequestContext, request: Request) -> Response:
    return jobs.stop_job(ctx, KIND, request["TransformJobName"])
