"""Validate a parsed awsJson request against its botocore input shape, the way the real services do.

Type mismatches are `SerializationException` (the service cannot even read the request); constraint
violations (required, length, range, enum, pattern) are collected into one `ValidationException` worded
like AWS: ``1 validation error detected: Value null at 'pipelineName' failed to satisfy constraint: Member
must not be null``. Members the shape does not know are dropped, as the services ignore them.
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any

from botocore.model import Shape

from emulator.api.errors import SerializationError, ValidationError

_MAX_SHOWN_VALUE = 200


@functools.cache
def _pattern(expression: str) -> re.Pattern[str] | None:
    """Compile a model pattern for full matching; None when Python cannot express it soundly."""
    try:
        return re.compile(expression, re.DOTALL)
    except re.error:
        return None


def _whole(value: int | float) -> bool:
    return isinstance(value, int) or (math.isfinite(value) and value == int(value))


def _wire_name(member: str) -> str:
    return member[:1].lower() + member[1:]


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if isinstance(value, (dict, list)):
        text = "[...]" if isinstance(value, list) else "{...}"
    return text if len(text) <= _MAX_SHOWN_VALUE else text[:_MAX_SHOWN_VALUE] + "..."


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = _shown(value)
        rendered = "null" if value is None else f"'{shown}'"
        self.problems.append(f"Value {rendered} at '{path}' failed to satisfy constraint: {constraint}")

    def check(self, value: Any, shape: Shape, path: str) -> Any:
        handler = getattr(self, f"_check_{shape.type_name}", None)
        if handler is None:  # pragma: no cover - every botocore type has a handler
            return value
        return handler(value, shape, path)

    def _check_structure(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SerializationError(f"Expected a JSON object at '{path or 'request'}'")
        members = shape.members  # type: ignore[attr-defined]
        clean: dict[str, Any] = {}
        for name in shape.required_members:  # type: ignore[attr-defined]
            if value.get(name) is None:
                self.fail(None, self._join(path, name), "Member must not be null")
        for name, member in members.items():  # model order, so messages do not depend on the client
            if value.get(name) is not None:
                clean[name] = self.check(value[name], member, self._join(path, name))
        return clean

    def _check_list(self, value: Any, shape: Shape, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise SerializationError(f"Expected a JSON array at '{path}'")
        self._length(value, shape, path)
        member = shape.member  # type: ignore[attr-defined]
        return [self.check(item, member, f"{path}.{index}.member") for index, item in enumerate(value, 1)]

    def _check_map(self, value: Any, shape: Shape, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SerializationError(f"Expected a JSON object at '{path}'")
        self._length(value, shape, path)
        key_shape, value_shape = shape.key, shape.value  # type: ignore[attr-defined]
        return {
            self.check(key, key_shape, f"{path}.key"): self.check(item, value_shape, f"{path}.{key}")
            for key, item in value.items()
        }

    def _check_string(self, value: Any, shape: Shape, path: str) -> str:
        if not isinstance(value, str):
            raise SerializationError(f"Expected a string at '{path}'")
        if "enum" in shape.metadata and value not in shape.enum:
            self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
            return value
        if self._length(value, shape, path):
            pattern = _pattern(shape.metadata.get("pattern", ""))
            if pattern is not None and shape.metadata.get("pattern") and not pattern.fullmatch(value):
                self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern.pattern}")
        return value

    def _check_integer(self, value: Any, shape: Shape, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _whole(value):
            raise SerializationError(f"Expected an integer at '{path}'")
        self._range(value, shape, path)
        return int(value)

    _check_long = _check_integer

    def _check_float(self, value: Any, shape: Shape, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SerializationError(f"Expected a number at '{path}'")
        self._range(value, shape, path)
        return value

    _check_double = _check_float

    def _check_boolean(self, value: Any, shape: Shape, path: str) -> bool:
        if not isinstance(value, bool):
            raise SerializationError(f"Expected a boolean at '{path}'")
        return value

    def _check_timestamp(self, value: Any, shape: Shape, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise SerializationError(f"Expected epoch seconds at '{path}'")
        return float(value)

    def _check_blob(self, value: Any, shape: Shape, path: str) -> str:
        if not isinstance(value, str):
            raise SerializationError(f"Expected base64 text at '{path}'")
        return value

    def _length(self, value: Any, shape: Shape, path: str) -> bool:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            self.fail(value, path, f"Member must have length greater than or equal to {low}")
            return False
        if high is not None and len(value) > high:
            self.fail(value, path, f"Member must have length less than or equal to {high}")
            return False
        return True

    def _range(self, value: float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {low}")
        elif high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {high}")

    @staticmethod
    def _join(path: str, member: str) -> str:
        return f"{path}.{_wire_name(member)}" if path else _wire_name(member)


def validate_request(request: Any, shape: Shape | None) -> dict[str, Any]:
    """Return the request restricted to the shape's members, or raise the error the service would."""
    if shape is None:
        if request not in ({}, None):
            raise SerializationError("This operation takes no input")
        return {}
    checker = _Checker()
    clean = checker.check(request if request is not None else {}, shape, "")
    if checker.problems:
        count = len(checker.problems)
        noun = "error" if count == 1 else "errors"
        raise ValidationError(f"{count} validation {noun} detected: " + "; ".join(checker.problems))
    return clean


def validation_message(path: str, value: Any, constraint: str) -> str:
    """One AWS-worded validation error, for checks an operation makes itself."""
    checker = _Checker()
    checker.fail(value, path, constraint)
    return "1 validation error detected: " + checker.problems[0]
