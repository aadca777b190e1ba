"""The model registry: model package groups and model packages.

Groups (kind `ModelPackageGroup`): Create / Describe / List / Delete. Packages (kind `ModelPackage`):
Create / Describe / List / Update / Delete. A *versioned* package belongs to a group: its row name is
`<group>/<version>`, its parent the group's name, and its ARN `…:model-package/<group>/<version>`;
versions count up from 1 and are never reused (the group's `extra["LastVersion"]`). An *unversioned*
package has its own name and no parent. The indexed status column holds `ModelApprovalStatus`, so
listing by approval status is a query.

Not for: creating models from packages (`models.py` resolves a package's containers through
`get_package`).
"""

from __future__ import annotations

import time
from typing import Any

from emulator.api.errors import ValidationError
from emulator.api.pagination import page_of, query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import arns
from emulator.sagemaker.common import list_query, project, sagemaker_operation, without_none
from emulator.store.repository import AlreadyExists, ListQuery, Resource

GROUP, PACKAGE = "ModelPackageGroup", "ModelPackage"
PENDING, APPROVED = "PendingManualApproval", "Approved"
_VERSION_ATTEMPTS = 20


def group_arn(ctx: RequestContext, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, "model-package-group", name)


def package_arn(ctx: RequestContext, name: str) -> str:
    """`name` is an unversioned package's name or `<group>/<version>`."""
    return arns.arn(ctx.region, ctx.account_id, "model-package", name)


def get_group(ctx: RequestContext, name_or_arn: str) -> Resource:
    arn = group_arn(ctx, arns.name_from(name_or_arn, "model-package-group"))
    found = ctx.store.get_by_arn(arn)
    if found is None or found.kind != GROUP:
        raise ValidationError(f"ModelPackageGroup {arn} does not exist.")
    return found


def get_package(ctx: RequestContext, name_or_arn: str) -> Resource:
    """A package by ARN, by `<group>/<version>` or by an unversioned package's name."""
    arn = package_arn(ctx, arns.name_from(name_or_arn, "model-package"))
    found = ctx.store.get_by_arn(arn)
    if found is None or found.kind != PACKAGE:
        raise ValidationError(f"ModelPackage {arn} does not exist.")
    return found


def is_versioned(package: Resource) -> bool:
    return package.parent is not None


# -- groups -------------------------------------------------------------------------------------------


@sagemaker_operation("CreateModelPackageGroup")
def create_model_package_group(ctx: RequestContext, request: Request) -> Response:
    name = request["ModelPackageGroupName"]
    arn = group_arn(ctx, name)
    now = time.time()
    document = {
        **project(request, "DescribeModelPackageGroupOutput"),
        "ModelPackageGroupArn": arn,
        "CreationTime": now,
        "CreatedBy": {},
        "ModelPackageGroupStatus": "Completed",
    }
    try:
        ctx.store.insert(
            GROUP,
            name,
            without_none(document),
            arn=arn,
            status="Completed",
            extra={"LastVersion": 0},
            created_at=now,
            tag_list=request.get("Tags", ()),
        )
    except AlreadyExists:
        raise ValidationError(f"Model Package Group already exists: {arn}") from None
    return {"ModelPackageGroupArn": arn}


@sagemaker_operation("DescribeModelPackageGroup")
def describe_model_package_group(ctx: RequestContext, request: Request) -> Response:
    return get_group(ctx, request["ModelPackageGroupName"]).document


@sagemaker_operation("ListModelPackageGroups")
def list_model_package_groups(ctx: RequestContext, request: Request) -> Response:
    query = list_query(GROUP, request, default_order="Ascending")
    rows, token = query_page(ctx.store.query, query, request)
    summaries = [project(row.document, "ModelPackageGroupSummary") for row in rows]
    return without_none({"ModelPackageGroupSummaryList": summaries, "NextToken": token})


