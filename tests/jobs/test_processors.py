"""ScriptProcessor and FrameworkProcessor through the real SDK, in both runners (`runner_env` runs each
test against the process-runner emulator and the docker-runner one), with `logs=True` and outputs
checked byte for byte in S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from emulator.testing import RunningEmulator
from tests.jobs.conftest import SCRIPTS, runner_of
from tests.jobs.test_training_process import ROLE, SKLEARN_IMAGE


def make_bucket(prefix: str, unique: str, objects: dict[str, bytes]) -> tuple[Any, str]:
    s3 = boto3.client("s3")
    bucket = f"{prefix}-{unique}"
    s3.create_bucket(Bucket=bucket)
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return s3, bucket


def body(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_script_processor_runs_code_on_inputs_and_uploads_outputs(
    runner_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor

    s3, bucket = make_bucket("script", unique, {"raw/one.csv": b"a,b\nc,d\n", "raw/two.csv": b"e,f\n"})
    processor = ScriptProcessor(
        image_uri=SKLEARN_IMAGE, command=["python3"], role=ROLE, instance_type="ml.m5.large", instance_count=1
    )
    processor.run(
        code=str(SCRIPTS / "preprocess.py"),
        inputs=[ProcessingInput(source=f"s3://{bucket}/raw", destination="/opt/ml/processing/data")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{bucket}/out")],
        wait=True,
        logs=True,
    )
    assert "processed 3 rows" in capsys.readouterr().out
    assert body(s3, bucket, "out/count.txt") == b"3\n"
    assert body(s3, bucket, "out/upper-one.csv") == b"A,B\nC,D\n"
    assert body(s3, bucket, "out/upper-two.csv") == b"E,F\n"
    described = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=processor.latest_job.job_name)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ExitMessage"] == "3 rows"  # from /opt/ml/output/message
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]


def test_framework_processor_unpacks_the_bundle_installs_requirements_and_runs(
    runner_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
    from sagemaker.sklearn import SKLearn

    s3, bucket = make_bucket("framework", unique, {"in/x.txt": b"12345", "in/y.txt": b"678"})
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
    )
    processor.run(
        code="process.py",
        source_dir=str(SCRIPTS / "framework_source"),
        arguments=["--label", "sizes"],
        inputs=[ProcessingInput(source=f"s3://{bucket}/in", destination="/opt/ml/processing/data")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/report", destination=f"s3://{bucket}/report")],
        wait=True,
        logs=True,
    )
    printed = capsys.readouterr().out
    assert "Requirement already satisfied: numpy" in printed  # runproc.sh ran pip on requirements.txt
    if runner_of(runner_env) == "process":  # `python` and `pip` in runproc.sh are the emulator's interpreter
        import numpy

        assert f"Requirement already satisfied: numpy in {Path(numpy.__file__).parent.parent}" in printed
    assert "framework processor wrote a report on 2 files" in printed
    assert body(s3, bucket, "report/report.txt") == b"sizes: x.txt,y.txt (8 bytes)\n"
    described = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=processor.latest_job.job_name)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    assert described["AppSpecification"]["ContainerArguments"] == ["--label", "sizes"]
