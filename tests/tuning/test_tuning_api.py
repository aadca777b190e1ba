"""Tuning job behaviour that does not depend on the runner, in the process runner: what Create rejects, a job
that never prints its objective, completion criteria, warm start, Hyperband, multi-algorithm tuning
(TrainingJobDefinitions) and a worker restart in the middle of a tuning job."""

from __future__ import annotations

import copy
import os
import signal
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator, free_port
from tests.conftest import make_client
from tests.tuning.conftest import LOSS, ROLE, estimator, loss_of, upload_train_input
from tests.tuning.test_sdk_tuning import assert_best_is_the_true_best, epoch_lines, make_tuner, summaries

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def request(name: str, **config: Any) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "10"}]},
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"epochs": "1"},
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File", "MetricDefinitions": LOSS},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://nowhere/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


def rejected(sm: Any, body: dict[str, Any], code: str = "ValidationException") -> str:
    with pytest.raises(ClientError) as raised:
        sm.create_hyper_parameter_tuning_job(**body)
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return str(raised.value.response["Error"]["Message"])


def test_create_rejects_what_the_service_rejects(process_tuning_env: RunningEmulator, unique: str) -> None:
    sm = make_client(process_tuning_env, "sagemaker")
    body = request(f"bad-{unique}")
    no_metric = copy.deepcopy(body)
    no_metric["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = []
    assert "A metric is required for this hyperparameter tuning job objective" in rejected(sm, no_metric)
    assert "only categorical" in rejected(sm, request(f"g-{unique}", Strategy="Grid"))
    grid = request(
        f"g-{unique}",
        Strategy="Grid",
        ParameterRanges={"CategoricalParameterRanges": [{"Name": "x", "Values": ["1", "2"]}]},
        ResourceLimits={"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 1},
    )
    assert "must equal the number of distinct categorical combinations (2)" in rejected(sm, grid)
    assert "MaxNumberOfTrainingJobs is required" in rejected(
        sm, request(f"r-{unique}", ResourceLimits={"MaxParallelTrainingJobs": 1})
    )
    hyperband = request(f"h-{unique}", Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto")
    assert "must be Off with the Hyperband strategy" in rejected(sm, hyperband)
    no_epochs = request(f"h-{unique}", Strategy="Hyperband")
    no_epochs["TrainingJobDefinition"]["StaticHyperParameters"] = {}
    assert "MaxResource is required" in rejected(sm, no_epochs)
    reverse = request(
        f"v-{unique}",
        ParameterRanges={
            "ContinuousParameterRanges": [
                {"Name": "x", "MinValue": "0", "MaxValue": "2", "ScalingType": "ReverseLogarithmic"}
            ]
        },
    )
    assert "0 <= MinValue < MaxValue < 1" in rejected(sm, reverse)
    overlap = copy.deepcopy(body)
    overlap["TrainingJobDefinition"]["StaticHyperParameters"]["x"] = "1"
    assert "both static and tunable" in rejected(sm, overlap)
    pipe = copy.deepcopy(body)
    pipe["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    assert "Pipe is not supported" in rejected(sm, pipe)
    both = copy.deepcopy(body)
    both["TrainingJobDefinitions"] = [{**body["TrainingJobDefinition"], "DefinitionName": "a"}]
    assert "exactly one of TrainingJobDefinition and TrainingJobDefinitions" in rejected(sm, both)
    warm = {**body, "WarmStartConfig": {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "none"}],
                                       "WarmStartType": "TransferLearning"}}  # fmt: skip
    assert "can't find a tuning job with name none" in rejected(sm, warm, "ResourceNotFound")
    for operation in ("describe_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job",
                      "list_training_jobs_for_hyper_parameter_tuning_job"):  # fmt: skip
        with pytest.raises(ClientError) as raised:
            getattr(sm, operation)(HyperParameterTuningJobName=f"missing-{unique}")
        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"


def test_a_job_that_never_prints_its_objective(process_tuning_env: RunningEmulator, unique: str) -> None:
    """It completes, but its objective is Failed and it is never the best; with no objective at all, the tuning
    job fails as the service does."""
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.tuner import CategoricalParameter

    train = upload_train_input(unique)
    tuner = make_tuner("Grid", {"silent": CategoricalParameter(["", "1"])}, max_jobs=2, parallel=2)
    name = f"quiet-{unique}"
    tuner.fit({"train": train}, job_name=name, wait=True)
    described = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert described["TrainingJobStatusCounters"]["Completed"] == 2
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 1, "Pending": 0, "Failed": 1}
    quiet = next(job for job in summaries(name) if job["TunedHyperParameters"]["silent"] == '"1"')
    assert quiet["TrainingJobStatus"] == "Completed" and quiet["ObjectiveStatus"] == "Failed"
    assert "FinalHyperParameterTuningJobObjectiveMetric" not in quiet
    assert described["BestTrainingJob"]["TrainingJobName"] != quiet["TrainingJobName"]
    ranked = boto3.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue"
    )["TrainingJobSummaries"]
    assert [job["TrainingJobName"] for job in ranked] == [described["BestTrainingJob"]["TrainingJobName"]]

    silent = make_tuner("Grid", {"silent": CategoricalParameter(["1"])}, max_jobs=1, parallel=1)
    with pytest.raises(UnexpectedStatusException, match="No training job succeeded after 1 attempts"):
        silent.fit({"train": train}, job_name=f"mute-{unique}", wait=True)
    failed = boto3.client("sagemaker").describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=f"mute-{unique}")
    assert failed["HyperParameterTuningJobStatus"] == "Failed" and "BestTrainingJob" not in failed


