"""Endpoints: CreateEndpoint, DescribeEndpoint, ListEndpoints, UpdateEndpoint, UpdateEndpointWeightsAndCapacities,
DeleteEndpoint.

The API moves statuses and records intent; the worker's endpoint executor (`emulator.jobs.endpoints`) does
the serving: Creating → InService / Failed, Updating → InService (a failed update rolls back to the running
deployment, InService with a FailureReason), Deleting → gone.

Besides the Describe document, an endpoint row keeps in `extra`:
- `Deployment`: what it serves — the configuration's name and, per variant, the variant and a snapshot of
  its model's serving containers (so deleting the configuration or the model later changes nothing);
- `PendingDeployment`: the same for an UpdateEndpoint in progress;
- `Routes`: written by the executor, read by InvokeEndpoint: variant → {"urls": [...], "weight": w}.
Both the API and the executor change `extra`, so every change goes through `change_endpoint` (compare-and-set
on the row revision for document and extra together).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from emulator.api.errors import ValidationError
from emulator.api.pagination import query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import arns, endpoint_configs, models
from emulator.sagemaker.common import list_query, project, sagemaker_operation, without_none
from emulator.store.repository import AlreadyExists, ConcurrentUpdate, Resource, Store

KIND = "Endpoint"
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints/"  # + the endpoint name; streams are <variant>/<instance id>
CREATING, IN_SERVICE, UPDATING, DELETING, FAILED = "Creating", "InService", "Updating", "Deleting", "Failed"

Document = dict[str, Any]


def endpoint_arn(region: str, account_id: str, name: str) -> str:
    return arns.arn(region, account_id, "endpoint", name)


def get_endpoint(ctx: RequestContext, name: str) -> Resource:
    found = ctx.store.get(KIND, name)
    if found is None:
        raise ValidationError(f'Could not find endpoint "{endpoint_arn(ctx.region, ctx.account_id, name)}".')
    return found


class _Moved(Exception):
    """Internal: the row changed between reading it and writing it."""


def change_endpoint(
    store: Store,
    name: str,
    document: Callable[[Document], Document] = lambda current: current,
    extra: Callable[[Document], Document] = lambda current: current,
    *,
    status: str | None = None,
    only_if: Sequence[str] | None = None,
) -> Resource | None:
    """Change an endpoint's document and extra together with compare-and-set; None when the row is gone or
    its status is not one of `only_if`."""
    for _ in range(20):
        current = store.get(KIND, name)
        if current is None or (only_if is not None and current.status not in only_if):
            return None
        new_extra = extra(dict(current.extra))

        def change(latest: Resource, seen: Resource = current) -> Document:
            if latest.revision != seen.revision:
                raise _Moved
            return {**document(dict(latest.document)), "LastModifiedTime": time.time()}

        try:
            return store.update(KIND, name, change, status=status, extra=new_extra, attempts=1)
        except (_Moved, ConcurrentUpdate):
            continue
    raise ConcurrentUpdate(f"Endpoint {name} kept changing while being updated")


def deployment_of(ctx: RequestContext, config: Resource) -> Document:
    """A snapshot of what `config` deploys: each variant with its model's serving containers."""
    variants = []
    for variant in config.document["ProductionVariants"]:
        model = models.find_model(ctx.store, ctx.region, ctx.account_id, variant["ModelName"])
        if model is None:
            raise ValidationError(models.not_found_message(ctx.region, ctx.account_id, variant["ModelName"]))
        serving_model = {"ModelName": model.name, "Containers": models.serving_containers(model)}
        variants.append({"Variant": variant, "Model": serving_model})
    return {"EndpointConfigName": config.name, "Variants": variants}


@sagemaker_operation("CreateEndpoint")
def create_endpoint(ctx: RequestContext, request: Request) -> Response:
    name = request["EndpointName"]
    config = endpoint_configs.get_config(ctx, request["EndpointConfigName"])
    arn = endpoint_arn(ctx.region, ctx.account_id, name)
    now = time.time()
    document: Document = {
        "EndpointName": name,
        "EndpointArn": arn,
        "EndpointConfigName": config.name,
        "EndpointStatus": CREATING,
        "CreationTime": now,
        "LastModifiedTime": now,
    }
    for member in ("AsyncInferenceConfig", "ExplainerConfig"):  # echoed from the configuration
        if member in config.document:
            document[member] = config.document[member]
    if request.get("DeploymentConfig"):
        document["LastDeploymentConfig"] = request["DeploymentConfig"]
    try:
        ctx.store.insert(
            KIND,
            name,
            document,
            arn=arn,
            status=CREATING,
            created_at=now,
            extra={"Deployment": deployment_of(ctx, config)},
            tag_list=request.get("Tags", ()),
            enqueue=True,
        )
    except AlreadyExists:
        raise ValidationError(f'Cannot create already existing endpoint "{arn}".') from None
    return {"EndpointArn": arn}


@sagemaker_operation("DescribeEndpoint")
def describe_endpoint(ctx: RequestContext, request: Request) -> Response:
    return get_endpoint(ctx, request["EndpointName"]).document


@sagemaker_operation("ListEndpoints")
def list_endpoints(ctx: RequestContext, request: Request) -> Response:
    query = list_query(KIND, request)
    rows, token = query_page(ctx.store.query, query, request)
    return without_none({"Endpoints": [project(row.document, "EndpointSummary") for row in rows], "NextToken": token})


