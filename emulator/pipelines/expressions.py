"""Evaluate pipeline-definition expressions and conditions while an execution runs — pure; I/O is in the context.

For: the value of one expression (`{"Get": ...}`, `{"Std:Join": ...}`, `{"Std:JsonGet": ...}`) or of any JSON value
with expressions inside (a step's Arguments), and the outcome of a Condition step's conditions, given an
`EvaluationContext` that supplies the execution's parameter values, execution variables, the properties of finished
steps and a way to read a JSON object from S3; `to_text` prints a value the way the service does.

Not for: converting StartPipelineExecution parameters (`parameters.py`), or checking that referenced steps,
parameters and property files exist (`definition.py` does that at CreatePipeline).

Semantics (the evidence is in brackets):
- `Get Steps.S.<path>` walks the step's properties (its job's Describe document): `.Member` and `['key']` select a
  map member; `[n]` a list element; `['key']` on a list selects the first element with a member `Name` or `…Name`
  equal to key — `ProcessingOutputConfig.Outputs['train']` (OutputName), `ProcessingInputs['code']` (InputName),
  `FinalMetricDataList['val:acc']` (MetricName), `InputDataConfig['train']` (ChannelName) [the SDK's properties.py
  emits `['key']` for lists and maps alike; the SDK docs' TrainingStep example uses FinalMetricDataList['val:acc']].
  A Callback or Lambda step's `OutputParameters['x']` is the output's value, so its executor must give
  `OutputParameters` as a map of name to value.
- `Steps.S.PropertyFiles.F` is only readable through `Std:JsonGet`; the file is `FilePath` under the S3Uri of the
  step's output `OutputName` (ProcessingOutputConfig.Outputs) [sagemaker.local.pipeline does the same].
- `Std:JsonGet` Path is a definite Jayway JsonPath (the AWS docs point to it): an optional `$`, then `.name`,
  `['name']`, `["name"]` or `[n]` (a negative n counts from the end); wildcards, deep scans, filters and slices
  are rejected.
- A Get or JsonGet that yields JSON null cannot be evaluated (sagemaker.local.pipeline fails such a step too).
- `to_text` (used by `Std:Join`): strings unchanged; booleans `true`/`false` [the SDK's remote-function runtime
  reads a joined Boolean parameter as `value == "true"`]; integers in decimal; floats as Java's Double.toString
  (`6.0`, `0.001`, `1.0E7`, `1.0E-4`) [the service runs on the JVM: its JsonPath is Jayway's]; datetimes (e.g. an
  `Execution.StartDateTime` given as a datetime) as ISO-8601 UTC with milliseconds, `2024-05-01T12:00:00.000Z` —
  a decision, no evidence found.
- Conditions follow the SDK's local-mode evaluator (sagemaker.local.pipeline, the only implementation AWS has
  published), except that Integer and Float are one type, numbers: 1 equals 1.0 and 2 > 1.5. Equals needs two
  values of one type (number, string, boolean, list, object) and fails the step otherwise — a String "5" is not
  compared with a number 5, there is no coercion; GreaterThan/…/LessThanOrEqualTo need two numbers or two strings
  (strings compare by code point), so booleans cannot be ordered; In holds when a value of the query's type equals
  it (other types never match, no error); Or and a list (AND) stop at the first deciding condition, but every
  expression in the conditions is evaluated first.
"""

from __future__ import annotations

import copy
import json
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from emulator.pipelines.definition import ParameterValue, PipelineDefinition, PropertyFile
from emulator.pipelines.references import (
    InvalidExpression,
    PathSegment,
    Reference,
    ReferenceKind,
    parse_reference,
    split_property_path,
)

