"""Find the references inside pipeline-definition expressions — pure, no I/O.

For: turning a `{"Get": ...}` string into a `Reference` (a parameter, a step property, a step's property
file, or an execution variable), splitting a step property path into segments, and walking any JSON value
(step arguments, conditions, `Std:Join`, `Std:JsonGet`) to list the references it contains while checking
that those functions are well formed.

Not for: deciding whether a referenced parameter or step exists (that needs the whole definition, see
`definition.py`), nor evaluating anything (values come from a running execution).

Pitfall: a dict is an expression only when `Get`, `Std:Join` or `Std:JsonGet` is its *only* key; any
other dict is ordinary data and is searched member by member.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# The six the service documents, plus the two job-name variables the SageMaker SDK also exposes.
EXECUTION_VARIABLES: frozenset[str] = frozenset(
    {
        "PipelineExecutionId",
        "PipelineExecutionArn",
        "PipelineName",
        "PipelineArn",
        "StartDateTime",
        "CurrentDateTime",
        "TrainingJobName",
        "ProcessingJobName",
    }
)

_NAME = r"[A-Za-z0-9\-_]+"
_STEP_GET = re.compile(rf"Steps\.({_NAME})\.(.+)", re.DOTALL)
_PARAMETER_GET = re.compile(rf"Parameters\.({_NAME})")
_EXECUTION_GET = re.compile(r"Execution\.(\w+)")
_PROPERTY_FILE_PATH = re.compile(rf"PropertyFiles\.({_NAME})")
_MEMBER = r"(?P<member>[A-Za-z_][A-Za-z0-9_]*)"
_FIRST_SEGMENT = re.compile(_MEMBER)
_NEXT_SEGMENT = re.compile(rf"\.{_MEMBER}|\[(?P<index>\d+)\]|\['(?P<key>[^']*)'\]|\[\"(?P<quoted_key>[^\"]*)\"\]")


class InvalidExpression(ValueError):
    """An expression is malformed; the message says which and why (callers add where it sits)."""


class ReferenceKind(StrEnum):
    PARAMETER = "Parameters"
    STEP = "Steps"
    EXECUTION = "Execution"


@dataclass(frozen=True)
class Reference:
    """One `{"Get": ...}`: `Parameters.<name>`, `Steps.<name>.<path>` or `Execution.<name>`."""

    kind: ReferenceKind
    name: str
    path: str = ""

    @property
    def expression(self) -> str:
        """The `Get` string this reference was parsed from."""
        base = f"{self.kind}.{self.name}"
        return f"{base}.{self.path}" if self.path else base

    @property
    def property_file(self) -> str | None:
        """For `Steps.S.PropertyFiles.F`, the property file name `F`; otherwise None."""
        if self.kind is not ReferenceKind.STEP:
            return None
        match = _PROPERTY_FILE_PATH.fullmatch(self.path)
        return match.group(1) if match else None

    @property
    def segments(self) -> tuple[str | int, ...]:
        """The step property path split into members/names (str) and list indexes (int)."""
        return parse_property_path(self.path) if self.path else ()


@dataclass(frozen=True)
class PathSegment:
    """One segment of a step property path: `key` is a member/name (str) or list index (int), `text` its source."""

    key: str | int
    text: str


def parse_property_path(path: str) -> tuple[str | int, ...]:
    """Split `A.B[0].C['name']` into `("A", "B", 0, "C", "name")`; raise InvalidExpression if malformed.

    A quoted segment selects a map key, or a list element by its name (e.g. `Outputs['train']`).
    """
    return tuple(segment.key for segment in split_property_path(path))


def split_property_path(path: str) -> tuple[PathSegment, ...]:
    """Like `parse_property_path`, keeping each segment's source text (`.B`, `[0]`, `['name']`) for messages."""
    segments: list[PathSegment] = []
    position = 0
    while position < len(path) or not segments:
        pattern = _NEXT_SEGMENT if segments else _FIRST_SEGMENT
        match = pattern.match(path, position)
        if match is None:
            raise InvalidExpression(f"property path '{path}' is malformed at character {position + 1}")
        segments.append(PathSegment(_segment(match), match.group(0)))
        position = match.end()
    return tuple(segments)


