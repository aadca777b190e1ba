"""The worker: claims queued work items from the store and runs each in its own thread.

Two sorts of work, told apart by their `Executor`:
- jobs (training, processing, transform …) take one of the `max_concurrent` slots;
- coordinators (pipeline executions, tuning jobs, endpoints) mostly wait on other things, take no slot,
  and are *resumable*: their state lives in the store, so another worker can pick them up again.

One bad item never stops the loop: an unexpected error fails that item with a FailureReason and the
loop goes on. Items whose worker stopped sending heartbeats (a crashed or restarted worker) are
reconciled: a job's leftovers are stopped and it fails with a reason a person understands; a
resumable item is run again by this worker. On SIGTERM the worker stops its running jobs, fails them
as interrupted, and exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator import aws_clients, faults
from emulator.config import Settings
from emulator.jobs.context import JobRun
from emulator.jobs.endpoints import run_endpoint
from emulator.jobs.execution import STOP_GRACE_SECONDS
from emulator.jobs.processing import run_processing_job
from emulator.jobs.runners.base import JobSpec, Runner, RunnerError
from emulator.jobs.training import run_training_job
from emulator.jobs.transform import run_transform_job
from emulator.jobs.tuning import run_tuning_job
from emulator.jobs.wakeup import Wakeup
from emulator.logs.store import LogStore
from emulator.pipelines.execution import run_pipeline_execution
from emulator.sagemaker.jobs import secondary_transition
from emulator.store.repository import Store
from emulator.store.work_queue import WorkItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Executor:
    """How the worker runs one kind of work item."""

    run: Callable[[JobRun], None]
    # Jobs take a slot; coordinators (which mostly wait for other items) do not.
    takes_slot: bool = True
    # Resumable items keep their progress in the store: a stale one is run again, not failed.
    resumable: bool = False
    # Where the Describe document records the end time when the worker has to fail the item (if it does).
    end_time_field: str | None = "EndTime"


EXECUTORS: dict[str, Executor] = {
    "TrainingJob": Executor(run_training_job, end_time_field="TrainingEndTime"),
    "ProcessingJob": Executor(run_processing_job, end_time_field="ProcessingEndTime"),
    # Endpoints live until deleted and are served again by the next worker after a restart.
    "Endpoint": Executor(run_endpoint, takes_slot=False, resumable=True, end_time_field="LastModifiedTime"),
    "TransformJob": Executor(run_transform_job, end_time_field="TransformEndTime"),
    "PipelineExecution": Executor(run_pipeline_execution, takes_slot=False, resumable=True, end_time_field=None),
    "HyperParameterTuningJob": Executor(
        run_tuning_job, takes_slot=False, resumable=True, end_time_field="HyperParameterTuningEndTime"
    ),
}
PR_SET_PDEATHSIG = 1
HEARTBEAT_SECONDS = 1.0
STALE_AFTER_SECONDS = 6.0
IDLE_WAIT_SECONDS = 0.05  # how often an idle worker looks for work created by other processes
# Statuses from which the worker may fail an item it could not run (jobs, executions, endpoints).
IN_PROGRESS_STATUSES = ("InProgress", "Stopping", "Executing", "Creating", "Updating")


class Worker:
    def __init__(self, settings: Settings, store: Store, runner: Runner, max_concurrent: int) -> None:
        self.settings = settings
        self.store = store
        self.runner = runner
        self.max_concurrent = max_concurrent
        self.worker_id = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.logs = LogStore(store.engine)
        self._running: dict[int, threading.Thread] = {}
        self._running_kinds: dict[int, str] = {}
        self._stopping = threading.Event()
        self.wakeup = Wakeup()  # job threads and pipeline drivers wake the claim loop (and each other)

    def run(self) -> None:
        log.info(
            "worker %s running jobs with the %s runner (up to %d at once)",
            self.worker_id,
            self.runner.name,
            self.max_concurrent,
        )
        threading.Thread(target=self._send_heartbeats, name="heartbeats", daemon=True).start()
        last_check = 0.0
        while not self._stopping.is_set():
            self._running = {key: thread for key, thread in self._running.items() if thread.is_alive()}
            self._running_kinds = {key: self._running_kinds[key] for key in self._running}
            if time.monotonic() - last_check >= HEARTBEAT_SECONDS:
                self._reconcile_stale()
                last_check = time.monotonic()
            generation = self.wakeup.generation
            claimed = self.store.work.claim_next(self.worker_id, self._claimable_kinds())
            if claimed is not None:
                self._start_thread(claimed)
            else:
                self.wakeup.wait(generation, IDLE_WAIT_SECONDS)
        self._interrupt_running()

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.notify()

    def _send_heartbeats(self) -> None:
        """In a thread of its own, so a claim loop slowed by a busy database never makes our items look stale."""
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            try:
                self.store.work.heartbeat(self.worker_id)
            except Exception:
                log.exception("heartbeat failed; trying again")

    def _claimable_kinds(self) -> list[str]:
        busy_slots = sum(1 for kind in self._running_kinds.values() if EXECUTORS[kind].takes_slot)
        if busy_slots < self.max_concurrent:
            return list(EXECUTORS)
        return [kind for kind, executor in EXECUTORS.items() if not executor.takes_slot]

    def _start_thread(self, item: WorkItem) -> None:
        thread = threading.Thread(target=self._execute, args=(item,), name=f"{item.kind}-{item.name}", daemon=True)
        self._running[item.id] = thread
        self._running_kinds[item.id] = item.kind
        thread.start()

    def _execute(self, item: WorkItem) -> None:
        run = JobRun(
            settings=self.settings,
            store=self.store,
            logs=self.logs,
            runner=self.runner,
            s3=aws_clients.client(self.settings.url, self.settings.region, "s3"),
            item=item,
            directory=self.settings.data_dir / "jobs" / item.kind / item.name,
            shutdown=self._stopping,
            wakeup=self.wakeup,
        )
        try:
            injected = faults.take(self.store, item.kind)
            if injected is not None:
                self._fail(item, injected)
                return
            EXECUTORS[item.kind].run(run)
        except RunnerError as error:
            self._fail(item, str(error))
        except Exception as error:
            log.error("job %s %s crashed:\n%s", item.kind, item.name, traceback.format_exc())
            self._fail(item, f"InternalServerError: the emulator failed while running the job: {error!r}")
        finally:
            if EXECUTORS[item.kind].resumable and self._stopping.is_set():
                self.store.work.release(item.id)  # interrupted by shutdown: the next worker resumes it
            else:
                self.store.work.finish(item.id)
            self.wakeup.notify()  # a slot is free, and whoever waits on this job looks again

    def _fail(self, item: WorkItem, reason: str) -> None:
        """End a job Failed with `reason` unless it already reached an end status."""
        status_key = f"{item.kind}Status"
        now = time.time()

        def change(current: Any) -> dict[str, Any]:
            document = {**current.document, status_key: "Failed", "FailureReason": reason[:1024]}
            document["LastModifiedTime"] = now
            if "SecondaryStatus" in document:
                document = secondary_transition(document, "Failed", "Training job failed", now)
            end_time_field = EXECUTORS[item.kind].end_time_field
            if end_time_field is not None:
                document.setdefault(end_time_field, now)
            return document

        self.store.transition(item.kind, item.name, IN_PROGRESS_STATUSES, "Failed", change)

    def _reconcile_stale(self) -> None:
        for item in self.store.work.stale(time.time() - STALE_AFTER_SECONDS):
            if item.worker_id == self.worker_id:
                continue  # ours, and its thread is still here: never stop our own jobs as someone else's
            if not self.store.work.take_over(item.id, item.worker_id, self.worker_id):
                continue
            if item.kind in EXECUTORS and EXECUTORS[item.kind].resumable:
                log.info("resuming %s %s after its worker stopped", item.kind, item.name)
                self._start_thread(item)
                continue
            for handle in item.handles:
                if self.runner.reconcile(handle):
                    self.runner.stop(handle, STOP_GRACE_SECONDS)
            self.runner.cleanup(JobSpec(item.kind, item.name, "", ()), item.handles)
            self._fail(
                item, "The emulator's worker stopped while this job was running (restart or crash); run it again."
            )
            self.store.work.finish(item.id)

    def _interrupt_running(self) -> None:
        """The stop event is set: running jobs see it, stop their hosts and fail as interrupted."""
        for thread in list(self._running.values()):
            thread.join(timeout=STOP_GRACE_SECONDS + 10)


def _exit_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent (`serve`) dies, even by SIGKILL."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent is already gone
            os.kill(os.getpid(), signal.SIGTERM)


def run_worker(
    settings: Settings, runner_name: str, max_concurrent: int | None, *, exit_with_parent: bool = False
) -> None:
    from emulator.jobs.runners import registry

    store = Store.open(settings.resolved_database_url)
    runner = registry.create(
        runner_name,
        settings.data_dir / "jobs" / "_process-logs",
        settings.image_map,
        docker_network=settings.docker_network,
    )
    worker = Worker(settings, store, runner, max_concurrent or os.cpu_count() or 2)
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: worker.stop())
    if exit_with_parent:
        _exit_with_parent()
    worker.run()
    store.close()
