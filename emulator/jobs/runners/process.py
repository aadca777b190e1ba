"""The process runner: a job's hosts as local processes, each seeing its own `/opt/ml`.

Every host runs in a private mount namespace (`unshare --mount`; with a user namespace when not
root) in which its staged directory is bind-mounted at `/opt/ml` (and at any other path the job
names), so job code reads and writes the real contract paths. Jobs use the emulator's own Python
environment: `python`/`python3` in a command mean this interpreter, and so do `python`, `python3`, `pip`
and `pip3` found on PATH by scripts the job runs (a FrameworkProcessor's runproc.sh, the toolkit
installing a requirements.txt): small wrappers for them come first on PATH. SageMaker's first-party
framework images (scikit-learn, XGBoost, PyTorch, TensorFlow, Hugging Face) run script mode through the
`sagemaker-training` toolkit installed here, as their containers do. Serving hosts of those images
(`serve`) run `emulator.serving.inference`, the framework inference contract, on a free loopback port
(`SAGEMAKER_BIND_TO_PORT`) that `endpoint` reports. Any other image cannot be run without Docker: the job
fails saying so.

Not for: isolation. A process job can see the rest of this machine; use the docker runner for that.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from emulator.jobs.runners.base import HostSpec, JobSpec, RunnerError

log = logging.getLogger(__name__)

FRAMEWORK_REPOSITORIES = (
    "sagemaker-scikit-learn",
    "sagemaker-xgboost",
    "pytorch-training",
    "tensorflow-training",
    "huggingface-pytorch-training",
    "huggingface-tensorflow-training",
)
# Images whose `serve` is the framework inference contract (`emulator.serving.inference`).
SERVING_REPOSITORIES = (
    "sagemaker-scikit-learn",
    "sagemaker-xgboost",
    "pytorch-inference",
    "pytorch-training",
    "tensorflow-inference",
    "huggingface-pytorch-inference",
    "huggingface-tensorflow-inference",
)
# Runs inside the new mount namespace: bind each SOURCE TARGET pair, then exec the job's command.
_MOUNT_SCRIPT = (
    'set -e; while [ "$1" != -- ]; do [ -e "$2" ] || mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done; '
    'shift; exec "$@"'
)


@dataclass(frozen=True)
class _Handle:
    pid: int
    log: str
    started: float
    port: int | None = None  # serving hosts: where their HTTP server listens on 127.0.0.1

    def encode(self) -> str:
        data = {"pid": self.pid, "log": self.log, "started": self.started}
        return json.dumps(data if self.port is None else {**data, "port": self.port})

    @classmethod
    def decode(cls, handle: str) -> _Handle:
        data = json.loads(handle)
        port = data.get("port")
        return cls(int(data["pid"]), str(data["log"]), float(data["started"]), int(port) if port else None)


def repository_of(image: str) -> str:
    """`123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3` → `sagemaker-scikit-learn`."""
    name = image.rsplit("/", 1)[-1]
    return name.split("@", 1)[0].split(":", 1)[0]


def namespace_problem() -> str | None:
    """Why private mount namespaces are unavailable here, or None when they work."""
    if sys.platform != "linux":
        return "the process runner needs Linux mount namespaces; use --runner docker on this system"
    if shutil.which("unshare") is None:
        return "the `unshare` command (util-linux) is missing; install it or use --runner docker"
    if os.geteuid() != 0 and not Path("/opt/ml").is_dir():
        return "create the mount point once with `sudo mkdir -p /opt/ml`, or use --runner docker"
    return None


class ProcessRunner:
    name = "process"

    def __init__(self, work_dir: Path, image_map: Mapping[str, str] | None = None) -> None:
        self._work_dir = work_dir
        problem = namespace_problem()
        if problem:  # said at start-up too, not only in each job's FailureReason
            log.warning("the process runner cannot run jobs on this machine: %s", problem)
        # An image that runs like a framework image (script mode) may be mapped to one's URI.
        self._image_map = dict(image_map or {})
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._exit_codes: dict[int, int] = {}  # hosts reaped by one waiter, until the job's cleanup
        self._bin: Path | None = None

    def start(self, job: JobSpec) -> list[str]:
        problem = namespace_problem()
        if problem:
            raise RunnerError(f"Cannot run {job.name} as a local process: {problem}")
        if os.geteuid() == 0:
            Path("/opt/ml").mkdir(parents=True, exist_ok=True)
        return [self._start_host(job, host).encode() for host in job.hosts]

    def _start_host(self, job: JobSpec, host: HostSpec) -> _Handle:
        command = self._command(host)
        port = _free_port() if host.serves_http else None
        # Unique per start: an endpoint's hosts are started again after a restart or an update.
        log_path = self._work_dir / f"{job.kind}-{job.name}-{host.host}-{secrets.token_hex(3)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        hosts_file = self._hosts_file(job, log_path.with_suffix(".hosts"))
        all_mounts = {**host.mounts, "/etc/hosts": hosts_file}
        mounts = [part for target, source in sorted(all_mounts.items()) for part in (str(source), target)]
        unshare = ["unshare", "--mount", "--propagation", "private"]
        if os.geteuid() != 0:
            unshare[1:1] = ["--user", "--map-root-user"]
        argv = [*unshare, "sh", "-c", _MOUNT_SCRIPT, "mount", *mounts, "--", *command]
        environment = {**os.environ, **host.environment, "PYTHONUNBUFFERED": "1"}
        environment["PATH"] = os.pathsep.join(filter(None, [str(self._interpreter_bin()), environment.get("PATH")]))
        if port is not None:
            environment["SAGEMAKER_BIND_TO_PORT"] = str(port)
        with log_path.open("ab") as log:
            try:
                process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True, cwd="/"
                )
            except OSError as error:
                raise RunnerError(f"Could not start {command[0]}: {error}") from None
        self._children[process.pid] = process
        self._exit_codes.pop(process.pid, None)  # a reused pid
        return _Handle(process.pid, str(log_path), time.time(), port)

    def _interpreter_bin(self) -> Path:
        """A directory of `python`, `python3`, `pip`, `pip3` wrappers that run this interpreter.

        Wrappers, not symlinks: a symlinked venv interpreter outside its venv loses the venv's packages.
        """
        if self._bin is None:
            directory = self._work_dir / "bin"
            directory.mkdir(parents=True, exist_ok=True)
            python = shlex.quote(sys.executable)
            commands = {"python": python, "python3": python, "pip": f"{python} -m pip", "pip3": f"{python} -m pip"}
            for name, command in commands.items():
                partial = directory / f"{name}.{os.getpid()}.{secrets.token_hex(4)}.part"  # jobs start concurrently
                partial.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
                partial.chmod(0o755)
                os.replace(partial, directory / name)
            self._bin = directory
        return self._bin

    @staticmethod
    def _hosts_file(job: JobSpec, path: Path) -> Path:
        """This machine's /etc/hosts plus `algo-1 … algo-N` → 127.0.0.1, as the toolkit resolves them."""
        original = Path("/etc/hosts").read_text() if Path("/etc/hosts").exists() else ""
        names = " ".join(host.host for host in job.hosts)
        path.write_text(f"{original.rstrip()}\n127.0.0.1 {names}\n")
        return path

    def _command(self, host: HostSpec) -> list[str]:
        if host.entrypoint:
            return [_host_program(part) if index == 0 else part for index, part in enumerate(host.entrypoint)] + list(
                host.arguments
            )
        image = self._image_map.get(host.image, host.image)
        repository = repository_of(image)
        if repository in FRAMEWORK_REPOSITORIES and host.arguments[:1] == ("train",):
            return [sys.executable, "-c", "from sagemaker_training.cli.train import main; main()"]
        if repository in SERVING_REPOSITORIES and host.arguments[:1] == ("serve",):
            return [sys.executable, "-m", "emulator.serving.inference", "--image", image]
        if host.arguments and not _looks_like_image_command(host.arguments[0]):
            return [_host_program(host.arguments[0]), *host.arguments[1:]]
        if host.arguments[:1] == ("serve",):
            raise RunnerError(
                f"The process runner cannot serve image {host.image}: it serves only SageMaker's framework "
                f"images ({', '.join(SERVING_REPOSITORIES)}) through their inference contract (model_fn, "
                "input_fn, predict_fn, output_fn). Start the emulator with --runner docker to serve this image "
                f"in a container, or {_map_hint(host.image)}"
            )
        raise RunnerError(
            f"The process runner cannot run image {host.image}: it runs only SageMaker's framework images "
            f"({', '.join(FRAMEWORK_REPOSITORIES)}) in script mode, or jobs that name their own command. "
            f"Start the emulator with --runner docker to run this image in a container, or {_map_hint(host.image)}"
        )

    def wait(self, handle: str, timeout: float) -> int | None:
        pid = _Handle.decode(handle).pid
        child = self._children.get(pid)
        if child is not None:
            try:
                code = child.wait(timeout)
            except subprocess.TimeoutExpired:
                return None
            self._exit_codes[pid] = code  # for any other waiter on this host (stop, cleanup)
            self._children.pop(pid, None)
            return code
        if pid in self._exit_codes:
            return self._exit_codes[pid]
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return None if _alive(pid) else -1

    def stop(self, handle: str, grace_seconds: float) -> None:
        pid = _Handle.decode(handle).pid
        _signal_group(pid, signal.SIGTERM)
        if self.wait(handle, grace_seconds) is None:
            _signal_group(pid, signal.SIGKILL)
            self.wait(handle, 5)

    def logs(self, handle: str) -> Iterator[str]:
        decoded = _Handle.decode(handle)
        with open(decoded.log, "rb") as stream:
            pending = b""
            while True:
                chunk = stream.read(65536)
                if chunk:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    yield from (line.decode("utf-8", "replace") for line in lines)
                elif self.wait(handle, 0.05) is not None:
                    rest = stream.read()
                    pending += rest
                    if not rest:
                        break
            *lines, last = pending.split(b"\n")  # the output after the exit; `last` lacks a newline
            yield from (line.decode("utf-8", "replace") for line in lines)
            if last:
                yield last.decode("utf-8", "replace")

    def endpoint(self, handle: str) -> str:
        port = _Handle.decode(handle).port
        if port is None:
            raise RunnerError("This process was not started as a serving host, so it has no HTTP endpoint.")
        return f"http://127.0.0.1:{port}"

    def reconcile(self, handle: str) -> bool:
        """A process job cannot be reattached: its output pipe and parent are gone with the old worker."""
        return False

    def cleanup(self, job: JobSpec, handles: list[str]) -> None:
        for handle in handles:
            pid = _Handle.decode(handle).pid
            if _alive(pid):
                self.stop(handle, 1)
            self._exit_codes.pop(pid, None)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _map_hint(image: str) -> str:
    return (
        "if it follows a SageMaker framework image's contract (script mode, the inference handlers), map it "
        f'to that image\'s URI: SAGEMAKER_EMULATOR_IMAGE_MAP=\'{{"{image}": "<framework image URI>"}}\'.'
    )


def _host_program(program: str) -> str:
    return sys.executable if program in ("python", "python3") else program


def _looks_like_image_command(word: str) -> bool:
    return word in ("train", "serve")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _signal_group(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, number)
