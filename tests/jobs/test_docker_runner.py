"""DockerRunner against a real Docker engine and the offline-built test images.

The session fixtures start an engine with scripts/docker-engine.sh when none answers and build the images
with scripts/build-test-images.sh (a no-op when they are current). With CI set, a missing engine fails
these tests; without CI it skips them with the reason. A few pure helpers are checked without an engine.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest

from emulator.jobs.runners.base import HostSpec, JobSpec, RunnerError
from emulator.jobs.runners.docker import (
    NAME_LABEL,
    DockerRunner,
    _Engine,
    _is_endpoint_variable,
    _lines,
    _loopback_target,
    _Network,
)

CUSTOM_IMAGE = "local/custom-train:test"
BASE_IMAGE = "local/sagemaker-sklearn-base:test"
MAPPED_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-training:1"

docker_test = pytest.mark.docker


@pytest.fixture
def runner(docker_images: None) -> DockerRunner:
    return DockerRunner(image_map={MAPPED_URI: CUSTOM_IMAGE})


@pytest.fixture
def start_job(runner: DockerRunner) -> Iterator[Callable[[JobSpec], list[str]]]:
    """Start jobs through the runner; whatever a test leaves is cleaned up afterwards."""
    started: list[tuple[JobSpec, list[str]]] = []

    def start(job: JobSpec) -> list[str]:
        handles = runner.start(job)
        started.append((job, handles))
        return handles

    yield start
    for job, handles in started:
        runner.cleanup(job, handles)


@pytest.fixture
def host_server() -> Iterator[int]:
    """An HTTP server on 127.0.0.1 standing in for the emulator's gateway; answers `gateway ok <path>`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"gateway ok {self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _job(*hosts: HostSpec, kind: str = "TrainingJob", instance_type: str = "ml.m5.large") -> JobSpec:
    name = f"test-{uuid.uuid4().hex[:10]}"
    return JobSpec(kind=kind, name=name, instance_type=instance_type, hosts=hosts, labels={"test": "docker-runner"})


def _host(
    name: str = "algo-1",
    *,
    image: str = CUSTOM_IMAGE,
    command: tuple[str, ...] = ("train",),
    python: str | None = None,
    environment: dict[str, str] | None = None,
    mounts: dict[str, Path] | None = None,
    serves_http: bool = False,
) -> HostSpec:
    """A host running `command` with the image's entrypoint, or `python -c <python>` as the entrypoint."""
    entrypoint = ("python3", "-c", python) if python is not None else None
    return HostSpec(
        host=name,
        image=image,
        entrypoint=entrypoint,
        arguments=() if python is not None else command,
        environment=environment or {},
        mounts=mounts or {},
        serves_http=serves_http,
    )


def _labelled_containers(job: JobSpec) -> list[object]:
    return list(docker.from_env().containers.list(all=True, filters={"label": f"{NAME_LABEL}={job.name}"}))


@docker_test
def test_train_writes_the_model_through_an_image_mapping(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner, tmp_path: Path
) -> None:
    ml = tmp_path / "ml"
    (ml / "input" / "config").mkdir(parents=True)
    (ml / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"epochs": "3"}))
    (ml / "input" / "data" / "train").mkdir(parents=True)
    (ml / "input" / "data" / "train" / "part-0.csv").write_text("1,2\n")
    (ml / "model").mkdir()

    [handle] = start_job(_job(_host(image=MAPPED_URI, mounts={"/opt/ml": ml})))

    assert runner.wait(handle, 60) == 0
    attrs = docker.from_env().api.inspect_container(handle)
    assert attrs["HostConfig"]["Privileged"] is False
    assert not attrs["HostConfig"].get("CapAdd")
    assert [mount["Destination"] for mount in attrs["Mounts"]] == ["/opt/ml"]  # no Docker socket, nothing else
    assert attrs["Config"]["Labels"][NAME_LABEL].startswith("test-")
    model = json.loads((ml / "model" / "model.json").read_text())
    assert model["hyperparameters"] == {"epochs": "3"}
    assert model["channels"] == {"train": 1}
    assert "train: wrote model.json" in list(runner.logs(handle))


