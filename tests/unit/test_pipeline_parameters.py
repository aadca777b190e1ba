"""StartPipelineExecution parameter conversion (pure): typed values, defaults, and every rejection's message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulator.pipelines.definition import PipelineDefinition, parse_definition
from emulator.pipelines.parameters import ParameterError, convert_parameters

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def definition(*parameters: dict[str, Any]) -> PipelineDefinition:
    document = {"Version": "2020-12-01", "Parameters": list(parameters), "Steps": []}
    return parse_definition(json.dumps(document))


def declared(name: str, kind: str, default: Any = None, **more: Any) -> dict[str, Any]:
    parameter = {"Name": name, "Type": kind, **more}
    return parameter if default is None else {**parameter, "DefaultValue": default}


def supplied(**values: str) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in values.items()]


ALL_TYPES = definition(
    declared("Count", "Integer", 1),
    declared("Threshold", "Float", 6.0),
    declared("Flag", "Boolean", False),
    declared("Mode", "String", "fast", EnumValues=["fast", "slow"]),
    declared("Path", "String", "s3://bucket/in"),
)


def rejected(parameters: list[dict[str, str]] | None, of: PipelineDefinition = ALL_TYPES) -> str:
    with pytest.raises(ParameterError) as caught:
        convert_parameters(of, parameters)
    return str(caught.value)


def test_defaults_fill_in_everything_not_supplied_in_definition_order() -> None:
    expected = {"Count": 1, "Threshold": 6.0, "Flag": False, "Mode": "fast", "Path": "s3://bucket/in"}
    assert convert_parameters(ALL_TYPES, None) == expected
    assert list(convert_parameters(ALL_TYPES, [])) == ["Count", "Threshold", "Flag", "Mode", "Path"]
    values = convert_parameters(ALL_TYPES, supplied(Path="s3://other", Count="3"))
    assert values == {**expected, "Path": "s3://other", "Count": 3}


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("Count", "2", 2),
        ("Count", "-3", -3),
        ("Count", "+4", 4),
        ("Count", "007", 7),
        ("Threshold", "7.5", 7.5),
        ("Threshold", "2", 2.0),
        ("Threshold", "-0.25", -0.25),
        ("Threshold", "1e-05", 1e-05),
        ("Threshold", "2.5E3", 2500.0),
        ("Threshold", ".5", 0.5),
        ("Threshold", "5.", 5.0),
        ("Flag", "true", True),
        ("Flag", "True", True),
        ("Flag", "FALSE", False),
        ("Flag", "False", False),
        ("Mode", "slow", "slow"),
        ("Path", " spaces and ünïcödé ", " spaces and ünïcödé "),
    ],
)
def test_supplied_text_is_converted_by_declared_type(name: str, text: str, value: Any) -> None:
    converted = convert_parameters(ALL_TYPES, supplied(**{name: text}))[name]
    assert converted == value and type(converted) is type(value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("Count", "2.0", "an Integer (e.g. 2)"),
        ("Count", "abc", "an Integer (e.g. 2)"),
        ("Count", " 2", "an Integer (e.g. 2)"),
        ("Count", "1_000", "an Integer (e.g. 2)"),
        ("Count", "\u0663", "an Integer (e.g. 2)"),
        ("Count", "true", "an Integer (e.g. 2)"),
        ("Threshold", "nan", "a Float (e.g. 7.5)"),
        ("Threshold", "Infinity", "a Float (e.g. 7.5)"),
        ("Threshold", "1e999", "a Float (e.g. 7.5)"),
        ("Threshold", "7,5", "a Float (e.g. 7.5)"),
        ("Threshold", "0x10", "a Float (e.g. 7.5)"),
        ("Flag", "yes", "a Boolean (true or false)"),
        ("Flag", "1", "a Boolean (true or false)"),
    ],
)
def test_text_that_is_not_of_the_declared_type_is_rejected(name: str, text: str, expected: str) -> None:
    message = rejected(supplied(**{name: text}))
    assert message == f"Unexpected type for parameter '{name}'. Expected {expected} but found {json.dumps(text)}."


@pytest.mark.parametrize("name", ["Path", "Count", "Flag"])
def test_an_empty_value_gets_the_services_message(name: str) -> None:
    assert rejected(supplied(**{name: ""})) == '[string "" is too short (length: 0, required minimum: 1)]'


def test_a_value_outside_enum_values_is_rejected() -> None:
    assert rejected(supplied(Mode="medium")) == (
        'Value "medium" for parameter \'Mode\' is not one of its EnumValues: ["fast", "slow"].'
    )
    assert rejected(supplied(Mode="FAST")).startswith("Value \"FAST\" for parameter 'Mode'")


def test_enum_values_of_numbers_compare_as_numbers() -> None:
    numbers = definition(
        declared("Rate", "Float", 0.5, EnumValues=[0.5, 1]), declared("N", "Integer", 1, EnumValues=[1, 2])
    )
    assert convert_parameters(numbers, supplied(Rate="1", N="2")) == {"Rate": 1.0, "N": 2}
    assert rejected(supplied(Rate="0.25"), numbers).startswith("Value \"0.25\" for parameter 'Rate'")
    assert rejected(supplied(N="3"), numbers).startswith("Value \"3\" for parameter 'N'")


def test_an_undeclared_name_is_rejected() -> None:
    assert rejected(supplied(Count="2", count="3")) == "Unknown parameter 'count'"


def test_a_name_given_twice_is_rejected() -> None:
    twice = [{"Name": "Count", "Value": "2"}, {"Name": "Count", "Value": "2"}]
    assert rejected(twice) == "Parameter 'Count' is given more than once in PipelineParameters."


def test_a_parameter_without_default_needs_a_value() -> None:
    required = definition(declared("Optional", "String", "x"), declared("Required", "Integer"))
    assert rejected(None, required) == "Parameter 'Required' is undefined."
    assert rejected(supplied(Optional="y"), required) == "Parameter 'Required' is undefined."
    assert convert_parameters(required, supplied(Required="5")) == {"Optional": "x", "Required": 5}


def test_the_sdk_start_request_against_its_create_request() -> None:
    bodies = json.loads((FIXTURES / "sdk-v2-request-bodies.json").read_text())
    create = next(c["params"] for c in bodies["CreatePipeline"] if c["params"]["PipelineName"] == "abalone-pipeline")
    start = next(s["params"] for s in bodies["StartPipelineExecution"] if "PipelineParameters" in s["params"])
    values = convert_parameters(parse_definition(json.dumps(create["PipelineDefinition"])), start["PipelineParameters"])
    assert values == {
        "ProcessingInstanceCount": 2,
        "InstanceType": "ml.m5.xlarge",
        "TrainingInstanceType": "ml.m5.xlarge",
        "ModelApprovalStatus": "Approved",
        "InputData": "s3://sagemaker-us-east-1-123456789012/abalone/abalone-dataset.csv",
        "BatchData": "s3://sagemaker-us-east-1-123456789012/abalone/batch",
        "MseThreshold": 7.5,
    }


def test_the_v2_sdk_spelling_of_booleans_and_numbers() -> None:
    """pipeline.start(parameters=...) sends str(value): True, 7.5, 1e-05, 2."""
    sdk_sent = [
        {"Name": name, "Value": str(value)} for name, value in {"Flag": True, "Threshold": 1e-05, "Count": 2}.items()
    ]
    assert convert_parameters(ALL_TYPES, sdk_sent) == {
        "Count": 2,
        "Threshold": 1e-05,
        "Flag": True,
        "Mode": "fast",
        "Path": "s3://bucket/in",
    }
