"""`ServingHosts`: a model's serving hosts, started through the runner, ready when `/ping` answers 200.

See the package docstring (`emulator.serving`) for how transform jobs and endpoints use it.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from emulator.jobs.context import JobRun
from emulator.jobs.hosts import HostTree
from emulator.jobs.logsink import LogSink
from emulator.jobs.runners.base import HostSpec, JobSpec, Runner, RunnerError
from emulator.jobs.staging import S3Stager, StagingError
from emulator.serving.model_files import (
    ServingContainer,
    ServingError,
    serving_container,
    stage_model_data,
    stage_source_code,
)

DEFAULT_READY_TIMEOUT_SECONDS = 600.0
STAGED_SOURCE_VARIABLE = "SAGEMAKER_EMULATOR_SOURCE_DIR"  # where the S3 sourcedir.tar.gz was extracted
STOP_GRACE_SECONDS = 5.0
_FLUSH_SECONDS = 0.25
_TAIL_LINES = 15


@dataclass(frozen=True)
class ServingSpec:
    """What to serve and how many hosts: one per instance."""

    kind: str  # the runner's JobSpec.kind: "Endpoint" or "TransformJob"
    name: str  # a name for the runner (containers, log files): the endpoint or job name, unique per start
    model: Mapping[str, Any]  # the DescribeModel document
    instance_type: str
    log_group: str  # e.g. /aws/sagemaker/Endpoints/<endpoint> or /aws/sagemaker/TransformJobs
    log_streams: Sequence[str]  # one CloudWatch stream name per instance; their count is the instance count
    environment: Mapping[str, str] = field(default_factory=dict)  # added to the container's Environment
    ready_timeout_seconds: float = DEFAULT_READY_TIMEOUT_SECONDS
    labels: Mapping[str, str] = field(default_factory=dict)


def instance_id() -> str:
    """An EC2-style instance id for log stream names (`i-0123456789abcdef0`)."""
    return "i-0" + secrets.token_hex(8)


class ServingHosts:
    """Running serving hosts. `urls[i]` is host i's base URL; `stop()` ends them all (idempotent)."""

    def __init__(self, runner: Runner, job: JobSpec, handles: list[str], sinks: list[LogSink]) -> None:
        self.runner = runner
        self.job = job
        self.handles = handles
        self.sinks = sinks
        self.urls: list[str] = []
        self._stopped = threading.Event()
        self._exit_codes: list[int | None] = [None] * len(handles)
        self._pumps = [
            threading.Thread(target=self._pump, args=(handle, sink), daemon=True, name=f"serving-log-{job.name}")
            for handle, sink in zip(handles, sinks, strict=True)
        ]
        for pump in self._pumps:
            pump.start()
        self._flusher = threading.Thread(target=self._flush_loop, daemon=True, name=f"serving-flush-{job.name}")
        self._flusher.start()

    # -- starting ---------------------------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        run: JobRun,
        spec: ServingSpec,
        *,
        directory: Path,
        on_handles: Callable[[list[str]], None] | None = None,
        should_abort: Callable[[], bool] | None = None,
    ) -> ServingHosts:
        """Stage the model, start the hosts, wait until every `/ping` answers 200; raise ServingError if not.

        `directory` is scratch space for the host trees (emptied first is not needed: use a fresh one).
        `on_handles` gets the runner handles as soon as they exist (record them for reconciliation);
        `should_abort` is polled while waiting (a Stop or shutdown) and ends the wait with ServingError.
        """
        if not spec.log_streams:
            raise ServingError(f"{spec.kind} {spec.name}: at least one instance is needed to serve a model.")
        sinks = [LogSink(run.logs, spec.log_group, stream) for stream in spec.log_streams]
        try:
            container = serving_container(spec.model, _package_finder(run))
            host_specs = _stage_hosts(run, spec, container, directory, sinks)
        except StagingError as error:
            _say_all(sinks, f"[emulator] could not stage the model: {error}")
            raise ServingError(f"ClientError: {error}") from None
        except ServingError as error:
            _say_all(sinks, f"[emulator] {error}")
            raise
        job = JobSpec(spec.kind, spec.name, spec.instance_type, tuple(host_specs), dict(spec.labels))
        try:
            handles = run.runner.start(job)
        except RunnerError as error:
            _say_all(sinks, f"[emulator] {error}")
            raise ServingError(str(error)) from None
        if on_handles is not None:
            on_handles(handles)
        hosts = cls(run.runner, job, handles, sinks)
        try:
            hosts._wait_ready(spec.ready_timeout_seconds, should_abort or (lambda: False))
        except BaseException:
            hosts.stop()
            raise
        return hosts

    def _wait_ready(self, timeout: float, should_abort: Callable[[], bool]) -> None:
        deadline = time.monotonic() + timeout
        self.urls = [self.runner.endpoint(handle) for handle in self.handles]
        pending = set(range(len(self.handles)))
        delay = 0.01
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for index in sorted(pending):
                    if _pings(client, self.urls[index]):
                        pending.discard(index)
                        continue
                    code = self.runner.wait(self.handles[index], 0)
                    if code is not None:
                        self._exit_codes[index] = code
                        raise ServingError(self._exited_message(index, code))
                if not pending:
                    break
                if should_abort():
                    raise ServingError("Serving was stopped before the model became ready.")
                if time.monotonic() > deadline:
                    raise ServingError(self._not_ready_message(sorted(pending)[0], timeout))
                time.sleep(delay)
                delay = min(delay * 1.5, 0.1)

    def _exited_message(self, index: int, code: int) -> str:
        self._drain(index)
        return (
            f"The serving container for {self.job.name} (instance {index + 1}) exited with code {code} before it "
            f"answered /ping. Last log lines:\n{self.tail(index)}"
        )

    def _not_ready_message(self, index: int, timeout: float) -> str:
        self.sinks[index].flush()
        return (
            f"The serving container for {self.job.name} (instance {index + 1}) did not answer GET /ping with 200 "
            f"within {timeout:g} seconds. Last log lines:\n{self.tail(index)}"
        )

    def _drain(self, index: int) -> None:
        """Let the log pump of an exited host read its last lines."""
        self._pumps[index].join(timeout=2)
        self.sinks[index].flush()

    # -- while running ----------------------------------------------------------------------------------

    def tail(self, index: int = 0, lines: int = _TAIL_LINES) -> str:
        return "\n".join(self.sinks[index].tail[-lines:])

    def exited(self) -> list[tuple[int, int]]:
        """(instance index, exit code) of every host that has exited so far."""
        for index, handle in enumerate(self.handles):
            if self._exit_codes[index] is None and not self._stopped.is_set():
                self._exit_codes[index] = self.runner.wait(handle, 0)
        return [(index, code) for index, code in enumerate(self._exit_codes) if code is not None]

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stop every host (SIGTERM, grace, SIGKILL), flush the logs, remove what the runner left."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        stoppers = [
            threading.Thread(target=_quietly, args=(self.runner.stop, handle, grace_seconds), daemon=True)
            for handle in self.handles
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for pump in self._pumps:
            pump.join(timeout=5)
        for sink in self.sinks:
            sink.flush()
        _quietly(self.runner.cleanup, self.job, self.handles)

    def _pump(self, handle: str, sink: LogSink) -> None:
        with contextlib.suppress(RunnerError):
            for line in self.runner.logs(handle):
                sink.write(line)

    def _flush_loop(self) -> None:
        while not self._stopped.wait(_FLUSH_SECONDS):
            for sink in self.sinks:
                with contextlib.suppress(Exception):
                    sink.flush()


