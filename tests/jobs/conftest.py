"""Fixtures for job tests: a real Docker engine with the test images, an emulator per runner kind, and
the SDK pointed at it. With CI set, a missing Docker engine fails the docker tests instead of skipping."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from emulator.testing import RunningEmulator, running_emulator

SCRIPTS = Path(__file__).with_name("scripts")
ROOT = Path(__file__).resolve().parents[2]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}\nCI is set, so the docker tests must run: this is a failure, not a skip.", pytrace=False)
    pytest.skip(reason)


def _engine_answers() -> bool:
    try:
        docker.from_env(timeout=10).ping()
    except Exception:
        return False
    return True


def _run_script(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "scripts" / name)], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def docker_images() -> None:
    """A Docker engine that answers, with the test images built."""
    if not _engine_answers():
        started = _run_script("docker-engine.sh", timeout=600)
        if not _engine_answers():
            _unavailable(
                f"No Docker engine answers and scripts/docker-engine.sh could not start one:\n{started.stderr[-3000:]}"
            )
    built = _run_script("build-test-images.sh", timeout=1200)
    if built.returncode != 0:
        _unavailable(f"scripts/build-test-images.sh failed (exit {built.returncode}):\n{built.stderr[-3000:]}")


@pytest.fixture(scope="session")
def docker_emulator(docker_images: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("docker-runner"), ["--runner", "docker"]) as instance:
        yield instance


@pytest.fixture
def docker_env(docker_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    return point_sdk_at(docker_emulator, monkeypatch)


@pytest.fixture(scope="session")
def process_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("process-runner"), ["--runner", "process"]) as instance:
        yield instance


def point_sdk_at(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    for name, value in emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    return emulator


@pytest.fixture
def process_env(process_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    return point_sdk_at(process_emulator, monkeypatch)


@pytest.fixture(params=["process", pytest.param("docker", marks=pytest.mark.docker)])
def runner_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    """The SDK pointed at the process-runner emulator, then at the docker-runner one: one test body, twins."""
    return point_sdk_at(request.getfixturevalue(f"{request.param}_emulator"), monkeypatch)


def runner_of(emulator: RunningEmulator) -> str:
    return "docker" if "docker" in emulator.extra_args else "process"