@docker_test
def test_failing_command_reports_exit_code_and_last_lines(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner
) -> None:
    script = "import sys\nfor i in range(1, 6): print(f'line {i}', flush=True)\nsys.exit('boom')"
    [handle] = start_job(_job(_host(python=script)))

    assert runner.wait(handle, 60) == 1
    lines = list(runner.logs(handle))
    # stdout and stderr arrive through separate pipes: their relative order is not kept, each one's is.
    assert [line for line in lines if line.startswith("line")] == [f"line {i}" for i in range(1, 6)]
    assert sorted(lines) == sorted([*(f"line {i}" for i in range(1, 6)), "boom"])


@docker_test
def test_stop_ends_a_sleeping_container_quickly(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner
) -> None:
    [handle] = start_job(_job(_host(image=BASE_IMAGE, command=("sleep", "300"))))
    assert runner.wait(handle, 0.5) is None
    assert runner.reconcile(handle) is True

    began = time.monotonic()
    runner.stop(handle, grace_seconds=3)
    assert time.monotonic() - began < 5
    assert runner.wait(handle, 5) is not None
    assert runner.reconcile(handle) is False
    runner.stop(handle, grace_seconds=1)  # already stopped: success


@docker_test
def test_gone_container_is_success_for_stop_and_cleanup(runner: DockerRunner) -> None:
    job = _job(_host(image=BASE_IMAGE, command=("sleep", "300")))
    [handle] = runner.start(job)
    runner.cleanup(job, [handle])
    assert _labelled_containers(job) == []
    runner.stop(handle, grace_seconds=1)
    runner.cleanup(job, [handle])
    assert runner.reconcile(handle) is False
    assert runner.reconcile("0" * 64) is False


@docker_test
def test_missing_image_names_it_and_the_mapping_setting(runner: DockerRunner) -> None:
    job = _job(_host(image="local/no-such-image:never"))
    with pytest.raises(RunnerError) as raised:
        runner.start(job)
    message = str(raised.value)
    assert "local/no-such-image:never" in message
    assert "SAGEMAKER_EMULATOR_IMAGE_MAP" in message
    assert "docker login" in message
    assert _labelled_containers(job) == []


@docker_test
def test_single_host_reaches_loopback_gateway_and_its_own_name(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner, host_server: int
) -> None:
    script = (
        "import os, socket, urllib.request\n"
        "print('resolved', socket.gethostbyname('algo-1'), socket.gethostname())\n"
        "for var in ('AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3'):\n"
        "    print(var, urllib.request.urlopen(os.environ[var] + '/single', timeout=10).read().decode())\n"
    )
    environment = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{host_server}",
        "AWS_ENDPOINT_URL_S3": f"http://localhost:{host_server}",
    }
    [handle] = start_job(_job(_host(python=script, environment=environment)))

    assert runner.wait(handle, 60) == 0, list(runner.logs(handle))
    lines = list(runner.logs(handle))
    assert "resolved 127.0.0.1 algo-1" in lines
    assert "AWS_ENDPOINT_URL gateway ok /single" in lines
    assert "AWS_ENDPOINT_URL_S3 gateway ok /single" in lines


SERVER = """
import http.server, socket
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ('hello from ' + socket.gethostname()).encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(('0.0.0.0', PORT), Handler).serve_forever()
"""

CLIENT = """
import os, socket, time, urllib.request
print('I am', socket.gethostname(), flush=True)
for attempt in range(100):
    try:
        print(urllib.request.urlopen('http://algo-1:8000/', timeout=2).read().decode(), flush=True)
        break
    except OSError:
        time.sleep(0.2)
print(urllib.request.urlopen(os.environ['AWS_ENDPOINT_URL'] + '/from-algo-2', timeout=10).read().decode())
"""


@docker_test
def test_two_hosts_reach_each_other_by_name_and_the_gateway(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner, host_server: int
) -> None:
    environment = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{host_server}", "OTHER": "http://127.0.0.1:1"}
    job = _job(
        _host("algo-1", python=SERVER.replace("PORT", "8000"), environment=environment),
        _host("algo-2", python=CLIENT, environment=environment),
    )
    server, client = start_job(job)

    assert runner.wait(client, 60) == 0, list(runner.logs(client))
    assert list(runner.logs(client)) == ["I am algo-2", "hello from algo-1", "gateway ok /from-algo-2"]
    env = docker.from_env().containers.get(client).attrs["Config"]["Env"]
    assert "OTHER=http://127.0.0.1:1" in env  # only endpoint URLs are rewritten
    assert runner.wait(server, 0) is None

    runner.cleanup(job, [server, client])
    assert _labelled_containers(job) == []
    assert docker.from_env().networks.list(filters={"label": f"{NAME_LABEL}={job.name}"}) == []
    runner.cleanup(job, [server, client])  # idempotent


