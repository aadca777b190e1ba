"""A TuningStep in a pipeline (SDK v2), both runners: real training jobs tuned on a known objective, and
`get_top_model_s3_uri(top_k=0)` feeding a Model step with the best job's artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.testing import RunningEmulator
from tests.pipelines.conftest import point_sdk_at

OBJECTIVE = Path(__file__).resolve().parents[1] / "tuning" / "scripts"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def build_pipeline(name: str, bucket: str, objective_type: str = "Minimize") -> Any:
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.sklearn import SKLearn
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import TuningStep

    session = PipelineSession(default_bucket=bucket)
    estimator = SKLearn(
        entry_point="objective.py",
        source_dir=str(OBJECTIVE),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{bucket}",
        hyperparameters={"y": -1.0},
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="loss",
        objective_type=objective_type,
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([-+0-9.eE]+);"}],
        hyperparameter_ranges={"x": ContinuousParameter(0, 6)},
        strategy="Random",
        max_jobs=3,
        max_parallel_jobs=3,
    )
    tune = TuningStep(name="Tune", step_args=tuner.fit({"train": TrainingInput(f"s3://{bucket}/train")}))
    best = Model(
        image_uri=IMAGE,
        model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket),
        role=ROLE,
        sagemaker_session=session,
    )
    keep = ModelStep(name="BestModel", step_args=best.create(instance_type="ml.m5.large"))
    return Pipeline(name=name, steps=[tune, keep], sagemaker_session=session)


def test_the_best_trial_feeds_the_model_step(
    pipelines_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    check_top_model(pipelines_emulator, monkeypatch, unique, "Minimize")


def test_maximize_puts_the_largest_objective_first(
    pipelines_process_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    check_top_model(pipelines_process_emulator, monkeypatch, unique, "Maximize")


def check_top_model(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch, unique: str, objective: str) -> None:
    point_sdk_at(emulator, monkeypatch)
    s3, sm = boto3.client("s3"), boto3.client("sagemaker")
    bucket = f"tune-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train/rows.csv", Body=b"1,2\n")
    pipeline = build_pipeline(f"tune-{unique}", bucket, objective)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=600)
    steps = {step["StepName"]: step for step in execution.list_steps()}
    assert steps["Tune"]["StepStatus"] == "Succeeded"
    assert steps["BestModel-CreateModel"]["StepStatus"] == "Succeeded"
    tuning_name = _name_for(sm, steps["Tune"]["Metadata"]["TuningJob"]["Arn"])
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"]["Completed"] == 3
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    objectives = {
        trial["TrainingJobName"]: trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for trial in trials["TrainingJobSummaries"]
    }
    pick = max if objective == "Maximize" else min
    best_job = pick(objectives, key=objectives.__getitem__)
    assert tuning["BestTrainingJob"]["TrainingJobName"] == best_job
    model_arn = steps["BestModel-CreateModel"]["Metadata"]["Model"]["Arn"]
    model = sm.describe_model(ModelName=model_arn.rsplit("/", 1)[-1])
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{bucket}/{best_job}/output/model.tar.gz"
    s3.head_object(Bucket=bucket, Key=f"{best_job}/output/model.tar.gz")


def _name_for(sm: Any, tuning_arn: str) -> str:
    for summary in sm.list_hyper_parameter_tuning_jobs(MaxResults=100)["HyperParameterTuningJobSummaries"]:
        if summary["HyperParameterTuningJobArn"] == tuning_arn:
            return str(summary["HyperParameterTuningJobName"])
    raise AssertionError(f"no tuning job has ARN {tuning_arn}")
