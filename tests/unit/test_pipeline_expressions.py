"""Pipeline expressions and conditions (pure): every form, its failures, and the SDK's real definitions resolved."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from emulator.pipelines.definition import PipelineDefinition, Step, StepType, parse_definition
from emulator.pipelines.expressions import (
    EvaluationContext,
    ExpressionError,
    evaluate,
    evaluate_conditions,
    java_double_text,
    resolve,
    to_text,
)
from emulator.pipelines.parameters import convert_parameters
from emulator.pipelines.references import find_references

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"
FIXTURE_NAMES = [
    "pipeline-v2-xgb-tuning-register.json",
    "pipeline-v2-sklearn-frameworkprocessor.json",
    "pipeline-v2-repack-register.json",
    "pipeline-v3-mlops.json",
]
EVAL_OUTPUT = "s3://bucket/exec-1/Eval/output/evaluation"

DEFINITION = parse_definition(
    json.dumps(
        {
            "Version": "2020-12-01",
            "Parameters": [
                {"Name": "Count", "Type": "Integer", "DefaultValue": 2},
                {"Name": "Threshold", "Type": "Float", "DefaultValue": 6.0},
                {"Name": "Flag", "Type": "Boolean", "DefaultValue": True},
                {"Name": "Mode", "Type": "String", "DefaultValue": "fast"},
            ],
            "Steps": [
                {
                    "Name": "Eval",
                    "Type": "Processing",
                    "Arguments": {},
                    "PropertyFiles": [
                        {"PropertyFileName": "Report", "OutputName": "evaluation", "FilePath": "evaluation.json"},
                        {"PropertyFileName": "Orphan", "OutputName": "absent", "FilePath": "x.json"},
                    ],
                },
                {"Name": "Train", "Type": "Training", "Arguments": {}},
                {"Name": "Pending", "Type": "Training", "Arguments": {}},
            ],
        }
    )
)

PROPERTIES: dict[str, dict[str, Any]] = {
    "Eval": {
        "ProcessingJobName": "eval-job",
        "ProcessingInputs": [
            {"InputName": "input-1", "S3Input": {"S3Uri": "s3://bucket/data"}},
            {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/code/evaluate.py"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "evaluation", "S3Output": {"S3Uri": EVAL_OUTPUT}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://bucket/exec-1/Eval/output/test/"}},
            ]
        },
    },
    "Train": {
        "TrainingJobName": "train-job",
        "ModelArtifacts": {"S3ModelArtifacts": "s3://bucket/train/model.tar.gz"},
        "FinalMetricDataList": [
            {"MetricName": "train:loss", "Value": 0.25, "Timestamp": 1700000000.0},
            {"MetricName": "val:acc", "Value": 0.93, "Timestamp": 1700000000.0},
        ],
        "InputDataConfig": [{"ChannelName": "train"}, {"ChannelName": "validation"}],
        "HyperParameters": {"eta": "0.2", "max_depth": "5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "EnableNetworkIsolation": False,
        "Missing": None,
    },
}

OBJECTS: dict[str, Any] = {
    f"{EVAL_OUTPUT}/evaluation.json": {
        "regression_metrics": {"mse": {"value": 5.5, "standard_deviation": 1.25}},
        "Output": [5, 10],
        "odd key": {"a.b": "dotted"},
        "nothing": None,
        "label": "good",
    },
    "s3://bucket/extra/metrics.json": {"accuracy": 0.91},
}

EXECUTION = {
    "PipelineExecutionId": "abc123def456",
    "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/abc123def456",
    "PipelineName": "p",
    "PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p",
    "StartDateTime": datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC),
    "CurrentDateTime": "2024-05-01T12:31:00.000Z",
}


def read_object(uri: str) -> Any:
    if uri not in OBJECTS:
        raise LookupError(f"NoSuchKey: {uri} does not exist")
    return OBJECTS[uri]


def context(
    parameters: Mapping[str, Any] | None = None,
    definition: PipelineDefinition = DEFINITION,
    properties: Mapping[str, Mapping[str, Any]] = PROPERTIES,
    read_json: Any = read_object,
) -> EvaluationContext:
    values = convert_parameters(definition, []) if parameters is None else parameters
    return EvaluationContext(definition, values, EXECUTION, properties.get, read_json)


def get(expression: str) -> dict[str, str]:
    return {"Get": expression}


def join(on: str, *values: Any) -> dict[str, Any]:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def json_get(path: str, file: str = "Steps.Eval.PropertyFiles.Report") -> dict[str, Any]:
    return {"Std:JsonGet": {"PropertyFile": get(file), "Path": path}}


def failure(expression: Any, ctx: EvaluationContext | None = None) -> str:
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, ctx or context())
    return str(caught.value)


# --- Get: parameters and execution variables -------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("Count", 2), ("Threshold", 6.0), ("Flag", True), ("Mode", "fast")])
def test_get_parameter_gives_its_typed_value(name: str, value: Any) -> None:
    result = evaluate(get(f"Parameters.{name}"), context())
    assert result == value and type(result) is type(value)


def test_get_parameter_uses_the_execution_value_not_the_default() -> None:
    assert evaluate(get("Parameters.Count"), context({"Count": 7})) == 7


def test_get_parameter_without_a_value_names_it() -> None:
    message = failure(get("Parameters.Count"), context({}))
    assert message == (
        'Expression {"Get": "Parameters.Count"} cannot be evaluated: parameter \'Count\' has no value in this execution'
    )


@pytest.mark.parametrize("name", ["PipelineExecutionId", "PipelineExecutionArn", "PipelineName", "PipelineArn"])
def test_get_execution_variable(name: str) -> None:
    assert evaluate(get(f"Execution.{name}"), context()) == EXECUTION[name]


def test_execution_datetimes_become_iso_utc_with_milliseconds() -> None:
    assert evaluate(get("Execution.StartDateTime"), context()) == "2024-05-01T12:30:15.123Z"
    assert evaluate(get("Execution.CurrentDateTime"), context()) == "2024-05-01T12:31:00.000Z"
    plus_two = datetime(2024, 5, 1, 14, 0, 0, 5000, tzinfo=timezone(timedelta(hours=2)))
    assert to_text(plus_two) == "2024-05-01T12:00:00.005Z"
    assert to_text(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05.000Z"


def test_execution_variable_not_available_here() -> None:
    assert "execution variable 'TrainingJobName' is not available" in failure(get("Execution.TrainingJobName"))


@pytest.mark.parametrize("body", ["Parameters", "Steps.Eval", "Execution.Nope", 5, "Parameters.A.B"])
def test_malformed_get_cannot_be_evaluated(body: Any) -> None:
    assert failure({"Get": body}).startswith(f"Expression {json.dumps({'Get': body})} cannot be evaluated: ")


# --- Get: step properties --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("Steps.Train.ModelArtifacts.S3ModelArtifacts", "s3://bucket/train/model.tar.gz"),
        ("Steps.Train.StoppingCondition.MaxRuntimeInSeconds", 86400),
        ("Steps.Train.EnableNetworkIsolation", False),
        ("Steps.Eval.ProcessingOutputConfig.Outputs[1].S3Output.S3Uri", "s3://bucket/exec-1/Eval/output/test/"),
        ("Steps.Eval.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri", EVAL_OUTPUT),
        ('Steps.Eval.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri', "s3://bucket/exec-1/Eval/output/test/"),
        ("Steps.Eval.ProcessingInputs['code'].S3Input.S3Uri", "s3://bucket/code/evaluate.py"),
        ("Steps.Train.FinalMetricDataList['val:acc'].Value", 0.93),
        ("Steps.Train.InputDataConfig['validation'].ChannelName", "validation"),
        ("Steps.Train.HyperParameters['eta']", "0.2"),
        ("Steps.Train.HyperParameters.max_depth", "5"),
    ],
)
def test_get_step_property(path: str, value: Any) -> None:
    assert evaluate(get(path), context()) == value


def test_get_step_property_may_be_an_object_and_is_a_copy() -> None:
    outputs = evaluate(get("Steps.Eval.ProcessingOutputConfig.Outputs"), context())
    assert [output["OutputName"] for output in outputs] == ["evaluation", "test"]
    outputs[0]["S3Output"]["S3Uri"] = "changed"
    assert PROPERTIES["Eval"]["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == EVAL_OUTPUT


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("Steps.Train.ModelArtifacts.Nope", "the properties of step 'Train' have no ModelArtifacts.Nope"),
        ("Steps.Train.Nope.Deeper", "the properties of step 'Train' have no Nope"),
        (
            "Steps.Eval.ProcessingOutputConfig.Outputs[2].S3Output",
            "have no ProcessingOutputConfig.Outputs[2] (the list has 2 elements)",
        ),
        (
            "Steps.Eval.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri",
            "have no ProcessingOutputConfig.Outputs['train'] (no element is named 'train'; "
            "names: 'evaluation', 'test')",
        ),
        (
            "Steps.Train.TrainingJobName.Deeper",
            'have no TrainingJobName.Deeper (the value before .Deeper is "train-job")',
        ),
        ("Steps.Train.HyperParameters[0]", "have no HyperParameters[0]"),
        ("Steps.Train.Missing", "property Missing of step 'Train' is null"),
        ("Steps.Pending.ModelArtifacts.S3ModelArtifacts", "step 'Pending' has no properties: it has not succeeded"),
        ("Steps.Eval.PropertyFiles.Report", "property file 'Report' of step 'Eval' can only be read with Std:JsonGet"),
    ],
)
def test_get_step_property_failure_says_what_is_missing(path: str, reason: str) -> None:
    message = failure(get(path))
    assert message.startswith(f'Expression {{"Get": "{path}"}} cannot be evaluated: ')
    assert reason in message


# --- Std:Join and text forms -----------------------------------------------------------------------------


def test_join_converts_each_value_like_the_service() -> None:
    expression = join("/", "s3:/", "bucket", get("Execution.PipelineExecutionId"), get("Parameters.Count"), 1.5, True)
    assert evaluate(expression, context()) == "s3://bucket/abc123def456/2/1.5/true"


def test_join_of_one_value_makes_it_a_string() -> None:
    assert evaluate(join("", get("Parameters.Count")), context()) == "2"
    assert evaluate(join("", get("Parameters.Threshold")), context()) == "6.0"
    assert evaluate(join("", get("Parameters.Flag")), context({"Flag": False})) == "false"
    assert evaluate(join(" ", "MSE >", get("Parameters.Threshold")), context()) == "MSE > 6.0"


def test_join_nests_and_joins_step_properties() -> None:
    inner = join("-", get("Steps.Train.TrainingJobName"), get("Parameters.Mode"))
    assert evaluate(join("/", "s3://b", inner, "x"), context()) == "s3://b/train-job-fast/x"
    assert (
        evaluate(
            join(
                ",",
            ),
            context(),
        )
        == ""
    )


def test_join_failure_names_the_innermost_expression() -> None:
    message = failure(join("/", "a", get("Steps.Train.Nope")))
    assert message.startswith('Expression {"Get": "Steps.Train.Nope"} cannot be evaluated: ')


@pytest.mark.parametrize("value", [get("Steps.Train.ModelArtifacts"), get("Steps.Eval.ProcessingInputs"), None])
def test_join_rejects_objects_lists_and_null(value: Any) -> None:
    assert "Std:Join can only join strings, numbers and booleans" in failure(join("/", "a", value))


@pytest.mark.parametrize("body", [{"Values": ["a"]}, {"On": "/", "Values": "a"}, {"On": 1, "Values": []}, "x"])
def test_malformed_join(body: Any) -> None:
    assert "Std:Join needs an object with a string 'On' and a list 'Values'" in failure({"Std:Join": body})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (6.0, "6.0"),
        (0.5, "0.5"),
        (-2.5, "-2.5"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.0, "100.0"),
        (123.456, "123.456"),
        (1 / 3, "0.3333333333333333"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (0.00012345, "1.2345E-4"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"),
        (1.5e300, "1.5E300"),
        (5e-324, "4.9E-324"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_floats_print_as_java_double_to_string(value: float, text: str) -> None:
    assert java_double_text(value) == text
    assert to_text(value) == text


@pytest.mark.parametrize(("value", "text"), [("a b", "a b"), (True, "true"), (False, "false"), (0, "0"), (-12, "-12")])
def test_to_text_of_primitives(value: Any, text: str) -> None:
    assert to_text(value) == text


def test_to_text_rejects_containers() -> None:
    with pytest.raises(TypeError):
        to_text([1])


# --- Std:JsonGet -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("regression_metrics.mse.value", 5.5),
        ("$.regression_metrics.mse.standard_deviation", 1.25),
        ("regression_metrics['mse'].value", 5.5),
        ('$["regression_metrics"]["mse"]["value"]', 5.5),
        ("Output[1]", 10),
        ("Output[-1]", 10),
        ("Output[-2]", 5),
        ("odd key['a.b']", "dotted"),
        ("label", "good"),
        ("regression_metrics.mse", {"value": 5.5, "standard_deviation": 1.25}),
    ],
)
def test_json_get_reads_the_property_file(path: str, value: Any) -> None:
    assert evaluate(json_get(path), context()) == value


def test_property_file_is_file_path_under_the_output_uri() -> None:
    read: list[str] = []

    def recording(uri: str) -> Any:
        read.append(uri)
        return {"v": 1}

    trailing_slash = {
        **PROPERTIES,
        "Eval": {
            "ProcessingOutputConfig": {
                "Outputs": [{"OutputName": "evaluation", "S3Output": {"S3Uri": "s3://bucket/out/"}}]
            }
        },
    }
    evaluate(json_get("v"), context(read_json=recording))
    evaluate(json_get("v"), context(properties=trailing_slash, read_json=recording))
    assert read == [f"{EVAL_OUTPUT}/evaluation.json", "s3://bucket/out/evaluation.json"]


def test_json_get_with_s3_uri_string_or_expression() -> None:
    literal = {"Std:JsonGet": {"S3Uri": "s3://bucket/extra/metrics.json", "Path": "accuracy"}}
    built = {"Std:JsonGet": {"S3Uri": join("/", "s3://bucket", "extra", "metrics.json"), "Path": "accuracy"}}
    assert evaluate(literal, context()) == 0.91
    assert evaluate(built, context()) == 0.91


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        (
            json_get("regression_metrics.rmse.value"),
            f"the JSON file {EVAL_OUTPUT}/evaluation.json has nothing at $.regression_metrics.rmse",
        ),
        (json_get("Output[2]"), "has nothing at $.Output[2]"),
        (json_get("Output[-3]"), "has nothing at $.Output[-3]"),
        (json_get("label.deeper"), "has nothing at $.label.deeper"),
        (json_get("Output.first"), "has nothing at $.Output.first"),
        (json_get("nothing"), f"the value at 'nothing' in {EVAL_OUTPUT}/evaluation.json is null"),
        (json_get("Output[*]"), "JSON path 'Output[*]' is not supported"),
        (json_get("$..value"), "JSON path '$..value' is not supported"),
        (json_get("Output[0:1]"), "is not supported"),
        (
            json_get("x", "Steps.Eval.PropertyFiles.Orphan"),
            "the properties of step 'Eval' have no ProcessingOutputConfig.Outputs['absent'] (no element is named "
            "'absent'",
        ),
        (json_get("x", "Steps.Eval.PropertyFiles.Unknown"), "step 'Eval' declares no property file 'Unknown'"),
        (json_get("x", "Steps.Nope.PropertyFiles.Report"), "step 'Nope' is not in the pipeline"),
        (json_get("x", "Steps.Pending.PropertyFiles.Report"), "step 'Pending' declares no property file 'Report'"),
        (
            {"Std:JsonGet": {"S3Uri": "s3://bucket/absent.json", "Path": "a"}},
            "cannot read the JSON file s3://bucket/absent.json: NoSuchKey: s3://bucket/absent.json does not exist",
        ),
        ({"Std:JsonGet": {"S3Uri": "https://bucket/a.json", "Path": "a"}}, '"https://bucket/a.json" is not an S3 URI'),
        ({"Std:JsonGet": {"S3Uri": get("Parameters.Count"), "Path": "a"}}, "2 is not an S3 URI"),
        ({"Std:JsonGet": {"PropertyFile": "Report", "Path": "a"}}, "'PropertyFile' must be"),
        ({"Std:JsonGet": {"Path": "a"}}, "Std:JsonGet needs a 'PropertyFile' or an 'S3Uri'"),
        ({"Std:JsonGet": {"S3Uri": "s3://bucket/extra/metrics.json"}}, "needs an object with a string 'Path'"),
    ],
)
def test_json_get_failures_say_why(expression: dict[str, Any], reason: str) -> None:
    message = failure(expression)
    assert message.startswith(f"Expression {json.dumps(expression)} cannot be evaluated: ")
    assert reason in message


def test_json_get_needs_the_property_file_step_to_have_succeeded() -> None:
    without_eval = {"Train": PROPERTIES["Train"]}
    assert "step 'Eval' has no properties: it has not succeeded" in failure(
        json_get("a"), context(properties=without_eval)
    )


def test_json_get_passes_on_a_read_json_expression_error() -> None:
    def refusing(uri: str) -> Any:
        raise ExpressionError(f"cannot read {uri}: AccessDenied")

    message = failure(json_get("a"), context(read_json=refusing))
    assert message.endswith(f"cannot be evaluated: cannot read {EVAL_OUTPUT}/evaluation.json: AccessDenied")


def test_json_get_of_unparsable_content_is_the_readers_error() -> None:
    def broken(uri: str) -> Any:
        return json.loads("{not json")

    assert f"cannot read the JSON file {EVAL_OUTPUT}/evaluation.json: Expecting property name" in failure(
        json_get("a"), context(read_json=broken)
    )


# --- resolve ---------------------------------------------------------------------------------------------


def test_resolve_replaces_expressions_anywhere_and_leaves_the_input_alone() -> None:
    arguments = {
        "ResourceConfig": {"InstanceCount": get("Parameters.Count"), "VolumeSizeInGB": 30},
        "Inputs": [{"S3Uri": get("Steps.Train.ModelArtifacts.S3ModelArtifacts")}, "plain", None, 1.5],
        "Environment": {"THRESHOLD": join("", get("Parameters.Threshold"))},
        "NotAnExpression": {"Get": "Parameters.Count", "Other": 1},
        "Metric": json_get("regression_metrics.mse.value"),
    }
    before = json.loads(json.dumps(arguments))
    assert resolve(arguments, context()) == {
        "ResourceConfig": {"InstanceCount": 2, "VolumeSizeInGB": 30},
        "Inputs": [{"S3Uri": "s3://bucket/train/model.tar.gz"}, "plain", None, 1.5],
        "Environment": {"THRESHOLD": "6.0"},
        "NotAnExpression": {"Get": "Parameters.Count", "Other": 1},
        "Metric": 5.5,
    }
    assert arguments == before


def test_evaluate_of_a_literal_is_the_literal() -> None:
    assert evaluate(5, context()) == 5
    assert evaluate("s3://x", context()) == "s3://x"
    assert evaluate([get("Parameters.Mode"), {"k": get("Parameters.Flag")}], context()) == ["fast", {"k": True}]


# --- conditions ------------------------------------------------------------------------------------------


def compare(kind: str, left: Any, right: Any) -> dict[str, Any]:
    return {"Type": kind, "LeftValue": left, "RightValue": right}


def holds(*conditions: Any, ctx: EvaluationContext | None = None) -> bool:
    return evaluate_conditions(list(conditions), ctx or context())


def condition_failure(*conditions: Any) -> str:
    with pytest.raises(ExpressionError) as caught:
        holds(*conditions)
    return str(caught.value)


@pytest.mark.parametrize(
    ("kind", "left", "right", "outcome"),
    [
        ("Equals", 1, 1, True),
        ("Equals", 1, 1.0, True),
        ("Equals", 1, 2, False),
        ("Equals", "a", "a", True),
        ("Equals", "a", "A", False),
        ("Equals", True, True, True),
        ("Equals", False, True, False),
        ("Equals", [1, "a"], [1, "a"], True),
        ("GreaterThan", 2, 1.5, True),
        ("GreaterThan", 2, 2.0, False),
        ("GreaterThan", "b", "a", True),
        ("GreaterThanOrEqualTo", 2, 2.0, True),
        ("GreaterThanOrEqualTo", 1, 2, False),
        ("LessThan", 5.5, 6, True),
        ("LessThan", 6, 6.0, False),
        ("LessThan", "B", "a", True),
        ("LessThanOrEqualTo", 6.0, 6, True),
        ("LessThanOrEqualTo", 6.5, 6, False),
        ("LessThanOrEqualTo", "abc", "abd", True),
    ],
)
def test_comparison(kind: str, left: Any, right: Any, outcome: bool) -> None:
    assert holds(compare(kind, left, right)) is outcome


@pytest.mark.parametrize(
    ("left", "right", "typed"),
    [
        ("5", 5, 'String "5" with Integer 5'),
        (True, 1, "Boolean true with Integer 1"),
        (1.0, False, "Float 1.0 with Boolean false"),
        ("true", True, 'String "true" with Boolean true'),
    ],
)
def test_equals_of_different_types_fails(left: Any, right: Any, typed: str) -> None:
    condition = compare("Equals", left, right)
    assert condition_failure(condition) == (
        f"Expression {json.dumps(condition)} cannot be evaluated: Equals cannot compare {typed}: their types differ"
    )


@pytest.mark.parametrize(
    ("kind", "left", "right"),
    [
        ("GreaterThan", "5", 4),
        ("LessThan", True, False),
        ("GreaterThanOrEqualTo", 1, True),
        ("LessThanOrEqualTo", [1], [2]),
    ],
)
def test_orderings_need_two_numbers_or_two_strings(kind: str, left: Any, right: Any) -> None:
    message = condition_failure(compare(kind, left, right))
    assert message.endswith("it compares two numbers or two strings")
    assert f"{kind} cannot compare" in message


def test_comparison_reads_expressions_on_either_side() -> None:
    mse = json_get("regression_metrics.mse.value")
    assert holds(compare("LessThanOrEqualTo", mse, get("Parameters.Threshold")))
    assert not holds(compare("LessThanOrEqualTo", mse, get("Parameters.Threshold")), ctx=context({"Threshold": 5.0}))
    assert holds(compare("GreaterThan", get("Steps.Train.FinalMetricDataList['val:acc'].Value"), 0.9))
    assert holds(compare("Equals", "fast", get("Parameters.Mode")))
    assert holds(compare("Equals", get("Parameters.Flag"), True))


@pytest.mark.parametrize(
    ("query", "values", "outcome"),
    [
        ("fast", ["slow", "fast"], True),
        ("fast", ["slow"], False),
        (2, [1.0, 2.0], True),
        ("2", [2, 2.0], False),
        (True, [1, "true"], False),
        (True, [False, True], True),
        ("x", [], False),
    ],
)
def test_in(query: Any, values: list[Any], outcome: bool) -> None:
    assert holds({"Type": "In", "QueryValue": query, "Values": values}) is outcome


def test_in_reads_expressions() -> None:
    condition = {
        "Type": "In",
        "QueryValue": get("Parameters.Mode"),
        "Values": ["slow", get("Steps.Train.HyperParameters.eta"), "fast"],
    }
    assert holds(condition)
    assert not holds(condition, ctx=context({"Mode": "medium"}))


def test_not_and_or_and_the_implicit_and() -> None:
    yes, no = compare("Equals", 1, 1), compare("Equals", 1, 2)
    assert holds({"Type": "Not", "Condition": no})
    assert not holds({"Type": "Not", "Condition": yes})
    assert holds({"Type": "Or", "Conditions": [no, yes]})
    assert not holds({"Type": "Or", "Conditions": [no, no]})
    assert not holds({"Type": "Or", "Conditions": []})
    assert holds(yes, yes)
    assert not holds(yes, no)
    assert holds()
    nested = {"Type": "Not", "Condition": {"Type": "Or", "Conditions": [no, {"Type": "Not", "Condition": yes}]}}
    assert holds(nested)


def test_every_expression_is_evaluated_even_when_the_outcome_is_known() -> None:
    decided = compare("Equals", 1, 1)
    unresolvable = compare("Equals", get("Steps.Pending.TrainingJobName"), "x")
    with pytest.raises(ExpressionError, match="step 'Pending' has no properties"):
        holds({"Type": "Or", "Conditions": [decided, unresolvable]})
    with pytest.raises(ExpressionError, match="step 'Pending' has no properties"):
        holds(compare("Equals", 1, 2), unresolvable)


def test_or_and_and_stop_at_the_deciding_condition() -> None:
    mismatched = compare("GreaterThan", "a", 1)
    assert holds({"Type": "Or", "Conditions": [compare("Equals", 1, 1), mismatched]})
    assert not holds(compare("Equals", 1, 2), mismatched)
    with pytest.raises(ExpressionError, match="GreaterThan cannot compare"):
        holds(compare("Equals", 1, 1), mismatched)


def test_condition_errors_name_the_condition_as_written() -> None:
    condition = compare("GreaterThan", get("Parameters.Mode"), get("Parameters.Count"))
    assert condition_failure(condition) == (
        f"Expression {json.dumps(condition)} cannot be evaluated: GreaterThan cannot compare "
        'String "fast" with Integer 2: it compares two numbers or two strings'
    )
    inside_not = {"Type": "Not", "Condition": condition}
    assert condition_failure(inside_not).startswith(f"Expression {json.dumps(condition)} cannot")


@pytest.mark.parametrize(
    ("condition", "reason"),
    [
        ({"Type": "NotEquals", "LeftValue": 1, "RightValue": 2}, 'unknown condition Type "NotEquals"'),
        ({"LeftValue": 1, "RightValue": 2}, "unknown condition Type null"),
        ({"Type": "Equals", "LeftValue": 1}, "a Equals condition needs 'RightValue'"),
        ({"Type": "In", "QueryValue": 1, "Values": 1}, "an In condition's Values must be a list"),
        ({"Type": "Or", "Conditions": {}}, "an Or condition's Conditions must be a list"),
        ({"Type": "Not"}, "a Not condition needs 'Condition'"),
    ],
)
def test_malformed_condition(condition: dict[str, Any], reason: str) -> None:
    assert condition_failure(condition) == f"Expression {json.dumps(condition)} cannot be evaluated: {reason}"


# --- the SDK's real definitions, resolved with a made-up execution ---------------------------------------

MADE_UP_BUCKET = "s3://made-up"
_OUTPUT_GET = re.compile(r"Steps\.(.+)\.ProcessingOutputConfig\.Outputs\['(.+)'\]\.S3Output\.S3Uri")


def made_up_properties(step: Step) -> dict[str, Any]:
    """What a finished step of each type would expose, with values derived from the step name."""
    name = step.name
    if step.type is StepType.PROCESSING:
        outputs = step.arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
        uris = [
            {"OutputName": o["OutputName"], "S3Output": {"S3Uri": f"{MADE_UP_BUCKET}/{name}/{o['OutputName']}"}}
            for o in outputs
        ]
        return {"ProcessingJobName": f"{name}-job", "ProcessingOutputConfig": {"Outputs": uris}}
    if step.type is StepType.TRAINING:
        return {
            "TrainingJobName": f"{name}-job",
            "ModelArtifacts": {"S3ModelArtifacts": f"{MADE_UP_BUCKET}/{name}/model.tar.gz"},
        }
    if step.type is StepType.MODEL:
        return {"ModelName": f"{name}-model"}
    return {}


def expected_get(expression: str, parameters: Mapping[str, Any]) -> Any:
    """The value each Get in the fixtures must resolve to, worked out from the made-up properties' naming."""
    kind, _, rest = expression.partition(".")
    if kind == "Parameters":
        return parameters[rest]
    if kind == "Execution":
        return {**EXECUTION, "StartDateTime": "2024-05-01T12:30:15.123Z"}[rest]
    if match := _OUTPUT_GET.fullmatch(expression):
        return f"{MADE_UP_BUCKET}/{match.group(1)}/{match.group(2)}"
    step, _, path = rest.partition(".")
    return {"ModelArtifacts.S3ModelArtifacts": f"{MADE_UP_BUCKET}/{step}/model.tar.gz", "ModelName": f"{step}-model"}[
        path
    ]


