"""Fixtures for job tests: an emulator per runner kind, and the SDK pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from emulator.testing import RunningEmulator, running_emulator

SCRIPTS = Path(__file__).with_name("scripts")


@pytest.fixture(scope="session")
def process_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("process-runner"), ["--runner", "process"]) as instance:
        yield instance


@pytest.fixture
def process_env(process_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    for name, value in process_emulator.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    return process_emulator
