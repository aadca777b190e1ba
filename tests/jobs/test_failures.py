"""Jobs that cannot succeed end Failed with a FailureReason a person can act on, in both runners
(`runner_env`), driven through the real SDK: bad hyperparameters, a missing image, missing input objects,
an exit code with no failure file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.testing import RunningEmulator, running_emulator
from tests.jobs.conftest import SCRIPTS, point_sdk_at, runner_of
from tests.jobs.test_training_process import (
    ROLE,
    SKLEARN_IMAGE,
    estimator,
    low_level_job,
    model_json,
    upload_training_data,
    wait_for,
)

MISSING_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/does-not-exist:1"


def failed_training_job(job: Any, inputs: Any = None) -> dict[str, Any]:
    """Run `job.fit`, expect the SDK to raise for a Failed job, and return the job's Describe document."""
    from sagemaker.exceptions import UnexpectedStatusException

    with pytest.raises(UnexpectedStatusException) as raised:
        job.fit(inputs, wait=True, logs=False)
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["TrainingJobStatus"] == "Failed"
    assert described["SecondaryStatus"] == "Failed"
    assert described["FailureReason"] in str(raised.value)  # what the SDK shows the user
    return dict(described)


def test_a_bad_hyperparameter_fails_with_the_scripts_own_error(runner_env: RunningEmulator, unique: str) -> None:
    described = failed_training_job(estimator(max_leaf_nodes="abc"), {"train": upload_training_data(unique)})
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:")  # the toolkit's failure file, then
    assert reason.endswith("train.py: error: argument --max_leaf_nodes: invalid int value: 'abc'")  # the script's


def test_a_missing_image_says_which_why_and_how_to_fix_it(runner_env: RunningEmulator) -> None:
    from sagemaker.estimator import Estimator

    job = Estimator(image_uri=MISSING_IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large")
    described = failed_training_job(job)
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == ""  # its code never ran: nothing is uploaded
    reason = described["FailureReason"]
    assert MISSING_IMAGE in reason
    assert "SAGEMAKER_EMULATOR_IMAGE_MAP" in reason
    if runner_of(runner_env) == "docker":
        assert "not on this Docker engine and pulling it failed" in reason  # why, with the engine's words
        assert "docker login" in reason
    else:
        assert "--runner docker" in reason


def test_the_image_map_advice_works_in_the_process_runner(
    tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Following the process runner's advice: a script-mode image of the user's own, mapped to the
    framework image it follows, runs like that one."""
    from sagemaker.sklearn import SKLearn

    own_image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-sklearn:1"
    monkeypatch.setenv("SAGEMAKER_EMULATOR_IMAGE_MAP", json.dumps({own_image: SKLEARN_IMAGE}))
    with running_emulator(tmp_path, ["--runner", "process"]) as emulator:
        point_sdk_at(emulator, monkeypatch)
        job = SKLearn(
            entry_point="train.py",
            source_dir=str(SCRIPTS),
            image_uri=own_image,
            role=ROLE,
            instance_type="ml.m5.large",
            instance_count=1,
            hyperparameters={"max_leaf_nodes": 7},
        )
        job.fit({"train": upload_training_data(unique)}, wait=True, logs=False)
        assert model_json(job.model_data) == {"files": ["a.csv", "nested/b.csv"], "max_leaf_nodes": 7, "rows": 3}


def test_a_training_channel_without_objects_fails_naming_it(runner_env: RunningEmulator, unique: str) -> None:
    train = upload_training_data(unique)
    empty = train.replace("abalone/train", "abalone/nothing-here")
    described = failed_training_job(estimator(), {"train": train, "validation": empty})
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == ""
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert f"No S3 objects found under {empty}" in reason
    assert "'validation'" in reason


def test_a_manifest_naming_a_missing_object_fails_naming_it(runner_env: RunningEmulator, unique: str) -> None:
    from sagemaker.inputs import TrainingInput

    s3 = boto3.client("s3")
    bucket = upload_training_data(unique)[5:].split("/")[0]
    manifest = [{"prefix": f"s3://{bucket}/abalone/train/"}, "a.csv", "gone.csv"]
    s3.put_object(Bucket=bucket, Key="train.manifest", Body=json.dumps(manifest).encode())
    channel = TrainingInput(f"s3://{bucket}/train.manifest", s3_data_type="ManifestFile")
    reason = failed_training_job(estimator(), {"train": channel})["FailureReason"]
    assert reason.startswith("ClientError: ")
    assert f"s3://{bucket}/abalone/train/gone.csv" in reason
    assert f"s3://{bucket}/train.manifest" in reason


def test_a_processing_input_without_objects_fails_naming_it(runner_env: RunningEmulator, unique: str) -> None:
    from sagemaker.processing import ProcessingInput
    from sagemaker.sklearn.processing import SKLearnProcessor

    bucket = upload_training_data(unique)[5:].split("/")[0]
    missing = f"s3://{bucket}/raw/none"
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1)
    with pytest.raises(Exception, match="Failed"):
        processor.run(
            code=__file__,
            inputs=[ProcessingInput(source=missing, destination="/opt/ml/processing/data", input_name="raw")],
            wait=True,
            logs=False,
        )
    sm = boto3.client("sagemaker")
    described = sm.describe_processing_job(ProcessingJobName=processor.latest_job.job_name)
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("ClientError: ")
    assert f"No S3 objects found under {missing}" in described["FailureReason"]
    assert "'raw'" in described["FailureReason"]


def test_an_exit_code_without_a_failure_file_gives_the_code_and_last_lines(
    runner_env: RunningEmulator, unique: str
) -> None:
    sm = boto3.client("sagemaker")
    name = f"exit3-{unique}"
    request = low_level_job(name, upload_training_data(unique))
    request["AlgorithmSpecification"]["ContainerArguments"] = [
        "import sys\nfor i in range(40):\n    print('step', i, flush=True)\nprint('disk full', flush=True)\nsys.exit(3)"
    ]
    sm.create_training_job(**request)
    described = wait_for(sm, name, ("Failed", "Completed", "Stopped"))
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: the training container algo-1 exited with code 3. Last log lines:\n")
    assert reason.endswith("step 38\nstep 39\ndisk full")
    assert "step 29" not in reason  # the last lines, not the whole log