def fixture_context(name: str, mse: float) -> EvaluationContext:
    definition = parse_definition((FIXTURES / name).read_text())
    properties = {step.name: made_up_properties(step) for step in definition.steps}
    files = {
        f"{MADE_UP_BUCKET}/{step}/evaluation/evaluation.json": {"regression_metrics": {"mse": {"value": mse}}}
        for step in properties
    }
    return context(convert_parameters(definition, []), definition, properties, lambda uri: files[uri])


def assert_gets_resolved(original: Any, resolved: Any, parameters: Mapping[str, Any]) -> int:
    """Walk both values together: each Get must have become its expected value; returns how many were checked."""
    if isinstance(original, dict) and list(original) == ["Get"]:
        assert resolved == expected_get(original["Get"], parameters), original
        return 1
    if isinstance(original, dict) and list(original) == ["Std:Join"]:
        assert isinstance(resolved, str), original
        return 1
    if isinstance(original, dict):
        assert isinstance(resolved, dict) and resolved.keys() == original.keys()
        return sum(assert_gets_resolved(original[key], resolved[key], parameters) for key in original)
    if isinstance(original, list):
        assert isinstance(resolved, list) and len(resolved) == len(original)
        return sum(assert_gets_resolved(o, r, parameters) for o, r in zip(original, resolved, strict=True))
    assert resolved == original
    return 0


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_step_of_the_sdk_definitions_resolves(name: str) -> None:
    ctx = fixture_context(name, mse=5.0)
    checked = 0
    for step in ctx.definition.steps:
        if step.type is StepType.CONDITION:
            continue
        resolved = resolve(step.arguments, ctx)
        assert find_references(resolved) == (), step.name
        assert "Std:" not in json.dumps(resolved), step.name
        checked += assert_gets_resolved(step.arguments, resolved, ctx.parameters)
    experiment = resolve(ctx.definition.document["PipelineExperimentConfig"], ctx)
    assert experiment == {"ExperimentName": "p", "TrialName": "abc123def456"}
    assert checked >= 3