FUNCTIONS = ("Get", "Std:Join", "Std:JsonGet")
_SHOWN_MAX = 600  # characters of an expression's JSON quoted in a message
_MISSING = object()
_NO_EXPRESSION = object()
_JSON_PATH_SEGMENT = re.compile(
    r"\.(?P<name>[^.\[\]*]+)|\[(?P<index>-?[0-9]+)\]|\['(?P<single>[^']*)'\]|\[\"(?P<double>[^\"]*)\"\]"
)


class ExpressionError(ValueError):
    """An expression or condition cannot be evaluated; the message names it (as JSON) and says why.

    `ExpressionError(reason)` alone (e.g. from a `read_json` callable) carries just the reason.
    """

    def __init__(self, reason: str, expression: Any = _NO_EXPRESSION) -> None:
        self.reason = reason
        self.expression = None if expression is _NO_EXPRESSION else expression
        named = expression is not _NO_EXPRESSION
        super().__init__(f"Expression {shown(expression)} cannot be evaluated: {reason}" if named else reason)


class _Unresolvable(Exception):
    """Raised inside one function's evaluation; `evaluate` turns it into an ExpressionError naming the function."""


@dataclass(frozen=True)
class EvaluationContext:
    """What an expression may read while an execution runs.

    `step_properties(name)` is the step's properties (its job's Describe document, a Condition's outcome …), or None
    when the step has not succeeded; `read_json(uri)` returns the parsed JSON object at an `s3://` URI and raises
    (any exception) when it cannot.
    """

    definition: PipelineDefinition
    parameters: Mapping[str, ParameterValue]
    execution: Mapping[str, Any]
    step_properties: Callable[[str], Mapping[str, Any] | None]
    read_json: Callable[[str], Any]


def is_expression(value: object) -> bool:
    """Whether a JSON value is a function call: an object whose only key is Get, Std:Join or Std:JsonGet."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in FUNCTIONS


def resolve(value: Any, context: EvaluationContext) -> Any:
    """A copy of a JSON value with every expression inside replaced by its value; raise ExpressionError."""
    if is_expression(value):
        return evaluate(value, context)
    if isinstance(value, dict):
        return {key: resolve(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, context) for item in value]
    return value


def evaluate(expression: Any, context: EvaluationContext) -> Any:
    """The value of one expression (a literal, object or list is resolved as it stands); raise ExpressionError.

    The error names the innermost expression that failed, e.g. the `Get` inside a `Std:Join`.
    """
    if not is_expression(expression):
        return resolve(expression, context)
    [(function, body)] = expression.items()
    try:
        if function == "Get":
            return _get(body, context)
        if function == "Std:Join":
            return _join(body, context)
        return _json_get(body, context)
    except _Unresolvable as problem:
        raise ExpressionError(str(problem), expression) from None


def to_text(value: Any) -> str:
    """The string the service makes of a primitive value (see the module docstring); TypeError for others."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double_text(value)
    if isinstance(value, datetime):
        return iso_timestamp(value)
    raise TypeError(f"{type(value).__name__} has no text form")


def shown(value: Any) -> str:
    """A JSON value as compact JSON for a message, cut at a sensible length."""
    text = json.dumps(value, default=str)
    return text if len(text) <= _SHOWN_MAX else f"{text[: _SHOWN_MAX - 3]}..."


# --- Get ------------------------------------------------------------------------------------------------


def _get(body: object, context: EvaluationContext) -> Any:
    reference = _reference(body)
    if reference.kind is ReferenceKind.PARAMETER:
        if reference.name not in context.parameters:
            raise _Unresolvable(f"parameter '{reference.name}' has no value in this execution")
        return context.parameters[reference.name]
    if reference.kind is ReferenceKind.EXECUTION:
        return _execution_variable(reference.name, context)
    if reference.property_file is not None:
        raise _Unresolvable(
            f"property file '{reference.property_file}' of step '{reference.name}' can only be read with Std:JsonGet"
        )
    properties = _properties_of(reference.name, context)
    value = _walk(properties, split_property_path(reference.path), reference.name)
    return _not_null(value, f"property {reference.path} of step '{reference.name}'")


