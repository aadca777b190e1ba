"""`JobRun`: everything one job's executor needs, built by the worker for each claimed item."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.config import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Settings
from emulator.jobs.runners.base import Runner
from emulator.jobs.wakeup import Wakeup
from emulator.logs.store import LogStore
from emulator.store.repository import Resource, Store
from emulator.store.work_queue import WorkItem


@dataclass
class JobRun:
    settings: Settings
    store: Store
    logs: LogStore
    runner: Runner
    s3: Any
    item: WorkItem
    directory: Path  # this job's scratch directory; host trees live below it
    shutdown: threading.Event  # set when the worker is shutting down
    wakeup: Wakeup = field(default_factory=Wakeup)  # the worker's: notify when others should look again

    INTERRUPTED_REASON = "The emulator was shut down while this job was running; run it again."

    @property
    def kind(self) -> str:
        return self.item.kind

    @property
    def name(self) -> str:
        return self.item.name

    def current(self) -> Resource:
        found = self.store.get(self.kind, self.name)
        if found is None:
            raise LookupError(f"{self.kind} {self.name} disappeared while running")
        return found

    def update(self, change: Callable[[dict[str, Any]], dict[str, Any]], status: str | None = None) -> None:
        """Change the Describe document (and optionally the indexed status) with compare-and-set."""
        self.store.update(
            self.kind,
            self.name,
            lambda current: {**change(dict(current.document)), "LastModifiedTime": time.time()},
            status=status,
        )

    def aws_environment(self) -> dict[str, str]:
        """What every job process gets so AWS SDKs inside it talk to this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.settings.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_REGION": self.settings.region,
            "AWS_DEFAULT_REGION": self.settings.region,
        }
