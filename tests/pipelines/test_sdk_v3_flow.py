"""The whole flow with the unmodified SageMaker SDK v3 (`sagemaker.mlops.workflow`, ModelTrainer, ModelBuilder,
sagemaker-core): Processing → Training → evaluation Processing (PropertyFile) → Condition (JsonGet ≤ parameter)
→ CreateModel → Transform → RegisterModel, or else Fail; both branches, both runners, steps checked one by one.

v3 is the same `sagemaker` package as v2, so it lives in its own virtualenv (`.venv-v3`, made by scripts/test
from tests/pipelines/v3/requirements.txt): each test runs tests/pipelines/v3/flow.py with that interpreter,
pointed at the emulator, and checks the JSON it writes and the emulator's state through boto3.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from emulator.testing import RunningEmulator
from tests.conftest import make_client

ROOT = Path(__file__).resolve().parents[2]
V3_PYTHON = ROOT / ".venv-v3" / "bin" / "python"
FLOW = Path(__file__).with_name("v3") / "flow.py"
ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"
pytestmark = pytest.mark.timeout(1800)  # two SDK builds and a real pipeline run per test; docker runs are slower
REPACK = re.compile(r"^(CreateModel|Register)-RepackModel-model-[0-9a-f]{8}$")  # v3 adds these two steps


@pytest.fixture(scope="session")
def v3_python() -> Path:
    if not V3_PYTHON.is_file():
        reason = f"{V3_PYTHON} does not exist: scripts/test creates it from tests/pipelines/v3/requirements.txt."
        if os.environ.get("CI"):
            pytest.fail(f"{reason}\nCI is set, so the SDK v3 tests must run: this is a failure, not a skip.")
        pytest.skip(reason)
    return V3_PYTHON


@pytest.fixture
def v3_flow(pipelines_emulator: RunningEmulator, v3_python: Path, tmp_path: Path, unique: str) -> dict[str, Any]:
    """Input data in a fresh bucket, and a function running the v3 flow script with extra arguments."""
    s3 = make_client(pipelines_emulator, "s3")
    bucket = f"v3-flow-{unique}"
    s3.create_bucket(Bucket=bucket)
    xs = np.linspace(0, 10, 40)
    rows = "\n".join(f"{x:.4f},{2 * x + 1 + 0.01 * np.sin(7 * x):.6f}" for x in xs)
    s3.put_object(Bucket=bucket, Key="raw/data.csv", Body=rows.encode())
    s3.put_object(Bucket=bucket, Key="batch/a.csv", Body=b"1.0\n2.0\n3.5\n")
    names = {"bucket": bucket, "name": f"v3-flow-{unique}", "group": f"v3-group-{unique}"}

    def run(*extra: str) -> dict[str, Any]:
        output = tmp_path / "result.json"
        command = [str(v3_python), str(FLOW), *(f"--{key}={value}" for key, value in names.items())]
        # What `sagemaker-emulator env` exports, SAGEMAKER_VALIDATE_ROLE=false included (SDK 3.27 checks role
        # ARNs through IAM calls the emulator does not serve).
        environment = {**os.environ, **pipelines_emulator.environment()}
        finished = subprocess.run(
            [*command, f"--output={output}", *extra],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        log = pipelines_emulator.log_path.read_text(errors="replace")[-4000:]
        assert finished.returncode == 0, f"v3 flow failed:\n{finished.stderr[-6000:]}\n--- emulator log ---\n{log}"
        result: dict[str, Any] = json.loads(output.read_text())
        return result

    return {**names, "run": run, "s3": s3, "sm": make_client(pipelines_emulator, "sagemaker")}


def failures_of(execution: dict[str, Any]) -> list[str]:
    """The execution's and its failed steps' reasons, for assertion messages."""
    failed = [f"{step['StepName']}: {step['FailureReason']}" for step in execution["steps"] if "FailureReason" in step]
    return [str(execution["describe"].get("FailureReason")), *failed]


def by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {step["StepName"]: step for step in steps}


def time_of(step: dict[str, Any], key: str) -> datetime:
    return datetime.fromisoformat(step[key])


def assert_listed_newest_first(steps: list[dict[str, Any]]) -> None:
    starts = [time_of(step, "StartTime") for step in steps]
    assert starts == sorted(starts, reverse=True), [step["StepName"] for step in steps]


def assert_ran_after(steps: dict[str, dict[str, Any]], later: str, earlier: str) -> None:
    assert time_of(steps[later], "StartTime") >= time_of(steps[earlier], "EndTime"), (later, earlier)


def job_arn(step: dict[str, Any], kind: str, resource: str, execution_id: str) -> str:
    arn = str(step["Metadata"][kind]["Arn"])
    step_part = re.escape(step["StepName"].lower()[:20])
    assert re.fullmatch(rf"{ACCOUNT_ARN}:{resource}/pipelines-{execution_id}-{step_part}[-a-z0-9]*", arn), arn
    return arn


def assert_common_upstream(steps: dict[str, dict[str, Any]], execution_id: str) -> dict[str, str]:
    """Prepare, Train, Evaluate and v3's two repack training steps: succeeded, in order, with their jobs."""
    repacks = sorted(name for name in steps if REPACK.match(name))
    assert [name.split("-")[0] for name in repacks] == ["CreateModel", "Register"], sorted(steps)
    for name in ("Prepare", "Train", "Evaluate", *repacks):
        assert steps[name]["StepStatus"] == "Succeeded", steps[name]
        assert steps[name]["AttemptCount"] == 1
        assert "FailureReason" not in steps[name]
    arns = {
        "Prepare": job_arn(steps["Prepare"], "ProcessingJob", "processing-job", execution_id),
        "Train": job_arn(steps["Train"], "TrainingJob", "training-job", execution_id),
        "Evaluate": job_arn(steps["Evaluate"], "ProcessingJob", "processing-job", execution_id),
    }
    for name in repacks:
        arns[name.split("-")[0] + "-Repack"] = job_arn(steps[name], "TrainingJob", "training-job", execution_id)
        assert steps[name]["StepDescription"].startswith("Used to repack a model")
        assert_ran_after(steps, name, "Train")
    assert_ran_after(steps, "Train", "Prepare")
    assert_ran_after(steps, "Evaluate", "Train")
    assert_ran_after(steps, "CheckMse", "Evaluate")
    assert steps["CheckMse"]["StepStatus"] == "Succeeded"
    return arns


