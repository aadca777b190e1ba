"""A private emulator subprocess for the S3 durability tests: start, SIGKILL, restart on one data dir.

Not the shared fixture (that lives in the project's pytest plugin); these tests need to kill the server
at a precise moment and read its memory, so they own their process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.config import Config

START_TIMEOUT_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorProcess:
    """`python -m emulator serve` on a fixed port and data dir; restartable."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        command = [sys.executable, "-m", "emulator", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir)]
        with open(self._log_path, "ab") as log:
            # its own process group: a kill takes the worker process the server starts with it
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/_emulator/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"emulator did not become healthy: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL to the server (and its worker): no shutdown code runs, as in a crash."""
        if self.process is not None:
            _kill_group(self.process.pid)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """SIGTERM and a graceful shutdown; SIGKILL for whatever is left."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=30)
            self.kill()

    def restart_after_kill(self) -> None:
        self.kill()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        if not self._log_path.exists():
            return ""
        return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])

    def s3(self, **config: Any) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
        )

    def rss_kib(self) -> int:
        return _status_kib(self.pid, "VmRSS")

    def peak_rss_kib(self) -> int:
        return _status_kib(self.pid, "VmHWM")

    def reset_peak_rss(self) -> bool:
        """Reset VmHWM to the current RSS (Linux `clear_refs` 5); False where not permitted."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True


def _kill_group(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(leader, signal.SIGKILL)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(8 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def write_pseudo_random_file(path: Path, size: int, seed: int = 7) -> str:
    """A file of `size` bytes, written in 8 MiB pieces (never held in memory); returns its sha256."""
    digest = hashlib.sha256()
    block = hashlib.sha512(str(seed).encode()).digest() * (8 * 1024 * 1024 // 64)
    written = 0
    with open(path, "wb") as file:
        while written < size:
            piece = block[: min(len(block), size - written)]
            piece = written.to_bytes(8, "big") + piece[8:] if len(piece) > 8 else piece
            file.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()