@sagemaker_operation("DeleteModelPackageGroup")
def delete_model_package_group(ctx: RequestContext, request: Request) -> Response:
    group = get_group(ctx, request["ModelPackageGroupName"])
    if ctx.store.query(ListQuery(kind=PACKAGE, parent=group.name, limit=1)):
        raise ValidationError(
            f"Model Package Group {group.arn} cannot be deleted because it still contains model packages; "
            "delete its model package versions first."
        )
    ctx.store.delete(GROUP, group.name)
    return {}


# -- packages -----------------------------------------------------------------------------------------


def _check_create(request: Request) -> None:
    name, group = request.get("ModelPackageName"), request.get("ModelPackageGroupName")
    if name and group:
        raise ValidationError(
            "Both ModelPackageName and ModelPackageGroupName are provided in the input. "
            "Cannot determine which one to use."
        )
    if not name and not group:
        raise ValidationError("Missing ARN.")
    if group and request.get("Tags"):
        raise ValidationError(
            "Tags cannot be specified for a versioned model package: it uses the tags of its model package group."
        )
    containers = (request.get("InferenceSpecification") or {}).get("Containers", [])
    if name and any(container.get("Environment") for container in containers):
        raise ValidationError(
            "1 validation errors detected:Environment variable map cannot be specified when using "
            "non-versioned ModelPackages"
        )


def _document(request: Request, arn: str, now: float, **members: Any) -> dict[str, Any]:
    document = {
        **project(request, "DescribeModelPackageOutput"),
        "ModelPackageArn": arn,
        "CreationTime": now,
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
        "CertifyForMarketplace": request.get("CertifyForMarketplace", False),
        "CreatedBy": {},
        **members,
    }
    return without_none(document)


def _same_token(package: Resource, request: Request) -> bool:
    token = request.get("ClientToken")
    return token is not None and package.extra.get("ClientToken") == token


def _create_unversioned(ctx: RequestContext, request: Request, now: float) -> str:
    name = request["ModelPackageName"]
    arn = package_arn(ctx, name)
    existing = ctx.store.get_by_arn(arn)
    if existing is not None:
        if _same_token(existing, request):
            return arn
        raise ValidationError(f"ModelPackage already exists: {arn}")
    document = _document(request, arn, now, ModelPackageName=name, ModelApprovalStatus=None)
    try:
        ctx.store.insert(
            PACKAGE,
            name,
            document,
            arn=arn,
            extra={"ClientToken": request.get("ClientToken")},
            created_at=now,
            tag_list=request.get("Tags", ()),
        )
    except AlreadyExists:
        raise ValidationError(f"ModelPackage already exists: {arn}") from None
    return arn


def _create_version(ctx: RequestContext, request: Request, now: float) -> str:
    group = get_group(ctx, request["ModelPackageGroupName"])
    versions = ctx.store.query(ListQuery(kind=PACKAGE, parent=group.name))
    for existing in versions:
        if _same_token(existing, request):
            return existing.arn or ""
    highest = max([int(group.extra.get("LastVersion", 0))] + [row.document["ModelPackageVersion"] for row in versions])
    status = request.get("ModelApprovalStatus", PENDING)
    for version in range(highest + 1, highest + 1 + _VERSION_ATTEMPTS):
        name = f"{group.name}/{version}"
        arn = package_arn(ctx, name)
        document = _document(
            request,
            arn,
            now,
            ModelPackageName=group.name,
            ModelPackageGroupName=group.name,
            ModelPackageVersion=version,
            ModelApprovalStatus=status,
        )
        try:
            ctx.store.insert(
                PACKAGE,
                name,
                document,
                arn=arn,
                status=status,
                parent=group.name,
                extra={"ClientToken": request.get("ClientToken")},
                created_at=now,
            )
        except AlreadyExists:
            continue  # another request took this version number
        ctx.store.update(
            GROUP,
            group.name,
            lambda current: current.document,
            extra={**group.extra, "LastVersion": max(version, int(group.extra.get("LastVersion", 0)))},
        )
        return arn
    raise ValidationError(f"Could not allocate a version in model package group {group.arn}; try again.")


