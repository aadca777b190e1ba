"""DescribePipeline / ListPipelines throughput and latency: this emulator versus a moto server.

Both servers run as subprocesses on loopback and get the same seeded pipelines. Each client is a
separate process holding one keep-alive connection and replaying a pre-signed request (neither server
checks signatures), so the client side costs the same for both. Prints requests/s, p50 and p99 per
(operation, concurrency) and the ratio of our throughput to moto's.

    .venv/bin/python benchmarks/api_throughput.py [--seconds 4] [--pipelines 50]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.testing import free_port, running_emulator

ROLE = "arn:aws:iam::123456789012:role/Bench"
DEFINITION = json.dumps({"Version": "2020-12-01", "Steps": [{"Name": "S", "Type": "Fail", "Arguments": {}}]})


def signed_headers(url: str, operation: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"SageMaker.{operation}"},
    )
    SigV4Auth(Credentials("test", "test"), "sagemaker", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def client_loop(port: int, headers: dict[str, str], body: bytes, until: float, out: multiprocessing.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    latencies: list[float] = []
    while time.perf_counter() < until:
        started = time.perf_counter()
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"status {response.status}")
        latencies.append(time.perf_counter() - started)
    out.put(latencies)


def measure(port: int, operation: str, body: bytes, clients: int, seconds: float) -> dict[str, float]:
    headers = signed_headers(f"http://127.0.0.1:{port}", operation, body)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    until = time.perf_counter() + seconds + 0.5  # processes start within the extra half second
    workers = [
        multiprocessing.Process(target=client_loop, args=(port, headers, body, until, queue)) for _ in range(clients)
    ]
    for worker in workers:
        worker.start()
    latencies = [value for _ in workers for value in queue.get()]
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "rps": len(latencies) / (seconds + 0.5),
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def seed(url: str, pipelines: int) -> None:
    client = boto3.client(
        "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    for index in range(pipelines):
        client.create_pipeline(
            PipelineName=f"bench-{index}",
            PipelineDefinition=DEFINITION,
            RoleArn=ROLE,
            ClientRequestToken=str(uuid.uuid4()),
        )


def start_moto(port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "moto.server", "-p", str(port)]
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--pipelines", type=int, default=50)
    args = parser.parse_args()
    calls = {
        "DescribePipeline": json.dumps({"PipelineName": "bench-7"}).encode(),
        "ListPipelines": json.dumps({"MaxResults": 10}).encode(),
    }
    with tempfile.TemporaryDirectory() as scratch, running_emulator() as ours:
        moto_port = free_port()
        moto = start_moto(moto_port, Path(scratch) / "moto.log")
        try:
            seed(ours.url, args.pipelines)
            seed(f"http://127.0.0.1:{moto_port}", args.pipelines)
            print(
                f"{'operation':<18}{'clients':>8}  {'ours rps':>9} {'p50 ms':>7} {'p99 ms':>7}"
                f"  {'moto rps':>9} {'p50 ms':>7} {'p99 ms':>7}  {'ratio':>6}"
            )
            for operation, body in calls.items():
                for clients in (1, 8):
                    mine = measure(ours.port, operation, body, clients, args.seconds)
                    theirs = measure(moto_port, operation, body, clients, args.seconds)
                    print(
                        f"{operation:<18}{clients:>8}  {mine['rps']:>9.0f} {mine['p50']:>7.2f} {mine['p99']:>7.2f}"
                        f"  {theirs['rps']:>9.0f} {theirs['p50']:>7.2f} {theirs['p99']:>7.2f}"
                        f"  {mine['rps'] / theirs['rps']:>5.2f}x"
                    )
        finally:
            moto.kill()


if __name__ == "__main__":
    main()