def _segment(match: re.Match[str]) -> str | int:
    groups = match.groupdict()
    if groups.get("index") is not None:
        return int(groups["index"])
    return next(value for value in groups.values() if value is not None)


def parse_reference(expression: object) -> Reference:
    """Parse the value of a `Get`; raise InvalidExpression if it is not a reference the service knows."""
    if not isinstance(expression, str):
        raise InvalidExpression(f"a Get expression must be a string, not {json.dumps(expression)}")
    if match := _STEP_GET.fullmatch(expression):
        parse_property_path(match.group(2))
        return Reference(ReferenceKind.STEP, match.group(1), match.group(2))
    if match := _PARAMETER_GET.fullmatch(expression):
        return Reference(ReferenceKind.PARAMETER, match.group(1))
    if match := _EXECUTION_GET.fullmatch(expression):
        return _execution_reference(match.group(1))
    raise InvalidExpression(
        f"Get '{expression}' is not a valid reference; expected Parameters.<name>, "
        "Steps.<step name>.<property path> or Execution.<variable>"
    )


def _execution_reference(name: str) -> Reference:
    if name not in EXECUTION_VARIABLES:
        known = ", ".join(sorted(EXECUTION_VARIABLES))
        raise InvalidExpression(f"Get 'Execution.{name}' names an unknown execution variable (known: {known})")
    return Reference(ReferenceKind.EXECUTION, name)


def find_references(value: object) -> tuple[Reference, ...]:
    """Every reference inside a JSON value, in document order, without repeats.

    Raises InvalidExpression for a malformed `Get`, `Std:Join` or `Std:JsonGet`, or an unknown `Std:` function.
    """
    return tuple(dict.fromkeys(_walk(value)))


def _walk(value: object) -> Iterator[Reference]:
    if isinstance(value, list):
        for item in value:
            yield from _walk(item)
    elif isinstance(value, dict):
        yield from _walk_object(value)


def _walk_object(value: dict[str, Any]) -> Iterator[Reference]:
    if len(value) == 1:
        [(key, body)] = value.items()
        if key == "Get":
            yield parse_reference(body)
            return
        if key == "Std:Join":
            yield from _walk_join(body)
            return
        if key == "Std:JsonGet":
            yield from _walk_json_get(body)
            return
        if key.startswith("Std:"):
            raise InvalidExpression(f"unknown function '{key}' (known: Std:Join, Std:JsonGet)")
    for item in value.values():
        yield from _walk(item)


def _walk_join(body: object) -> Iterator[Reference]:
    if not isinstance(body, dict) or not isinstance(body.get("On"), str) or "Values" not in body:
        raise InvalidExpression("Std:Join needs an object with a string 'On' and a list 'Values'")
    if not isinstance(body["Values"], list):
        raise InvalidExpression("Std:Join 'Values' must be a list")
    yield from _walk(body["Values"])


def _walk_json_get(body: object) -> Iterator[Reference]:
    if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
        raise InvalidExpression("Std:JsonGet needs an object with a string 'Path'")
    sources = [key for key in ("PropertyFile", "S3Uri") if key in body]
    if len(sources) != 1:
        raise InvalidExpression("Std:JsonGet needs exactly one of 'PropertyFile' or 'S3Uri'")
    if sources == ["PropertyFile"]:
        yield _property_file_reference(body["PropertyFile"])
    else:
        yield from _walk(body["S3Uri"])


def _property_file_reference(value: object) -> Reference:
    reference = parse_reference(value["Get"]) if isinstance(value, dict) and list(value) == ["Get"] else None
    if reference is None or reference.property_file is None:
        raise InvalidExpression(
            'Std:JsonGet \'PropertyFile\' must be {"Get": "Steps.<step name>.PropertyFiles.<file name>"}'
        )
    return reference
