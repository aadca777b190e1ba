"""Pipeline overhead, process runner, with KFP's local runner as the peer (same run):

(a) a chain of 20 trivial steps: the execution's wall time minus its jobs' own lifetimes
    (CreationTime → ProcessingEndTime of each job), per step — what the pipeline machinery adds
    (target ≤ 50 ms); also the whole wall time per step, jobs included, next to KFP's;
(b) 8 independent 2-second steps with MaxParallelExecutionSteps=8: wall time against a one-step
    pipeline of the same step (target ≤ 1.25 times), next to KFP's wall for the same fan-out.

    .venv/bin/python benchmarks/pipeline_overhead.py [--chain 20] [--fan-out 8] [--sleep 2] [--runs 3]

The KFP side runs `benchmarks/kfp_local_peer.py` in `.venv-kfp` (made on first use: kfp and the
sagemaker SDK cannot share a virtualenv); `--no-peer` skips it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from emulator.testing import running_emulator

ROOT = Path(__file__).resolve().parents[1]
KFP_VENV = ROOT / ".venv-kfp"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/Bench"


def step(name: str, code: str, depends_on: list[str] | None = None) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
            },
            "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "-c", code]},
            "RoleArn": ROLE,
        },
    }
    if depends_on:
        raw["DependsOn"] = depends_on
    return raw


def run_pipeline(sm: Any, steps: list[dict[str, Any]], parallelism: int | None = None) -> tuple[float, str]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    definition = {"Version": "2020-12-01", "Steps": steps}
    sm.create_pipeline(
        PipelineName=name, PipelineDefinition=json.dumps(definition), RoleArn=ROLE, ClientRequestToken=name * 4
    )
    extra = {"ParallelismConfiguration": {"MaxParallelExecutionSteps": parallelism}} if parallelism else {}
    started = time.perf_counter()
    arn = sm.start_pipeline_execution(PipelineName=name, **extra)["PipelineExecutionArn"]
    while True:
        status = sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"]
        if status not in ("Executing", "Stopping"):
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    if status != "Succeeded":
        raise SystemExit(f"{name} ended {status}")
    return wall, arn


def job_lifetimes(sm: Any, arn: str) -> float:
    """Seconds the execution's jobs lived, each from CreateProcessingJob to its end."""
    names = {
        summary["ProcessingJobArn"]: summary["ProcessingJobName"]
        for page in sm.get_paginator("list_processing_jobs").paginate()
        for summary in page["ProcessingJobSummaries"]
    }
    total = 0.0
    for page in sm.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=arn):
        for entry in page["PipelineExecutionSteps"]:
            job = sm.describe_processing_job(ProcessingJobName=names[entry["Metadata"]["ProcessingJob"]["Arn"]])
            total += (job["ProcessingEndTime"] - job["CreationTime"]).total_seconds()
    return total


def kfp_figures(chain: int, fan_out: int, sleep: float) -> dict[str, float] | None:
    python = KFP_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(KFP_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "kfp==2.15.*", "docker"], check=True)
    command = [str(python), str(ROOT / "benchmarks" / "kfp_local_peer.py")]
    command += ["--chain", str(chain), "--fan-out", str(fan_out), "--sleep", str(sleep)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"KFP peer failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--fan-out", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    slots = str(max(args.fan_out, 2))
    with running_emulator(extra_args=["--runner", "process", "--max-concurrent-jobs", slots]) as emulator:
        sm = boto3.client(
            "sagemaker", endpoint_url=emulator.url, region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        run_pipeline(sm, [step("Warm", "pass")])
        chain = [step(f"S{i}", "pass", [f"S{i - 1}"] if i else None) for i in range(args.chain)]
        overheads, per_step = [], []
        for _ in range(args.runs):
            wall, arn = run_pipeline(sm, chain)
            overheads.append((wall - job_lifetimes(sm, arn)) / args.chain)
            per_step.append(wall / args.chain)
        nap = f"import time; time.sleep({args.sleep})"
        single = statistics.median(run_pipeline(sm, [step("One", nap)])[0] for _ in range(args.runs))
        fan = [step(f"F{i}", nap) for i in range(args.fan_out)]
        fan_out = statistics.median(run_pipeline(sm, fan, args.fan_out)[0] for _ in range(args.runs))
    peer = None if args.no_peer else kfp_figures(args.chain, args.fan_out, args.sleep)
    overhead, whole = statistics.median(overheads), statistics.median(per_step)
    print(f"(a) chain of {args.chain}: pipeline overhead {overhead * 1000:.0f} ms/step (target <= 50), ", end="")
    print(f"wall {whole:.3f} s/step with jobs", end="")
    print(f"; KFP local {peer['chain'] / args.chain:.3f} s/step" if peer else "")
    print(f"(b) fan-out of {args.fan_out} x {args.sleep:g}s: wall {fan_out:.2f} s, one step {single:.2f} s, ", end="")
    print(f"ratio {fan_out / single:.2f} (target <= 1.25)", end="")
    print(f"; KFP local {peer['fan_out']:.2f} s" if peer else "")
    print(f"median of {args.runs} runs")


if __name__ == "__main__":
    main()
