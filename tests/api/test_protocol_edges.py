"""The awsJson edge as a raw HTTP client sees it: every error is JSON with `__type` and `message`,
never HTML or a 500, and every answer carries a request id."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator

JSON_11 = "application/x-amz-json-1.1"


def post(emulator: RunningEmulator, target: str | None, body: bytes, content_type: str = JSON_11) -> httpx.Response:
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    return httpx.post(emulator.url + "/", content=body, headers=headers, timeout=10)


def error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == JSON_11
    assert response.headers.get("x-amzn-requestid")
    document = response.json()
    assert set(document) == {"__type", "message"}, document
    return dict(document)


@pytest.mark.parametrize(
    ("target", "body", "code", "fragment"),
    [
        ("SageMaker.NoSuchOperation", b"{}", "UnknownOperationException", "NoSuchOperation"),
        ("SageMaker.DescribeDomain", b'{"DomainId": "d-1"}', "UnknownOperationException", "not implemented"),
        ("SageMaker.ListPipelines", b"{not json", "SerializationException", "not valid JSON"),
        ("SageMaker.ListPipelines", b"[1, 2]", "SerializationException", "JSON object"),
        ("SageMaker.ListPipelines", b'{"MaxResults": "ten"}', "SerializationException", "maxResults"),
        ("SageMaker.ListPipelines", b'{"CreatedAfter": "yesterday"}', "SerializationException", "createdAfter"),
        ("SageMaker.DescribePipeline", b'{"PipelineName": {"a": 1}}', "SerializationException", "pipelineName"),
        ("SageMaker.DescribePipeline", b'{"PipelineName": "' + b"a" * 5000 + b'"}', "ValidationException", "2048"),
        ("SageMaker.ListPipelines", b"\xff\xfe", "SerializationException", "not valid JSON"),
    ],
)
def test_bad_requests_get_aws_json_errors(
    sagemaker_emulator: RunningEmulator, target: str, body: bytes, code: str, fragment: str
) -> None:
    response = post(sagemaker_emulator, target, body)
    assert response.status_code == 400
    document = error(response)
    assert document["__type"] == code
    assert fragment in document["message"]


def test_wrong_content_type_is_still_answered_in_json(sagemaker_emulator: RunningEmulator) -> None:
    response = post(sagemaker_emulator, "SageMaker.ListPipelines", b"{}", content_type="text/plain")
    assert response.status_code == 200
    assert "PipelineSummaries" in response.json()


def test_success_carries_a_request_id(sagemaker_emulator: RunningEmulator) -> None:
    response = post(sagemaker_emulator, "SageMaker.ListPipelines", b"")
    assert response.status_code == 200
    assert len(response.headers["x-amzn-requestid"]) == 36
    assert json.loads(response.content) == {"PipelineSummaries": []} or "PipelineSummaries" in response.json()


def test_health_reports_what_is_running(sagemaker_emulator: RunningEmulator) -> None:
    health = httpx.get(sagemaker_emulator.url + "/_emulator/health").json()
    assert health["status"] == "ok"
    assert health["data_dir"] == str(sagemaker_emulator.data_dir)
    expected = sa.make_url(sagemaker_emulator.resolved_database_url).render_as_string(hide_password=True)
    assert health["database"] == expected  # SQLite in the data dir, or the test's PostgreSQL database
    assert {"version", "runner", "uptime_seconds"} <= set(health)


def test_sts_reports_the_configured_account(sagemaker_emulator: RunningEmulator) -> None:
    identity = sagemaker_emulator.client("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"


def test_iam_role_validation_calls_get_proper_aws_errors(sagemaker_emulator: RunningEmulator) -> None:
    """The v3 SDK calls GetRole and SimulatePrincipalPolicy; a proper AWS error lets it go on."""
    iam = sagemaker_emulator.client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName="SageMakerRole")
    assert excinfo.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/SageMakerRole", ActionNames=["s3:GetObject"]
        )
    assert excinfo.value.response["Error"]["Code"] == "NotImplemented"


def test_json_requests_without_a_known_target_are_answered_in_json(sagemaker_emulator: RunningEmulator) -> None:
    for target in (None, "Foo.Bar"):
        response = post(sagemaker_emulator, target, b"{}")
        assert response.status_code == 400
        assert error(response)["__type"] == "UnknownOperationException"
