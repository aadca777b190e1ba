"""Serialize a response dict by its botocore output shape for the awsJson1.1 protocol.

Absent (None) members are omitted, timestamps become epoch seconds, and a member the shape does not
know or a value of the wrong type is a bug in this emulator: it raises `InternalFailure` rather than
sending the client something the real service never would.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from botocore.model import Shape

from emulator.api.errors import InternalFailure


def _bug(path: str, problem: str) -> InternalFailure:
    return InternalFailure(f"Response serialization failed at '{path}': {problem}")


def serialize(value: Any, shape: Shape, path: str = "") -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _bug(path, "expected an object")
        members = shape.members  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        for name, item in value.items():
            if item is None:
                continue
            if name not in members:
                raise _bug(path, f"unknown member {name!r} for {shape.name}")
            out[name] = serialize(item, members[name], f"{path}.{name}")
        return out
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            raise _bug(path, "expected a list")
        member = shape.member  # type: ignore[attr-defined]
        return [serialize(item, member, f"{path}[{index}]") for index, item in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            raise _bug(path, "expected a map")
        value_shape = shape.value  # type: ignore[attr-defined]
        return {str(key): serialize(item, value_shape, f"{path}.{key}") for key, item in value.items()}
    return _scalar(value, shape, path)


def _scalar(value: Any, shape: Shape, path: str) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif kind == "string":
        if isinstance(value, str):
            return value
    elif kind in ("integer", "long"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind in ("float", "double"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif kind == "boolean":
        if isinstance(value, bool):
            return value
    elif kind == "blob":
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        if isinstance(value, str):
            return value
    raise _bug(path, f"{type(value).__name__} is not a valid {kind}")
