"""The one shared response check: every SageMaker response a test client receives is validated
against botocore's output shape — unknown members in the raw JSON and wrong types both fail.

Types are checked by botocore's own ParamValidator on the parsed response; unknown keys, which
botocore's parser silently drops, are found by walking the raw body alongside the shape.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, Shape
from botocore.validate import ParamValidator

checked_responses = 0


def _unknown_members(value: Any, shape: Shape, path: str) -> list[str]:
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for key, item in value.items():
            member = shape.members.get(key)  # type: ignore[attr-defined]
            if member is None:
                found.append(f"{path}.{key}")
            else:
                found += _unknown_members(item, member, f"{path}.{key}")
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [
            problem
            for index, item in enumerate(value)
            for problem in _unknown_members(item, shape.member, f"{path}[{index}]")  # type: ignore[attr-defined]
        ]
    if shape.type_name == "map" and isinstance(value, dict):
        return [
            problem
            for key, item in value.items()
            for problem in _unknown_members(item, shape.value, f"{path}.{key}")  # type: ignore[attr-defined]
        ]
    return []


def check_response(http_response: Any, parsed: dict[str, Any], model: OperationModel, **_: Any) -> None:
    global checked_responses
    if http_response.status_code != 200 or model.output_shape is None:
        return
    raw = json.loads(http_response.content or b"{}")
    unknown = _unknown_members(raw, model.output_shape, model.name)
    assert not unknown, f"{model.name} response has members the model does not know: {unknown}"
    body = {key: value for key, value in parsed.items() if key != "ResponseMetadata"}
    report = ParamValidator().validate(body, model.output_shape)
    assert not report.has_errors(), f"{model.name} response does not match its shape:\n{report.generate_report()}"
    checked_responses += 1


def install(client: Any) -> Any:
    """Register the check on a boto3 client (SageMaker or any JSON service) and return the client."""
    client.meta.events.register(f"after-call.{client.meta.service_model.service_id.hyphenize()}", check_response)
    return client
