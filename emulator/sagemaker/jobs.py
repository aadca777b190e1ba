"""What training and processing jobs share at the API: creating the row and its queued work, listing
with the common filters, stopping, and the secondary-status bookkeeping the worker uses too.

The Describe document starts as the request's own members that the Describe shape has (the service
echoes them), plus ARN, statuses and times; the worker fills in the rest as the job runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from emulator.api.errors import ResourceInUse, ResourceNotFound, ValidationError
from emulator.api.pagination import query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import arns
from emulator.sagemaker.common import list_query, project, without_none
from emulator.store.repository import AlreadyExists, Resource

IN_PROGRESS, STOPPING = "InProgress", "Stopping"
TERMINAL = ("Completed", "Failed", "Stopped")


def create_job(
    ctx: RequestContext,
    request: Request,
    *,
    kind: str,
    arn_type: str,
    name: str,
    describe_shape: str,
    initial: dict[str, Any],
    parent: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Insert the job's Describe document and queue it for a worker; return its ARN.

    `parent` links the row to the resource that created it (a tuning job's ARN for its training jobs);
    `extra` is that creator's bookkeeping, kept beside the document and never served."""
    arn = arns.arn(ctx.region, ctx.account_id, arn_type, name)
    now = time.time()
    document = {
        **project(request, describe_shape),
        f"{kind}Arn": arn,
        "CreationTime": now,
        "LastModifiedTime": now,
        **initial,
    }
    try:
        ctx.store.insert(
            kind,
            name,
            without_none(document),
            arn=arn,
            status=IN_PROGRESS,
            parent=parent,
            extra=extra,
            created_at=now,
            tag_list=request.get("Tags", ()),
            enqueue=True,
        )
    except AlreadyExists:
        label = _label(kind)
        raise ResourceInUse(
            f"{label} names must be unique within an AWS account and region, and a {label.lower()} with this "
            f"name already exists ({arn})"
        ) from None
    return arn


# What the service answers for a job that does not exist, where that is known to differ from the model's
# ResourceNotFound: DescribeTrainingJob and DescribeProcessingJob answer ValidationException
# (see aws/aws-sdk#165, boto/boto3#2808).
_NOT_FOUND_MESSAGES = {
    "TrainingJob": "Requested resource not found.",
    "ProcessingJob": "Could not find requested job with name {name}",
}


def get_job(ctx: RequestContext, kind: str, name: str) -> Resource:
    found = ctx.store.get(kind, name)
    if found is None:
        if kind in _NOT_FOUND_MESSAGES:
            raise ValidationError(_NOT_FOUND_MESSAGES[kind].format(name=name))
        raise ResourceNotFound(f"Requested resource not found: {_label(kind)} {name} does not exist.")
    return found


def list_jobs(ctx: RequestContext, request: Request, *, kind: str, summary_shape: str) -> tuple[list[Any], str | None]:
    query = list_query(kind, request)
    rows, token = query_page(ctx.store.query, query, request)
    return [project(row.document, summary_shape) for row in rows], token


def stop_job(
    ctx: RequestContext, kind: str, name: str, extra: Callable[[dict[str, Any]], dict[str, Any]] | None = None
) -> Response:
    """Move an InProgress job to Stopping (`extra` changes the document further) and raise the Stop flag the
    worker honours."""
    job = get_job(ctx, kind, name)
    status_key = f"{kind}Status"
    moved = ctx.store.transition(
        kind,
        name,
        (IN_PROGRESS,),
        STOPPING,
        lambda current: (extra or dict)({**current.document, status_key: STOPPING, "LastModifiedTime": time.time()}),
    )
    if moved is None:
        latest = ctx.store.get(kind, name) or job
        if latest.status == STOPPING:
            return {}
        raise ValidationError(
            f"The request was rejected because the {_label(kind).lower()} is in status {latest.status}."
        )
    ctx.store.work.request_stop(kind, name)
    return {}


def secondary_transition(document: dict[str, Any], status: str, message: str, now: float) -> dict[str, Any]:
    """The document with `SecondaryStatus` moved on: the open transition ends, a new one starts."""
    transitions = [dict(item) for item in document.get("SecondaryStatusTransitions", [])]
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    entry: dict[str, Any] = {"Status": status, "StartTime": now, "StatusMessage": message}
    if status in ("Completed", "Failed", "Stopped", "MaxRuntimeExceeded"):
        entry["EndTime"] = now
    transitions.append(entry)
    return {**document, "SecondaryStatus": status, "SecondaryStatusTransitions": transitions, "LastModifiedTime": now}


def _label(kind: str) -> str:
    labels = {
        "TrainingJob": "Training job",
        "ProcessingJob": "Processing job",
        "TransformJob": "Transform job",
        "HyperParameterTuningJob": "Hyperparameter tuning job",
    }
    return labels.get(kind, kind)
