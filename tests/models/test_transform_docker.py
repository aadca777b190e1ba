"""Docker twins of the transform and registry tests: the tests' custom image (`serve` answers each request with
a JSON object telling what it received, and 500 for a body starting with `fail`) in real containers, through
boto3 and the SageMaker SDK v2."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from emulator.testing import RunningEmulator
from tests.models.conftest import (
    CUSTOM_IMAGE,
    ROLE,
    clients,
    keys_under,
    read_text,
    transform_request,
    wait_for_transform,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def env(docker_sdk: RunningEmulator) -> dict[str, Any]:
    sm, s3 = clients(docker_sdk)
    bucket = "transform-docker"
    s3.create_bucket(Bucket=bucket)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tarball:
        content = json.dumps({"name": "docker-model"}).encode()
        info = tarfile.TarInfo("model.json")
        info.size = len(content)
        tarball.addfile(info, io.BytesIO(content))
    s3.put_object(Bucket=bucket, Key="model/model.tar.gz", Body=archive.getvalue())
    return {"sm": sm, "s3": s3, "bucket": bucket, "model_data": f"s3://{bucket}/model/model.tar.gz"}


def custom_model(env: dict[str, Any], name: str) -> str:
    env["sm"].create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": CUSTOM_IMAGE, "ModelDataUrl": env["model_data"], "Environment": {"SERVE_TAG": name}},
    )
    return name


def answers(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_multi_and_single_record_over_nested_keys(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = custom_model(env, f"docker-{unique}")
    s3.put_object(Bucket=bucket, Key=f"in-{unique}/a.csv", Body=b"1,2\n3,4\n5,6\n")
    s3.put_object(Bucket=bucket, Key=f"in-{unique}/nested/b.csv", Body=b"7,8\n")
    source = f"s3://{bucket}/in-{unique}"

    sm.create_transform_job(
        **transform_request(
            f"multi-{unique}", model, source, f"s3://{bucket}/multi-{unique}", BatchStrategy="MultiRecord"
        )
    )
    described = wait_for_transform(sm, f"multi-{unique}")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert keys_under(s3, f"s3://{bucket}/multi-{unique}") == ["a.csv.out", "nested/b.csv.out"]
    (answer,) = answers(read_text(s3, f"s3://{bucket}/multi-{unique}/a.csv.out"))
    assert answer["body"] == "1,2\n3,4\n5,6"
    assert (answer["content_type"], answer["model"], answer["tag"]) == ("text/csv", {"name": "docker-model"}, model)

    sm.create_transform_job(
        **transform_request(
            f"single-{unique}",
            model,
            source,
            f"s3://{bucket}/single-{unique}",
            BatchStrategy="SingleRecord",
            TransformOutput={"Accept": "application/json"},
        )
    )
    assert wait_for_transform(sm, f"single-{unique}")["TransformJobStatus"] == "Completed"
    single = answers(read_text(s3, f"s3://{bucket}/single-{unique}/a.csv.out"))
    assert [item["body"] for item in single] == ["1,2", "3,4", "5,6"]
    assert {item["accept"] for item in single} == {"application/json"}


def test_json_join_and_output_filter_in_a_container(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = custom_model(env, f"docker-join-{unique}")
    records = [{"id": index, "features": [index, index * 2]} for index in range(3)]
    s3.put_object(
        Bucket=bucket, Key=f"json-{unique}/r.jsonl", Body="".join(json.dumps(r) + "\n" for r in records).encode()
    )
    output = f"s3://{bucket}/json-out-{unique}"
    sm.create_transform_job(
        **transform_request(
            f"join-{unique}",
            model,
            f"s3://{bucket}/json-{unique}",
            output,
            BatchStrategy="SingleRecord",
            TransformInput={"ContentType": "application/jsonlines"},
            TransformOutput={"Accept": "application/jsonlines"},
            DataProcessing={
                "InputFilter": "$.features",
                "JoinSource": "Input",
                "OutputFilter": "$['id','SageMakerOutput']",
            },
        )
    )
    described = wait_for_transform(sm, f"join-{unique}")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["DataProcessing"]["JoinSource"] == "Input"
    lines = answers(read_text(s3, f"{output}/r.jsonl.out"))
    assert [line["id"] for line in lines] == [0, 1, 2]
    assert [json.loads(line["SageMakerOutput"]["body"]) for line in lines] == [r["features"] for r in records]


def test_a_failing_container_request_fails_the_job(env: dict[str, Any], unique: str) -> None:
    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    model = custom_model(env, f"docker-fail-{unique}")
    s3.put_object(Bucket=bucket, Key=f"fail-{unique}/x.csv", Body=b"ok\nfail now\n")
    sm.create_transform_job(
        **transform_request(
            f"fail-{unique}",
            model,
            f"s3://{bucket}/fail-{unique}",
            f"s3://{bucket}/fail-out",
            BatchStrategy="SingleRecord",
        )
    )
    described = wait_for_transform(sm, f"fail-{unique}")
    assert described["TransformJobStatus"] == "Failed"
    assert "answered /invocations with 500: the model was asked to fail: fail now" in described["FailureReason"]


def test_sdk_model_transformer_and_registered_package(env: dict[str, Any], unique: str) -> None:
    from sagemaker import ModelPackage
    from sagemaker.model import Model

    sm, s3, bucket = env["sm"], env["s3"], env["bucket"]
    s3.put_object(Bucket=bucket, Key=f"sdk-{unique}/rows.csv", Body=b"10,20\n30,40\n")
    model = Model(image_uri=CUSTOM_IMAGE, model_data=env["model_data"], role=ROLE, env={"SERVE_TAG": "sdk"})
    output = f"s3://{bucket}/sdk-out-{unique}"
    transformer = model.transformer(
        instance_count=1, instance_type="ml.m5.large", strategy="SingleRecord", assemble_with="Line", output_path=output
    )
    transformer.transform(
        f"s3://{bucket}/sdk-{unique}", content_type="text/csv", split_type="Line", wait=True, logs=True
    )
    assert [item["body"] for item in answers(read_text(s3, f"{output}/rows.csv.out"))] == ["10,20", "30,40"]

    group = f"docker-group-{unique}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    package = model.register(
        content_types=["text/csv"],
        response_types=["application/json"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=group,
        approval_status="Approved",
    )
    listed = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [item["ModelPackageArn"] for item in listed["ModelPackageSummaryList"]] == [package.model_package_arn]
    registered_output = f"s3://{bucket}/registered-out-{unique}"
    ModelPackage(role=ROLE, model_package_arn=package.model_package_arn).transformer(
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        output_path=registered_output,
    ).transform(f"s3://{bucket}/sdk-{unique}", content_type="text/csv", split_type="Line", wait=True, logs=False)
    (answer,) = answers(read_text(s3, f"{registered_output}/rows.csv.out"))
    assert (answer["body"], answer["tag"], answer["model"]) == ("10,20\n30,40", "sdk", {"name": "docker-model"})