@sagemaker_operation("UpdateEndpoint")
def update_endpoint(ctx: RequestContext, request: Request) -> Response:
    name = request["EndpointName"]
    endpoint = get_endpoint(ctx, name)
    config = endpoint_configs.get_config(ctx, request["EndpointConfigName"])
    pending = deployment_of(ctx, config)
    now = time.time()

    def document(current: Document) -> Document:
        current["EndpointStatus"] = UPDATING
        current.pop("FailureReason", None)
        current["PendingDeploymentSummary"] = pending_summary(pending, now)
        if request.get("DeploymentConfig"):
            current["LastDeploymentConfig"] = request["DeploymentConfig"]
        return current

    changed = change_endpoint(
        ctx.store,
        name,
        document,
        lambda extra: {**extra, "PendingDeployment": pending},
        status=UPDATING,
        only_if=(IN_SERVICE,),
    )
    if changed is None:
        status = (ctx.store.get(KIND, name) or endpoint).status
        raise ValidationError(
            f'Cannot update in-progress endpoint "{endpoint.arn}".'
            if status in (CREATING, UPDATING, DELETING)
            else f'Cannot update endpoint "{endpoint.arn}" in status {status}: only an InService endpoint can be '
            "updated; delete it and create it again."
        )
    return {"EndpointArn": endpoint.arn}


@sagemaker_operation("UpdateEndpointWeightsAndCapacities")
def update_endpoint_weights_and_capacities(ctx: RequestContext, request: Request) -> Response:
    """New weights and instance counts for running variants: deployed like an update of the same models."""
    name = request["EndpointName"]
    endpoint = get_endpoint(ctx, name)
    desired = {item["VariantName"]: item for item in request["DesiredWeightsAndCapacities"]}
    variants = {item["Variant"]["VariantName"] for item in endpoint.extra["Deployment"]["Variants"]}
    unknown = sorted(set(desired) - variants)
    if unknown:
        raise ValidationError(f"The variant name(s) [{', '.join(unknown)}] is/are not present in endpoint {name}.")

    def pending_of(extra: Document) -> Document:
        current = extra["Deployment"]
        changed = []
        for item in current["Variants"]:
            variant = dict(item["Variant"])
            wanted = desired.get(variant["VariantName"], {})
            if "DesiredWeight" in wanted:
                variant["InitialVariantWeight"] = float(wanted["DesiredWeight"])
            if "DesiredInstanceCount" in wanted:
                variant["InitialInstanceCount"] = int(wanted["DesiredInstanceCount"])
            changed.append({**item, "Variant": variant})
        return {**current, "Variants": changed}

    def document(current: Document) -> Document:
        current["EndpointStatus"] = UPDATING
        current.pop("FailureReason", None)
        return current

    changed = change_endpoint(
        ctx.store,
        name,
        document,
        lambda extra: {**extra, "PendingDeployment": pending_of(extra)},
        status=UPDATING,
        only_if=(IN_SERVICE,),
    )
    if changed is None:
        raise ValidationError(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    return {"EndpointArn": endpoint.arn}


@sagemaker_operation("DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, request: Request) -> Response:
    name = request["EndpointName"]
    endpoint = get_endpoint(ctx, name)
    if endpoint.status == FAILED:  # no executor serves it any more
        remove_endpoint(ctx.store, name)
        return {}
    change_endpoint(
        ctx.store,
        name,
        lambda current: {**current, "EndpointStatus": DELETING},
        status=DELETING,
        only_if=(CREATING, IN_SERVICE, UPDATING, DELETING),
    )
    return {}


def remove_endpoint(store: Store, name: str) -> None:
    """Delete the row and its work item, so the name can be used again."""
    store.delete(KIND, name)
    store.work.remove(KIND, name)


# -- Describe members built from a deployment (used by the executor too) --------------------------------


def deployed_images(deployment_variant: Document, now: float) -> list[Document]:
    return [
        {"SpecifiedImage": container["Image"], "ResolvedImage": container["Image"], "ResolutionTime": now}
        for container in deployment_variant["Model"].get("Containers", [])
        if container.get("Image")
    ]


def variant_summary(deployment_variant: Document, now: float) -> Document:
    """A ProductionVariantSummary for a variant that serves."""
    variant = deployment_variant["Variant"]
    summary: Document = {
        "VariantName": variant["VariantName"],
        "DeployedImages": deployed_images(deployment_variant, now),
        "CurrentWeight": float(variant.get("InitialVariantWeight", 1.0)),
        "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
    }
    if variant.get("ServerlessConfig"):
        summary["CurrentServerlessConfig"] = variant["ServerlessConfig"]
        summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
    else:
        summary["CurrentInstanceCount"] = int(variant["InitialInstanceCount"])
        summary["DesiredInstanceCount"] = int(variant["InitialInstanceCount"])
    for member in ("ManagedInstanceScaling", "RoutingConfig"):
        if member in variant:
            summary[member] = variant[member]
    return summary


def pending_summary(deployment: Document, now: float) -> Document:
    """The PendingDeploymentSummary of an update to `deployment`."""
    variants = []
    for item in deployment["Variants"]:
        variant = item["Variant"]
        summary: Document = {
            "VariantName": variant["VariantName"],
            "DeployedImages": deployed_images(item, now),
            "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
            "VariantStatus": [{"Status": "Creating", "StartTime": now}],
        }
        if variant.get("ServerlessConfig"):
            summary["DesiredServerlessConfig"] = variant["ServerlessConfig"]
        else:
            summary["DesiredInstanceCount"] = int(variant["InitialInstanceCount"])
            summary["InstanceType"] = variant["InstanceType"]
        variants.append(summary)
    return {"EndpointConfigName": deployment["EndpointConfigName"], "ProductionVariants": variants, "StartTime": now}
