"""Small helpers shared by the SageMaker resource modules (no operations live here)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from emulator.api.registry import Handler, Request, operation
from emulator.api.spec import service_model
from emulator.store.repository import ListQuery

TARGET = "SageMaker"
# The SortBy values SageMaker's List operations share, as store columns (each operation's enum says which
# of them it accepts; botocore validation has already refused the others).
_SORT_COLUMNS = {"Name": "name", "CreationTime": "created_at", "Status": "status"}


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


def list_query(
    kind: str,
    request: Request,
    *,
    default_sort: str = "CreationTime",
    default_order: str = "Descending",
    **fixed: Any,
) -> ListQuery:
    """The store query for the members SageMaker's List requests share: NameContains, StatusEquals,
    CreationTimeAfter/Before, LastModifiedTimeAfter/Before, SortBy and SortOrder (a member the request shape
    lacks is simply absent). `fixed` sets further ListQuery fields (parent, statuses …)."""
    status = request.get("StatusEquals")
    query: dict[str, Any] = {
        "name_contains": request.get("NameContains"),
        "statuses": [status] if status else None,
        "created_after": request.get("CreationTimeAfter"),
        "created_before": request.get("CreationTimeBefore"),
        "modified_after": request.get("LastModifiedTimeAfter"),
        "modified_before": request.get("LastModifiedTimeBefore"),
        "sort_by": _SORT_COLUMNS.get(request.get("SortBy", default_sort), "created_at"),
        "descending": request.get("SortOrder", default_order) == "Descending",
    }
    return ListQuery(kind=kind, **{**query, **fixed})