@pytest.mark.parametrize(
    ("criteria", "jobs"),
    [({"target_objective_metric_value": 0.5}, 2), ({"max_number_of_training_jobs_not_improving": 3}, 5)],
)
def test_completion_criteria_end_the_tuning_job_early(
    process_tuning_env: RunningEmulator, unique: str, criteria: dict[str, Any], jobs: int
) -> None:
    """One job at a time, in grid order: losses 36, 0, 4, 16, 25, 9 — the target is met by the second job; the
    best stops improving after the second, and three jobs later the tuning job completes."""
    from sagemaker.tuner import CategoricalParameter, TuningJobCompletionCriteriaConfig

    tuner = make_tuner(
        "Grid",
        {"x": CategoricalParameter(["9", "3", "5", "7", "8", "6"])},
        max_jobs=6,
        parallel=1,
        completion_criteria_config=TuningJobCompletionCriteriaConfig(**criteria),
    )
    name = f"done-{unique}"
    tuner.fit({"train": upload_train_input(unique)}, job_name=name, wait=True)
    described = assert_best_is_the_true_best(name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert len(summaries(name)) == jobs
    assert described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 0.0
    if "max_number_of_training_jobs_not_improving" in criteria:
        assert described["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3


def test_warm_start_uses_the_parents_results(process_tuning_env: RunningEmulator, unique: str) -> None:
    from sagemaker.tuner import ContinuousParameter, WarmStartConfig, WarmStartTypes

    train = upload_train_input(unique)
    ranges = {"x": ContinuousParameter(0, 10)}
    parent = make_tuner("Random", ranges, max_jobs=3, parallel=3, random_seed=5)
    parent.fit({"train": train}, job_name=f"parent-{unique}", wait=True)
    child = make_tuner(
        "Bayesian",
        ranges,
        max_jobs=2,
        parallel=1,
        warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, parents={f"parent-{unique}"}),
    )
    child.fit({"train": train}, job_name=f"child-{unique}", wait=True)
    sm = boto3.client("sagemaker")
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=f"child-{unique}")
    assert described["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    everything = summaries(f"parent-{unique}") + summaries(f"child-{unique}")
    assert len(summaries(f"child-{unique}")) == 2
    overall = min(everything, key=lambda job: loss_of(job["TunedHyperParameters"]))
    assert described["OverallBestTrainingJob"]["TrainingJobName"] == overall["TrainingJobName"]
    assert described["BestTrainingJob"]["TuningJobName"] == f"child-{unique}"

    sm_checked = make_client(process_tuning_env, "sagemaker")
    changed = request(f"other-{unique}")
    changed["TrainingJobDefinition"]["StaticHyperParameters"] = {"different": "1"}
    changed["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": f"parent-{unique}"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    assert "use TransferLearning otherwise" in rejected(sm_checked, changed)


def test_hyperband_stops_jobs_at_its_rungs(process_tuning_env: RunningEmulator, unique: str) -> None:
    from sagemaker.tuner import ContinuousParameter, HyperbandStrategyConfig, StrategyConfig

    tuner = make_tuner(
        "Hyperband",
        {"x": ContinuousParameter(0, 10)},
        max_jobs=6,
        parallel=2,
        random_seed=3,
        strategy_config=StrategyConfig(HyperbandStrategyConfig(max_resource=9, min_resource=1)),
        static={"epochs": 9, "epoch_seconds": 0.3},
    )
    name = f"hyper-{unique}"
    tuner.fit({"train": upload_train_input(unique)}, job_name=name, wait=True)
    described = assert_best_is_the_true_best(name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    jobs = summaries(name)
    assert {job["TrainingJobStatus"] for job in jobs} <= {"Completed", "Stopped"}
    cut_short = [job for job in jobs if len(epoch_lines(job["TrainingJobName"])) < 9]
    assert cut_short and all(job["TrainingJobStatus"] == "Stopped" for job in cut_short)


def test_multi_algorithm_tuning_with_training_job_definitions(process_tuning_env: RunningEmulator, unique: str) -> None:
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    tuner = HyperparameterTuner.create(
        estimator_dict={"good": estimator(kind="good"), "fair": estimator(kind="fair")},
        objective_metric_name_dict={"good": "loss", "fair": "loss"},
        hyperparameter_ranges_dict={
            "good": {"x": ContinuousParameter(0, 10)},
            "fair": {"x": ContinuousParameter(2, 4)},
        },
        metric_definitions_dict={"good": LOSS, "fair": LOSS},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=4,
        max_parallel_jobs=2,
    )
    train = upload_train_input(unique)
    name = f"multi-{unique}"
    inputs = {"good": {"train": train}, "fair": {"train": train}}
    tuner.fit(inputs=inputs, job_name=name, include_cls_metadata={}, wait=True)
    sm = boto3.client("sagemaker")
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert sorted(item["DefinitionName"] for item in described["TrainingJobDefinitions"]) == ["fair", "good"]
    jobs = summaries(name)
    assert sorted(job["TrainingJobDefinitionName"] for job in jobs) == ["fair", "fair", "good", "good"]
    penalty = {"good": 0.0, "fair": 1.0}

    def known(job: dict[str, Any]) -> float:
        return loss_of(job["TunedHyperParameters"]) + penalty[job["TrainingJobDefinitionName"]]

    for job in jobs:
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(known(job))
    best = min(jobs, key=known)
    assert described["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert described["BestTrainingJob"]["TrainingJobDefinitionName"] == best["TrainingJobDefinitionName"]
    assert tuner.best_estimator().latest_training_job.name == best["TrainingJobName"]


def test_a_restarted_worker_resumes_the_tuning_job(
    tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagemaker.tuner import ContinuousParameter

    from tests.jobs.conftest import point_sdk_at

    emulator = RunningEmulator(tmp_path / "data", free_port(), ["--runner", "process", "--max-concurrent-jobs", "4"])
    emulator.start()
    try:
        point_sdk_at(emulator, monkeypatch)
        tuner = make_tuner(
            "Random",
            {"x": ContinuousParameter(0, 10)},
            max_jobs=4,
            parallel=2,
            static={"epochs": 15, "epoch_seconds": 0.3},
        )
        name = f"resume-{unique}"
        tuner.fit({"train": upload_train_input(unique)}, job_name=name, wait=False)
        sm = boto3.client("sagemaker")
        deadline = time.monotonic() + 60
        while not any(sm.describe_training_job(TrainingJobName=job["TrainingJobName"])["SecondaryStatus"] == "Training"
                      for job in summaries(name)):  # fmt: skip
            assert time.monotonic() < deadline
            time.sleep(0.3)
        os.kill(worker_pid(emulator), signal.SIGKILL)
        tuner.wait()
        described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
        jobs = summaries(name)
        assert sorted(int(job["TrainingJobName"].split("-")[-2]) for job in jobs) == [1, 2, 3, 4]
        interrupted = [job for job in jobs if job["TrainingJobStatus"] == "Failed"]
        assert interrupted and all("worker stopped" in job["FailureReason"] for job in interrupted)
        assert described["TrainingJobStatusCounters"]["Completed"] == 4 - len(interrupted)
    finally:
        emulator.stop()


def worker_pid(emulator: RunningEmulator) -> int:
    assert emulator.process is not None
    workers = [child.pid for child in psutil.Process(emulator.process.pid).children() if "worker" in child.cmdline()]
    assert len(workers) == 1
    return workers[0]
