"""Turn StartPipelineExecution's PipelineParameters (strings) into the execution's typed values — pure.

For: `convert_parameters(definition, supplied)`: each supplied `{"Name", "Value"}` converted by the declared Type,
defaults filled in for the rest, in the definition's order; a `ParameterError` (the API turns it into a
ValidationException) for an undeclared name, a name given twice, an empty value, a value that is not of the
declared type or not one of the parameter's EnumValues, and a parameter without default that got no value.

Not for: the request's shape (botocore's model already checked Name's pattern and Value's length) or declared
defaults (`definition.py` checked them at CreatePipeline).

Accepted texts: Integer `[+-]?[0-9]+`; Float a decimal or scientific number (`7.5`, `2`, `1e-05`, not NaN or
Infinity); Boolean `true`/`false` in any case — the v2 SDK sends `str(value)`, so `True`/`False`. Messages: an
empty value gets the service's own text (`[string "" is too short (length: 0, required minimum: 1)]`, reported in
aws/sagemaker-python-sdk#4016); unknown and missing parameters use the wording of the SDK's local mode, which
mirrors the service ("Unknown parameter 'X'", "Parameter 'X' is undefined."); the rest are worded alike.
"""

from __future__ import annotations

import json
import math
import re

from emulator.pipelines.definition import Parameter, ParameterType, ParameterValue, PipelineDefinition

_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}


class ParameterError(ValueError):
    """A supplied parameter list the service would reject; the message is the ValidationException's."""


def convert_parameters(
    definition: PipelineDefinition, supplied: list[dict[str, str]] | None
) -> dict[str, ParameterValue]:
    """Every declared parameter's value for a new execution: supplied ones converted, defaults for the rest."""
    given = _supplied_values(definition, supplied or [])
    values: dict[str, ParameterValue] = {}
    for parameter in definition.parameters:
        if parameter.name in given:
            values[parameter.name] = convert_value(parameter, given[parameter.name])
        elif parameter.default_value is not None:
            values[parameter.name] = parameter.default_value
        else:
            raise ParameterError(f"Parameter '{parameter.name}' is undefined.")
    return values


def _supplied_values(definition: PipelineDefinition, supplied: list[dict[str, str]]) -> dict[str, str]:
    declared = {parameter.name for parameter in definition.parameters}
    given: dict[str, str] = {}
    for item in supplied:
        name, value = item.get("Name"), item.get("Value")
        if name not in declared:
            raise ParameterError(f"Unknown parameter '{name}'")
        if name in given:
            raise ParameterError(f"Parameter '{name}' is given more than once in PipelineParameters.")
        given[name] = value if isinstance(value, str) else ""
    return given


def convert_value(parameter: Parameter, text: str) -> ParameterValue:
    """One supplied value converted to the parameter's Type and checked against its EnumValues."""
    if text == "":
        raise ParameterError('[string "" is too short (length: 0, required minimum: 1)]')
    value = _typed(parameter.type, text)
    if value is None:
        raise ParameterError(
            f"Unexpected type for parameter '{parameter.name}'. Expected {_expected(parameter.type)} "
            f"but found {json.dumps(text)}."
        )
    if parameter.enum_values is not None and value not in parameter.enum_values:
        allowed = ", ".join(json.dumps(v) for v in parameter.enum_values)
        raise ParameterError(
            f"Value {json.dumps(text)} for parameter '{parameter.name}' is not one of its EnumValues: [{allowed}]."
        )
    return value


def _typed(kind: ParameterType, text: str) -> ParameterValue | None:
    """The value `text` stands for as a `kind`, or None if it is not one."""
    if kind is ParameterType.STRING:
        return text
    if kind is ParameterType.INTEGER:
        return int(text) if _INTEGER.fullmatch(text) else None
    if kind is ParameterType.BOOLEAN:
        return _BOOLEANS.get(text.lower())
    number = float(text) if _FLOAT.fullmatch(text) else math.inf
    return number if math.isfinite(number) else None


def _expected(kind: ParameterType) -> str:
    return {
        ParameterType.INTEGER: "an Integer (e.g. 2)",
        ParameterType.FLOAT: "a Float (e.g. 7.5)",
        ParameterType.BOOLEAN: "a Boolean (true or false)",
    }.get(kind, "a String")
