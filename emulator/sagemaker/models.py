"""Models: CreateModel, DescribeModel, ListModels and DeleteModel.

A model row (kind `Model`) holds the DescribeModel document, which echoes the request as the service
does. What actually serves the model is kept apart, in the row's `extra["ServingContainers"]`: the
request's containers with every `ModelPackageName` replaced by that package's inference containers
(their Environment overlaid with the one the request gives). Transform jobs and endpoints read it
through `serving_containers`; nothing else about serving lives here.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.api.errors import ValidationError
from emulator.api.pagination import query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import arns, model_packages
from emulator.sagemaker.common import list_query, project, sagemaker_operation, without_none
from emulator.store.repository import AlreadyExists, Resource, Store

KIND = "Model"
# Container members that describe how to serve; a package's containers supply them when named.
_SERVING_MEMBERS = ("Image", "ModelDataUrl", "ModelDataSource", "AdditionalModelDataSources", "Environment")


def model_arn(region: str, account_id: str, name: str) -> str:
    return arns.arn(region, account_id, "model", name)


def not_found_message(region: str, account_id: str, name: str) -> str:
    """The service's wording for a model that does not exist (the SDK matches "Could not find")."""
    return f'Could not find model "{model_arn(region, account_id, arns.name_from(name, "model"))}".'


def find_model(store: Store, region: str, account_id: str, name: str) -> Resource | None:
    found = store.get_by_arn(model_arn(region, account_id, arns.name_from(name, "model")))
    return found if found is not None and found.kind == KIND else None


def get_model(ctx: RequestContext, name: str) -> Resource:
    found = find_model(ctx.store, ctx.region, ctx.account_id, name)
    if found is None:
        raise ValidationError(not_found_message(ctx.region, ctx.account_id, name))
    return found


def serving_containers(model: Resource) -> list[dict[str, Any]]:
    """The containers that serve `model`, in order (one for a single-container model), each with
    Image, Environment and the model data members (ModelDataUrl / ModelDataSource) it has."""
    return [dict(container) for container in model.extra.get("ServingContainers", [])]


def _containers_of(request: Request) -> list[dict[str, Any]]:
    primary, containers = request.get("PrimaryContainer"), request.get("Containers")
    if primary is not None and containers:
        raise ValidationError("Specify either PrimaryContainer or Containers, not both.")
    if primary is None and not containers:
        raise ValidationError("Either PrimaryContainer or Containers must be specified.")
    return [primary] if primary is not None else list(containers or [])


def _resolve(ctx: RequestContext, container: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """One request container as the containers that serve it (a package may hold several)."""
    package_name = container.get("ModelPackageName")
    if package_name is None:
        if not container.get("Image"):
            raise ValidationError(f"Container {index + 1}: Image is required unless ModelPackageName is given.")
        return [{key: container[key] for key in _SERVING_MEMBERS if key in container}]
    package = model_packages.get_package(ctx, package_name)
    if model_packages.is_versioned(package) and package.status != model_packages.APPROVED:
        raise ValidationError(
            f"ModelPackage {package.arn} has ModelApprovalStatus {package.status}: a versioned model package must "
            "be Approved (UpdateModelPackage) before a model is created from it."
        )
    specification = package.document.get("InferenceSpecification")
    if not specification or not specification.get("Containers"):
        raise ValidationError(f"ModelPackage {package.arn} has no InferenceSpecification to create a model from.")
    overlay = container.get("Environment", {})
    resolved = []
    for source in specification["Containers"]:
        serving = {key: source[key] for key in _SERVING_MEMBERS if key in source}
        serving["Environment"] = {**source.get("Environment", {}), **overlay}
        resolved.append(serving)
    return resolved


def _described_container(container: dict[str, Any]) -> dict[str, Any]:
    described = dict(container)
    if "ModelPackageName" not in described:
        described.setdefault("Mode", "SingleModel")
    return described


@sagemaker_operation("CreateModel")
def create_model(ctx: RequestContext, request: Request) -> Response:
    name = request["ModelName"]
    arn = model_arn(ctx.region, ctx.account_id, name)
    if ctx.store.get_by_arn(arn) is not None:
        raise ValidationError(f'Cannot create already existing model "{arn}".')
    containers = _containers_of(request)
    serving = [item for index, container in enumerate(containers) for item in _resolve(ctx, container, index)]
    now = time.time()
    document = {
        **project(request, "DescribeModelOutput"),
        "ModelArn": arn,
        "CreationTime": now,
        "EnableNetworkIsolation": request.get("EnableNetworkIsolation", False),
    }
    if "PrimaryContainer" in document:
        document["PrimaryContainer"] = _described_container(document["PrimaryContainer"])
    if "Containers" in document:
        document["Containers"] = [_described_container(container) for container in document["Containers"]]
    try:
        ctx.store.insert(
            KIND,
            name,
            without_none(document),
            arn=arn,
            extra={"ServingContainers": serving},
            created_at=now,
            tag_list=request.get("Tags", ()),
        )
    except AlreadyExists:
        raise ValidationError(f'Cannot create already existing model "{arn}".') from None
    return {"ModelArn": arn}


@sagemaker_operation("DescribeModel")
def describe_model(ctx: RequestContext, request: Request) -> Response:
    return get_model(ctx, request["ModelName"]).document


@sagemaker_operation("ListModels")
def list_models(ctx: RequestContext, request: Request) -> Response:
    query = list_query(KIND, request)
    rows, token = query_page(ctx.store.query, query, request)
    return without_none({"Models": [project(row.document, "ModelSummary") for row in rows], "NextToken": token})


@sagemaker_operation("DeleteModel")
def delete_model(ctx: RequestContext, request: Request) -> Response:
    model = get_model(ctx, request["ModelName"])
    ctx.store.delete(KIND, model.name)
    return {}