def training_job_named(sm: Any, arn: str) -> dict[str, Any]:
    """DescribeTrainingJob of the job with this ARN (ARNs carry names lowercased, as in the cloud)."""
    for page in sm.get_paginator("list_training_jobs").paginate():
        for summary in page["TrainingJobSummaries"]:
            if summary["TrainingJobArn"] == arn:
                return dict(sm.describe_training_job(TrainingJobName=summary["TrainingJobName"]))
    raise AssertionError(f"no training job has ARN {arn}")


def test_success_branch_runs_every_step_for_real(v3_flow: dict[str, Any]) -> None:
    result = v3_flow["run"]("--then-update-default-threshold=2.5")
    execution = result["execution"]
    arn = execution["arn"]
    execution_id = arn.rsplit("/", 1)[1]
    assert re.fullmatch(rf"{ACCOUNT_ARN}:pipeline/{v3_flow['name']}/execution/[a-z0-9]{{12}}", arn)
    assert execution["waited"] == "Succeeded", failures_of(execution)
    assert execution["describe"]["PipelineExecutionStatus"] == "Succeeded"
    assert "FailureReason" not in execution["describe"]

    listed = execution["steps"]
    assert_listed_newest_first(listed)
    steps = by_name(listed)
    names = {name for name in steps if not REPACK.match(name)}
    assert names == {"Prepare", "Train", "Evaluate", "CheckMse", "CreateModel", "Transform", "Register"}, sorted(steps)
    arns = assert_common_upstream(steps, execution_id)
    assert steps["CheckMse"]["Metadata"]["Condition"]["Outcome"] == "True"
    for name in ("CreateModel", "Transform", "Register"):
        assert steps[name]["StepStatus"] == "Succeeded", steps[name]
        assert steps[name]["AttemptCount"] == 1
        assert_ran_after(steps, name, "CheckMse")
    model_arn = job_arn(steps["CreateModel"], "Model", "model", execution_id)
    job_arn(steps["Transform"], "TransformJob", "transform-job", execution_id)
    package_arn = steps["Register"]["Metadata"]["RegisterModel"]["Arn"]
    assert package_arn == f"{ACCOUNT_ARN}:model-package/{v3_flow['group']}/1"
    assert_ran_after(steps, "CreateModel", next(name for name in steps if name.startswith("CreateModel-Repack")))
    assert_ran_after(steps, "Register", next(name for name in steps if name.startswith("Register-Repack")))
    assert_ran_after(steps, "Transform", "CreateModel")
    assert execution["parameters"] == [
        {"Name": "MseThreshold", "Value": "1.0"},
        {"Name": "InputData", "Value": f"s3://{v3_flow['bucket']}/raw/data.csv"},
    ]

    # The same execution read through sagemaker-core's typed resources (each Describe parsed member by member).
    core = execution["core"]
    assert core["status"] == "Succeeded" and core["failure_reason"] is None
    assert core["steps"] == {step["StepName"]: "Succeeded" for step in listed}
    assert core["parameters"] == {"MseThreshold": "1.0", "InputData": f"s3://{v3_flow['bucket']}/raw/data.csv"}
    assert sorted(core["processing_jobs"].values()) == ["Completed"] * 2
    assert sorted(core["training_jobs"].values()) == ["Completed"] * 3
    assert list(core["transform_jobs"].values()) == ["Completed"]
    assert len(core["models"]) == 1 and model_arn.endswith("/" + core["models"][0].lower())
    assert core["model_packages"] == {package_arn: "Completed"}

    # What the jobs made: predictions of the trained line, a model and a package of the repacked artifact.
    sm, s3 = v3_flow["sm"], v3_flow["s3"]
    body = s3.get_object(Bucket=v3_flow["bucket"], Key=f"{execution_id}/predictions/a.csv.out")["Body"].read()
    assert [float(line) for line in body.decode().split()] == pytest.approx([3.0, 5.0, 8.0], abs=0.05)
    repacked = training_job_named(sm, arns["CreateModel-Repack"])["ModelArtifacts"]["S3ModelArtifacts"]
    container = sm.describe_model(ModelName=core["models"][0])["PrimaryContainer"]
    assert container["ModelDataUrl"] == repacked
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    package = sm.describe_model_package(ModelPackageName=package_arn)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    registered = training_job_named(sm, arns["Register-Repack"])["ModelArtifacts"]["S3ModelArtifacts"]
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == registered

    # UpdatePipeline (a second upsert with another default) leaves the execution's definition as it was started.
    update = result["update"]
    started_with = json.loads(core["definition"])
    assert started_with["MlflowConfig"] is None
    assert [p["DefaultValue"] for p in started_with["Parameters"] if p["Name"] == "MseThreshold"] == [1.0]
    current = json.loads(update["describe"]["PipelineDefinition"])
    assert [p["DefaultValue"] for p in current["Parameters"] if p["Name"] == "MseThreshold"] == [2.5]
    assert json.loads(update["definition_for_execution"]["PipelineDefinition"]) == started_with
    assert json.loads(update["core_definition_for_execution"]) == started_with
    assert update["upsert"]["PipelineArn"] == f"{ACCOUNT_ARN}:pipeline/{v3_flow['name']}"
    assert update["upsert"]["PipelineVersionId"] == execution["describe"]["PipelineVersionId"] + 1


