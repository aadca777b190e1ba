"""pytest plugin (registered through the `pytest11` entry point) offering a live emulator.

- `sagemaker_emulator`: one emulator subprocess for the whole test session (temporary data dir).
- `sagemaker_env`: per test, sets `AWS_ENDPOINT_URL`, dummy credentials, region and the SageMaker SDK
  config variable so that unmodified boto3 / SageMaker SDK code talks to that emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from emulator.testing import RunningEmulator, running_emulator


@pytest.fixture(scope="session")
def sagemaker_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    with running_emulator(tmp_path_factory.mktemp("sagemaker-emulator")) as instance:
        yield instance


@pytest.fixture
def sagemaker_env(sagemaker_emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> RunningEmulator:
    for name, value in sagemaker_emulator.environment().items():
        monkeypatch.setenv(name, value)
    return sagemaker_emulator
