"""Assembling and running the emulator: start-up work, the ASGI app, and uvicorn.

Start-up (data dir, database migrations, S3 restore, the SDK's default bucket and config file) finishes
before the port is bound, so the first request that connects — `/_emulator/health` included — finds a
ready emulator.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

import emulator
from emulator import aws_clients, faults, sdk_config
from emulator.api.json_protocol import JsonProtocolApp, JsonService
from emulator.api.registry import RequestContext
from emulator.aws_errors import ForeignErrorGuard
from emulator.config import Settings
from emulator.gateway import Gateway
from emulator.jobs.runners import registry
from emulator.logs.api import LOGS_SERVICE
from emulator.logs.routing import LogsRouter
from emulator.s3 import AwsMount
from emulator.sagemaker.runtime import RuntimeApp
from emulator.store.repository import Store

log = logging.getLogger("emulator")

SERVICES = [JsonService("SageMaker", "sagemaker")]


@dataclass
class Emulator:
    settings: Settings
    store: Store
    aws: AwsMount
    app: Gateway
    started_at: float

    def close(self) -> None:
        self.aws.close()
        self.store.close()


def build(settings: Settings) -> Emulator:
    import emulator.sagemaker  # noqa: F401  (registers the SageMaker operations)

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.resolved_database_url)
    aws = AwsMount(settings)
    aws.ensure_bucket(settings.default_bucket)
    sdk_config.write(settings)
    started_at = time.time()

    def make_context(request_id: str) -> RequestContext:
        return RequestContext(
            settings=settings,
            store=store,
            request_id=request_id,
            aws=lambda service: aws_clients.client(settings.url, settings.region, service),
        )

    local_database = settings.resolved_database_url.startswith("sqlite")
    json_api = JsonProtocolApp(SERVICES, make_context, offload_all=not local_database)
    logs_api = JsonProtocolApp([LOGS_SERVICE], make_context, offload_all=not local_database)
    internal = _internal_app(settings, store, started_at)
    aws_app = LogsRouter(logs_api, ForeignErrorGuard(aws))  # CloudWatch Logs for /aws/sagemaker/* groups: ours
    runtime = RuntimeApp(settings, store)  # sagemaker-runtime InvokeEndpoint
    return Emulator(settings, store, aws, Gateway(json_api, internal, aws_app, runtime), started_at)


def _internal_app(settings: Settings, store: Store, started_at: float) -> FastAPI:
    app = FastAPI(title="sagemaker-emulator", docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/_emulator/faults")
    def arm_faults(request: FaultRequest) -> dict[str, Any]:
        return {"armed": faults.arm(store, request.kind, request.count, request.reason)}

    @app.get("/_emulator/faults")
    def list_faults() -> dict[str, Any]:
        return {"faults": faults.armed(store)}

    @app.delete("/_emulator/faults")
    def disarm_faults() -> dict[str, Any]:
        faults.disarm(store)
        return {"faults": []}

    @app.get("/_emulator/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": emulator.__version__,
            "url": settings.url,
            "data_dir": str(settings.data_dir),
            "database": _redact(settings.resolved_database_url),
            "runner": settings.runner,
            "worker": settings.run_worker,
            "uptime_seconds": round(time.time() - started_at, 3),
        }

    return app


class FaultRequest(BaseModel):
    kind: str  # the work item kind: TrainingJob, ProcessingJob, TransformJob …
    count: int = 1
    reason: str | None = None


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """The worker runs in its own process, so jobs never compete with the API for the GIL."""
    command = [sys.executable, "-m", "emulator", "worker", "--port", str(settings.port)]
    command += ["--data-dir", str(settings.data_dir), "--runner", settings.runner]
    command += ["--account-id", settings.account_id, "--region", settings.region, "--host", settings.host]
    command += ["--exit-with-parent"]
    if settings.database_url:
        command += ["--database-url", settings.database_url]
    if settings.max_concurrent_jobs:
        command += ["--max-concurrent-jobs", str(settings.max_concurrent_jobs)]
    return subprocess.Popen(command)


class WorkerSupervisor:
    """Keeps one worker process alive next to the API: a worker that dies is started again (its
    interrupted jobs are then failed by the new worker's reconciliation)."""

    RESTART_DELAY_SECONDS = 1.0

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stopping = threading.Event()
        self.process = _start_worker(settings)
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            if self.process.poll() is not None:
                log.warning("worker exited with %s; starting a new one", self.process.returncode)
                self._stopping.wait(self.RESTART_DELAY_SECONDS)
                if not self._stopping.is_set():
                    self.process = _start_worker(self._settings)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(settings: Settings) -> None:
    settings = replace(settings, runner=registry.resolve(settings.runner))
    instance = build(settings)
    log.info("SageMaker emulator listening on %s (data dir %s)", settings.url, settings.data_dir)
    config = uvicorn.Config(
        instance.app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
        access_log=False,
    )
    # uvicorn handles SIGINT/SIGTERM itself (graceful shutdown) and afterwards re-raises the signal to
    # the handler that was installed before it; a no-op one lets the cleanup below run and exit 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: None)
    worker = WorkerSupervisor(settings) if settings.run_worker else None
    try:
        uvicorn.Server(config).run()
    finally:
        if worker is not None:
            worker.stop()
        instance.close()
        log.info("SageMaker emulator stopped")
