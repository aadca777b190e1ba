"""Batch transform throughput: a 100,000-line CSV through a trivial model (process runner), with MultiRecord
(MaxPayloadInMB 6) and with SingleRecord; prints records/s and the per-request overhead, i.e. the time of
the data phase minus the model's own work, divided by the requests sent.

    .venv/bin/python benchmarks/transform_throughput.py [--lines 100000] [--peer-records 300]

- The data phase is timed by the job's own data-log lines (written once the serving host answers /ping and
  after the output is uploaded), so serving start and stop are left out; the figure covers download,
  split, batch, HTTP to the serving host, the host's handler dispatch, assembly and upload.
- The model's own work is measured by calling its `transform_fn` in this process on the same payloads.
- Peer: the SageMaker SDK's local mode data path (its LineSplitter + SingleRecordStrategy and its
  LocalSagemakerRuntimeClient, exactly as `_LocalTransformJob` uses them) against the same serving process
  started directly. Its client runs `docker info` / `docker context inspect` for every record to find the
  Docker host, which is where the issue's "~20 ms per record" comes from. Full local mode needs
  docker-compose, which this machine may not have; the data path is what differs per record.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import logging
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from emulator.jobs.transform_records import Item, batches, max_payload_bytes, payload_of, separator_for, split_records
from emulator.testing import running_emulator

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
MODEL_SCRIPT = """
def model_fn(model_dir):
    return None


def transform_fn(model, body, content_type, accept):
    text = body if isinstance(body, str) else body.decode()
    return "0\\n" * (text.count("\\n") + 1), "text/csv"
"""
BUCKET = "transform-bench"


def client(emulator: Any, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=emulator.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
    )  # fmt: skip


def run_job(sm: Any, logs: Any, model: str, source: str, strategy: str) -> tuple[float, float]:
    """(seconds from CreateTransformJob to Completed, seconds of the data phase)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy=strategy,
        MaxPayloadInMB=6,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    while True:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.02)
    total = time.perf_counter() - started
    if described["TransformJobStatus"] != "Completed":
        raise SystemExit(f"{name} ended {described['TransformJobStatus']}: {described.get('FailureReason')}")
    return total, data_phase(logs, name)


def data_phase(logs: Any, job: str) -> float:
    """From the data-log line written once the serving host is ready to the line written after the output
    upload: the job's data phase, without serving start and stop."""
    group = "/aws/sagemaker/TransformJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job}/")["logStreams"]
    stream = next(item["logStreamName"] for item in streams if item["logStreamName"].endswith("/data-log"))
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    return (events[-1]["timestamp"] - events[0]["timestamp"]) / 1000


def payloads(data: bytes, strategy: str) -> list[bytes]:
    items = (Item(record, None) for record in split_records(data, "Line"))
    separator = separator_for("Line")
    return [payload_of(group, separator) for group in batches(items, strategy, max_payload_bytes(6), separator)]


def model_work(script: Path, sent: list[bytes]) -> float:
    """Seconds the model's own transform_fn takes for these payloads, called directly."""
    spec = importlib.util.spec_from_file_location("bench_model", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    started = time.perf_counter()
    for payload in sent:
        module.transform_fn(None, payload.decode(), "text/csv", "text/csv")
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_mode_peer(code_dir: Path, data_file: Path, records: int) -> float | None:
    """Seconds per record of the SDK local mode's data path against a directly started serving process."""
    try:
        from sagemaker.local.data import LineSplitter, SingleRecordStrategy
        from sagemaker.local.local_session import LocalSagemakerRuntimeClient
    except ImportError:
        return None
    logging.getLogger("sagemaker").setLevel(logging.ERROR)  # it warns once per record otherwise
    port = free_port()
    model_dir = code_dir / "model"
    model_dir.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "SAGEMAKER_PROGRAM": "bench_model.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": str(code_dir),
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SM_MODEL_DIR": str(model_dir),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "emulator.serving.inference", "--image", IMAGE],
        env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        runtime = LocalSagemakerRuntimeClient(config={"local": {"serving_port": port}})
        strategy = SingleRecordStrategy(LineSplitter())
        sample = data_file.with_suffix(".sample.csv")
        with data_file.open() as source:
            sample.write_text("".join(next(source) for _ in range(records)))
        started = time.perf_counter()
        sent = 0
        for item in strategy.pad(str(sample), 6):
            runtime.invoke_endpoint(item, "", "text/csv", None)["Body"].read()
            sent += 1
        return (time.perf_counter() - started) / sent
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--peer-records", type=int, default=300)
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="transform-bench-"))
    script = work / "bench_model.py"
    script.write_text(MODEL_SCRIPT)
    data = "".join(f"{i % 97 / 7:.6f},{i % 13 / 3:.6f},{i % 31:.1f},{i}\n" for i in range(args.lines)).encode()
    data_file = work / "data.csv"
    data_file.write_bytes(data)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tarball:
        tarball.add(script, arcname="bench_model.py")

    with running_emulator(extra_args=["--runner", "process"]) as emulator:
        sm, s3 = client(emulator, "sagemaker"), client(emulator, "s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=archive.getvalue())
        s3.put_object(Bucket=BUCKET, Key="one/data.csv", Body=b"1,2,3,4\n")
        s3.put_object(Bucket=BUCKET, Key="full/data.csv", Body=data)
        sm.create_model(
            ModelName="bench-model",
            ExecutionRoleArn="arn:aws:iam::123456789012:role/Bench",
            PrimaryContainer={
                "Image": IMAGE,
                "Environment": {
                    "SAGEMAKER_PROGRAM": "bench_model.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{BUCKET}/code/sourcedir.tar.gz",
                },
            },
        )
        logs = client(emulator, "logs")
        one = [
            run_job(sm, logs, "bench-model", f"s3://{BUCKET}/one", "SingleRecord") for _ in range(args.baseline_runs)
        ]
        fixed = statistics.median(total - phase for total, phase in one)
        print(f"{args.lines} lines ({len(data) / 1e6:.1f} MB); serving start and stop of a job: {fixed:.3f}s")
        for strategy in ("MultiRecord", "SingleRecord"):
            total, phase = run_job(sm, logs, "bench-model", f"s3://{BUCKET}/full", strategy)
            sent = payloads(data, strategy)
            own = model_work(script, sent)
            overhead = phase - own
            print(
                f"{strategy:12s}: {total:.3f}s end to end ({args.lines / total:,.0f} records/s); data phase "
                f"{phase:.3f}s ({args.lines / phase:,.0f} records/s), {len(sent)} requests, model work {own:.3f}s, "
                f"overhead {overhead / len(sent) * 1000:.3f} ms per request, "
                f"{overhead / args.lines * 1e6:.1f} us per record"
            )
    peer = local_mode_peer(work, data_file, args.peer_records)
    if peer is None:
        print("peer: the SageMaker SDK is not installed; local mode not measured")
        return
    sample = b"".join(data.splitlines(keepends=True)[: args.peer_records])
    own = model_work(script, payloads(sample, "SingleRecord")) / args.peer_records
    print(
        f"peer, SDK local mode data path (SingleRecord, {args.peer_records} records, same serving process): "
        f"{peer * 1000:.2f} ms per record, {1 / peer:,.0f} records/s, per-request overhead "
        f"{(peer - own) * 1000:.2f} ms"
    )
    print("target: per-request overhead <= 2 ms")


if __name__ == "__main__":
    main()
