"""The runner interface: how a job's hosts are started, watched, stopped and found again.

A runner knows nothing about SageMaker APIs, S3 or the store. The worker hands it a `JobSpec` whose
hosts already have their directories staged, and gets back one opaque handle per host (a container
id, a pid …), which it stores before waiting on anything, so a restarted worker can `reconcile`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class RunnerError(Exception):
    """A job cannot be run (image missing, engine unreachable …). The message is shown to the user as
    the job's FailureReason, so it says what is wrong and how to fix it."""


@dataclass(frozen=True)
class HostSpec:
    """One host of a job: `algo-1` … `algo-N` for training, one per instance for the others."""

    host: str
    image: str
    # Replaces the image's entrypoint when given (ContainerEntrypoint, AppSpecification.ContainerEntrypoint).
    entrypoint: tuple[str, ...] | None
    # The command or arguments after the entrypoint: ("train",), ("serve",) or the request's arguments.
    arguments: tuple[str, ...]
    environment: Mapping[str, str]
    # Path as the job sees it (e.g. "/opt/ml", or a processing LocalPath) -> staged directory on this machine.
    mounts: Mapping[str, Path]
    # Serving hosts expose HTTP on 8080 inside; the runner reports where it is reachable (see `endpoint`).
    serves_http: bool = False


@dataclass(frozen=True)
class JobSpec:
    kind: str  # "TrainingJob" | "ProcessingJob" | "TransformJob" | "Endpoint"
    name: str
    instance_type: str
    hosts: tuple[HostSpec, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    # Writes one line into the job's log, for what the user should know about how it runs
    # (e.g. "this instance type has GPUs, this machine gives the job none").
    say: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def note(self, line: str) -> None:
        if self.say is not None:
            self.say(line)


class Runner(Protocol):
    """start / wait / stop / logs / reconcile / cleanup; all methods are safe to call from threads."""

    name: str

    def start(self, job: JobSpec) -> list[str]:
        """Start every host; return one handle per host, in order. Raise RunnerError if it cannot."""
        ...

    def wait(self, handle: str, timeout: float) -> int | None:
        """The host's exit code, or None if it is still running after `timeout` seconds."""
        ...

    def stop(self, handle: str, grace_seconds: float) -> None:
        """SIGTERM, up to `grace_seconds`, then SIGKILL. A host that is already gone is success."""
        ...

    def logs(self, handle: str) -> Iterator[str]:
        """Every output line (stdout and stderr) from the start, following until the host exits."""
        ...

    def endpoint(self, handle: str) -> str:
        """Base URL (http://host:port) where a serving host's port 8080 is reachable from the worker."""
        ...

    def reconcile(self, handle: str) -> bool:
        """After a restart: True if the host is still running and can be waited on again."""
        ...

    def cleanup(self, job: JobSpec, handles: list[str]) -> None:
        """Remove whatever the job left (containers, networks); idempotent."""
        ...