def _reference(body: object) -> Reference:
    try:
        return parse_reference(body)
    except InvalidExpression as error:
        raise _Unresolvable(str(error)) from None


def _execution_variable(name: str, context: EvaluationContext) -> Any:
    value = context.execution.get(name)
    if value is None:
        raise _Unresolvable(f"execution variable '{name}' is not available here")
    return iso_timestamp(value) if isinstance(value, datetime) else value


def _properties_of(step: str, context: EvaluationContext) -> Mapping[str, Any]:
    properties = context.step_properties(step)
    if properties is None:
        raise _Unresolvable(f"step '{step}' has no properties: it has not succeeded in this execution")
    return properties


def _not_null(value: Any, what: str) -> Any:
    if value is None:
        raise _Unresolvable(f"{what} is null")
    return copy.deepcopy(value)


def _walk(properties: Mapping[str, Any], segments: Sequence[PathSegment], step: str) -> Any:
    """Follow a property path; `_Unresolvable` names the first segment that is missing."""
    value: Any = properties
    for position, segment in enumerate(segments):
        selected = _select(value, segment.key)
        if selected is _MISSING:
            walked = "".join(s.text for s in segments[: position + 1])
            raise _Unresolvable(f"the properties of step '{step}' have no {walked}{_why_missing(value, segment)}")
        value = selected
    return value


def _select(container: Any, key: str | int) -> Any:
    """One step-property path segment: a map member, a list index, or a list element by its `…Name` member.

    Returns the private `_MISSING` marker (never a real value) when there is no such member or element.
    """
    if isinstance(key, int):
        is_list = isinstance(container, list)
        return container[key] if is_list and 0 <= key < len(container) else _MISSING
    if isinstance(container, Mapping):
        return container.get(key, _MISSING)
    if isinstance(container, list):
        return next((item for item in container if key in _names(item)), _MISSING)
    return _MISSING


def _names(item: object) -> list[Any]:
    if not isinstance(item, Mapping):
        return []
    return [value for member, value in item.items() if isinstance(member, str) and member.endswith("Name")]


def _why_missing(container: Any, segment: PathSegment) -> str:
    if isinstance(container, list) and isinstance(segment.key, int):
        return f" (the list has {len(container)} elements)"
    if isinstance(container, list):
        names = ", ".join(f"'{name}'" for item in container for name in _names(item))
        return f" (no element is named '{segment.key}'; names: {names or 'none'})"
    if isinstance(container, Mapping):
        return ""
    return f" (the value before {segment.text} is {shown(container)})"


# --- Std:Join -------------------------------------------------------------------------------------------


def _join(body: object, context: EvaluationContext) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("On"), str) or not isinstance(body.get("Values"), list):
        raise _Unresolvable("Std:Join needs an object with a string 'On' and a list 'Values'")
    return body["On"].join(_join_text(evaluate(value, context)) for value in body["Values"])


def _join_text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        raise _Unresolvable(f"Std:Join can only join strings, numbers and booleans, not {shown(value)}")
    return to_text(value)


# --- Std:JsonGet ----------------------------------------------------------------------------------------


def _json_get(body: object, context: EvaluationContext) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("Path"), str):
        raise _Unresolvable("Std:JsonGet needs an object with a string 'Path'")
    if "PropertyFile" in body:
        uri = _property_file_uri(body["PropertyFile"], context)
    elif "S3Uri" in body:
        uri = _s3_uri(evaluate(body["S3Uri"], context))
    else:
        raise _Unresolvable("Std:JsonGet needs a 'PropertyFile' or an 'S3Uri'")
    try:
        document = context.read_json(uri)
    except ExpressionError as error:
        raise _Unresolvable(error.reason) from None
    except Exception as error:
        raise _Unresolvable(f"cannot read the JSON file {uri}: {error}") from None
    value = _json_path_get(document, body["Path"], uri)
    return _not_null(value, f"the value at '{body['Path']}' in {uri}")


