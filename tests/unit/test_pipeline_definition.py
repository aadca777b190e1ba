"""Pipeline definition parsing and validation (pure): the SDK's real definitions parse, every rule rejects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.pipelines.definition import (
    Branch,
    DefinitionError,
    Parameter,
    ParameterType,
    PropertyFile,
    StepType,
    parse_definition,
    validate_definition,
)
from emulator.pipelines.references import (
    InvalidExpression,
    Reference,
    ReferenceKind,
    find_references,
    parse_property_path,
    parse_reference,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
FIXTURE_NAMES = [
    "pipeline-v2-xgb-tuning-register.json",
    "pipeline-v2-sklearn-frameworkprocessor.json",
    "pipeline-v2-repack-register.json",
    "pipeline-v3-mlops.json",
]


def fixture_text(name: str) -> str:
    path = FIXTURES / name
    assert path.is_file(), f"missing SDK fixture {path}"
    return path.read_text()


def step(name: str, step_type: str = "Fail", **fields: Any) -> dict[str, Any]:
    arguments = fields.pop("Arguments", {"ErrorMessage": "stop"} if step_type == "Fail" else {})
    return {"Name": name, "Type": step_type, "Arguments": arguments, **fields}


def condition(name: str, if_steps: list[Any], else_steps: list[Any], left: Any = 1) -> dict[str, Any]:
    conditions = [{"Type": "Equals", "LeftValue": left, "RightValue": 1}]
    arguments = {"Conditions": conditions, "IfSteps": if_steps, "ElseSteps": else_steps}
    return step(name, "Condition", Arguments=arguments)


def definition(steps: list[Any], parameters: list[Any] | None = None, **top: Any) -> str:
    document = {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters or [], "Steps": steps, **top}
    return json.dumps(document)


def get(expression: str) -> dict[str, str]:
    return {"Get": expression}


def rejected(text: str) -> str:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(text)
    return str(caught.value)


# --- the SDK's real definitions ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_sdk_fixture_parses(name: str) -> None:
    text = fixture_text(name)
    parsed = parse_definition(text)
    assert parsed.version == "2020-12-01"
    assert parsed.document == json.loads(text)
    assert validate_definition(text) == json.loads(text)


def test_xgb_fixture_steps_are_flattened_with_their_branch() -> None:
    parsed = parse_definition(fixture_text("pipeline-v2-xgb-tuning-register.json"))
    layout = [(s.name, s.type, s.condition_step, s.branch) for s in parsed.steps]
    assert layout == [
        ("AbaloneProcess", StepType.PROCESSING, None, None),
        ("AbaloneTrain", StepType.TRAINING, None, None),
        ("AbaloneTuning", StepType.TUNING, None, None),
        ("AbaloneEval", StepType.PROCESSING, None, None),
        ("AbaloneMSECond", StepType.CONDITION, None, None),
        ("AbaloneCreateModel-CreateModel", StepType.MODEL, "AbaloneMSECond", Branch.IF),
        ("AbaloneTransform", StepType.TRANSFORM, "AbaloneMSECond", Branch.IF),
        ("AbaloneRegisterModel-RegisterModel", StepType.REGISTER_MODEL, "AbaloneMSECond", Branch.IF),
        ("AbaloneMSEFail", StepType.FAIL, "AbaloneMSECond", Branch.ELSE),
    ]
    assert [s.name for s in parsed.top_level_steps][-1] == "AbaloneMSECond"
    assert [s.name for s in parsed.branch_steps("AbaloneMSECond", Branch.ELSE)] == ["AbaloneMSEFail"]
    assert parsed.step("AbaloneEval").property_files == (
        PropertyFile("EvaluationReport", "evaluation", "evaluation.json"),
    )


def test_xgb_fixture_parameters() -> None:
    parsed = parse_definition(fixture_text("pipeline-v2-xgb-tuning-register.json"))
    assert parsed.parameters[0] == Parameter("ProcessingInstanceCount", ParameterType.INTEGER, 1)
    assert parsed.parameter("MseThreshold") == Parameter("MseThreshold", ParameterType.FLOAT, 6.0)
    assert [p.name for p in parsed.parameters] == [
        "ProcessingInstanceCount",
        "InstanceType",
        "TrainingInstanceType",
        "ModelApprovalStatus",
        "InputData",
        "BatchData",
        "MseThreshold",
    ]


def test_xgb_fixture_dependencies() -> None:
    parsed = parse_definition(fixture_text("pipeline-v2-xgb-tuning-register.json"))
    assert parsed.step("AbaloneEval").upstream == ("AbaloneTrain", "AbaloneProcess")
    assert parsed.step("AbaloneMSECond").references == (
        Reference(ReferenceKind.STEP, "AbaloneEval", "PropertyFiles.EvaluationReport"),
        Reference(ReferenceKind.PARAMETER, "MseThreshold"),
    )
    transform = parsed.step("AbaloneTransform")
    assert transform.referenced_steps == ("AbaloneCreateModel-CreateModel",)
    assert transform.upstream == ("AbaloneCreateModel-CreateModel", "AbaloneMSECond")


def test_repack_fixture_keeps_explicit_depends_on() -> None:
    parsed = parse_definition(fixture_text("pipeline-v2-repack-register.json"))
    assert parsed.step("RpRegister-RepackModel-0").depends_on == ("RpTrain",)
    assert parsed.step("RpRegister-RegisterModel").upstream == ("RpRegister-RepackModel-0",)


# --- references --------------------------------------------------------------------------------------------


def test_find_references_walks_functions_conditions_lists_and_dicts() -> None:
    value = {
        "A": [get("Parameters.P"), {"Nested": get("Execution.PipelineExecutionId")}],
        "B": {"Std:Join": {"On": "/", "Values": ["s3:/", get("Steps.S.ModelArtifacts.S3ModelArtifacts")]}},
        "C": {"Std:JsonGet": {"PropertyFile": get("Steps.E.PropertyFiles.Report"), "Path": "a.b"}},
        "D": {"Std:JsonGet": {"S3Uri": {"Std:Join": {"On": "", "Values": [get("Steps.F.Out")]}}, "Path": "x"}},
        "E": [{"Type": "Not", "Condition": {"Type": "In", "QueryValue": get("Parameters.Q"), "Values": [1]}}],
        "F": get("Parameters.P"),
    }
    assert find_references(value) == (
        Reference(ReferenceKind.PARAMETER, "P"),
        Reference(ReferenceKind.EXECUTION, "PipelineExecutionId"),
        Reference(ReferenceKind.STEP, "S", "ModelArtifacts.S3ModelArtifacts"),
        Reference(ReferenceKind.STEP, "E", "PropertyFiles.Report"),
        Reference(ReferenceKind.STEP, "F", "Out"),
        Reference(ReferenceKind.PARAMETER, "Q"),
    )


def test_parse_reference_of_a_step_property() -> None:
    reference = parse_reference("Steps.Pre-1.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")
    assert (reference.kind, reference.name, reference.property_file) == (ReferenceKind.STEP, "Pre-1", None)
    assert reference.segments == ("ProcessingOutputConfig", "Outputs", "train", "S3Output", "S3Uri")
    assert reference.expression == "Steps.Pre-1.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    assert parse_reference("Steps.E.PropertyFiles.Report").property_file == "Report"
    assert parse_property_path('Summaries[0]["k"].Name') == ("Summaries", 0, "k", "Name")


@pytest.mark.parametrize(
    "value",
    [
        get("Execution.Nope"),
        get("Parameter.P"),
        get("Steps.S"),
        get("Steps.S.Outputs[x]"),
        {"Get": 3},
        {"Std:Join": {"On": "/"}},
        {"Std:JsonGet": {"Path": "a"}},
        {"Std:JsonGet": {"PropertyFile": get("Steps.S.Out"), "Path": "a"}},
        {"Std:Concat": []},
    ],
)
def test_find_references_rejects_malformed_expressions(value: Any) -> None:
    with pytest.raises(InvalidExpression):
        find_references(value)


# --- validation errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"Version": NaN, "Steps": []}', "not valid JSON"),
        ("[]", "must be a JSON object"),
        (json.dumps({"Steps": []}), "missing required field 'Version'"),
        (json.dumps({"Version": "2021-01-01", "Steps": []}), 'Version "2021-01-01" is not supported'),
        (json.dumps({"Version": "2020-12-01"}), "missing required field 'Steps'"),
        (json.dumps({"Version": "2020-12-01", "Steps": {}}), "Steps must be a list"),
        (definition(["x"]), "Steps[0] must be a step object"),
    ],
)
def test_document_level_errors(text: str, expected: str) -> None:
    assert expected in rejected(text)


def test_empty_steps_are_accepted() -> None:
    assert parse_definition(definition([])).steps == ()


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([{"Type": "Fail"}], "Steps[0] is missing required field 'Name'"),
        ([step("bad name")], 'Step name "bad name" is invalid'),
        ([step("x" * 65)], 'Step name "' + "x" * 65 + '" is invalid'),
        ([step("")], 'Step name "" is invalid'),
        ([{"Name": "A"}], "Step 'A' is missing required field 'Type'"),
        ([step("A", "Training2")], "Step 'A' has unknown Type \"Training2\""),
        ([step("A", Arguments=[])], "Step 'A' Arguments must be an object"),
        ([step("A"), step("A")], "Step names must be unique: found duplicate step name 'A'"),
        ([step("A"), condition("C", [step("A")], [])], "found duplicate step name 'A'"),
        ([condition("C", [step("B")], [step("B")])], "found duplicate step name 'B'"),
        ([condition("C", [{"Type": "Fail"}], [])], "Condition step 'C' IfSteps[0] is missing required field 'Name'"),
        ([step("A", DependsOn="B"), step("B")], "Step 'A' DependsOn must be a list of step names"),
        ([step("A", DependsOn=["Nope"])], "Step 'A' DependsOn step 'Nope', which is not in the pipeline"),
    ],
)
def test_step_errors(steps: list[Any], expected: str) -> None:
    assert expected in rejected(definition(steps))


def test_step_name_at_the_length_limit_is_accepted() -> None:
    assert parse_definition(definition([step("x" * 64)])).steps[0].name == "x" * 64


@pytest.mark.parametrize(
    ("steps", "cycle"),
    [
        ([step("A", DependsOn=["A"])], "'A' -> 'A'"),
        ([step("A", DependsOn=["B"]), step("B", DependsOn=["A"])], "'A' -> 'B' -> 'A'"),
        (
            [step("A", "Training", Arguments={"X": get("Steps.B.ModelName")}), step("B", DependsOn=["A"])],
            "'A' -> 'B' -> 'A'",
        ),
        ([step("A", "Training", Arguments={"X": get("Steps.A.ModelName")})], "'A' -> 'A'"),
        ([condition("C", [step("In")], [], left=get("Steps.In.ModelName"))], "'C' -> 'In' -> 'C'"),
    ],
)
def test_dependency_cycles_are_reported_with_their_steps(steps: list[Any], cycle: str) -> None:
    message = rejected(definition(steps))
    assert "dependency cycle" in message
    assert cycle in message


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"X": get("Parameters.Missing")}, "Step 'A' references parameter 'Missing', which is not declared"),
        ({"X": get("Steps.Nope.ModelName")}, "Step 'A' references step 'Nope'"),
        ({"X": get("Execution.Tomorrow")}, "Step 'A' has an invalid expression: Get 'Execution.Tomorrow'"),
        ({"X": get("Nowhere.X")}, "Step 'A' has an invalid expression: Get 'Nowhere.X' is not a valid"),
        (
            {"X": {"Std:JsonGet": {"PropertyFile": get("Steps.B.PropertyFiles.Other"), "Path": "a"}}},
            "Step 'A' references property file 'Other' of step 'B'",
        ),
    ],
)
def test_reference_errors_name_the_referring_step(arguments: dict[str, Any], expected: str) -> None:
    files = [{"PropertyFileName": "Report", "OutputName": "out", "FilePath": "r.json"}]
    steps = [step("A", "Training", Arguments=arguments), step("B", "Processing", PropertyFiles=files)]
    assert expected in rejected(definition(steps))


def test_experiment_config_references_are_checked() -> None:
    text = definition([], PipelineExperimentConfig={"ExperimentName": get("Execution.Bogus")})
    assert "PipelineExperimentConfig has an invalid expression" in rejected(text)


def test_steps_may_reference_across_branches_and_into_branches() -> None:
    branch_reader = step("Else", "Training", Arguments={"X": get("Steps.If.ModelName")})
    later = step("Later", "Training", Arguments={"X": get("Steps.If.ModelName")})
    parsed = parse_definition(definition([condition("C", [step("If", "Model")], [branch_reader]), later]))
    assert parsed.step("Else").upstream == ("If", "C")
    assert parsed.step("Later").upstream == ("If",)


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        ({"Type": "String"}, "Parameters[0] is missing required field 'Name'"),
        ({"Name": "a b", "Type": "String"}, 'Parameter name "a b" is invalid'),
        ({"Name": "P", "Type": "Str"}, "Parameter 'P' has invalid Type \"Str\""),
        ({"Name": "P"}, "Parameter 'P' has invalid Type null"),
        ({"Name": "P", "Type": "Integer", "DefaultValue": "1"}, "Parameter 'P' of Type Integer has a DefaultValue"),
        ({"Name": "P", "Type": "Integer", "DefaultValue": 1.5}, "Parameter 'P' of Type Integer"),
        ({"Name": "P", "Type": "Integer", "DefaultValue": True}, "Parameter 'P' of Type Integer"),
        ({"Name": "P", "Type": "Float", "DefaultValue": "6.0"}, "Parameter 'P' of Type Float"),
        ({"Name": "P", "Type": "Boolean", "DefaultValue": 1}, "Parameter 'P' of Type Boolean"),
        ({"Name": "P", "Type": "String", "DefaultValue": 1}, "Parameter 'P' of Type String"),
        ({"Name": "P", "Type": "String", "EnumValues": "a"}, "Parameter 'P' EnumValues must be a non-empty list"),
        ({"Name": "P", "Type": "String", "EnumValues": ["a", 1]}, "Parameter 'P' EnumValues must be"),
        (
            {"Name": "P", "Type": "String", "DefaultValue": "c", "EnumValues": ["a", "b"]},
            "Parameter 'P' DefaultValue \"c\" is not one of its EnumValues",
        ),
    ],
)
def test_parameter_errors(parameter: dict[str, Any], expected: str) -> None:
    assert expected in rejected(definition([], [parameter]))


def test_duplicate_parameter_names_are_rejected() -> None:
    parameters = [{"Name": "P", "Type": "String"}, {"Name": "P", "Type": "Integer"}]
    assert "Parameter names must be unique: found duplicate parameter name 'P'" in rejected(definition([], parameters))


def test_parameters_of_every_type_parse() -> None:
    parameters = [
        {"Name": "S", "Type": "String", "DefaultValue": "b", "EnumValues": ["a", "b"]},
        {"Name": "I", "Type": "Integer", "DefaultValue": 3},
        {"Name": "F", "Type": "Float", "DefaultValue": 2},
        {"Name": "B", "Type": "Boolean", "DefaultValue": False},
        {"Name": "NoDefault", "Type": "String"},
    ]
    parsed = parse_definition(definition([], parameters))
    assert parsed.parameters == (
        Parameter("S", ParameterType.STRING, "b", ("a", "b")),
        Parameter("I", ParameterType.INTEGER, 3),
        Parameter("F", ParameterType.FLOAT, 2.0),
        Parameter("B", ParameterType.BOOLEAN, False),
        Parameter("NoDefault", ParameterType.STRING),
    )
    assert isinstance(parsed.parameter("F").default_value, float)


def _condition_with(**changes: Any) -> dict[str, Any]:
    result = copy.deepcopy(condition("C", [], []))
    result["Arguments"].update(changes)
    return result


@pytest.mark.parametrize(
    ("condition_step", "expected"),
    [
        (step("C", "Condition", Arguments={}), "Condition step 'C' needs Arguments with a 'Conditions' list"),
        (_condition_with(Conditions={}), "Condition step 'C' Conditions must be a list"),
        (_condition_with(Conditions=[{"Type": "Like"}]), "Condition step 'C' has a condition of unknown Type"),
        (_condition_with(Conditions=[{"Type": "Equals", "LeftValue": 1}]), "Equals condition without 'RightValue'"),
        (_condition_with(Conditions=[{"Type": "Not", "Condition": {"Type": "X"}}]), 'unknown Type "X"'),
        (_condition_with(Conditions=[{"Type": "Or", "Conditions": [{}]}]), "unknown Type null"),
        (_condition_with(Conditions=[{"Type": "In", "QueryValue": 1, "Values": 1}]), "'Values' is not a list"),
        (_condition_with(IfSteps={}), "Condition step 'C' IfSteps must be a list"),
        (_condition_with(ElseSteps=["x"]), "Condition step 'C' ElseSteps[0] must be a step object"),
    ],
)
def test_condition_errors(condition_step: dict[str, Any], expected: str) -> None:
    assert expected in rejected(definition([condition_step]))


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, "Step 'P' PropertyFiles must be a list"),
        (
            [{"PropertyFileName": "R", "OutputName": "o"}],
            "Step 'P' PropertyFiles[0] needs a non-empty string 'FilePath'",
        ),
        (
            [{"PropertyFileName": "R", "OutputName": "o", "FilePath": "f"}] * 2,
            "Step 'P' declares property file 'R' more than once",
        ),
    ],
)
def test_property_file_errors(files: Any, expected: str) -> None:
    assert expected in rejected(definition([step("P", "Processing", PropertyFiles=files)]))
