"""Batch transform's DataProcessing, pure: InputFilter, JoinSource and OutputFilter over CSV and JSON
records, with the JSONPath subset the service documents.

JSONPath (service subset): `$`, `.name`, `.*` / `[*]`, `['a','b']`, `[1,3,-1]`, `[start:end]`.
The service accepts only letters, digits and `$ [ ] * . , : - '` and space (it rejects even `_`), and
only a single range per bracket. Its slices include `end`: "`$[1:4]` specifies the second through
fifth columns"; `[:5]` is the first six; a missing end means the last element. A path with a wildcard,
several indexes/names or a slice yields a list (several names yield an object of those names); an index
or name that does not exist is an error.

Records: a CSV row is a JSON array of its fields (strings); JSON and JSON Lines records are parsed as
JSON. Joining appends the output row to the input row (CSV), or adds the output under
`SageMakerOutput` to the input object (JSON; a non-object input goes under `SageMakerInput`).

Not for: splitting or batching (`transform_records.py`).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ALLOWED_OPERATORS = ("$", "[", "]", "*", ".", " ", ",", ":", "-", "'")
_NAME = re.compile(r"[A-Za-z0-9-]+")
_INDEX = re.compile(r"-?\d+")
_SLICE = re.compile(r"(-?\d+)?:(-?\d+)?")
_QUOTED = re.compile(r"'([^']*)'")


class FilterError(Exception):
    """An invalid path or a record it cannot be applied to; the message becomes the FailureReason."""


def invalid_character_message(field: str, expression: str, content_type: str) -> str | None:
    """The service's CreateTransformJob check: the first character JSONPath filters may not use."""
    for character in expression:
        if not character.isascii() or not (character.isalnum() or character in ALLOWED_OPERATORS):
            operators = "[" + ", ".join(f"'{operator}'" for operator in ALLOWED_OPERATORS) + "]"
            return (
                f'Invalid {field}: "{expression}". Unexpected "{character}" in JsonPath. '
                f'Supported operators for "{content_type}" are {operators}'
            )
    return None


# -- JSONPath -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    kind: str  # name | names | wildcard | indexes | slice
    names: tuple[str, ...] = ()
    indexes: tuple[int, ...] = ()
    start: int | None = None
    end: int | None = None

    @property
    def definite(self) -> bool:
        return (self.kind == "name") or (self.kind == "indexes" and len(self.indexes) == 1)


@dataclass(frozen=True)
class JsonPath:
    expression: str
    steps: tuple[_Step, ...]

    @property
    def is_root(self) -> bool:
        return not self.steps

    def apply(self, value: Any) -> Any:
        """The selected value (a definite path) or the list of selected values."""
        nodes, definite = [value], True
        for position, step in enumerate(self.steps):
            # Several names merge into one object when they are the last step (as JsonPath does).
            step_definite = step.definite or (step.kind == "names" and position == len(self.steps) - 1)
            definite = definite and step_definite
            nodes = [found for node in nodes for found in _step(step, node, definite)]
        return nodes[0] if definite else nodes


def parse_path(expression: str) -> JsonPath:
    text = expression.strip()
    if not text.startswith("$"):
        raise FilterError(f"Invalid JsonPath: {expression}: a path starts with $")
    position, steps = 1, []
    while position < len(text):
        if text.startswith(".[", position):
            position += 1
        if text[position] == ".":
            match = re.compile(r"\*|[A-Za-z0-9-]+").match(text, position + 1)
            if match is None:
                raise FilterError(f"Invalid JsonPath: {expression}: expected a name after '.' at {position}")
            steps.append(_Step("wildcard") if match.group() == "*" else _Step("name", names=(match.group(),)))
            position = match.end()
        elif text[position] == "[":
            close = text.find("]", position)
            if close < 0:
                raise FilterError(f"Invalid JsonPath: {expression}: '[' without ']'")
            steps.append(_bracket(expression, text[position + 1 : close].strip()))
            position = close + 1
        else:
            raise FilterError(f"Invalid JsonPath: {expression}: unexpected {text[position]!r} at {position}")
    return JsonPath(expression, tuple(steps))


def _bracket(expression: str, inside: str) -> _Step:
    if inside == "*":
        return _Step("wildcard")
    parts = [part.strip() for part in inside.split(",")]
    if all(_QUOTED.fullmatch(part) for part in parts):
        names = tuple(_QUOTED.fullmatch(part).group(1) for part in parts)  # type: ignore[union-attr]
        return _Step("name", names=names) if len(names) == 1 else _Step("names", names=names)
    if any(":" in part for part in parts):
        if len(parts) > 1:
            raise FilterError(
                f"Invalid JsonPath: {expression}: only single range filters of format (eg: [1:5]) are supported. "
                f"Format [{inside}] is not supported"
            )
        match = _SLICE.fullmatch(parts[0].replace(" ", ""))
        if match is None:
            raise FilterError(f"Invalid JsonPath: {expression}: bad range [{inside}]")
        start, end = match.groups()
        return _Step("slice", start=int(start) if start else None, end=int(end) if end else None)
    if all(_INDEX.fullmatch(part) for part in parts):
        return _Step("indexes", indexes=tuple(int(part) for part in parts))
    raise FilterError(f"Invalid JsonPath: {expression}: unsupported bracket [{inside}]")


