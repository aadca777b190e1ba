"""Job overhead: a trivial training job from CreateTrainingJob until DescribeTrainingJob says Completed,
against the same command run directly, measured in the same run (p50 over N runs, job and peer
alternating so both see the same machine load).

    .venv/bin/python benchmarks/job_overhead.py [--runs 10] [--runner process|docker|both]

- process runner: the peer is `python -c <script>` as a plain subprocess (the interpreter jobs use);
- docker runner: the peer is `docker run --rm --network host --entrypoint python3 <image> -c <script>`,
  the same image and command the job runs (the scikit-learn test image by default; build it with
  scripts/build-test-images.sh). Skipped, saying why, when no Docker engine answers.

Targets (issue 3): overhead ≤ 0.3 s (process) and ≤ 0.5 s (docker).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from typing import Any

import boto3

from emulator.jobs.runners.registry import docker_answers
from emulator.testing import running_emulator

SCRIPT = "print('hello from a trivial job')"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TARGETS = {"process": 0.3, "docker": 0.5}


def run_job(sm: Any, name: str, image: str) -> float:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c"],
            "ContainerArguments": [SCRIPT],
        },
        RoleArn="arn:aws:iam::123456789012:role/Bench",
        OutputDataConfig={"S3OutputPath": "s3://sagemaker-us-east-1-123456789012/bench"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    while True:
        status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
        if status != "InProgress":
            break
        time.sleep(0.01)
    if status != "Completed":
        reason = sm.describe_training_job(TrainingJobName=name).get("FailureReason")
        raise SystemExit(f"{name} ended {status}: {reason}")
    return time.perf_counter() - started


def run_plain(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def peer_command(runner: str, image: str) -> list[str]:
    if runner == "docker":
        return ["docker", "run", "--rm", "--network", "host", "--entrypoint", "python3", image, "-c", SCRIPT]
    return [sys.executable, "-c", SCRIPT]


def measure(runner: str, runs: int, image: str) -> tuple[float, float]:
    """p50 of our job and of the plain command, alternating, after one warm-up of each."""
    plain = peer_command(runner, image)
    with running_emulator(extra_args=["--runner", runner]) as emulator:
        sm = boto3.client(
            "sagemaker", endpoint_url=emulator.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        run_job(sm, f"warmup-{uuid.uuid4().hex[:8]}", image)
        run_plain(plain)
        ours, theirs = [], []
        for _ in range(runs):
            ours.append(run_job(sm, f"bench-{uuid.uuid4().hex[:8]}", image))
            theirs.append(run_plain(plain))
    return statistics.median(ours), statistics.median(theirs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--runner", default="both", choices=["process", "docker", "both"])
    parser.add_argument("--image", default=IMAGE, help="docker runner: the image job and peer run")
    args = parser.parse_args()
    runners = ["process", "docker"] if args.runner == "both" else [args.runner]
    for runner in runners:
        if runner == "docker" and not docker_answers():
            print("runner docker: skipped, no Docker engine answers (start one: scripts/docker-engine.sh)")
            continue
        job, bare = measure(runner, args.runs, args.image)
        peer = "docker run" if runner == "docker" else "python -c"
        verdict = "within" if job - bare <= TARGETS[runner] else "OVER"
        print(
            f"runner {runner}: job p50 {job:.3f}s, plain `{peer}` p50 {bare:.3f}s, overhead {job - bare:.3f}s "
            f"({verdict} the {TARGETS[runner]:.1f}s target; {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
