"""Endpoint start-up: CreateEndpoint → InService (and the first InvokeEndpoint answered), against the bare start
of the same serving process until its GET /ping answers 200, measured in the same run (p50 over N runs).

    .venv/bin/python benchmarks/endpoint_startup.py [--runs 5] [--runner process|docker]

Process runner: a scikit-learn script-mode model (tests/endpoints/scripts/endpoint_inference.py); its peer
is `python -m emulator.serving.inference` started directly on the same model and code. Docker runner: the
tests' custom image (`local/custom-train:test`, built by scripts/build-test-images.sh); its peer is
`docker run -p 127.0.0.1::8080 <image> serve`. Also prints the per-request time of InvokeEndpoint through
the gateway against a request sent straight to the serving process.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx

from emulator.testing import free_port, running_emulator

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "endpoints" / "scripts" / "endpoint_inference.py"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
CUSTOM_IMAGE = "local/custom-train:test"
MODEL = {"name": "bench"}


def tarball(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def client(url: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


def create_model(url: str, runner: str) -> str:
    s3, sm = client(url, "s3"), client(url, "sagemaker")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="model.tar.gz", Body=tarball({"model.json": json.dumps(MODEL)}))
    environment = {}
    image = CUSTOM_IMAGE
    if runner == "process":
        image = SKLEARN_IMAGE
        s3.put_object(Bucket=bucket, Key="sourcedir.tar.gz", Body=tarball({SCRIPT.name: SCRIPT.read_text()}))
        environment = {
            "SAGEMAKER_PROGRAM": SCRIPT.name,
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/sourcedir.tar.gz",
        }
    name = f"bench-{bucket}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/Bench",
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{bucket}/model.tar.gz", "Environment": environment},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        ],
    )
    return name


def time_endpoint(url: str, config: str) -> tuple[float, float]:
    """Seconds to InService, and to the first answered InvokeEndpoint."""
    sm, runtime = client(url, "sagemaker"), client(url, "sagemaker-runtime")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    while (status := sm.describe_endpoint(EndpointName=name)["EndpointStatus"]) == "Creating":
        time.sleep(0.01)
    in_service = time.perf_counter() - started
    if status != "InService":
        raise SystemExit(f"{name}: {status}: {sm.describe_endpoint(EndpointName=name).get('FailureReason')}")
    runtime.invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")["Body"].read()
    answered = time.perf_counter() - started
    sm.delete_endpoint(EndpointName=name)
    return in_service, answered


def wait_ping(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the serving process exited with {process.returncode}")
        time.sleep(0.01)
    raise SystemExit(f"{url}/ping did not answer in {timeout}s")


def time_bare_process(workdir: Path) -> tuple[float, str, subprocess.Popen[bytes]]:
    model, code = workdir / "model", workdir / "code"
    model.mkdir(exist_ok=True)
    code.mkdir(exist_ok=True)
    (model / "model.json").write_text(json.dumps(MODEL))
    (code / SCRIPT.name).write_text(SCRIPT.read_text())
    port = free_port()
    environment = {
        **os.environ,
        "SM_MODEL_DIR": str(model),
        "SAGEMAKER_PROGRAM": SCRIPT.name,
        "SAGEMAKER_SUBMIT_DIRECTORY": str(code),
        "SAGEMAKER_BIND_TO_PORT": str(port),
    }
    started = time.perf_counter()
    command = [sys.executable, "-m", "emulator.serving.inference", "--image", SKLEARN_IMAGE]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ping(f"http://127.0.0.1:{port}", process)
    return time.perf_counter() - started, f"http://127.0.0.1:{port}", process


def time_bare_docker(workdir: Path) -> tuple[float, str, str]:
    (workdir / "model.json").write_text(json.dumps(MODEL))
    started = time.perf_counter()
    mount = f"{workdir}:/opt/ml/model"
    network = f"bench-{uuid.uuid4().hex[:8]}"  # as the runner does: engines may have no default bridge
    subprocess.run(["docker", "network", "create", network], check=True, capture_output=True)
    container = subprocess.run(
        ["docker", "run", "-d", "--network", network, "-p", "127.0.0.1::8080", "-v", mount, CUSTOM_IMAGE, "serve"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = (
        subprocess.run(["docker", "port", container, "8080/tcp"], check=True, capture_output=True, text=True)
        .stdout.split()[0]
        .rsplit(":", 1)[1]
    )
    wait_ping(f"http://127.0.0.1:{port}")
    return time.perf_counter() - started, f"http://127.0.0.1:{port}", container


def per_request(send: Any, count: int = 300) -> float:
    send()
    started = time.perf_counter()
    for _ in range(count):
        send()
    return (time.perf_counter() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--runner", default="process", choices=["process", "docker"])
    args = parser.parse_args()
    ours, answered, bare = [], [], []
    with running_emulator(extra_args=["--runner", args.runner]) as emulator, tempfile.TemporaryDirectory() as tmp:
        config = create_model(emulator.url, args.runner)
        time_endpoint(emulator.url, config)  # warm-up: the download cache, imports
        for index in range(args.runs):
            in_service, first_answer = time_endpoint(emulator.url, config)
            time.sleep(1)  # let the deleted endpoint's hosts stop before the peer starts
            ours.append(in_service)
            answered.append(first_answer)
            workdir = Path(tmp) / str(index)
            workdir.mkdir()
            if args.runner == "process":
                seconds, direct_url, process = time_bare_process(workdir)
                stop = process.terminate
            else:
                seconds, direct_url, container = time_bare_docker(workdir)

                def stop(container: str = container) -> None:
                    network = subprocess.run(
                        ["docker", "inspect", "-f", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}",
                         container], capture_output=True, text=True, check=False,
                    ).stdout.strip()  # fmt: skip
                    subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
                    subprocess.run(["docker", "network", "rm", network], capture_output=True, check=False)

            bare.append(seconds)
            if index == args.runs - 1:
                overheads = compare_requests(emulator.url, config, direct_url)
            stop()
    p50, answer_p50, bare_p50 = statistics.median(ours), statistics.median(answered), statistics.median(bare)
    print(
        f"runner {args.runner}: CreateEndpoint→InService p50 {p50:.3f}s (first answer {answer_p50:.3f}s); "
        f"bare serving process to /ping 200 p50 {bare_p50:.3f}s; overhead {p50 - bare_p50:.3f}s ({args.runs} runs)"
    )
    boto, gateway, straight = (seconds * 1000 for seconds in overheads)
    print(
        f"per request: boto3 invoke_endpoint {boto:.2f} ms; a plain HTTP request to the gateway {gateway:.2f} ms "
        f"vs straight to the serving process {straight:.2f} ms (gateway overhead {gateway - straight:.2f} ms)"
    )


def http_post(base_url: str, path: str) -> Any:
    """One keep-alive connection; http.client sends head and a bytes body in one write (no Nagle delays)."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)

    def send() -> None:
        connection.request("POST", path, body=b"1", headers={"Content-Type": "text/csv"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status

    return send


def compare_requests(url: str, config: str, direct_url: str) -> tuple[float, float, float]:
    sm, runtime = client(url, "sagemaker"), client(url, "sagemaker-runtime")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    sm.create_endpoint(EndpointName=name, EndpointConfigName=config)
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
        time.sleep(0.01)
    try:
        boto = per_request(
            lambda: runtime.invoke_endpoint(EndpointName=name, Body=b"1", ContentType="text/csv")["Body"].read()
        )
        gateway = per_request(http_post(url, f"/endpoints/{name}/invocations"))
        straight = per_request(http_post(direct_url, "/invocations"))
    finally:
        sm.delete_endpoint(EndpointName=name)
    return boto, gateway, straight


if __name__ == "__main__":
    main()
