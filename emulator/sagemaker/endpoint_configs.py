"""Endpoint configurations: CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs,
DeleteEndpointConfig.

A configuration names the models its production variants serve; those models must exist when it is
created, as the service checks. It can be deleted while endpoints use it: an endpoint keeps a snapshot
of what it deploys (see `endpoints.py`).
"""

from __future__ import annotations

import time
from typing import Any

from emulator.api.errors import ValidationError
from emulator.api.pagination import query_page
from emulator.api.registry import Request, RequestContext, Response
from emulator.sagemaker import arns, models
from emulator.sagemaker.common import list_query, project, sagemaker_operation, without_none
from emulator.store.repository import AlreadyExists, Resource

KIND = "EndpointConfig"


def config_arn(ctx: RequestContext, name: str) -> str:
    return arns.arn(ctx.region, ctx.account_id, "endpoint-config", name)


def get_config(ctx: RequestContext, name: str) -> Resource:
    found = ctx.store.get(KIND, name)
    if found is None:
        raise ValidationError(f'Could not find endpoint configuration "{config_arn(ctx, name)}".')
    return found


def _check_variants(ctx: RequestContext, variants: list[dict[str, Any]]) -> None:
    names = [variant["VariantName"] for variant in variants]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValidationError(f"Variant names must be unique; found duplicates: {', '.join(duplicates)}.")
    for variant in variants:
        label = f"Production variant {variant['VariantName']}"
        if not variant.get("ModelName"):
            raise ValidationError(f"{label}: ModelName is required.")
        if models.find_model(ctx.store, ctx.region, ctx.account_id, variant["ModelName"]) is None:
            raise ValidationError(models.not_found_message(ctx.region, ctx.account_id, variant["ModelName"]))
        if variant.get("ServerlessConfig"):
            continue
        if not variant.get("InstanceType") or not variant.get("InitialInstanceCount"):
            raise ValidationError(
                f"{label}: InstanceType and InitialInstanceCount are required unless ServerlessConfig is given."
            )


def _variant_document(variant: dict[str, Any]) -> dict[str, Any]:
    return {**variant, "InitialVariantWeight": float(variant.get("InitialVariantWeight", 1.0))}


@sagemaker_operation("CreateEndpointConfig")
def create_endpoint_config(ctx: RequestContext, request: Request) -> Response:
    name = request["EndpointConfigName"]
    _check_variants(ctx, request["ProductionVariants"])
    if request.get("ShadowProductionVariants"):
        _check_variants(ctx, request["ShadowProductionVariants"])
    arn = config_arn(ctx, name)
    now = time.time()
    document: dict[str, Any] = {
        **project(request, "DescribeEndpointConfigOutput"),
        "EndpointConfigArn": arn,
        "ProductionVariants": [_variant_document(variant) for variant in request["ProductionVariants"]],
        "CreationTime": now,
    }
    try:
        ctx.store.insert(KIND, name, without_none(document), arn=arn, created_at=now, tag_list=request.get("Tags", ()))
    except AlreadyExists:
        raise ValidationError(f'Cannot create already existing endpoint configuration "{arn}".') from None
    return {"EndpointConfigArn": arn}


@sagemaker_operation("DescribeEndpointConfig")
def describe_endpoint_config(ctx: RequestContext, request: Request) -> Response:
    return get_config(ctx, request["EndpointConfigName"]).document


@sagemaker_operation("ListEndpointConfigs")
def list_endpoint_configs(ctx: RequestContext, request: Request) -> Response:
    query = list_query(KIND, request)
    rows, token = query_page(ctx.store.query, query, request)
    summaries = [project(row.document, "EndpointConfigSummary") for row in rows]
    return without_none({"EndpointConfigs": summaries, "NextToken": token})


@sagemaker_operation("DeleteEndpointConfig")
def delete_endpoint_config(ctx: RequestContext, request: Request) -> Response:
    name = request["EndpointConfigName"]
    if ctx.store.delete(KIND, name) is None:
        raise ValidationError(f'Could not find endpoint configuration "{config_arn(ctx, name)}".')
    return {}
