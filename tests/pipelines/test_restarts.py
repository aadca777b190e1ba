"""Executions survive the emulator: a server restart (graceful and kill -9) while a step waits, and a
worker killed while a step's job runs (the job fails as an internal error and the retry policy re-runs it)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from emulator.testing import RunningEmulator, running_emulator
from tests.conftest import make_client
from tests.pipelines.conftest import SLOTS, create_pipeline, python_step, steps_of, wait_for


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path, ["--runner", "process", *SLOTS]) as instance:
        yield instance


def _callback_pipeline(sm: Any, sqs: Any, name: str) -> str:
    queue_url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    steps = [
        python_step("Before", "print('before')"),
        {"Name": "Wait", "Type": "Callback", "Arguments": {}, "SqsQueueUrl": queue_url, "DependsOn": ["Before"]},
        python_step("After", "print('after')", depends_on=["Wait"]),
    ]
    create_pipeline(sm, name, steps)
    return queue_url


def _token(sqs: Any, queue_url: str) -> str:
    for _ in range(60):
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            return str(json.loads(messages[0]["Body"])["token"])
    raise AssertionError("no callback message")


@pytest.mark.parametrize("hard", [False, True], ids=["graceful", "kill-9"])
def test_an_execution_continues_after_a_server_restart(emulator: RunningEmulator, hard: bool) -> None:
    sm, sqs = make_client(emulator, "sagemaker"), make_client(emulator, "sqs")
    queue_url = _callback_pipeline(sm, sqs, "restart")
    arn = sm.start_pipeline_execution(PipelineName="restart")["PipelineExecutionArn"]
    token = _token(sqs, queue_url)
    emulator.restart(hard=hard)
    sm = make_client(emulator, "sagemaker")
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
    sm.send_pipeline_execution_step_success(CallbackToken=token)
    described = wait_for(sm, arn, timeout=120)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    steps = steps_of(sm, arn)
    assert [steps[name]["StepStatus"] for name in ("Before", "Wait", "After")] == ["Succeeded"] * 3


def test_a_job_interrupted_by_a_worker_crash_is_retried_by_the_policy(emulator: RunningEmulator) -> None:
    sm = make_client(emulator, "sagemaker")
    policy = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "MaxAttempts": 3}]
    code = "import time; print('working', flush=True); time.sleep(4)"
    create_pipeline(sm, "crash", [python_step("Work", code, RetryPolicies=policy)])
    arn = sm.start_pipeline_execution(PipelineName="crash")["PipelineExecutionArn"]
    deadline = time.monotonic() + 60
    while steps_of(sm, arn).get("Work", {}).get("StepStatus") != "Executing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(1)
    os.kill(_worker_pid(emulator), signal.SIGKILL)  # the server starts a new worker
    described = wait_for(sm, arn, timeout=120)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    step = steps_of(sm, arn)["Work"]
    assert step["AttemptCount"] == 2


def _worker_pid(emulator: RunningEmulator) -> int:
    assert emulator.process is not None
    workers = [c.pid for c in psutil.Process(emulator.process.pid).children() if "worker" in c.cmdline()]
    assert len(workers) == 1, workers
    return workers[0]
