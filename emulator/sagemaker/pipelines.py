"""Pipelines: CreatePipeline, DescribePipeline, UpdatePipeline, DeletePipeline, ListPipelines,
ListPipelineVersions and UpdatePipelineVersion.

A pipeline row (kind `Pipeline`) holds the DescribePipeline document; each version is a row of kind
`PipelineVersion` whose document is its ListPipelineVersions summary and whose `extra` keeps the
Describe document as it was at that version. Executions live in `pipeline_executions.py`.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from emulator.api.errors import ResourceNotFound, ValidationError
from emulator.api.pagination import query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.pipelines.definition import DefinitionError, parse_definition
from emulator.pipelines.steps import EXECUTORS as STEP_EXECUTORS
from emulator.pipelines.steps import unsupported_steps
from emulator.sagemaker import arns
from emulator.sagemaker.common import project, sagemaker_operation, without_none
from emulator.store.repository import AlreadyExists, ListQuery, Resource

PIPELINE = "Pipeline"
VERSION = "PipelineVersion"


def pipeline_arn(ctx: RequestContext, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, "pipeline", name)


def get_pipeline(ctx: RequestContext, name_or_arn: str) -> Resource:
    """The pipeline named (or ARN'd) by the request, or the service's ResourceNotFound."""
    arn = pipeline_arn(ctx, arns.name_from(name_or_arn, "pipeline"))
    found = ctx.store.get_by_arn(arn)
    if found is None or found.kind != PIPELINE:
        raise ResourceNotFound(f"Pipeline '{arn}' does not exist.")
    return found


def _definition(ctx: RequestContext, request: Request, *, required: bool) -> str | None:
    inline, location = request.get("PipelineDefinition"), request.get("PipelineDefinitionS3Location")
    if inline is not None and location is not None:
        raise ValidationError("Specify either PipelineDefinition or PipelineDefinitionS3Location, not both.")
    if location is not None:
        inline = _read_s3_definition(ctx, location)
    if inline is None:
        if required:
            raise ValidationError("Either PipelineDefinition or PipelineDefinitionS3Location is required.")
        return None
    try:
        definition = parse_definition(inline)
    except DefinitionError as error:
        raise ValidationError(str(error)) from None
    for step in unsupported_steps(definition):
        raise ValidationError(
            f"Step '{step.name}' has type '{step.type.value}', which this emulator cannot run "
            f"(it runs: {', '.join(sorted(executor.value for executor in STEP_EXECUTORS))})."
        )
    return inline


def _read_s3_definition(ctx: RequestContext, location: dict[str, Any]) -> str:
    arguments = {"Bucket": location["Bucket"], "Key": location["ObjectKey"]}
    if location.get("VersionId"):
        arguments["VersionId"] = location["VersionId"]
    uri = f"s3://{location['Bucket']}/{location['ObjectKey']}"
    try:
        body = ctx.aws("s3").get_object(**arguments)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Error")
        raise ValidationError(f"Could not read the pipeline definition at {uri}: {code}") from None
    try:
        return str(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValidationError(f"The pipeline definition at {uri} is not UTF-8 text") from None


def _add_version(ctx: RequestContext, pipeline: dict[str, Any], version_id: int, now: float) -> None:
    summary = without_none(
        {
            "PipelineArn": pipeline["PipelineArn"],
            "PipelineVersionId": version_id,
            "CreationTime": now,
            "PipelineVersionDisplayName": pipeline.get("PipelineVersionDisplayName"),
            "PipelineVersionDescription": pipeline.get("PipelineVersionDescription"),
            "PipelineVersionAliases": pipeline.get("PipelineVersionAliases"),
        }
    )
    name = f"{pipeline['PipelineArn']}/{version_id}"
    snapshot = {**pipeline}
    ctx.store.insert(
        VERSION, name, summary, parent=pipeline["PipelineArn"], extra={"Describe": snapshot}, created_at=now
    )


@sagemaker_operation("CreatePipeline", blocking=True)
def create_pipeline(ctx: RequestContext, request: Request) -> Response:
    name = request["PipelineName"]
    arn = pipeline_arn(ctx, name)
    existing = ctx.store.get_by_arn(arn)
    if existing is not None:
        if existing.extra.get("ClientRequestToken") == request["ClientRequestToken"]:
            return {"PipelineArn": arn}
        raise ValidationError(
            "Pipeline names must be unique within an AWS account and region. "
            f"Pipeline with name ({name}) already exists."
        )
    definition = _definition(ctx, request, required=True)
    now = time.time()
    document = without_none(
        {
            "PipelineArn": arn,
            "PipelineName": name,
            "PipelineDisplayName": request.get("PipelineDisplayName", name),
            "PipelineDefinition": definition,
            "PipelineDescription": request.get("PipelineDescription"),
            "RoleArn": request["RoleArn"],
            "PipelineStatus": "Active",
            "CreationTime": now,
            "LastModifiedTime": now,
            "ParallelismConfiguration": request.get("ParallelismConfiguration"),
            "PipelineVersionAliases": request.get("PipelineVersionAliases"),
        }
    )
    extra = {"ClientRequestToken": request["ClientRequestToken"], "LatestVersion": 1}
    try:
        ctx.store.insert(
            PIPELINE,
            name,
            document,
            arn=arn,
            status="Active",
            extra=extra,
            created_at=now,
            tag_list=request.get("Tags", ()),
        )
    except AlreadyExists:
        raise ValidationError(f"Pipeline with name ({name}) already exists.") from None
    _add_version(ctx, document, 1, now)
    return {"PipelineArn": arn}


@sagemaker_operation("DescribePipeline")
def describe_pipeline(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    document, _ = pipeline_version(ctx, pipeline, request.get("PipelineVersionId"), request.get("PipelineVersionAlias"))
    return document


def pipeline_version(
    ctx: RequestContext, pipeline: Resource, version_id: int | None = None, alias: str | None = None
) -> tuple[dict[str, Any], int]:
    """The DescribePipeline document as it was at a version (chosen by id or alias; the latest when neither
    is given), and that version's id."""
    if version_id is None and alias is None:
        return pipeline.document, int(pipeline.extra.get("LatestVersion", 1))
    if version_id is not None:
        found = ctx.store.get(VERSION, f"{pipeline.arn}/{version_id}")
        if found is not None:
            return dict(found.extra["Describe"]), version_id
    else:
        for version in _versions(ctx, pipeline):
            if alias in version.document.get("PipelineVersionAliases", ()):
                return dict(version.extra["Describe"]), version.document["PipelineVersionId"]
    wanted = f"version {version_id}" if version_id is not None else f"alias {alias}"
    raise ResourceNotFound(f"Pipeline '{pipeline.arn}' has no {wanted}.")


def _versions(ctx: RequestContext, pipeline: Resource) -> list[Resource]:
    return ctx.store.query(ListQuery(kind=VERSION, parent=pipeline.arn, descending=False))


@sagemaker_operation("UpdatePipeline", blocking=True)
def update_pipeline(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    definition = _definition(ctx, request, required=False)
    changes = without_none(
        {
            "PipelineDisplayName": request.get("PipelineDisplayName"),
            "PipelineDefinition": definition,
            "PipelineDescription": request.get("PipelineDescription"),
            "RoleArn": request.get("RoleArn"),
            "ParallelismConfiguration": request.get("ParallelismConfiguration"),
            "PipelineVersionAliases": request.get("PipelineVersionAliases"),
        }
    )
    now = time.time()
    version_id = int(pipeline.extra.get("LatestVersion", 1)) + 1
    updated = ctx.store.update(
        PIPELINE,
        pipeline.name,
        lambda current: {**current.document, **changes, "LastModifiedTime": now},
        extra={**pipeline.extra, "LatestVersion": version_id},
    )
    if updated is None:
        raise ResourceNotFound(f"Pipeline '{pipeline.arn}' does not exist.")
    _add_version(ctx, updated.document, version_id, now)
    return {"PipelineArn": pipeline.arn, "PipelineVersionId": version_id}


@sagemaker_operation("UpdatePipelineVersion")
def update_pipeline_version(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineArn"])
    name = f"{pipeline.arn}/{request['PipelineVersionId']}"
    changes = without_none(
        {
            "PipelineVersionDisplayName": request.get("PipelineVersionDisplayName"),
            "PipelineVersionDescription": request.get("PipelineVersionDescription"),
        }
    )
    if ctx.store.update(VERSION, name, lambda current: {**current.document, **changes}) is None:
        raise ResourceNotFound(f"Pipeline '{pipeline.arn}' has no version {request['PipelineVersionId']}.")
    return {"PipelineArn": pipeline.arn, "PipelineVersionId": request["PipelineVersionId"]}


@sagemaker_operation("DeletePipeline")
def delete_pipeline(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    ctx.store.delete(PIPELINE, pipeline.name, children_of=pipeline.arn)
    return {"PipelineArn": pipeline.arn}


@sagemaker_operation("ListPipelines")
def list_pipelines(ctx: RequestContext, request: Request) -> Response:
    query = ListQuery(
        kind=PIPELINE,
        name_prefix=request.get("PipelineNamePrefix"),
        created_after=request.get("CreatedAfter"),
        created_before=request.get("CreatedBefore"),
        sort_by="name" if request.get("SortBy") == "Name" else "created_at",
        descending=request.get("SortOrder", "Descending") == "Descending",
    )
    rows, token = query_page(ctx.store.query, query, request)
    summaries = [_summary(row.document) for row in rows]
    return without_none({"PipelineSummaries": summaries, "NextToken": token})


def _summary(document: dict[str, Any]) -> dict[str, Any]:
    summary = project(document, "PipelineSummary")
    if "LastRunTime" in document:
        summary["LastExecutionTime"] = document["LastRunTime"]
    return summary


@sagemaker_operation("ListPipelineVersions")
def list_pipeline_versions(ctx: RequestContext, request: Request) -> Response:
    pipeline = get_pipeline(ctx, request["PipelineName"])
    query = ListQuery(
        kind=VERSION,
        parent=pipeline.arn,
        created_after=request.get("CreatedAfter"),
        created_before=request.get("CreatedBefore"),
        descending=request.get("SortOrder", "Descending") == "Descending",
    )
    rows, token = query_page(ctx.store.query, query, request)
    return without_none({"PipelineVersionSummaries": [row.document for row in rows], "NextToken": token})
