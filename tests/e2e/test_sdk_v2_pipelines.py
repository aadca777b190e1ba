"""The real SageMaker Python SDK (v2) against a live emulator: `Pipeline.upsert()` (create, then the
update path), `describe()`, and `Session().default_bucket()` configured only by `sagemaker-emulator env`."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from emulator.testing import RunningEmulator
from tests.conftest import ROLE_ARN

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def env_exports(emulator: RunningEmulator) -> dict[str, str]:
    """Run `sagemaker-emulator env` as a user would and read its exports."""
    command = [sys.executable, "-m", "emulator", "env", "--port", str(emulator.port)]
    command += ["--data-dir", str(emulator.data_dir)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    exports = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = shlex.split(value)[0]
    return exports


@pytest.fixture
def sdk_env(sagemaker_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    exports = env_exports(sagemaker_emulator)
    for name, value in exports.items():
        monkeypatch.setenv(name, value)
    return exports


def recording_boto_session(sent: list[str]) -> boto3.Session:
    session = boto3.Session()
    session.events.register("before-send", lambda request, **_: sent.append(request.url))
    return session


def test_env_exports_what_clients_need(sagemaker_emulator: RunningEmulator) -> None:
    exports = env_exports(sagemaker_emulator)
    assert exports["AWS_ENDPOINT_URL"] == sagemaker_emulator.url
    assert exports["AWS_DEFAULT_REGION"] == "us-east-1"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exports)
    config = Path(exports["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read_text()
    assert "DefaultS3Bucket: sagemaker-us-east-1-123456789012" in config
    assert "TelemetryOptOut: true" in config


def test_default_bucket_needs_no_call_to_aws(sdk_env: dict[str, str]) -> None:
    import sagemaker

    sent: list[str] = []
    session = sagemaker.Session(boto_session=recording_boto_session(sent))
    assert session.default_bucket() == "sagemaker-us-east-1-123456789012"
    assert sent, "the SDK made no request at all"
    assert all(url.startswith(sdk_env["AWS_ENDPOINT_URL"]) for url in sent), sent


def sdk_pipeline(name: str, message: str) -> Any:
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    threshold = ParameterFloat(name="Threshold", default_value=0.5)
    stage = ParameterString(name="Stage", default_value="dev", enum_values=["dev", "prod"])
    fail = FailStep(name="Stop", error_message=Join(on=" ", values=[message, stage, threshold]))
    return Pipeline(name=name, parameters=[threshold, stage], steps=[fail], sagemaker_session=PipelineSession())


def test_upsert_creates_then_updates_and_describe_reads_back(sdk_env: dict[str, str], unique: str) -> None:
    name = f"sdk-v2-{unique}"
    pipeline = sdk_pipeline(name, "first")
    created = pipeline.upsert(role_arn=ROLE_ARN, description="first cut", tags=[{"Key": "owner", "Value": "qa"}])
    assert created["PipelineArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{name}"
    assert json.loads(pipeline.describe()["PipelineDefinition"]) == json.loads(pipeline.definition())

    second = sdk_pipeline(name, "second")
    updated = second.upsert(role_arn=ROLE_ARN, tags=[{"Key": "stage", "Value": "2"}])
    assert updated["PipelineArn"] == created["PipelineArn"]
    described = second.describe()
    assert "second" in described["PipelineDefinition"]
    assert described["PipelineDescription"] == "first cut"
    tags = boto3.client("sagemaker").list_tags(ResourceArn=created["PipelineArn"])["Tags"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"owner": "qa", "stage": "2"}


@pytest.mark.parametrize(
    "fixture", sorted(path.name for path in FIXTURES.glob("pipeline-*.json")) or ["<no fixtures found>"]
)
def test_upsert_accepts_every_real_sdk_definition(sdk_env: dict[str, str], unique: str, fixture: str) -> None:
    definition = (FIXTURES / fixture).read_text()
    pipeline = sdk_pipeline(f"fixture-{unique}", "unused")
    with mock.patch.object(type(pipeline), "definition", return_value=definition):
        pipeline.upsert(role_arn=ROLE_ARN)
        pipeline.upsert(role_arn=ROLE_ARN)
    described = pipeline.describe()
    assert json.loads(described["PipelineDefinition"]) == json.loads(definition)
    versions = boto3.client("sagemaker").list_pipeline_versions(PipelineName=pipeline.name)
    assert [summary["PipelineVersionId"] for summary in versions["PipelineVersionSummaries"]] == [2, 1]
