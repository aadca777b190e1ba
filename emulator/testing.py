"""Run an emulator for integration tests: `running_emulator()` (a context manager for any code) and
the pytest fixtures in `emulator.pytest_plugin` built on it.

The emulator runs as a real subprocess on a free loopback port with its own data directory, exactly
as a user starts it, so tests exercise the whole thing — and can kill and restart it.

State goes to SQLite in the data dir, unless `SAGEMAKER_EMULATOR_TEST_DATABASE_URL` names a PostgreSQL
server (e.g. the URL `scripts/postgres.sh` prints): then each emulator gets a fresh database of its own
there (`emulator_test_<random>`), kept across restarts and dropped when `running_emulator` ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator import aws_clients
from emulator.config import Settings

READY_TIMEOUT_SECONDS = 60.0
TEST_DATABASE_VARIABLE = "SAGEMAKER_EMULATOR_TEST_DATABASE_URL"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningEmulator:
    """A started emulator subprocess; `restart()` brings it back on the same port and data dir."""

    data_dir: Path
    port: int
    extra_args: Sequence[str] = ()
    region: str = "us-east-1"
    # None: SQLite in the data dir. Set by `start()` when SAGEMAKER_EMULATOR_TEST_DATABASE_URL is set.
    database_url: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        """The database this emulator keeps its state in (what its health check reports)."""
        return self.database_url or f"sqlite:///{self.data_dir / 'emulator.db'}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "emulator.log"

    def environment(self) -> dict[str, str]:
        """The variables `sagemaker-emulator env` prints, for this instance."""
        settings = Settings.from_env(port=self.port, data_dir=self.data_dir, region=self.region)
        from emulator import sdk_config

        return sdk_config.client_environment(settings, self.url)

    def client(self, service: str) -> Any:
        return aws_clients.client(self.url, self.region, service)

    def start(self) -> RunningEmulator:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "emulator", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(self.data_dir), "--region", self.region]
        if self.database_url is None and os.environ.get(TEST_DATABASE_VARIABLE):
            self.database_url = create_database(os.environ[TEST_DATABASE_VARIABLE])
        if self.database_url is not None:
            command += ["--database-url", self.database_url]
        command += list(self.extra_args)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"emulator exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/_emulator/health", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"emulator did not become ready in {READY_TIMEOUT_SECONDS}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, wait, then SIGKILL; stopping a stopped emulator is fine."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no shutdown work runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def drop_database(self) -> None:
        """Drop the PostgreSQL database `start()` created for this emulator (after `stop()`); else nothing."""
        if self.database_url is not None and not self.database_url.startswith("sqlite"):
            drop_database(self.database_url)

    def restart(self, *, hard: bool = False) -> RunningEmulator:
        self.kill() if hard else self.stop()
        return self.start()


# Databases `create_database` made in this process and nobody dropped yet: dropped when the process exits
# (an emulator started and stopped without `running_emulator` leaves its database to this).
_UNDROPPED: set[str] = set()


@atexit.register
def _drop_leftover_databases() -> None:
    for url in list(_UNDROPPED):
        with contextlib.suppress(Exception):
            drop_database(url)


def create_database(server_url: str) -> str:
    """Create an empty database on the PostgreSQL server at `server_url`; return its URL."""
    import sqlalchemy as sa

    from emulator.store import db

    name = f"emulator_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(db.normalize_url(server_url), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    _UNDROPPED.add(url)
    return url


def drop_database(url: str) -> None:
    """Drop a database `create_database` made (its emulator must have stopped)."""
    import sqlalchemy as sa

    from emulator.store import db

    target = sa.make_url(url)
    engine = sa.create_engine(
        db.normalize_url(target.set(database="postgres").render_as_string(hide_password=False)),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        engine.dispose()
    _UNDROPPED.discard(url)


@contextlib.contextmanager
def running_emulator(
    data_dir: str | os.PathLike[str] | None = None, extra_args: Sequence[str] = ()
) -> Iterator[RunningEmulator]:
    """Start an emulator on a free port (in a temporary data dir unless given); stop it afterwards."""
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="sagemaker-emulator-"))
        instance = RunningEmulator(Path(data_dir), free_port(), extra_args)
        stack.callback(instance.drop_database)
        stack.callback(instance.stop)
        yield instance.start()
