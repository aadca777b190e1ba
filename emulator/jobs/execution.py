"""Running a job's hosts to the end: start them through the runner, record the handles, pump their
output into the log sinks, and honour Stop and `MaxRuntimeInSeconds` while waiting.

Shared by every job kind; what happens before (staging) and after (uploads, status) is the kind's own
module (`training.py`, `processing.py`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from emulator.jobs.logsink import LogSink
from emulator.jobs.runners.base import JobSpec, Runner
from emulator.store.work_queue import WorkItem, WorkQueue

POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 10.0


class Ending(StrEnum):
    EXITED = "exited"
    STOPPED = "stopped"  # StopTrainingJob / StopProcessingJob
    MAX_RUNTIME = "max_runtime"  # StoppingCondition.MaxRuntimeInSeconds
    INTERRUPTED = "interrupted"  # the worker is shutting down


@dataclass(frozen=True)
class HostsOutcome:
    ending: Ending
    exit_codes: tuple[int | None, ...]

    @property
    def succeeded(self) -> bool:
        return self.ending is Ending.EXITED and all(code == 0 for code in self.exit_codes)


def run_hosts(
    runner: Runner,
    queue: WorkQueue,
    item: WorkItem,
    spec: JobSpec,
    sinks: Sequence[LogSink],
    max_runtime_seconds: float | None,
    shutdown: threading.Event,
) -> HostsOutcome:
    handles = runner.start(spec)
    queue.record_handles(item.id, handles)
    pumps = [
        threading.Thread(target=_pump, args=(runner, handle, sink), daemon=True)
        for handle, sink in zip(handles, sinks, strict=True)
    ]
    for pump in pumps:
        pump.start()
    started = time.monotonic()
    codes: list[int | None] = [None] * len(handles)
    ending = Ending.EXITED
    try:
        while any(code is None for code in codes):
            for index, handle in enumerate(handles):
                if codes[index] is None:
                    codes[index] = runner.wait(handle, POLL_SECONDS / len(handles))
            for sink in sinks:  # a job that printed and went quiet still shows its lines live
                sink.flush()
            if shutdown.is_set():
                ending = Ending.INTERRUPTED
            elif _stop_requested(queue, item):
                ending = Ending.STOPPED
            elif max_runtime_seconds is not None and time.monotonic() - started > max_runtime_seconds:
                ending = Ending.MAX_RUNTIME
            if ending is not Ending.EXITED:
                _stop_all(runner, handles, codes)
                break
    finally:
        for pump in pumps:
            pump.join(timeout=5)
        for sink in sinks:
            sink.flush()
        runner.cleanup(spec, handles)
    return HostsOutcome(ending, tuple(codes))


def _pump(runner: Runner, handle: str, sink: LogSink) -> None:
    for line in runner.logs(handle):
        sink.write(line)


def _stop_requested(queue: WorkQueue, item: WorkItem) -> bool:
    current = queue.get(item.kind, item.name)
    return current is not None and current.stop_requested


def _stop_all(runner: Runner, handles: Sequence[str], codes: list[int | None]) -> None:
    threads = [
        threading.Thread(target=runner.stop, args=(handle, STOP_GRACE_SECONDS))
        for handle, code in zip(handles, codes, strict=True)
        if code is None
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