def _step(step: _Step, node: Any, strict: bool) -> list[Any]:
    if step.kind == "wildcard":
        if isinstance(node, dict):
            return list(node.values())
        return list(node) if isinstance(node, list) else []
    if step.kind in ("name", "names"):
        if not isinstance(node, dict):
            if strict:
                raise FilterError(f"JsonPath: expected an object for {list(step.names)}, found {_kind(node)}")
            return []
        if step.kind == "name":
            if step.names[0] not in node:
                if strict:
                    raise FilterError(f"JsonPath: no attribute '{step.names[0]}' in the record")
                return []
            return [node[step.names[0]]]
        return [{name: node[name] for name in step.names if name in node}]
    if not isinstance(node, list):
        if strict:
            raise FilterError(f"JsonPath: expected an array, found {_kind(node)}")
        return []
    if step.kind == "indexes":
        picked = []
        for index in step.indexes:
            if not -len(node) <= index < len(node):
                raise FilterError(f"JsonPath: index {index} is outside the record, which has {len(node)} elements")
            picked.append(node[index])
        return picked
    return node[_slice_bounds(step, len(node))]


def _slice_bounds(step: _Step, length: int) -> slice:
    """The service's inclusive `[start:end]` as a Python slice."""
    start = 0 if step.start is None else (step.start + length if step.start < 0 else step.start)
    end = length - 1 if step.end is None else (step.end + length if step.end < 0 else step.end)
    return slice(max(start, 0), max(min(end, length - 1) + 1, 0))


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else type(value).__name__


# -- records ------------------------------------------------------------------------------------------


def record_format(content_type: str | None) -> str | None:
    """`csv`, `json` or None (a format DataProcessing cannot work on)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "text/csv":
        return "csv"
    if media in ("application/json", "application/jsonlines", "application/x-jsonlines", "application/json-lines"):
        return "json"
    return None


def parse_record(record: bytes, fmt: str) -> Any:
    text = record.decode("utf-8").strip("\r\n")
    if fmt == "csv":
        return next(csv.reader([text]), [])
    try:
        return json.loads(text)
    except ValueError as error:
        raise FilterError(f"A record is not valid JSON ({error}): {text[:200]}") from None


def parse_output(record: bytes, fmt: str) -> Any:
    """A model output record; JSON that does not parse is kept as its text."""
    if fmt == "csv":
        return parse_record(record, fmt)
    text = record.decode("utf-8").strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def render_record(value: Any, fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(value, separators=(",", ":")).encode()
    row = value if isinstance(value, list) else [value]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(
        [json.dumps(cell, separators=(",", ":")) if isinstance(cell, (dict, list)) else cell for cell in row]
    )
    return buffer.getvalue().encode()


@dataclass(frozen=True)
class DataProcessing:
    input_filter: JsonPath
    output_filter: JsonPath
    join_input: bool
    input_format: str | None
    output_format: str | None

    @classmethod
    def from_request(cls, settings: dict[str, Any], content_type: str | None, accept: str | None) -> DataProcessing:
        processing = cls(
            input_filter=parse_path(settings.get("InputFilter") or "$"),
            output_filter=parse_path(settings.get("OutputFilter") or "$"),
            join_input=settings.get("JoinSource", "None") == "Input",
            input_format=record_format(content_type),
            output_format=record_format(accept or content_type),
        )
        processing._check_formats(content_type, accept or content_type)
        return processing

    def _check_formats(self, content_type: str | None, accept: str | None) -> None:
        if (not self.input_filter.is_root or self.join_input) and self.input_format is None:
            raise FilterError(
                f"InputFilter and JoinSource work on text/csv, application/json and application/jsonlines "
                f"input only; the ContentType is {content_type!r}"
            )
        if self.per_record_output and self.output_format is None:
            raise FilterError(
                f"JoinSource and OutputFilter work on text/csv, application/json and application/jsonlines "
                f"output only; the Accept type is {accept!r}"
            )

    @property
    def active(self) -> bool:
        return not self.input_filter.is_root or self.per_record_output

    @property
    def per_record_output(self) -> bool:
        """Whether each record's output must be found in the response (to join or filter it)."""
        return self.join_input or not self.output_filter.is_root

    def filter_input(self, record: bytes) -> bytes:
        if self.input_filter.is_root:
            return record
        assert self.input_format is not None
        return render_record(self.input_filter.apply(parse_record(record, self.input_format)), self.input_format)

    def finish(self, original: bytes, output: bytes) -> bytes:
        """The record as written: joined with its input and filtered, without a line terminator."""
        assert self.output_format is not None
        value = parse_output(output, self.output_format)
        if self.join_input:
            value = self._joined(parse_record(original, self.input_format or self.output_format), value)
        return render_record(self.output_filter.apply(value), self.output_format)

    def _joined(self, source: Any, output: Any) -> Any:
        if self.output_format == "csv":
            return [*_as_row(source), *_as_row(output)]
        if isinstance(source, dict):
            return {**source, "SageMakerOutput": output}
        return {"SageMakerInput": source, "SageMakerOutput": output}


def _as_row(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def split_response(body: bytes, count: int, fmt: str) -> list[bytes]:
    """One output per input record of a request: the response's lines (or, for JSON, the elements of a
    JSON array with one element per record)."""
    lines = [line for line in body.split(b"\n") if line.strip()]
    if len(lines) == count:
        return lines
    if count == 1:
        return [body.strip()]
    if fmt == "json":
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and len(parsed) == count:
            return [json.dumps(item, separators=(",", ":")).encode() for item in parsed]
    raise FilterError(
        f"The model returned {len(lines)} output records for {count} input records; JoinSource and OutputFilter "
        "need one output line per input record."
    )


def check_filter_text(settings: dict[str, Any], content_type: str | None, accept: str | None) -> Sequence[str]:
    """The service's CreateTransformJob complaints about the filters' characters (empty when fine)."""
    problems = []
    for field, kind in (("InputFilter", content_type), ("OutputFilter", accept or content_type)):
        expression = settings.get(field)
        if expression:
            message = invalid_character_message(field, expression, kind or "")
            if message:
                problems.append(message)
    return problems