def _stage_hosts(
    run: JobRun, spec: ServingSpec, container: ServingContainer, directory: Path, sinks: list[LogSink]
) -> list[HostSpec]:
    stager = S3Stager(run.s3, run.settings.data_dir / "cache" / "s3", sinks[0].write)
    first = HostTree(directory / "host-1")
    stage_model_data(container, stager, first.opt_ml / "model", directory / "download")
    environment = {**container.environment, **run.aws_environment(), **spec.environment}
    if stage_source_code(container, stager, first.opt_ml / "code", directory / "download"):
        # The process runner's framework server uses the staged copy; a container fetches its own.
        environment[STAGED_SOURCE_VARIABLE] = "/opt/ml/code"
    trees = [first]
    for index in range(2, len(spec.log_streams) + 1):
        tree = HostTree(directory / f"host-{index}")
        _link_tree(first.opt_ml, tree.opt_ml)
        trees.append(tree)
    return [
        HostSpec(
            host=f"algo-{index}",
            image=container.image,
            entrypoint=None,
            arguments=("serve",),
            environment=environment,
            mounts=tree.mounts(),
            serves_http=True,
        )
        for index, tree in enumerate(trees, 1)
    ]


def _link_tree(source: Path, target: Path) -> None:
    """Give another host its own /opt/ml with the same files (hard links where possible)."""

    def link(src: str, dst: str) -> None:
        try:
            Path(dst).hardlink_to(src)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, dirs_exist_ok=True)


def _package_finder(run: JobRun) -> Callable[[str], Mapping[str, Any] | None]:
    def find(name_or_arn: str) -> Mapping[str, Any] | None:
        found = run.store.get_by_arn(name_or_arn) if name_or_arn.startswith("arn:") else None
        if found is None:
            found = run.store.get("ModelPackage", name_or_arn.rsplit("/", 1)[-1])
        return found.document if found is not None else None

    return find


def _pings(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/ping").status_code == 200
    except httpx.HTTPError:
        return False


def _say_all(sinks: list[LogSink], line: str) -> None:
    for sink in sinks:
        sink.write(line)
        sink.flush()


def _quietly(action: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(Exception):
        action(*args)
