"""The whole flow with the unmodified SageMaker SDK v2 (`sagemaker.workflow`, cloud `PipelineSession`):
Processing → Training → evaluation Processing (PropertyFile) → Condition (JsonGet ≤ parameter) →
CreateModel → Transform → RegisterModel, or else Fail; both branches, both runners, steps checked one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest

from emulator.testing import RunningEmulator
from tests.pipelines.conftest import point_sdk_at

SCRIPTS = Path(__file__).with_name("scripts")
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"


def build_pipeline(name: str, bucket: str, group: str) -> Any:
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn
    from sagemaker.sklearn.model import SKLearnModel
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

    session = PipelineSession(default_bucket=bucket)
    threshold = ParameterFloat(name="MseThreshold", default_value=1.0)
    input_data = ParameterString(name="InputData", default_value=f"s3://{bucket}/raw/data.csv")
    processor = SKLearnProcessor(
        framework_version="1.2-1", role=ROLE, instance_type=INSTANCE, instance_count=1, sagemaker_session=session
    )
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
            ],
        ),
    )
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        instance_type=INSTANCE,
        instance_count=1,
        hyperparameters={"scale": 1.0},
        sagemaker_session=session,
    )
    train_uri = prepare.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    train = TrainingStep(
        name="Train", step_args=estimator.fit({"train": TrainingInput(train_uri, content_type="text/csv")})
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=str(SCRIPTS / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts, destination="/opt/ml/processing/model"
                ),
                ProcessingInput(
                    source=prepare.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        ),
        property_files=[report],
    )
    model = SKLearnModel(
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        entry_point="inference.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        sagemaker_session=session,
    )
    create_model = ModelStep(name="CreateModel", step_args=model.create(instance_type=INSTANCE))
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_type=INSTANCE,
        instance_count=1,
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"s3://{bucket}/predictions",
        sagemaker_session=session,
    )
    transform = TransformStep(
        name="Transform",
        step_args=transformer.transform(f"s3://{bucket}/batch", content_type="text/csv", split_type="Line"),
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            transform_instances=[INSTANCE],
            model_package_group_name=group,
            approval_status="PendingManualApproval",
        ),
    )
    fail = FailStep(name="MseTooHigh", error_message=Join(on=" ", values=["MSE above", threshold]))
    check = ConditionStep(
        name="CheckMse",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value"),
                right=threshold,
            )
        ],
        if_steps=[create_model, transform, register],
        else_steps=[fail],
    )
    return Pipeline(
        name=name,
        parameters=[threshold, input_data],
        steps=[prepare, train, evaluate, check],
        sagemaker_session=session,
    )


@pytest.fixture
def flow(pipelines_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, unique: str) -> dict[str, Any]:
    point_sdk_at(pipelines_emulator, monkeypatch)
    s3 = boto3.client("s3")
    bucket = f"flow-{unique}"
    s3.create_bucket(Bucket=bucket)
    xs = np.linspace(0, 10, 40)
    rows = "\n".join(f"{x:.4f},{2 * x + 1 + 0.01 * np.sin(7 * x):.6f}" for x in xs)
    s3.put_object(Bucket=bucket, Key="raw/data.csv", Body=rows.encode())
    s3.put_object(Bucket=bucket, Key="batch/a.csv", Body=b"1.0\n2.0\n3.5\n")
    pipeline = build_pipeline(f"flow-{unique}", bucket, f"group-{unique}")
    pipeline.upsert(role_arn=ROLE)
    return {"pipeline": pipeline, "bucket": bucket, "s3": s3}


def test_success_branch_runs_every_step_for_real(flow: dict[str, Any]) -> None:
    execution = flow["pipeline"].start()
    execution.wait(delay=1, max_attempts=600)
    steps = {step["StepName"]: step for step in execution.list_steps()}
    expected = {
        "Prepare",
        "Train",
        "Evaluate",
        "CheckMse",
        "Transform",
        "CreateModel-CreateModel",
        "Register-RegisterModel",
    }
    assert expected <= set(steps), sorted(steps)
    assert "MseTooHigh" not in steps
    assert all(step["StepStatus"] == "Succeeded" for step in steps.values()), steps
    assert steps["CheckMse"]["Metadata"]["Condition"]["Outcome"] == "True"
    for name, key in (("Prepare", "ProcessingJob"), ("Train", "TrainingJob"), ("Transform", "TransformJob")):
        assert steps[name]["Metadata"][key]["Arn"].startswith("arn:aws:sagemaker:us-east-1:123456789012:")
    assert ":model/" in steps["CreateModel-CreateModel"]["Metadata"]["Model"]["Arn"]
    assert ":model-package/" in steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    body = flow["s3"].get_object(Bucket=flow["bucket"], Key="predictions/a.csv.out")["Body"].read().decode()
    predictions = [float(line) for line in body.split()]
    assert predictions == pytest.approx([3.0, 5.0, 8.0], abs=0.05)
    assert "ProcessingJob" in steps["Evaluate"]["Metadata"]


def test_fail_branch_ends_the_execution_with_the_fail_message(flow: dict[str, Any]) -> None:
    from sagemaker.workflow.pipeline import Pipeline

    pipeline: Pipeline = flow["pipeline"]
    execution = pipeline.start(parameters={"MseThreshold": 0.0})
    with pytest.raises(Exception, match="Failed"):
        execution.wait(delay=1, max_attempts=600)
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "MSE above 0.0"
    steps = {step["StepName"]: step for step in execution.list_steps()}
    assert set(steps) == {"Prepare", "Train", "Evaluate", "CheckMse", "MseTooHigh"}
    assert steps["CheckMse"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert steps["MseTooHigh"]["StepStatus"] == "Failed"
    assert steps["MseTooHigh"]["Metadata"]["Fail"]["ErrorMessage"] == "MSE above 0.0"
    parameters = boto3.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=execution.arn)
    assert {"Name": "MseThreshold", "Value": "0.0"} in parameters["PipelineParameters"]
    definition = json.loads(
        execution.sagemaker_session.sagemaker_client.describe_pipeline_definition_for_execution(
            PipelineExecutionArn=execution.arn
        )["PipelineDefinition"]
    )
    assert [step["Name"] for step in definition["Steps"]] == ["Prepare", "Train", "Evaluate", "CheckMse"]
