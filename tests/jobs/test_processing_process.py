"""Processing jobs in the process runner through the real SDK: SKLearnProcessor with code, inputs and
outputs (byte for byte), a failing script, and the describe/list surface."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from emulator.testing import RunningEmulator
from tests.jobs.conftest import SCRIPTS

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def processor() -> Any:
    from sagemaker.sklearn.processing import SKLearnProcessor

    return SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1)


def test_sklearn_processor_runs_code_on_inputs_and_uploads_outputs(
    process_env: RunningEmulator, unique: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sagemaker.processing import ProcessingInput, ProcessingOutput

    s3 = boto3.client("s3")
    bucket = f"proc-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="raw/one.csv", Body=b"a,b\nc,d\n")
    s3.put_object(Bucket=bucket, Key="raw/two.csv", Body=b"e,f\n")
    job = processor()
    job.run(
        code=str(SCRIPTS / "preprocess.py"),
        inputs=[ProcessingInput(source=f"s3://{bucket}/raw", destination="/opt/ml/processing/data")],
        outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{bucket}/out")],
        wait=True,
        logs=True,
    )
    assert "processed 3 rows" in capsys.readouterr().out
    body = lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
    assert body("out/count.txt") == b"3\n"
    assert body("out/upper-one.csv") == b"A,B\nC,D\n"
    assert body("out/upper-two.csv") == b"E,F\n"
    described = boto3.client("sagemaker").describe_processing_job(ProcessingJobName=job.latest_job.job_name)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingEndTime"] >= described["ProcessingStartTime"]


def test_a_failing_processing_script_fails_the_job(process_env: RunningEmulator, unique: str, tmp_path: Any) -> None:
    script = tmp_path / "broken.py"
    script.write_text("raise SystemExit('no input columns')\n")
    job = processor()
    with pytest.raises(Exception, match="Failed"):
        job.run(code=str(script), wait=True, logs=False)
    sm = boto3.client("sagemaker")
    described = sm.describe_processing_job(ProcessingJobName=job.latest_job.job_name)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "no input columns" in described["FailureReason"]
    listed = sm.list_processing_jobs(NameContains=job.latest_job.job_name, StatusEquals="Failed")
    assert [item["ProcessingJobName"] for item in listed["ProcessingJobSummaries"]] == [job.latest_job.job_name]


def test_processing_paths_cannot_escape(process_env: RunningEmulator, unique: str) -> None:
    from botocore.exceptions import ClientError

    sm = boto3.client("sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.create_processing_job(
            ProcessingJobName=f"escape-{unique}",
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            AppSpecification={"ImageUri": "img"},
            RoleArn=ROLE,
            ProcessingInputs=[
                {
                    "InputName": "x",
                    "S3Input": {
                        "S3Uri": "s3://b/k",
                        "LocalPath": "/opt/ml/processing/../../../etc",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "without '..'" in excinfo.value.response["Error"]["Message"]


def test_stop_processing_job_mid_run(process_env: RunningEmulator, unique: str, tmp_path: Any) -> None:
    script = tmp_path / "slow.py"
    script.write_text("import time\nprint('working', flush=True)\ntime.sleep(120)\n")
    job = processor()
    job.run(code=str(script), wait=False, logs=False)
    sm = boto3.client("sagemaker")
    name = job.latest_job.job_name
    deadline = time.monotonic() + 30
    while not list((process_env.data_dir / "jobs" / "_process-logs").glob(f"ProcessingJob-{name}-*.log")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_processing_job(ProcessingJobName=name)
    while sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] != "Stopped":
        assert time.monotonic() < deadline + 15, "the processing job did not stop"
        time.sleep(0.2)
    assert "FailureReason" not in sm.describe_processing_job(ProcessingJobName=name)
