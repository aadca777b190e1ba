"""FastFile channels and CheckpointConfig through the SDK, in both runners (`runner_env`).

FastFile: the service streams the objects from S3 but the job sees ordinary files under
/opt/ml/input/data/<channel>, and inputdataconfig.json says FastFile. Checkpoints: objects already at
CheckpointConfig.S3Uri are in /opt/ml/checkpoints when the job starts, and what the job leaves there is
uploaded to S3Uri (keys relative to the local directory), as the service does. S3Uri is a folder:
keys that merely start with it (`…/checkpoints-old/…`) are not restored."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import boto3

from emulator.testing import RunningEmulator
from tests.jobs.conftest import SCRIPTS
from tests.jobs.test_training_process import ROLE, model_json


def contract_estimator(**options: Any) -> Any:
    from sagemaker.sklearn import SKLearn

    return SKLearn(
        entry_point="contract.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        **options,
    )


def test_fastfile_and_manifest_channels_arrive_as_files(runner_env: RunningEmulator, unique: str) -> None:
    from sagemaker.inputs import TrainingInput

    s3 = boto3.client("s3")
    bucket = f"fastfile-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="fast/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=bucket, Key="fast/deep/b.csv", Body=b"3,4\n")
    s3.put_object(Bucket=bucket, Key="file/c.csv", Body=b"5,6\n")
    manifest = [{"prefix": f"s3://{bucket}/fast/"}, "deep/b.csv", "a.csv"]
    s3.put_object(Bucket=bucket, Key="listed.manifest", Body=json.dumps(manifest).encode())
    job = contract_estimator()
    job.fit(
        {
            "fast": TrainingInput(f"s3://{bucket}/fast", input_mode="FastFile"),
            "plain": TrainingInput(f"s3://{bucket}/file"),
            "listed": TrainingInput(f"s3://{bucket}/listed.manifest", s3_data_type="ManifestFile"),
        },
        wait=True,
        logs=True,
    )
    record = model_json(job.model_data, "contract.json")
    assert record["input_modes"] == {"fast": "FastFile", "listed": "File", "plain": "File"}
    assert record["channel_files"] == {
        "fast": {"a.csv": "1,2\n", "deep/b.csv": "3,4\n"},
        "listed": {"a.csv": "1,2\n", "deep/b.csv": "3,4\n"},  # a manifest's keys land relative to its prefix
        "plain": {"c.csv": "5,6\n"},
    }
    output_bucket, _, output_key = job.model_data[5:].replace("/model.tar.gz", "/output.tar.gz").partition("/")
    output = s3.get_object(Bucket=output_bucket, Key=output_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(output)) as tar:  # output.tar.gz: /opt/ml/output/data
        member = tar.extractfile("channels.txt")
        assert member is not None and member.read() == b"fast=2 listed=2 plain=1\n"
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["InputDataConfig"][0]["InputMode"] == "FastFile"


def test_checkpoints_are_restored_at_start_and_uploaded(runner_env: RunningEmulator, unique: str) -> None:
    s3 = boto3.client("s3")
    bucket = f"ckpt-{unique}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="run/checkpoints/epoch-1.txt", Body=b"epoch 1 done\n")
    s3.put_object(Bucket=bucket, Key="run/checkpoints/nested/state.json", Body=b'{"epoch": 1}')
    s3.put_object(Bucket=bucket, Key="run/checkpoints-old/other.txt", Body=b"not this run's folder")
    s3.put_object(Bucket=bucket, Key="data/x.csv", Body=b"0\n")
    job = contract_estimator(checkpoint_s3_uri=f"s3://{bucket}/run/checkpoints")
    job.fit({"train": f"s3://{bucket}/data"}, wait=True, logs=True)

    record = model_json(job.model_data, "contract.json")
    assert record["checkpoints_at_start"] == {"epoch-1.txt": "epoch 1 done\n", "nested/state.json": '{"epoch": 1}'}
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="run/checkpoints/")["Contents"]
    assert sorted(item["Key"] for item in listed) == [
        "run/checkpoints/epoch-1.txt",
        "run/checkpoints/epoch-2.txt",
        "run/checkpoints/nested/state.json",
    ]
    body = lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()  # noqa: E731
    assert body("run/checkpoints/epoch-2.txt") == b"epoch 2 done\n"
    assert body("run/checkpoints/nested/state.json") == b'{"epoch": 2}'  # the job's newer state replaced it
    assert body("run/checkpoints/epoch-1.txt") == b"epoch 1 done\n"
    described = boto3.client("sagemaker").describe_training_job(TrainingJobName=job.latest_training_job.name)
    assert described["CheckpointConfig"] == {"S3Uri": f"s3://{bucket}/run/checkpoints"}  # echoed as given
