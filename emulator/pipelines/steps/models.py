"""Steps that create a model or register a model package: `Model` (CreateModel) and `RegisterModel`.

Both finish as soon as the API call returns; their properties are the Describe response
(`Steps.S.ModelName`, `Steps.S.ModelPackageArn` …).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from emulator.pipelines.scheduler import StepStatus
from emulator.pipelines.steps.base import Finished, Started, StepContext, generated_name, plain_response
from emulator.pipelines.steps.jobs import failed_call


class ModelStep:
    cache_attributes: tuple[str, ...] = ()

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        client = ctx.client("sagemaker")
        name = generated_name(ctx)
        try:
            arn = client.create_model(**{**arguments, "ModelName": name})["ModelArn"]
            properties = plain_response(client.describe_model(ModelName=name))
        except ClientError as error:
            return failed_call(error, "CreateModel")
        return Finished(StepStatus.SUCCEEDED, properties, metadata={"Model": {"Arn": arn}})

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        raise AssertionError("a Model step finishes when it starts")

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        return None


class RegisterModelStep:
    """Registers a model package version; like the service, it creates the package group if it is missing."""

    cache_attributes: tuple[str, ...] = ()

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        client = ctx.client("sagemaker")
        try:
            _ensure_group(client, arguments.get("ModelPackageGroupName"))
            arn = client.create_model_package(**arguments)["ModelPackageArn"]
            properties = plain_response(client.describe_model_package(ModelPackageName=arn))
        except ClientError as error:
            return failed_call(error, "CreateModelPackage")
        return Finished(StepStatus.SUCCEEDED, properties, metadata={"RegisterModel": {"Arn": arn}})

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        raise AssertionError("a RegisterModel step finishes when it starts")

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        return None


def _ensure_group(client: Any, group: str | None) -> None:
    if not group:
        return
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("ValidationException", "ResourceNotFound"):
            raise
        with contextlib.suppress(ClientError):  # created meanwhile by a parallel step
            client.create_model_package_group(ModelPackageGroupName=group.rsplit("/", 1)[-1])