def _property_file_uri(value: object, context: EvaluationContext) -> str:
    reference = _reference(value["Get"]) if isinstance(value, dict) and list(value) == ["Get"] else None
    if reference is None or reference.property_file is None:
        raise _Unresolvable('\'PropertyFile\' must be {"Get": "Steps.<step name>.PropertyFiles.<file name>"}')
    file = _declared_property_file(reference.name, reference.property_file, context.definition)
    segments = (
        PathSegment("ProcessingOutputConfig", "ProcessingOutputConfig"),
        PathSegment("Outputs", ".Outputs"),
        PathSegment(file.output_name, f"['{file.output_name}']"),
        PathSegment("S3Output", ".S3Output"),
        PathSegment("S3Uri", ".S3Uri"),
    )
    output_uri = _walk(_properties_of(reference.name, context), segments, reference.name)
    return f"{_s3_uri(output_uri).rstrip('/')}/{file.file_path.lstrip('/')}"


def _declared_property_file(step_name: str, file_name: str, definition: PipelineDefinition) -> PropertyFile:
    try:
        step = definition.step(step_name)
    except KeyError:
        raise _Unresolvable(f"step '{step_name}' is not in the pipeline") from None
    file = next((f for f in step.property_files if f.name == file_name), None)
    if file is None:
        raise _Unresolvable(f"step '{step_name}' declares no property file '{file_name}'")
    return file


