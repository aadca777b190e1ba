"""Small helpers shared by the SageMaker resource modules (no operations live here)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from emulator.api.registry import Handler, operation
from emulator.api.spec import service_model

TARGET = "SageMaker"


def sagemaker_operation(name: str, *, blocking: bool = False) -> Callable[[Handler], Handler]:
    """Register a SageMaker operation: ``@sagemaker_operation("DescribePipeline")``; `blocking=True`
    for one that calls another service over HTTP (it then runs in a worker thread)."""
    return operation(TARGET, name, blocking=blocking)


def without_none(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if value is not None}


@functools.cache
def _members(shape_name: str) -> frozenset[str]:
    return frozenset(service_model("sagemaker").shape_for(shape_name).members)  # type: ignore[attr-defined]


def project(document: dict[str, Any], shape_name: str) -> dict[str, Any]:
    """The members of `document` that the named botocore shape has (e.g. a Describe doc → a Summary)."""
    members = _members(shape_name)
    return {key: value for key, value in document.items() if key in members}
