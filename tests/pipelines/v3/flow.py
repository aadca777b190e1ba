"""The pipeline flow written with the unmodified SageMaker SDK v3 (`sagemaker` 3.x), run by
tests/pipelines/test_sdk_v3_flow.py with the `.venv-v3` interpreter against a running emulator.

Processing → Training (ModelTrainer) → evaluation Processing (PropertyFile) → Condition (JsonGet ≤ parameter) →
CreateModel (ModelBuilder) → Transform → RegisterModel, or else Fail. The scripts the jobs run are the v2
flow's, in ../scripts.

    python flow.py --bucket B --name PIPELINE --group GROUP --output result.json [--threshold 0.0]
                   [--then-update-default-threshold 2.5]

Builds and upserts the pipeline, starts it (with MseThreshold when given), waits, and writes what the SDK
returned as JSON: the execution's describe/list_steps/list_parameters through `sagemaker.mlops.workflow`, the
same through sagemaker-core's typed resources, and each step's job, model or package read back through
sagemaker-core. With --then-update-default-threshold it then upserts the pipeline again with that default
(an UpdatePipeline) and records what DescribePipeline and DescribePipelineDefinitionForExecution say.
The environment (AWS_ENDPOINT_URL, credentials, SAGEMAKER_USER_CONFIG_OVERRIDE) points it at the emulator.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from botocore.exceptions import WaiterError
from sagemaker.core import image_uris, resources
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.transformer import Transformer
from sagemaker.core.utils.utils import Unassigned
from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow import (
    ConditionStep,
    FailStep,
    ModelStep,
    Pipeline,
    ProcessingStep,
    TrainingStep,
    TransformStep,
)
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, SourceCode

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INSTANCE = "ml.m5.large"


def build_pipeline(name: str, bucket: str, group: str, default_threshold: float) -> Pipeline:
    session = PipelineSession()
    image = image_uris.retrieve(
        framework="sklearn", region="us-east-1", version="1.2-1", py_version="py3", instance_type=INSTANCE
    )
    threshold = ParameterFloat(name="MseThreshold", default_value=default_threshold)
    input_data = ParameterString(name="InputData", default_value=f"s3://{bucket}/raw/data.csv")

    def output(step: str, output_name: str) -> ProcessingOutput:
        """An output uploaded under s3://bucket/<execution id>/<step>/<name> at the end of the job."""
        uri = Join(on="/", values=["s3:/", bucket, ExecutionVariables.PIPELINE_EXECUTION_ID, step, output_name])
        local_path = f"/opt/ml/processing/{output_name}"
        return ProcessingOutput(
            output_name=output_name,
            s3_output=ProcessingS3Output(s3_uri=uri, local_path=local_path, s3_upload_mode="EndOfJob"),
        )

    def input_from(input_name: str, uri: Any, local_path: str) -> ProcessingInput:
        return ProcessingInput(
            input_name=input_name,
            s3_input=ProcessingS3Input(
                s3_uri=uri, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
            ),
        )

    processor = ScriptProcessor(
        role=ROLE,
        image_uri=image,
        command=["python3"],
        instance_count=1,
        instance_type=INSTANCE,
        sagemaker_session=session,
    )
    prepare = ProcessingStep(
        name="Prepare",
        step_args=processor.run(
            code=str(SCRIPTS / "preprocess.py"),
            inputs=[input_from("raw", input_data, "/opt/ml/processing/input")],
            outputs=[output("Prepare", "train"), output("Prepare", "test")],
        ),
    )
    prepared = prepare.properties.ProcessingOutputConfig.Outputs

    trainer = ModelTrainer(
        training_image=image,
        source_code=SourceCode(source_dir=str(SCRIPTS), entry_script="train.py"),
        compute=Compute(instance_type=INSTANCE, instance_count=1),
        hyperparameters={"scale": 1.0},
        input_data_config=[
            InputData(channel_name="train", data_source=prepared["train"].S3Output.S3Uri, content_type="text/csv")
        ],
        role=ROLE,
        sagemaker_session=session,
    )
    train = TrainingStep(name="Train", step_args=trainer.train())
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=str(SCRIPTS / "evaluate.py"),
            inputs=[
                input_from("model", model_data, "/opt/ml/processing/model"),
                input_from("test", prepared["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            outputs=[output("Evaluate", "evaluation")],
        ),
        property_files=[report],
    )

    builder = ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=image,
        source_code=SourceCode(source_dir=str(SCRIPTS), entry_script="inference.py"),
        role_arn=ROLE,
        sagemaker_session=session,
    )
    create_model = ModelStep(name="CreateModel", step_args=builder.build())
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_count=1,
        instance_type=INSTANCE,
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=Join(on="/", values=["s3:/", bucket, ExecutionVariables.PIPELINE_EXECUTION_ID, "predictions"]),
        sagemaker_session=session,
    )
    transform = TransformStep(
        name="Transform",
        step_args=transformer.transform(f"s3://{bucket}/batch", content_type="text/csv", split_type="Line"),
    )
    register = ModelStep(
        name="Register",
        step_args=builder.register(
            model_package_group_name=group,
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=[INSTANCE],
            transform_instances=[INSTANCE],
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


def run(pipeline: Pipeline, threshold: float | None) -> dict[str, Any]:
    """Start, wait, and return what the SDK reports about the execution."""
    execution = pipeline.start(parameters=None if threshold is None else {"MseThreshold": threshold})
    try:
        execution.wait(delay=2, max_attempts=450)
        waited = "Succeeded"
    except WaiterError as error:
        waited = str(error)
    return {
        "arn": execution.arn,
        "waited": waited,
        "describe": execution.describe(),
        "steps": execution.list_steps(),
        "parameters": execution.list_parameters()["PipelineParameters"],
        "core": read_back(execution.arn),
    }


def assigned(value: Any) -> bool:
    """sagemaker-core leaves members a response did not have as `Unassigned()`."""
    return not isinstance(value, Unassigned)


def read_back(execution_arn: str) -> dict[str, Any]:
    """The execution, its steps and what they made, parsed by sagemaker-core into typed resources
    (every Describe response is validated member by member on the way)."""
    execution = resources.PipelineExecution.get(pipeline_execution_arn=execution_arn)
    steps = list(execution.get_all_steps())
    execution_id = execution_arn.split("/")[-1]  # generated job and model names contain it
    packages = [step.metadata.register_model.arn for step in steps if assigned(step.metadata.register_model)]
    return {
        "status": execution.pipeline_execution_status,
        "failure_reason": execution.failure_reason if assigned(execution.failure_reason) else None,
        "steps": {step.step_name: step.step_status for step in steps},
        "parameters": {parameter.name: parameter.value for parameter in execution.get_all_parameters()},
        "definition": execution.get_pipeline_definition().pipeline_definition,
        "processing_jobs": {
            job.processing_job_name: job.processing_job_status
            for job in resources.ProcessingJob.get_all(name_contains=execution_id)
        },
        "training_jobs": {
            job.training_job_name: job.training_job_status
            for job in resources.TrainingJob.get_all(name_contains=execution_id)
        },
        "transform_jobs": {
            job.transform_job_name: job.transform_job_status
            for job in resources.TransformJob.get_all(name_contains=execution_id)
        },
        "models": [model.model_name for model in resources.Model.get_all(name_contains=execution_id)],
        "model_packages": {arn: resources.ModelPackage.get(arn).model_package_status for arn in packages},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--threshold", type=float)
    parser.add_argument("--then-update-default-threshold", type=float)
    args = parser.parse_args()

    pipeline = build_pipeline(args.name, args.bucket, args.group, default_threshold=1.0)
    result: dict[str, Any] = {"upsert": pipeline.upsert(role_arn=ROLE)}
    result["execution"] = run(pipeline, args.threshold)
    if args.then_update_default_threshold is not None:
        updated = build_pipeline(args.name, args.bucket, args.group, args.then_update_default_threshold)
        arn = result["execution"]["arn"]
        client = updated.sagemaker_session.sagemaker_client
        result["update"] = {
            "upsert": updated.upsert(role_arn=ROLE),
            "describe": updated.describe(),
            "definition_for_execution": client.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn),
            "core_definition_for_execution": read_back(arn)["definition"],
        }
    args.output.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
