"""The `Callback` step: send a message with a token to the step's SQS queue, then wait until someone calls
SendPipelineExecutionStepSuccess or SendPipelineExecutionStepFailure with that token.

The queue is this emulator's SQS (moto, same endpoint). The message is JSON
`{"token", "pipelineExecutionArn", "arguments", "status": "Executing"}`; `arguments` are the step's resolved
inputs. Each token is a `PipelineCallback` row (`Waiting` → `Succeeded` | `Failed`) that the Send* operations
move on. Output parameters are converted by their declared `OutputType` and become the step's
`OutputParameters` property, so `Steps.S.OutputParameters['name']` resolves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from emulator.pipelines.scheduler import StepStatus
from emulator.pipelines.steps.base import Finished, Started, StepContext, random_suffix
from emulator.pipelines.steps.jobs import failed_call

CALLBACK = "PipelineCallback"
WAITING, SUCCEEDED, FAILED = "Waiting", "Succeeded", "Failed"


class CallbackStep:
    cache_attributes: tuple[str, ...] = ()

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        token = random_suffix(10)
        queue_url = str(ctx.step.raw.get("SqsQueueUrl", ""))
        ctx.store.insert(CALLBACK, token, {"PipelineExecutionArn": ctx.execution_arn}, status=WAITING)
        message = {
            "token": token,
            "pipelineExecutionArn": ctx.execution_arn,
            "arguments": arguments,
            "status": "Executing",
        }
        try:
            ctx.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
        except ClientError as error:
            return failed_call(error, f"SendMessage to {queue_url}")
        metadata = {"Callback": {"CallbackToken": token, "SqsQueueUrl": queue_url}}
        return Started(metadata, {"token": token, "queue_url": queue_url})

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        callback = ctx.store.get(CALLBACK, handle["token"])
        if callback is None or callback.status == WAITING:
            return None
        outputs = callback.document.get("OutputParameters", [])
        metadata = {
            "Callback": {
                "CallbackToken": handle["token"],
                "SqsQueueUrl": handle["queue_url"],
                "OutputParameters": outputs,
            }
        }
        if callback.status == FAILED:
            reason = callback.document.get("FailureReason") or "The callback step was reported as failed."
            return Finished(StepStatus.FAILED, metadata=metadata, failure_reason=reason)
        declared = {item.get("OutputName"): item.get("OutputType", "String") for item in _declared(ctx)}
        values = {item["Name"]: _converted(item["Value"], declared.get(item["Name"], "String")) for item in outputs}
        return Finished(StepStatus.SUCCEEDED, {"OutputParameters": values}, metadata=metadata)

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        return None  # the driver marks the step Stopped; a later Send* call finds the token no longer waiting


def _declared(ctx: StepContext) -> list[dict[str, Any]]:
    declared = ctx.step.raw.get("OutputParameters", [])
    return [item for item in declared if isinstance(item, dict)] if isinstance(declared, list) else []


def _converted(value: str, output_type: str) -> Any:
    try:
        if output_type == "Integer":
            return int(value)
        if output_type == "Float":
            return float(value)
        if output_type == "Boolean":
            return value.strip().lower() == "true"
    except ValueError:
        return value
    return value