@pytest.mark.parametrize("name", ["pipeline-v2-xgb-tuning-register.json", "pipeline-v3-mlops.json"])
@pytest.mark.parametrize(("mse", "outcome"), [(5.0, True), (6.0, True), (6.5, False)])
def test_the_sdk_condition_compares_the_evaluation_report_with_the_threshold(
    name: str, mse: float, outcome: bool
) -> None:
    ctx = fixture_context(name, mse)
    condition_step = next(step for step in ctx.definition.steps if step.type is StepType.CONDITION)
    assert evaluate_conditions(condition_step.arguments["Conditions"], ctx) is outcome


def test_sdk_join_values_as_the_service_prints_them() -> None:
    xgb = fixture_context("pipeline-v2-xgb-tuning-register.json", mse=5.0)
    arguments = resolve(xgb.definition.step("AbaloneProcess").arguments, xgb)
    assert arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == (
        "s3://sagemaker-us-east-1-123456789012/abalone-pipeline/abc123def456/AbaloneProcess/output/train"
    )
    assert resolve(xgb.definition.step("AbaloneMSEFail").arguments, xgb) == {
        "ErrorMessage": "Execution failed due to MSE > 6.0"
    }
    register = resolve(xgb.definition.step("AbaloneRegisterModel-RegisterModel").arguments, xgb)
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == (
        f"{MADE_UP_BUCKET}/AbaloneEval/evaluation/evaluation.json"
    )
    sklearn = fixture_context("pipeline-v2-sklearn-frameworkprocessor.json", mse=5.0)
    training = resolve(sklearn.definition.step("SkTrain").arguments, sklearn)
    assert training["HyperParameters"]["max_leaf_nodes"] == "30"
    repack = fixture_context("pipeline-v2-repack-register.json", mse=5.0)
    hyperparameters = resolve(repack.definition.step("RpRegister-RepackModel-0").arguments, repack)["HyperParameters"]
    assert hyperparameters["model_archive"] == f"{MADE_UP_BUCKET}/RpTrain/model.tar.gz"