@sagemaker_operation("CreateModelPackage")
def create_model_package(ctx: RequestContext, request: Request) -> Response:
    _check_create(request)
    now = time.time()
    if request.get("ModelPackageGroupName"):
        return {"ModelPackageArn": _create_version(ctx, request, now)}
    return {"ModelPackageArn": _create_unversioned(ctx, request, now)}


@sagemaker_operation("DescribeModelPackage")
def describe_model_package(ctx: RequestContext, request: Request) -> Response:
    return get_package(ctx, request["ModelPackageName"]).document


def _wanted_type(request: Request) -> str:
    if request.get("ModelPackageType"):
        return str(request["ModelPackageType"])
    return "Versioned" if request.get("ModelPackageGroupName") else "Unversioned"


@sagemaker_operation("ListModelPackages")
def list_model_packages(ctx: RequestContext, request: Request) -> Response:
    group = get_group(ctx, request["ModelPackageGroupName"]).name if request.get("ModelPackageGroupName") else None
    status = request.get("ModelApprovalStatus")
    query = list_query(PACKAGE, request, default_order="Ascending", parent=group, statuses=[status] if status else None)
    wanted = _wanted_type(request)
    rows = [row for row in ctx.store.query(query) if wanted == "Both" or (wanted == "Versioned") == is_versioned(row)]
    scope = {key: value for key, value in request.items() if key not in ("NextToken", "MaxResults")}
    page, token = page_of(rows, request, default_size=10, scope=scope)
    summaries = [project(row.document, "ModelPackageSummary") for row in page]
    return without_none({"ModelPackageSummaryList": summaries, "NextToken": token})


def _updated(document: dict[str, Any], request: Request, now: float) -> dict[str, Any]:
    document = dict(document)
    for member in ("ModelApprovalStatus", "ApprovalDescription", "InferenceSpecification", "SourceUri"):
        if member in request:
            document[member] = request[member]
    for member in ("ModelCard", "ModelLifeCycle", "ModelPackageRegistrationType"):
        if member in request:
            document[member] = request[member]
    if "CustomerMetadataProperties" in request or "CustomerMetadataPropertiesToRemove" in request:
        properties = {**document.get("CustomerMetadataProperties", {}), **request.get("CustomerMetadataProperties", {})}
        for key in request.get("CustomerMetadataPropertiesToRemove", []):
            properties.pop(key, None)
        document["CustomerMetadataProperties"] = properties
    if request.get("AdditionalInferenceSpecificationsToAdd"):
        document["AdditionalInferenceSpecifications"] = [
            *document.get("AdditionalInferenceSpecifications", []),
            *request["AdditionalInferenceSpecificationsToAdd"],
        ]
    document["LastModifiedTime"] = now
    document["LastModifiedBy"] = {}
    return document


@sagemaker_operation("UpdateModelPackage")
def update_model_package(ctx: RequestContext, request: Request) -> Response:
    package = get_package(ctx, request["ModelPackageArn"])
    if "ModelApprovalStatus" in request and not is_versioned(package):
        raise ValidationError(
            f"ModelApprovalStatus applies only to versioned model packages; {package.arn} is unversioned."
        )
    now = time.time()
    status = request.get("ModelApprovalStatus", package.status)
    updated = ctx.store.update(
        PACKAGE, package.name, lambda current: _updated(current.document, request, now), status=status
    )
    if updated is None:
        raise ValidationError(f"ModelPackage {package.arn} does not exist.")
    return {"ModelPackageArn": package.arn or ""}


@sagemaker_operation("DeleteModelPackage")
def delete_model_package(ctx: RequestContext, request: Request) -> Response:
    package = get_package(ctx, request["ModelPackageName"])
    ctx.store.delete(PACKAGE, package.name)
    return {}