@docker_test
def test_serving_host_is_reachable_at_its_endpoint(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner
) -> None:
    job = _job(_host(python=SERVER.replace("PORT", "8080"), serves_http=True), kind="Endpoint")
    [handle] = start_job(job)
    url = runner.endpoint(handle)
    assert url.startswith("http://127.0.0.1:")
    body = ""
    for _ in range(100):
        try:
            body = urllib.request.urlopen(url + "/ping", timeout=5).read().decode()
            break
        except OSError:
            time.sleep(0.1)
    assert body == "hello from algo-1"


@docker_test
def test_a_gpu_instance_type_gets_the_gpus_the_engine_has(
    start_job: Callable[[JobSpec], list[str]], runner: DockerRunner
) -> None:
    """On a machine without GPUs (as here): the job runs without and says so once; with GPUs: all of them."""
    said: list[str] = []
    job = replace(_job(_host(python="print('ran')"), instance_type="ml.g4dn.xlarge"), say=said.append)
    [handle] = start_job(job)
    assert runner.wait(handle, 60) == 0
    requests = docker.from_env().api.inspect_container(handle)["HostConfig"].get("DeviceRequests")
    if runner._engine().gpus:
        assert [request["Capabilities"] for request in requests] == [[["gpu"]]]
        assert said == []
    else:
        assert not requests
        assert said == [
            "[emulator] ml.g4dn.xlarge has GPUs, but this Docker engine has no NVIDIA runtime "
            "(nvidia-container-toolkit): the job runs without GPUs."
        ]
    cpu_job = replace(_job(_host(python="print('ran')")), say=said.append)
    assert runner._gpus_for(cpu_job) is False and len(said) <= 1  # a CPU instance type: nothing to say


@docker_test
def test_gpu_containers_ask_the_engine_for_every_gpu(runner: DockerRunner) -> None:
    """The GPU path's container, created (not started: this machine has no GPUs) on an engine said to have them."""
    runner._engine_facts = _Engine(vm=False, gpus=True)
    job = _job(_host(), instance_type="ml.p3.2xlarge")
    handle = runner._create_container(job, job.hosts[0], CUSTOM_IMAGE, None, "gpu", gpus=runner._gpus_for(job))
    try:
        [request] = docker.from_env().api.inspect_container(handle)["HostConfig"]["DeviceRequests"]
        assert (request["Count"], request["Capabilities"]) == (-1, [["gpu"]])
    finally:
        runner.cleanup(job, [handle])


def test_endpoint_variables_and_loopback_targets() -> None:
    assert _is_endpoint_variable("AWS_ENDPOINT_URL")
    assert _is_endpoint_variable("AWS_ENDPOINT_URL_S3")
    assert _is_endpoint_variable("MLFLOW_ENDPOINT_URL")
    assert not _is_endpoint_variable("AWS_REGION")
    assert _loopback_target("http://127.0.0.1:4599") == ("127.0.0.1", 4599)
    assert _loopback_target("https://localhost/x") == ("localhost", 443)
    assert _loopback_target("http://10.0.0.5:4599") is None
    assert _loopback_target("not a url") is None


def test_lines_are_split_across_chunks() -> None:
    assert list(_lines([b"a\nb", b"c\r\n", b"", b"tail"])) == ["a", "bc", "tail"]


def test_unreachable_engine_is_a_runner_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(RunnerError, match="Cannot reach a Docker engine"):
        DockerRunner().start(_job(_host()))


def test_vm_engines_get_host_docker_internal() -> None:
    runner = DockerRunner(vm_engine=True)
    runner._engine_facts = _Engine(vm=True, gpus=False)
    environment = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4599",
        "AWS_ENDPOINT_URL_S3": "http://localhost:4599/s3",
        "X": "y",
    }
    rewritten, relays = runner._container_environment(environment, _Network(name="n", gateway_ip=""))
    assert rewritten == {
        "AWS_ENDPOINT_URL": "http://host.docker.internal:4599",
        "AWS_ENDPOINT_URL_S3": "http://host.docker.internal:4599/s3",
        "X": "y",
    }
    assert relays == []