def test_fail_branch_ends_the_execution_with_the_fail_message(v3_flow: dict[str, Any]) -> None:
    execution = v3_flow["run"]("--threshold=0.0")["execution"]
    execution_id = execution["arn"].rsplit("/", 1)[1]
    assert "terminal failure state" in execution["waited"] and '"Failed"' in execution["waited"]
    assert execution["describe"]["PipelineExecutionStatus"] == "Failed"
    assert execution["describe"]["FailureReason"] == "MSE above 0.0"

    listed = execution["steps"]
    assert_listed_newest_first(listed)
    steps = by_name(listed)
    names = {name for name in steps if not REPACK.match(name)}
    assert names == {"Prepare", "Train", "Evaluate", "CheckMse", "MseTooHigh"}, sorted(steps)
    assert_common_upstream(steps, execution_id)
    assert steps["CheckMse"]["Metadata"]["Condition"]["Outcome"] == "False"
    fail = steps["MseTooHigh"]
    assert fail["StepStatus"] == "Failed"
    assert fail["FailureReason"] == "MSE above 0.0"
    assert fail["Metadata"] == {"Fail": {"ErrorMessage": "MSE above 0.0"}}
    assert_ran_after(steps, "MseTooHigh", "CheckMse")
    assert {"Name": "MseThreshold", "Value": "0.0"} in execution["parameters"]

    core = execution["core"]
    assert core["status"] == "Failed" and core["failure_reason"] == "MSE above 0.0"
    assert core["steps"]["MseTooHigh"] == "Failed"
    assert core["parameters"]["MseThreshold"] == "0.0"
    assert (core["transform_jobs"], core["models"], core["model_packages"]) == ({}, [], {})
    groups = v3_flow["sm"].list_model_package_groups(NameContains=v3_flow["group"])["ModelPackageGroupSummaryList"]
    assert groups == []
