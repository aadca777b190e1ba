"""Transform jobs in the process runner through boto3, with a diagnostic model that reports how each record
reached it: output keys, MultiRecord packing by bytes, SingleRecord, MaxConcurrentTransforms,
/execution-parameters, several instances, manifests, gzip, model errors, Stop, and API errors."""

from __future__ import annotations

import gzip
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator
from tests.conftest import make_client
from tests.models.conftest import (
    clients,
    echo_model,
    keys_under,
    read_text,
    transform_request,
    wait_for_transform,
)

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def env(process_sdk: RunningEmulator) -> dict[str, Any]:
    sm, s3 = clients(process_sdk)
    bucket = "transform-process"
    s3.create_bucket(Bucket=bucket)
    return {"sm": sm, "s3": s3, "bucket": bucket, "emulator": process_sdk}


def parsed(text: str) -> list[dict[str, Any]]:
    """The echo model's output lines as dicts."""
    rows = []
    for line in text.splitlines():
        record, count, size, in_flight, pid = line.rsplit("|", 4)
        rows.append(
            {"record": record, "count": int(count), "bytes": int(size), "in_flight": int(in_flight), "pid": pid}
        )
    return rows


def test_multi_record_packs_by_bytes_and_writes_outputs_by_relative_key(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = echo_model(sm, s3, bucket, f"echo-multi-{unique}")
    big = [f"{index:05d}" + "x" * 99_995 for index in range(25)]  # 100,000 bytes each
    files = {
        f"in-{unique}/a.csv": "\n".join(big) + "\n",
        f"in-{unique}/nested/deeper/b.csv": "1,2\n\n3,4\r\n",
        f"in-{unique}/c.csv": "5,6",
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    output = f"s3://{bucket}/out-{unique}"
    sm.create_transform_job(
        **transform_request(
            f"multi-{unique}",
            model,
            f"s3://{bucket}/in-{unique}",
            output,
            BatchStrategy="MultiRecord",
            MaxPayloadInMB=1,
        )
    )
    described = wait_for_transform(sm, f"multi-{unique}")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    assert keys_under(s3, output) == ["a.csv.out", "c.csv.out", "nested/deeper/b.csv.out"]

    rows = parsed(read_text(s3, f"{output}/a.csv.out"))
    assert [row["record"] for row in rows] == big
    # 10 records of 100,000 bytes and 9 separators fit in 1 MiB; an 11th would not.
    assert [row["count"] for row in rows] == [10] * 20 + [5] * 5
    assert max(row["bytes"] for row in rows) == 10 * 100_000 + 9 <= MIB
    small = parsed(read_text(s3, f"{output}/nested/deeper/b.csv.out"))
    assert [(row["record"], row["count"]) for row in small] == [("1,2", 2), ("3,4", 2)]
    assert read_text(s3, f"{output}/c.csv.out").startswith("5,6|1|3|")


def test_single_record_concurrency_and_execution_parameters(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    offered = {"BatchStrategy": "SINGLE_RECORD", "MaxConcurrentTransforms": 4, "MaxPayloadInMB": 1}
    model = echo_model(
        sm, s3, bucket, f"echo-params-{unique}", ECHO_SLEEP="0.2", EXECUTION_PARAMETERS=json.dumps(offered)
    )
    s3.put_object(Bucket=bucket, Key=f"params-{unique}/data.csv", Body="\n".join(str(i) for i in range(16)).encode())
    source, output = f"s3://{bucket}/params-{unique}", f"s3://{bucket}/params-out-{unique}"

    sm.create_transform_job(**transform_request(f"offered-{unique}", model, source, output))
    assert wait_for_transform(sm, f"offered-{unique}")["TransformJobStatus"] == "Completed"
    rows = parsed(read_text(s3, f"{output}/data.csv.out"))
    assert [row["record"] for row in rows] == [str(i) for i in range(16)]  # in input order
    assert {row["count"] for row in rows} == {1}  # the container asked for SingleRecord
    assert max(row["in_flight"] for row in rows) == 4  # and for 4 concurrent requests

    sm.create_transform_job(
        **transform_request(f"explicit-{unique}", model, source, output + "-2", MaxConcurrentTransforms=2)
    )
    assert wait_for_transform(sm, f"explicit-{unique}")["TransformJobStatus"] == "Completed"
    rows = parsed(read_text(s3, f"{output}-2/data.csv.out"))
    assert max(row["in_flight"] for row in rows) == 2  # the request's value wins


def test_instances_split_the_files_and_log_to_their_own_streams(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = echo_model(sm, s3, bucket, f"echo-two-{unique}")
    for index in range(4):
        s3.put_object(Bucket=bucket, Key=f"two-{unique}/part-{index}.csv", Body=f"{index},a\n{index},b\n".encode())
    output = f"s3://{bucket}/two-out-{unique}"
    name = f"two-{unique}"
    sm.create_transform_job(
        **transform_request(
            name,
            model,
            f"s3://{bucket}/two-{unique}",
            output,
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
        )
    )
    assert wait_for_transform(sm, name)["TransformJobStatus"] == "Completed"
    pids = {
        index: {row["pid"] for row in parsed(read_text(s3, f"{output}/part-{index}.csv.out"))} for index in range(4)
    }
    assert all(len(found) == 1 for found in pids.values())
    assert pids[0] == pids[2] and pids[1] == pids[3] and pids[0] != pids[1]

    logs = make_client(env["emulator"], "logs")
    streams = [
        item["logStreamName"]
        for item in logs.describe_log_streams(
            logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
        )["logStreams"]
    ]
    containers = [stream for stream in streams if not stream.endswith("/data-log")]
    assert len(containers) == 2 and len([stream for stream in streams if stream.endswith("/data-log")]) == 2
    for stream in containers:
        instance, epoch = stream.split("/", 1)[1].rsplit("-", 1)
        assert instance.startswith("i-0") and len(instance) == 19 and epoch.isdigit()
    data_log = logs.get_log_events(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamName=f"{containers[0]}/data-log", startFromHead=True
    )["events"]
    assert any("BatchStrategy=MULTI_RECORD" in event["message"] for event in data_log)


def test_manifest_and_gzip_input(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = echo_model(sm, s3, bucket, f"echo-manifest-{unique}")
    s3.put_object(Bucket=bucket, Key=f"m-{unique}/data/one.csv.gz", Body=gzip.compress(b"a\nb\n"))
    s3.put_object(Bucket=bucket, Key=f"m-{unique}/data/sub/two.csv.gz", Body=gzip.compress(b"c\n"))
    s3.put_object(Bucket=bucket, Key=f"m-{unique}/data/ignored.csv.gz", Body=gzip.compress(b"z\n"))
    manifest = [{"prefix": f"s3://{bucket}/m-{unique}/data/"}, "one.csv.gz", "sub/two.csv.gz"]
    s3.put_object(Bucket=bucket, Key=f"m-{unique}/manifest.json", Body=json.dumps(manifest).encode())
    output = f"s3://{bucket}/m-out-{unique}"
    request = transform_request(f"manifest-{unique}", model, "", output)
    request["TransformInput"].update(
        DataSource={"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": f"s3://{bucket}/m-{unique}/manifest.json"}},
        CompressionType="Gzip",
    )
    sm.create_transform_job(**request)
    assert wait_for_transform(sm, f"manifest-{unique}")["TransformJobStatus"] == "Completed"
    assert keys_under(s3, output) == ["one.csv.gz.out", "sub/two.csv.gz.out"]
    assert [row["record"] for row in parsed(read_text(s3, f"{output}/one.csv.gz.out"))] == ["a", "b"]


def test_an_error_status_fails_the_job_with_the_response_body(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = echo_model(sm, s3, bucket, f"echo-boom-{unique}")
    s3.put_object(Bucket=bucket, Key=f"boom-{unique}/x.csv", Body=b"fine\nboom\n")
    name = f"boom-{unique}"
    sm.create_transform_job(
        **transform_request(
            name, model, f"s3://{bucket}/boom-{unique}", f"s3://{bucket}/boom-out", BatchStrategy="SingleRecord"
        )
    )
    described = wait_for_transform(sm, name)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(
        f"ClientError: s3://{bucket}/boom-{unique}/x.csv: the model container answered /invocations with 500"
    )
    assert "ValueError: the model cannot score a record that says boom" in reason
    summaries = sm.list_transform_jobs(NameContains=name, StatusEquals="Failed")["TransformJobSummaries"]
    assert [(item["TransformJobName"], item["FailureReason"]) for item in summaries] == [(name, reason)]


def test_stop_ends_a_running_job(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = echo_model(sm, s3, bucket, f"echo-slow-{unique}", ECHO_SLEEP="0.5")
    s3.put_object(Bucket=bucket, Key=f"slow-{unique}/x.csv", Body="\n".join("r" for _ in range(200)).encode())
    name = f"slow-{unique}"
    sm.create_transform_job(
        **transform_request(
            name, model, f"s3://{bucket}/slow-{unique}", f"s3://{bucket}/slow-out", BatchStrategy="SingleRecord"
        )
    )
    time.sleep(3)
    sm.stop_transform_job(TransformJobName=name)
    assert sm.describe_transform_job(TransformJobName=name)["TransformJobStatus"] in ("Stopping", "Stopped")
    described = wait_for_transform(sm, name, timeout=60)
    assert described["TransformJobStatus"] == "Stopped"
    with pytest.raises(ClientError) as excinfo:
        sm.stop_transform_job(TransformJobName=name)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def test_api_errors(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    with pytest.raises(ClientError) as excinfo:
        sm.create_transform_job(
            **transform_request(f"nomodel-{unique}", f"absent-{unique}", f"s3://{bucket}/x", f"s3://{bucket}/y")
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response["Error"]["Message"] == (
        f'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/absent-{unique}".'
    )
    model = echo_model(sm, s3, bucket, f"echo-api-{unique}")
    bad = transform_request(
        f"filter-{unique}",
        model,
        f"s3://{bucket}/x",
        f"s3://{bucket}/y",
        DataProcessing={"OutputFilter": "$['account_id','SageMakerOutput']", "JoinSource": "Input"},
        TransformOutput={"Accept": "application/jsonlines"},
    )
    with pytest.raises(ClientError) as excinfo:
        sm.create_transform_job(**bad)
    assert excinfo.value.response["Error"]["Message"].startswith(
        "Invalid OutputFilter: \"$['account_id','SageMakerOutput']\". Unexpected \"_\" in JsonPath."
    )
    with pytest.raises(ClientError) as excinfo:
        sm.describe_transform_job(TransformJobName=f"absent-{unique}")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFound"

    s3.put_object(Bucket=bucket, Key=f"api-{unique}/x.csv", Body=b"1\n")
    request = transform_request(f"dup-{unique}", model, f"s3://{bucket}/api-{unique}", f"s3://{bucket}/api-out")
    sm.create_transform_job(**request)
    with pytest.raises(ClientError) as excinfo:
        sm.create_transform_job(**request)
    assert excinfo.value.response["Error"]["Code"] == "ResourceInUse"
    wait_for_transform(sm, f"dup-{unique}")
    described = sm.describe_transform_job(TransformJobName=f"dup-{unique}")
    assert described["TransformInput"] == request["TransformInput"]
    assert described["TransformOutput"] == request["TransformOutput"]
