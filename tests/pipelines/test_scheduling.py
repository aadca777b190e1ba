"""How executions run real jobs, in both runners: parallelism limits, stop and retry, caching, retry
policies (with an injected internal error), callback steps over SQS, selective execution."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx

from emulator.testing import RunningEmulator
from tests.conftest import make_client
from tests.pipelines.conftest import create_pipeline, processing_job_named, python_step, steps_of, wait_for

SLEEP_3 = "import time; time.sleep(3)"


def _fast_when_present(url: str) -> str:
    """Code that finishes at once when the object at the (presigned) `url` exists, else sleeps 120 s."""
    return (
        "import time, urllib.request\n"
        "try:\n"
        f"    urllib.request.urlopen({url!r}, timeout=5)\n"
        "except Exception:\n"
        "    time.sleep(120)\n"
    )


def _elapsed(described: dict[str, Any]) -> float:
    return (described["LastModifiedTime"] - described["CreationTime"]).total_seconds()


def test_independent_steps_run_in_parallel_up_to_the_limit(psm: Any, unique: str) -> None:
    steps = [python_step(f"Sleep{i}", SLEEP_3) for i in range(4)]
    create_pipeline(psm, f"par-{unique}", steps)
    wide = psm.start_pipeline_execution(
        PipelineName=f"par-{unique}", ParallelismConfiguration={"MaxParallelExecutionSteps": 4}
    )["PipelineExecutionArn"]
    described = wait_for(psm, wide)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    assert _elapsed(described) < 6, f"4 parallel 3-second steps took {_elapsed(described):.1f}s"
    narrow = psm.start_pipeline_execution(
        PipelineName=f"par-{unique}", ParallelismConfiguration={"MaxParallelExecutionSteps": 1}
    )["PipelineExecutionArn"]
    described = wait_for(psm, narrow)
    assert described["PipelineExecutionStatus"] == "Succeeded"
    assert _elapsed(described) >= 12, f"one at a time should take >= 12s, took {_elapsed(described):.1f}s"
    intervals = sorted((s["StartTime"], s["EndTime"]) for s in steps_of(psm, narrow).values())
    assert all(earlier[1] <= later[0] for earlier, later in itertools.pairwise(intervals))


def test_stop_then_retry_reruns_only_what_did_not_succeed(
    psm: Any, pipelines_emulator: RunningEmulator, unique: str
) -> None:
    s3 = make_client(pipelines_emulator, "s3")
    bucket = f"stop-{unique}"
    s3.create_bucket(Bucket=bucket)
    go = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "fast"}, ExpiresIn=3600)
    steps = [
        python_step("Quick", "print('quick')"),
        python_step("Slow", _fast_when_present(go), depends_on=["Quick"]),
    ]
    create_pipeline(psm, f"stop-{unique}", steps)
    arn = psm.start_pipeline_execution(PipelineName=f"stop-{unique}")["PipelineExecutionArn"]
    _wait_for_step(psm, arn, "Slow", "Executing")
    psm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken="s" * 32)
    assert psm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
        "Stopping",
        "Stopped",
    )
    stopped_at = time.monotonic()
    described = wait_for(psm, arn, timeout=60)
    assert described["PipelineExecutionStatus"] == "Stopped"
    assert time.monotonic() - stopped_at < 20
    before = steps_of(psm, arn)
    assert before["Slow"]["StepStatus"] == "Stopped"
    slow_job = processing_job_named(psm, before["Slow"]["Metadata"]["ProcessingJob"]["Arn"])
    assert psm.describe_processing_job(ProcessingJobName=slow_job)["ProcessingJobStatus"] == "Stopped"

    s3.put_object(Bucket=bucket, Key="fast", Body=b"go")
    psm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken="r" * 32)
    described = wait_for(psm, arn, timeout=120)
    assert described["PipelineExecutionStatus"] == "Succeeded", described
    after = steps_of(psm, arn)
    assert after["Quick"]["Metadata"] == before["Quick"]["Metadata"]  # kept, not re-run
    assert after["Slow"]["StepStatus"] == "Succeeded"
    assert after["Slow"]["Metadata"]["ProcessingJob"]["Arn"] != before["Slow"]["Metadata"]["ProcessingJob"]["Arn"]


def test_a_cached_step_is_not_run_again(psm: Any, unique: str) -> None:
    cached = python_step("Prep", "print('prep')", CacheConfig={"Enabled": True, "ExpireAfter": "PT1H"})
    uncached = python_step("Always", "print('always')")
    create_pipeline(psm, f"cache-{unique}", [cached, uncached])
    first = psm.start_pipeline_execution(PipelineName=f"cache-{unique}")["PipelineExecutionArn"]
    assert wait_for(psm, first)["PipelineExecutionStatus"] == "Succeeded"
    second = psm.start_pipeline_execution(PipelineName=f"cache-{unique}")["PipelineExecutionArn"]
    assert wait_for(psm, second)["PipelineExecutionStatus"] == "Succeeded"
    one, two = steps_of(psm, first), steps_of(psm, second)
    assert "CacheHitResult" not in one["Prep"]
    assert two["Prep"]["StepStatus"] == "Succeeded"
    assert two["Prep"]["CacheHitResult"] == {"SourcePipelineExecutionArn": first}
    assert two["Prep"]["Metadata"] == one["Prep"]["Metadata"]
    assert "CacheHitResult" not in two["Always"]
    assert two["Always"]["Metadata"] != one["Always"]["Metadata"]


def test_a_retry_policy_recovers_from_an_injected_internal_error(
    psm: Any, pipelines_emulator: RunningEmulator, unique: str
) -> None:
    policy = [
        {"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 1, "BackoffRate": 1.0, "MaxAttempts": 2}
    ]
    create_pipeline(psm, f"retry-{unique}", [python_step("Flaky", "print('ok')", RetryPolicies=policy)])
    _arm_fault(pipelines_emulator, "ProcessingJob")
    arn = psm.start_pipeline_execution(PipelineName=f"retry-{unique}")["PipelineExecutionArn"]
    assert wait_for(psm, arn)["PipelineExecutionStatus"] == "Succeeded"
    assert steps_of(psm, arn)["Flaky"]["AttemptCount"] == 2

    create_pipeline(psm, f"noretry-{unique}", [python_step("Flaky", "print('ok')")])
    _arm_fault(pipelines_emulator, "ProcessingJob")
    arn = psm.start_pipeline_execution(PipelineName=f"noretry-{unique}")["PipelineExecutionArn"]
    described = wait_for(psm, arn)
    assert described["PipelineExecutionStatus"] == "Failed"
    step = steps_of(psm, arn)["Flaky"]
    assert step["AttemptCount"] == 1 and "InternalServerError" in step["FailureReason"]
    assert "Flaky" in described["FailureReason"]


def test_a_callback_step_waits_for_the_token_sent_over_sqs(
    psm: Any, pipelines_emulator: RunningEmulator, unique: str
) -> None:
    sqs = make_client(pipelines_emulator, "sqs")
    queue_url = sqs.create_queue(QueueName=f"cb-{unique}")["QueueUrl"]
    callback = {
        "Name": "Approve",
        "Type": "Callback",
        "Arguments": {"model": {"Get": "Parameters.Model"}},
        "SqsQueueUrl": queue_url,
        "OutputParameters": [{"OutputName": "threshold", "OutputType": "Float"}],
    }
    use = python_step(
        "Use",
        {
            "Std:Join": {
                "On": "",
                "Values": ["print('threshold', ", {"Get": "Steps.Approve.OutputParameters['threshold']"}, ")"],
            }
        },
    )
    parameters = [{"Name": "Model", "Type": "String", "DefaultValue": "m-1"}]
    create_pipeline(psm, f"cb-{unique}", [callback, use], parameters)
    arn = psm.start_pipeline_execution(PipelineName=f"cb-{unique}")["PipelineExecutionArn"]
    message = _receive(sqs, queue_url)
    assert message["pipelineExecutionArn"] == arn
    assert message["arguments"] == {"model": "m-1"} and message["status"] == "Executing"
    step = _wait_for_step(psm, arn, "Approve", "Executing")
    assert step["Metadata"]["Callback"]["CallbackToken"] == message["token"]
    psm.send_pipeline_execution_step_success(
        CallbackToken=message["token"], OutputParameters=[{"Name": "threshold", "Value": "0.5"}]
    )
    assert wait_for(psm, arn)["PipelineExecutionStatus"] == "Succeeded"
    steps = steps_of(psm, arn)
    assert steps["Approve"]["Metadata"]["Callback"]["OutputParameters"] == [{"Name": "threshold", "Value": "0.5"}]
    use_job = processing_job_named(psm, steps["Use"]["Metadata"]["ProcessingJob"]["Arn"])
    entrypoint = psm.describe_processing_job(ProcessingJobName=use_job)["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[-1] == "print('threshold', 0.5)"

    second = psm.start_pipeline_execution(PipelineName=f"cb-{unique}")["PipelineExecutionArn"]
    token = _receive(sqs, queue_url)["token"]
    psm.send_pipeline_execution_step_failure(CallbackToken=token, FailureReason="rejected by reviewer")
    described = wait_for(psm, second)
    assert described["PipelineExecutionStatus"] == "Failed"
    assert "rejected by reviewer" in described["FailureReason"]
    assert "Use" not in steps_of(psm, second)


def test_selective_execution_runs_only_the_selected_step(psm: Any, unique: str) -> None:
    steps = [
        python_step("A", "print('a')"),
        python_step("B", "print('b')", depends_on=["A"]),
        python_step("C", "print('c')", depends_on=["B"]),
    ]
    create_pipeline(psm, f"sel-{unique}", steps)
    source = psm.start_pipeline_execution(PipelineName=f"sel-{unique}")["PipelineExecutionArn"]
    assert wait_for(psm, source)["PipelineExecutionStatus"] == "Succeeded"
    selective = psm.start_pipeline_execution(
        PipelineName=f"sel-{unique}",
        SelectiveExecutionConfig={"SourcePipelineExecutionArn": source, "SelectedSteps": [{"StepName": "B"}]},
    )["PipelineExecutionArn"]
    assert wait_for(psm, selective)["PipelineExecutionStatus"] == "Succeeded"
    original, rerun = steps_of(psm, source), steps_of(psm, selective)
    assert set(rerun) == {"A", "B"}
    assert rerun["A"]["SelectiveExecutionResult"] == {"SourcePipelineExecutionArn": source}
    assert rerun["A"]["Metadata"] == original["A"]["Metadata"]
    assert rerun["B"]["Metadata"] != original["B"]["Metadata"]


def _wait_for_step(sm: Any, arn: str, name: str, status: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        step = steps_of(sm, arn).get(name)
        if step is not None and step["StepStatus"] == status:
            return step
        time.sleep(0.1)
    raise AssertionError(f"step {name} never reached {status}: {steps_of(sm, arn).get(name)}")


def _receive(sqs: Any, queue_url: str) -> dict[str, Any]:
    for _ in range(30):
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return dict(json.loads(messages[0]["Body"]))
    raise AssertionError("no callback message arrived")


def _arm_fault(emulator: RunningEmulator, kind: str) -> None:
    response = httpx.post(f"{emulator.url}/_emulator/faults", json={"kind": kind, "count": 1})
    assert response.status_code == 200, response.text
