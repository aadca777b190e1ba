"""Opaque NextToken pagination shared by every List operation.

A token encodes the offset into the list and a fingerprint of the filters it was issued for, so a
token replayed with other filters is rejected the way the service rejects foreign tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from emulator.api.errors import ValidationError
from emulator.store.repository import ListQuery, Resource

T = TypeVar("T")


def _fingerprint(scope: Any) -> str:
    return hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(offset: int, scope: Any) -> str:
    raw = json.dumps({"offset": offset, "scope": _fingerprint(scope)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, scope: Any) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["offset"])
        matches = data["scope"] == _fingerprint(scope)
    except (ValueError, KeyError, TypeError):
        raise ValidationError(f"Invalid pagination token: {token[:64]!r}") from None
    if not matches or offset < 0:
        raise ValidationError("The pagination token does not belong to this request")
    return offset


def page_of(
    items: Sequence[T], request: dict[str, Any], *, default_size: int = 10, scope: Any = None
) -> tuple[list[T], str | None]:
    """Slice an in-memory list by the request's NextToken/MaxResults."""
    offset = decode_token(request.get("NextToken"), scope)
    size = request.get("MaxResults") or default_size
    page = list(items[offset : offset + size])
    more = offset + size < len(items)
    return page, encode_token(offset + size, scope) if more else None


def query_page(
    run: Callable[[ListQuery], list[Resource]],
    query: ListQuery,
    request: dict[str, Any],
    *,
    default_size: int = 10,
) -> tuple[list[Resource], str | None]:
    """Run a store query for one page (fetching one extra row to know whether more follow)."""
    scope = replace(query, offset=0, limit=None)
    offset = decode_token(request.get("NextToken"), scope)
    size = request.get("MaxResults") or default_size
    rows = run(replace(query, offset=offset, limit=size + 1))
    token = encode_token(offset + size, scope) if len(rows) > size else None
    return rows[:size], token
