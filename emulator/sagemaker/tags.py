"""AddTags, ListTags and DeleteTags for every resource ARN this emulator serves (one shared table)."""

from __future__ import annotations

from emulator.api.errors import ResourceNotFound, ValidationError
from emulator.api.pagination import page_of
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker.common import sagemaker_operation, without_none

MAX_TAGS_PER_RESOURCE = 50


def _existing_arn(ctx: RequestContext, arn: str) -> str:
    if ctx.store.get_by_arn(arn) is None:
        raise ResourceNotFound(f"Resource {arn} does not exist.")
    return arn


@sagemaker_operation("AddTags")
def add_tags(ctx: RequestContext, request: Request) -> Response:
    arn = _existing_arn(ctx, request["ResourceArn"])
    current = {tag["Key"] for tag in ctx.store.list_tags(arn)}
    added = {tag["Key"] for tag in request["Tags"]}
    if len(current | added) > MAX_TAGS_PER_RESOURCE:
        raise ValidationError(f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags.")
    ctx.store.add_tags(arn, request["Tags"])
    return {"Tags": request["Tags"]}


@sagemaker_operation("ListTags")
def list_tags(ctx: RequestContext, request: Request) -> Response:
    arn = _existing_arn(ctx, request["ResourceArn"])
    page, token = page_of(ctx.store.list_tags(arn), request, default_size=50, scope=arn)
    return without_none({"Tags": page, "NextToken": token})


@sagemaker_operation("DeleteTags")
def delete_tags(ctx: RequestContext, request: Request) -> Response:
    arn = _existing_arn(ctx, request["ResourceArn"])
    ctx.store.delete_tags(arn, request["TagKeys"])
    return {}
