"""Batch transform and the model registry through the real SageMaker SDK v2, in the process runner: models
from script-mode scikit-learn and XGBoost training (the XGBoost inference script imports the XGBoost
container's encoder), MultiRecord and SingleRecord, CSV and JSON Lines filters and joins, an input prefix
with several files and nested keys, `model.register()` versions, approval, and a transform of the approved
package. Every output is compared line by line with predictions computed here from the trained artifact."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.testing import RunningEmulator
from tests.models.conftest import ROLE, SCRIPTS, clients, keys_under, read_text

COEFFICIENTS = np.array([3.0, -2.0, 0.5])
FEATURES = {  # input files (several, nested keys) -> feature rows
    "batch/a.csv": np.round(np.random.default_rng(1).uniform(-5, 5, (40, 3)), 3),
    "batch/nested/b.csv": np.round(np.random.default_rng(2).uniform(-5, 5, (7, 3)), 3),
    "batch/nested/deeper/c.csv": np.round(np.random.default_rng(3).uniform(-5, 5, (1, 3)), 3),
}


@pytest.fixture(scope="module")
def env(process_sdk: RunningEmulator) -> dict[str, Any]:
    from sagemaker.session import Session

    sm, s3 = clients(process_sdk)
    session = Session()
    bucket = session.default_bucket()
    s3.create_bucket(Bucket=bucket)
    rows = np.random.default_rng(0).uniform(-5, 5, (60, 3))
    labels = rows @ COEFFICIENTS + 1.0
    training = "\n".join(
        ",".join(repr(float(value)) for value in [label, *row]) for label, row in zip(labels, rows, strict=True)
    )
    s3.put_object(Bucket=bucket, Key="sdk-transform/train/train.csv", Body=training.encode())
    for key, features in FEATURES.items():
        s3.put_object(Bucket=bucket, Key=f"sdk-transform/{key}", Body=csv_rows(features).encode())
    return {"sm": sm, "s3": s3, "bucket": bucket, "session": session, "train": f"s3://{bucket}/sdk-transform/train"}


def csv_rows(rows: np.ndarray, ids: bool = False) -> str:
    return "".join(
        ",".join(([f"id{index}"] if ids else []) + [repr(float(value)) for value in row]) + "\n"
        for index, row in enumerate(rows)
    )


def artifact(s3: Any, uri: str, member: str, directory: Path) -> Path:
    bucket, _, key = uri[5:].partition("/")
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        archive.extract(member, directory, filter="data")
    return directory / member


@pytest.fixture(scope="module")
def sklearn_estimator(env: dict[str, Any]) -> Any:
    from sagemaker.sklearn import SKLearn

    estimator = SKLearn(
        entry_point="sklearn_train.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
    )
    estimator.fit({"train": env["train"]}, wait=True, logs=False)
    return estimator


@pytest.fixture(scope="module")
def sklearn_predict(env: dict[str, Any], sklearn_estimator: Any) -> Any:
    import joblib

    with tempfile.TemporaryDirectory() as directory:
        model = joblib.load(artifact(env["s3"], sklearn_estimator.model_data, "model.joblib", Path(directory)))
    return model.predict


def output_values(text: str) -> list[float]:
    return [float(line) for line in text.splitlines()]


def test_multi_record_line_transform_of_a_prefix_with_nested_keys(
    env: dict[str, Any], sklearn_estimator: Any, sklearn_predict: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model = sklearn_estimator.create_model(entry_point="sklearn_inference.py", source_dir=str(SCRIPTS))
    output = f"s3://{env['bucket']}/sdk-transform/multi-out"
    transformer = model.transformer(
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        output_path=output,
    )
    transformer.transform(
        f"s3://{env['bucket']}/sdk-transform/batch", content_type="text/csv", split_type="Line", wait=True, logs=True
    )
    assert "inference server" in capsys.readouterr().out  # the serving host's log lines, shown by the SDK
    assert keys_under(env["s3"], output) == sorted(f"{key[len('batch/') :]}.out" for key in FEATURES)
    for key, features in FEATURES.items():
        got = output_values(read_text(env["s3"], f"{output}/{key[len('batch/') :]}.out"))
        assert got == pytest.approx(list(sklearn_predict(features)), rel=1e-9)
        assert got == pytest.approx(list(features @ COEFFICIENTS + 1.0), abs=1e-6)


def test_single_record_with_a_csv_input_filter_join_and_output_filter(
    env: dict[str, Any], sklearn_estimator: Any, sklearn_predict: Any
) -> None:
    from sagemaker.sklearn import SKLearnModel

    model = SKLearnModel(
        model_data=sklearn_estimator.model_data,
        role=ROLE,
        entry_point="sklearn_inference.py",
        source_dir=str(SCRIPTS),
        framework_version="1.2-1",
    )
    features = FEATURES["batch/a.csv"]
    env["s3"].put_object(
        Bucket=env["bucket"], Key="sdk-transform/ids/rows.csv", Body=csv_rows(features, ids=True).encode()
    )
    output = f"s3://{env['bucket']}/sdk-transform/ids-out"
    transformer = model.transformer(
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="SingleRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=output,
    )
    transformer.transform(
        f"s3://{env['bucket']}/sdk-transform/ids",
        content_type="text/csv",
        split_type="Line",
        input_filter="$[1:]",
        join_source="Input",
        output_filter="$[0,-1]",
        wait=True,
        logs=False,
    )
    lines = read_text(env["s3"], f"{output}/rows.csv.out").splitlines()
    expected = sklearn_predict(features)
    assert [line.split(",")[0] for line in lines] == [f"id{index}" for index in range(len(features))]
    assert [float(line.split(",")[1]) for line in lines] == pytest.approx(list(expected), rel=1e-9)


def test_json_lines_input_filter_join_and_output_filter(
    env: dict[str, Any], sklearn_estimator: Any, sklearn_predict: Any
) -> None:
    model = sklearn_estimator.create_model(entry_point="sklearn_inference.py", source_dir=str(SCRIPTS))
    features = FEATURES["batch/nested/b.csv"]
    records = [{"id": f"r{index}", "features": row.tolist(), "note": "kept out"} for index, row in enumerate(features)]
    body = "".join(json.dumps(record) + "\n" for record in records)
    env["s3"].put_object(Bucket=env["bucket"], Key="sdk-transform/json/records.jsonl", Body=body.encode())
    output = f"s3://{env['bucket']}/sdk-transform/json-out"
    transformer = model.transformer(
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="application/jsonlines",
        output_path=output,
    )
    transformer.transform(
        f"s3://{env['bucket']}/sdk-transform/json",
        content_type="application/jsonlines",
        split_type="Line",
        input_filter="$.features",
        join_source="Input",
        output_filter="$['id','SageMakerOutput']",
        wait=True,
        logs=False,
    )
    lines = [json.loads(line) for line in read_text(env["s3"], f"{output}/records.jsonl.out").splitlines()]
    assert [line["id"] for line in lines] == [record["id"] for record in records]
    assert all(set(line) == {"id", "SageMakerOutput"} for line in lines)
    scores = [line["SageMakerOutput"]["score"] for line in lines]
    assert scores == pytest.approx(list(sklearn_predict(features)), rel=1e-9)


def test_register_two_versions_approve_one_and_transform_the_approved_package(
    env: dict[str, Any], sklearn_estimator: Any, sklearn_predict: Any, unique: str
) -> None:
    from sagemaker import ModelPackage

    sm, group = env["sm"], f"sdk-group-{unique}"
    sm.create_model_package_group(ModelPackageGroupName=group, ModelPackageGroupDescription="sdk registry test")
    arns = []
    for _ in range(2):
        model = sklearn_estimator.create_model(entry_point="sklearn_inference.py", source_dir=str(SCRIPTS))
        package = model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            customer_metadata_properties={"trained-by": "test"},
        )
        arns.append(package.model_package_arn)
    assert [arn.rsplit("/", 2)[1:] for arn in arns] == [[group, "1"], [group, "2"]]
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Approved", ApprovalDescription="v2 is good")

    approved = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [item["ModelPackageArn"] for item in approved["ModelPackageSummaryList"]] == [arns[1]]
    pending = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval")
    assert [item["ModelPackageArn"] for item in pending["ModelPackageSummaryList"]] == [arns[0]]
    described = sm.describe_model_package(ModelPackageName=arns[1])
    assert described["ApprovalDescription"] == "v2 is good"
    assert described["CustomerMetadataProperties"] == {"trained-by": "test"}
    assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == sklearn_estimator.model_data

    output = f"s3://{env['bucket']}/sdk-transform/registry-out-{unique}"
    transformer = ModelPackage(role=ROLE, model_package_arn=arns[1]).transformer(
        instance_count=1, instance_type="ml.m5.large", strategy="MultiRecord", assemble_with="Line", output_path=output
    )
    transformer.transform(
        f"s3://{env['bucket']}/sdk-transform/batch/a.csv",
        content_type="text/csv",
        split_type="Line",
        wait=True,
        logs=False,
    )
    got = output_values(read_text(env["s3"], f"{output}/a.csv.out"))
    assert got == pytest.approx(list(sklearn_predict(FEATURES["batch/a.csv"])), rel=1e-9)


def test_xgboost_script_mode_model_whose_inference_imports_the_container_encoder(env: dict[str, Any]) -> None:
    import xgboost as xgb
    from sagemaker.xgboost import XGBoost

    estimator = XGBoost(
        entry_point="xgb_train.py",
        source_dir=str(SCRIPTS),
        framework_version="1.7-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        hyperparameters={"num_round": 7},
    )
    estimator.fit({"train": env["train"]}, wait=True, logs=False)
    model = estimator.create_model(entry_point="xgb_inference.py", source_dir=str(SCRIPTS))
    output = f"s3://{env['bucket']}/sdk-transform/xgb-out"
    transformer = model.transformer(
        instance_count=1, instance_type="ml.m5.large", strategy="MultiRecord", assemble_with="Line", output_path=output
    )
    transformer.transform(
        f"s3://{env['bucket']}/sdk-transform/batch", content_type="text/csv", split_type="Line", wait=True, logs=False
    )
    booster = xgb.Booster()
    with tempfile.TemporaryDirectory() as directory:
        booster.load_model(str(artifact(env["s3"], estimator.model_data, "xgboost-model", Path(directory))))
    for key, features in FEATURES.items():
        got = output_values(read_text(env["s3"], f"{output}/{key[len('batch/') :]}.out"))
        assert got == pytest.approx(booster.predict(xgb.DMatrix(features)).tolist(), rel=1e-6)
