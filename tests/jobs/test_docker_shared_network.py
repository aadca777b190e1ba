"""DockerRunner with a shared network (`SAGEMAKER_EMULATOR_DOCKER_NETWORK`, what the compose setup uses): job
containers join an existing network and reach a service on it by name, multi-host jobs keep `algo-N` names,
serving hosts are reached at their address there, and cleanup never removes the shared network.

A container named like a compose service stands in for the emulator's API on that network (a Python HTTP
server in the offline-built base image). Fails under CI when no Docker engine answers (see conftest).
"""

from __future__ import annotations

import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from emulator.jobs.runners.base import HostSpec, JobSpec, RunnerError
from emulator.jobs.runners.docker import DockerRunner

BASE_IMAGE = "local/sagemaker-sklearn-base:test"
API_PORT = 4599

pytestmark = pytest.mark.docker


@pytest.fixture
def shared_network(docker_images: None) -> Iterator[tuple[str, str]]:
    """(network name, service name): an existing network with an HTTP service on it, like compose's."""
    client = docker.from_env()
    suffix = uuid.uuid4().hex[:8]
    network = client.networks.create(f"emulator-test-shared-{suffix}", driver="bridge")
    service = client.containers.run(
        BASE_IMAGE,
        ["python3", "-m", "http.server", str(API_PORT)],
        name=f"fake-api-{suffix}",
        network=network.name,
        detach=True,
    )
    try:
        yield network.name, service.name
    finally:
        service.remove(force=True)
        network.remove()


def _job(*hosts: HostSpec) -> JobSpec:
    name = f"test-{uuid.uuid4().hex[:10]}"
    return JobSpec(kind="TrainingJob", name=name, instance_type="ml.m5.large", hosts=hosts)


def _python_host(name: str, script: str, environment: dict[str, str], *, serves_http: bool = False) -> HostSpec:
    return HostSpec(
        host=name,
        image=BASE_IMAGE,
        entrypoint=("python3", "-c", script),
        arguments=(),
        environment=environment,
        mounts={},
        serves_http=serves_http,
    )


REACH_API = (
    "import os, socket, time, urllib.request\n"
    "for attempt in range(50):\n"
    "    try:\n"
    "        status = urllib.request.urlopen(os.environ['AWS_ENDPOINT_URL'], timeout=5).status\n"
    "        break\n"
    "    except OSError:\n"
    "        time.sleep(0.2)\n"
    "print('api', status, 'me', socket.gethostname(), socket.gethostbyname(socket.gethostname()))\n"
)


def _network_of(handle: str) -> dict[str, Any]:
    return dict(docker.from_env().api.inspect_container(handle)["NetworkSettings"]["Networks"])


def test_single_host_joins_the_shared_network_and_reaches_the_api_by_name(
    shared_network: tuple[str, str],
) -> None:
    network, service = shared_network
    runner = DockerRunner(network=network)
    job = _job(_python_host("algo-1", REACH_API, {"AWS_ENDPOINT_URL": f"http://{service}:{API_PORT}/"}))
    [handle] = runner.start(job)
    try:
        assert runner.wait(handle, 60) == 0, list(runner.logs(handle))
        assert list(_network_of(handle)) == [network]
        [line] = list(runner.logs(handle))
        assert line.startswith("api 200 me algo-1 ")
    finally:
        runner.cleanup(job, [handle])
    assert docker.from_env().networks.get(network).name == network  # cleanup left the shared network


def test_multi_host_job_keeps_algo_names_and_reaches_the_api(shared_network: tuple[str, str]) -> None:
    network, service = shared_network
    runner = DockerRunner(network=network)
    peer = "'algo-2' if socket.gethostname() == 'algo-1' else 'algo-1'"
    # Both hosts stay up a moment so each finds the other (a stopped container leaves Docker's DNS).
    script = REACH_API + f"time.sleep(2)\nprint('peer', socket.gethostbyname({peer}))\ntime.sleep(2)\n"
    environment = {"AWS_ENDPOINT_URL": f"http://{service}:{API_PORT}/"}
    job = _job(_python_host("algo-1", script, environment), _python_host("algo-2", script, environment))
    handles = runner.start(job)
    try:
        for handle in handles:
            assert runner.wait(handle, 60) == 0, list(runner.logs(handle))
            lines = list(runner.logs(handle))
            assert lines[0].startswith("api 200 me algo-")
            assert lines[1].startswith("peer ")
            assert network in _network_of(handle) and len(_network_of(handle)) == 2
    finally:
        runner.cleanup(job, handles)
    assert docker.from_env().networks.get(network).name == network
    assert docker.from_env().networks.list(filters={"label": f"sagemaker-emulator.job-name={job.name}"}) == []


def test_serving_host_endpoint_is_its_address_on_the_shared_network(shared_network: tuple[str, str]) -> None:
    network, _service = shared_network
    runner = DockerRunner(network=network)
    serve = (
        "import http.server\n"
        "http.server.ThreadingHTTPServer(('', 8080), http.server.SimpleHTTPRequestHandler).serve_forever()\n"
    )
    job = _job(_python_host("algo-1", serve, {}, serves_http=True))
    [handle] = runner.start(job)
    try:
        address = _network_of(handle)[network]["IPAddress"]
        assert runner.endpoint(handle) == f"http://{address}:8080"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert urllib.request.urlopen(runner.endpoint(handle), timeout=5).status == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        runner.cleanup(job, [handle])


def test_a_missing_shared_network_is_named_with_the_setting(docker_images: None) -> None:
    runner = DockerRunner(network="no-such-network-for-the-emulator")
    with pytest.raises(RunnerError) as raised:
        runner.start(_job(_python_host("algo-1", "print(1)", {})))
    assert "'no-such-network-for-the-emulator'" in str(raised.value)
    assert "SAGEMAKER_EMULATOR_DOCKER_NETWORK" in str(raised.value)
