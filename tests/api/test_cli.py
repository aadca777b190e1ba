"""The `sagemaker-emulator` command as a user runs it: serve (one log line, clean shutdown on SIGTERM and
SIGINT), `python -m emulator`, env, and the coverage file kept current."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.api.spec import API_SPECS_DIR
from emulator.coverage import render
from emulator.testing import RunningEmulator, free_port


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_logs_its_url_and_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    emulator = RunningEmulator(tmp_path / "data", free_port()).start()
    assert emulator.process is not None
    emulator.process.send_signal(stop_signal)
    assert emulator.process.wait(timeout=20) == 0
    log = emulator.log_path.read_text()
    assert f"listening on {emulator.url} (data dir {tmp_path / 'data'})" in log
    assert "Traceback" not in log


def test_env_prints_shell_exports(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "emulator", "env", "--port", "4700", "--data-dir", str(tmp_path)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    lines = output.splitlines()
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4700" in lines
    assert "export AWS_DEFAULT_REGION=us-east-1" in lines
    assert f"export SAGEMAKER_USER_CONFIG_OVERRIDE={tmp_path / 'sagemaker-sdk-config.yaml'}" in lines
    assert "export SAGEMAKER_VALIDATE_ROLE=false" in lines
    assert (tmp_path / "sagemaker-sdk-config.yaml").exists()


def test_coverage_file_is_current() -> None:
    committed = (API_SPECS_DIR / "COVERAGE.md").read_text()
    assert committed == render(), "api_specs/COVERAGE.md is stale: run `sagemaker-emulator coverage`"


def test_coverage_check_flag_reports_staleness(tmp_path: Path) -> None:
    stale = tmp_path / "COVERAGE.md"
    stale.write_text("old\n")
    command = [sys.executable, "-m", "emulator", "coverage", "--check", "--output", str(stale)]
    assert subprocess.run(command, capture_output=True).returncode == 1
    subprocess.run([*command[:-3], "--output", str(stale)], check=True, capture_output=True)
    assert subprocess.run(command, capture_output=True).returncode == 0