def _s3_uri(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("s3://") or len(value) <= len("s3://"):
        raise _Unresolvable(f"{shown(value)} is not an S3 URI (s3://bucket/key)")
    return value


def _parse_json_path(path: str) -> tuple[PathSegment, ...]:
    """Split a definite Jayway JsonPath (`a.b[0]`, `$.a['b']`, `[-1].c`); `_Unresolvable` if unsupported."""
    body = path[1:] if path.startswith("$") else path if path.startswith("[") else f".{path}"
    segments: list[PathSegment] = []
    position = 0
    while position < len(body):
        match = _JSON_PATH_SEGMENT.match(body, position)
        if match is None:
            raise _Unresolvable(
                f"JSON path '{path}' is not supported: use $, .name, ['name'] and [index] (a definite JsonPath)"
            )
        index = match.group("index")
        key = int(index) if index is not None else next(g for g in match.groups() if g is not None)
        segments.append(PathSegment(key, match.group(0)))
        position = match.end()
    return tuple(segments)


def _json_path_get(document: Any, path: str, source: str) -> Any:
    """The value at a JsonPath in a parsed JSON document; `_Unresolvable` names the first missing segment."""
    value = document
    segments = _parse_json_path(path)
    for position, segment in enumerate(segments):
        value = _json_select(value, segment.key)
        if value is _MISSING:
            walked = "$" + "".join(s.text for s in segments[: position + 1])
            raise _Unresolvable(f"the JSON file {source} has nothing at {walked}")
    return value


def _json_select(container: Any, key: str | int) -> Any:
    if isinstance(key, int):
        is_list = isinstance(container, list)
        return container[key] if is_list and -len(container) <= key < len(container) else _MISSING
    return container.get(key, _MISSING) if isinstance(container, dict) else _MISSING


# --- text forms -----------------------------------------------------------------------------------------


def java_double_text(value: float) -> str:
    """Java's Double.toString: shortest round-trip digits, plain for 1e-3 <= |x| < 1e7, else `d.dddE±n`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    digits, exponent = _shortest_digits(abs(value))
    if -3 <= exponent < 7:
        return sign + _plain_decimal(digits, exponent)
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """Significant digits that read back as `value`, and the exponent of the first one.

    Like Java, a one-digit result gives way to the closest two-digit one when that reads back too
    (Double.MIN_VALUE prints 4.9E-324, not 5.0E-324).
    """
    shortest = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(str(digit) for digit in shortest.digits)
    exponent = len(digits) + int(shortest.exponent) - 1
    two = f"{value:.1e}"
    if len(digits) == 1 and float(two) == value:
        return two[0] + two[2].rstrip("0"), int(two[4:])
    return digits, exponent


def _plain_decimal(digits: str, exponent: int) -> str:
    if exponent < 0:
        return f"0.{'0' * (-exponent - 1)}{digits}"
    whole = digits[: exponent + 1].ljust(exponent + 1, "0")
    return f"{whole}.{digits[exponent + 1 :] or '0'}"


def iso_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and `Z`; a naive datetime is taken to be UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


# --- conditions -----------------------------------------------------------------------------------------

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}


def evaluate_conditions(conditions: list[Any], context: EvaluationContext) -> bool:
    """Whether every condition of a Condition step holds (a list is an AND); raise ExpressionError.

    Every expression in the conditions is evaluated first, so one that cannot be evaluated fails the step even
    where the outcome is already known; then `And`/`Or` stop at the first condition that decides.
    """
    resolved = resolve(conditions, context)
    return all(_holds(original, value) for original, value in zip(conditions, resolved, strict=True))


def _holds(original: Any, condition: Any) -> bool:
    """One resolved condition; `original` (the same condition before evaluation) is what errors name."""
    kind = condition.get("Type") if isinstance(condition, dict) else None
    if kind == "Equals" or kind in _ORDERINGS:
        left, right = _member(original, condition, "LeftValue"), _member(original, condition, "RightValue")
        return _compare(kind, left, right, original)
    if kind == "In":
        query, values = _member(original, condition, "QueryValue"), _member(original, condition, "Values")
        if not isinstance(values, list):
            raise ExpressionError("an In condition's Values must be a list", original)
        return any(_same_type(query, value) and query == value for value in values)
    if kind == "Not":
        negated = _member(original, condition, "Condition")
        return not _holds(original["Condition"], negated)
    if kind == "Or":
        members = _member(original, condition, "Conditions")
        if not isinstance(members, list):
            raise ExpressionError("an Or condition's Conditions must be a list", original)
        return any(_holds(o, c) for o, c in zip(original["Conditions"], members, strict=True))
    raise ExpressionError(f"unknown condition Type {shown(kind)}", original)


def _member(original: Any, condition: dict[str, Any], key: str) -> Any:
    if key not in condition:
        raise ExpressionError(f"a {condition['Type']} condition needs '{key}'", original)
    return condition[key]


def _compare(kind: str, left: Any, right: Any, original: Any) -> bool:
    """Equals: values of one type (Integer and Float are both numbers); orderings: two numbers or two strings."""
    if kind == "Equals":
        if not _same_type(left, right):
            reason = f"Equals cannot compare {_typed(left)} with {_typed(right)}: their types differ"
            raise ExpressionError(reason, original)
        return bool(left == right)
    if not _same_type(left, right) or _value_type(left) not in ("Number", "String"):
        reason = f"{kind} cannot compare {_typed(left)} with {_typed(right)}: it compares two numbers or two strings"
        raise ExpressionError(reason, original)
    return _ORDERINGS[kind](left, right)


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "Number"
    if isinstance(value, str):
        return "String"
    return "null" if value is None else "List" if isinstance(value, list) else "Object"


def _same_type(left: Any, right: Any) -> bool:
    return _value_type(left) == _value_type(right)


def _typed(value: Any) -> str:
    """A value with its type for a message: `Integer 5`, `Float 6.0`, `String "abc"`, `Boolean true`."""
    if isinstance(value, bool):
        return f"Boolean {to_text(value)}"
    if isinstance(value, int | float):
        return f"{'Integer' if isinstance(value, int) else 'Float'} {to_text(value)}"
    return f"{_value_type(value)} {shown(value)}"
