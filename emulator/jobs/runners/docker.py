"""DockerRunner: one container per job host, on whatever engine DOCKER_HOST (or the default socket) names.

For running SageMaker jobs the way SageMaker does: the job's image, `/opt/ml` (and processing paths) bind-mounted
from the staged directories, hosts named `algo-1 … algo-N`, `AWS_ENDPOINT_URL` pointing at the emulator.
Not for: engines on another machine (bind mounts and the loopback gateway assume the engine shares this
machine's files), building images, or anything about SageMaker APIs, S3 or the store.

Networking, and why:

- Linux engine on this kernel (a normal dockerd, or the CI engine started with `--bridge=none --iptables=false`):
  * a single-host job that serves no HTTP runs with **host networking**: a gateway URL on 127.0.0.1 works
    unchanged, the container's hostname is its host name and `/etc/hosts` maps it to 127.0.0.1. No network
    is created, so this is the cheapest path and needs no bridge.
  * multi-host jobs and serving hosts get a **per-job user-defined bridge network**; each container has
    hostname and network alias `algo-i`, so hosts reach each other by name through Docker's DNS (and
    serving hosts do not collide on port 8080). Loopback gateway URLs are rewritten to the network's
    gateway IP (this machine's side of the bridge), where the runner listens with a small TCP relay to
    the real loopback address: the emulator itself keeps listening on 127.0.0.1 only.
    `host.docker.internal:host-gateway` is not used there: an engine with `--bridge=none` cannot resolve it.
- VM engines (Docker Desktop, or a client that is not Linux): host networking would be the VM's, so every
  job gets a per-job network and loopback gateway URLs become `host.docker.internal`, which Docker Desktop
  forwards to this machine's loopback (`host-gateway` is added for engines that need it).
- Serving hosts publish port 8080 on 127.0.0.1 at a free port; `endpoint` reports it.

GPUs: a job whose instance type has them (`ml.p*`, `ml.g*`) gets every GPU (`device_requests`) when the
engine can give them (the NVIDIA runtime or toolkit); otherwise it runs without, and its log says so.
- A **shared network** (`network=`, the `SAGEMAKER_EMULATOR_DOCKER_NETWORK` setting; the compose setup
  names its own network): every job container joins that existing network instead of using host
  networking, so it reaches the API by service name (`AWS_ENDPOINT_URL=http://emulator:4599`) and a
  serving host is reached at its address there. Multi-host jobs still get their per-job network for
  `algo-1 … algo-N` and are connected to the shared one as well. The shared network is never removed.
  The worker may itself run in a container then; bind-mount sources are paths the *engine* resolves, so
  the worker's job directories must exist at the same path on the engine's machine (see the README).

A worker that restarts finds its containers again by handle (`reconcile`), and the relays of a running
job are re-opened on their old ports from the container's labels.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
import socket
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from emulator.jobs.runners.base import HostSpec, JobSpec, RunnerError

try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    from docker.types import DeviceRequest, Mount
except ImportError:  # pragma: no cover - the optional `docker` extra is not installed
    docker = None

LABEL = "sagemaker-emulator"
KIND_LABEL = f"{LABEL}.job-kind"
NAME_LABEL = f"{LABEL}.job-name"
HOST_LABEL = f"{LABEL}.host"
RELAYS_LABEL = f"{LABEL}.relays"  # "gateway-ip:port>target-host:port,…", to re-open relays after a restart
DESKTOP_GATEWAY = "host.docker.internal"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
GPU_INSTANCE = re.compile(r"^(ml\.[pg]\d|local_gpu$)")
IMAGE_MAP_HINT = 'the emulator\'s image mapping: SAGEMAKER_EMULATOR_IMAGE_MAP=\'{"<image uri>": "<local image>"}\''


@dataclass(frozen=True)
class _Engine:
    vm: bool  # the engine runs in a VM (Docker Desktop …): no usable host networking
    gpus: bool  # the nvidia runtime is installed


@dataclass
class _Exit:
    """A container's end, filled in by the thread waiting for it."""

    done: threading.Event = field(default_factory=threading.Event)
    code: int | None = None
    error: RunnerError | None = None


@dataclass(frozen=True)
class _Network:
    name: str
    gateway_ip: str


class DockerRunner:
    """Runs each job host as a container; see the module docstring for networking."""

    name = "docker"

    def __init__(
        self,
        image_map: Mapping[str, str] | None = None,
        *,
        pull: bool = True,
        vm_engine: bool | None = None,
        api_timeout: float = 120.0,
        network: str | None = None,
    ) -> None:
        if docker is None:
            raise RunnerError(
                "The docker runner needs the `docker` Python package: pip install 'sagemaker-emulator[docker]'."
            )
        self._image_map = dict(image_map or {})
        self._pull = pull
        self._vm_override = vm_engine
        self._api_timeout = api_timeout
        self._shared_network = network or None
        self._shared_network_checked = False
        self._local = threading.local()
        self._lock = threading.Lock()
        self._engine_facts: _Engine | None = None
        self._relays: dict[str, dict[tuple[str, int], _Relay]] = {}  # network name -> target -> relay
        self._exits: dict[str, _Exit] = {}  # container id -> its end, once someone waits for it

    # -- the Runner interface -------------------------------------------------------------------------

    def start(self, job: JobSpec) -> list[str]:
        if not job.hosts:
            raise RunnerError(f"{job.kind} {job.name} has no hosts to start.")
        images = [self.resolve_image(host.image) for host in job.hosts]
        gpus = self._gpus_for(job)
        network: _Network | None = None
        created: list[str] = []
        try:
            with _translated(f"start {job.kind} {job.name}"):
                token = secrets.token_hex(3)
                self._check_shared_network()
                if not self._use_host_network(job) and not self._shared_network_suffices(job):
                    network = self._create_network(job, token)
                for host, image in zip(job.hosts, images, strict=True):
                    created.append(self._create_container(job, host, image, network, token, gpus=gpus))
                    if network is not None and self._shared_network:
                        self._docker().api.connect_container_to_network(created[-1], self._shared_network)
                for handle in created:
                    self._docker().api.start(handle)
        except BaseException:
            self._discard(created, network.name if network else None)
            raise
        return created

    def wait(self, handle: str, timeout: float) -> int | None:
        """Answered by a thread blocked in the engine's own wait call: the exit is seen as it happens."""
        exit_ = self._exit_of(handle)
        if not exit_.done.wait(max(timeout, 0.0)):
            return None
        if exit_.error is not None:
            raise exit_.error
        return exit_.code

    def stop(self, handle: str, grace_seconds: float) -> None:
        with _translated(f"stop container {handle[:12]}"):
            try:
                self._docker().api.stop(handle, timeout=max(0, math.ceil(grace_seconds)))
            except NotFound:
                return
            except APIError:
                with contextlib.suppress(NotFound):
                    if self._docker().api.inspect_container(handle)["State"]["Running"]:
                        raise
                return

    def logs(self, handle: str) -> Iterator[str]:
        with _translated(f"read the logs of container {handle[:12]}"):
            try:
                chunks = self._docker().api.logs(handle, stream=True, follow=True, stdout=True, stderr=True)
            except NotFound:
                raise RunnerError(f"Container {handle[:12]} no longer exists; its logs are gone.") from None
            try:
                yield from _lines(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()

    def endpoint(self, handle: str) -> str:
        attrs = self._inspect(handle, f"find the endpoint of container {handle[:12]}")
        shared = (attrs["NetworkSettings"].get("Networks") or {}).get(self._shared_network or "", {})
        if shared.get("IPAddress"):
            return f"http://{shared['IPAddress']}:8080"
        if attrs["HostConfig"].get("NetworkMode") == "host":
            return "http://127.0.0.1:8080"
        bindings = (attrs["NetworkSettings"].get("Ports") or {}).get("8080/tcp") or []
        bindings = sorted(bindings, key=lambda b: ":" in b.get("HostIp", ""))  # IPv4 first
        if not bindings:
            state = attrs.get("State") or {}
            if not state.get("Running"):
                raise RunnerError(
                    f"The serving container {handle[:12]} of image {attrs['Config'].get('Image')} exited "
                    f"(code {state.get('ExitCode')}) before it could serve; does the image have a `serve` "
                    "command? Its output is in its CloudWatch log stream."
                )
            raise RunnerError(
                f"Container {handle[:12]} does not publish port 8080: it was not started as a serving host."
            )
        ip = bindings[0].get("HostIp") or "0.0.0.0"
        ip = "127.0.0.1" if ip in ("0.0.0.0", "::") else ip
        return f"http://{f'[{ip}]' if ':' in ip else ip}:{bindings[0]['HostPort']}"

    def reconcile(self, handle: str) -> bool:
        with _translated(f"find container {handle[:12]}"):
            try:
                attrs = self._docker().api.inspect_container(handle)
            except NotFound:
                return False
        if not attrs["State"]["Running"]:
            return False
        self._restore_relays(attrs)
        return True

    def cleanup(self, job: JobSpec, handles: list[str]) -> None:
        with _translated(f"clean up {job.kind} {job.name}"):
            networks = {net for handle in handles for net in self._remove_container(handle)}
            labelled = self._docker().networks.list(
                filters={"label": [f"{KIND_LABEL}={job.kind}", f"{NAME_LABEL}={job.name}"]}
            )
            networks |= {net.name for net in labelled if not net.attrs.get("Containers")}
            for name in networks:
                self._remove_network(name)

    def _exit_of(self, handle: str) -> _Exit:
        with self._lock:
            found = self._exits.get(handle)
            if found is None:
                found = self._exits[handle] = _Exit()
                threading.Thread(
                    target=self._await_exit, args=(handle, found), name=f"docker-wait-{handle[:12]}", daemon=True
                ).start()
        return found

    def _await_exit(self, handle: str, exit_: _Exit) -> None:
        try:
            with _translated(f"wait for container {handle[:12]}"):
                try:
                    exit_.code = int(self._docker().api.wait(handle, timeout=None).get("StatusCode", -1))
                except NotFound:
                    raise RunnerError(
                        f"Container {handle[:12]} no longer exists (removed outside the emulator?)."
                    ) from None
        except RunnerError as error:
            exit_.error = error
        finally:
            exit_.done.set()

    # -- images ---------------------------------------------------------------------------------------

    def resolve_image(self, uri: str) -> str:
        """The local image to run for `uri` (after mapping), pulling it when it is not there yet."""
        local = self._image_map.get(uri, uri)
        client = self._docker()
        with _translated(f"look up image {local}"):
            try:
                client.images.get(local)
                return local
            except ImageNotFound:
                pass
            if not self._pull:
                raise RunnerError(_missing_image(uri, local, "it is not on this Docker engine and pulling is off"))
            try:
                client.images.pull(local)
            except (APIError, requests.exceptions.RequestException) as exc:
                raise RunnerError(
                    _missing_image(uri, local, f"it is not on this Docker engine and pulling it failed: {_why(exc)}")
                ) from exc
        return local

    # -- containers and networks ----------------------------------------------------------------------

    def _docker(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            with _translated("connect to the Docker engine"):
                client = docker.from_env(timeout=int(self._api_timeout))
            self._local.client = client
        return client

    def _engine(self) -> _Engine:
        if self._engine_facts is None:
            with _translated("ask the Docker engine what it supports"):
                info = self._docker().info()
            desktop = "docker desktop" in str(info.get("OperatingSystem", "")).lower()
            vm = self._vm_override if self._vm_override is not None else desktop or not sys.platform.startswith("linux")
            self._engine_facts = _Engine(vm=vm, gpus=_engine_has_gpus(info))
        return self._engine_facts

    def _use_host_network(self, job: JobSpec) -> bool:
        if self._shared_network:
            return False
        return not self._engine().vm and len(job.hosts) == 1 and not job.hosts[0].serves_http

    def _shared_network_suffices(self, job: JobSpec) -> bool:
        """One host on the shared network needs no network of its own (its hostname resolves to itself)."""
        return bool(self._shared_network) and len(job.hosts) == 1

    def _check_shared_network(self) -> None:
        if not self._shared_network or self._shared_network_checked:
            return
        try:
            self._docker().api.inspect_network(self._shared_network)
        except NotFound:
            raise RunnerError(
                f"Docker network {self._shared_network!r} (the emulator's SAGEMAKER_EMULATOR_DOCKER_NETWORK "
                "setting) does not exist on this engine: create it, or unset the setting to use host networking."
            ) from None
        self._shared_network_checked = True

    def _inspect(self, handle: str, action: str) -> dict[str, Any]:
        with _translated(action):
            try:
                return dict(self._docker().api.inspect_container(handle))
            except NotFound:
                raise RunnerError(
                    f"Container {handle[:12]} no longer exists (removed outside the emulator?)."
                ) from None

    def _create_network(self, job: JobSpec, token: str) -> _Network:
        labels = {**job.labels, KIND_LABEL: job.kind, NAME_LABEL: job.name}
        net = self._docker().networks.create(f"sagemaker-{job.name}-{token}", driver="bridge", labels=labels)
        configs = net.attrs.get("IPAM", {}).get("Config") or [{}]
        gateway = next((c["Gateway"] for c in configs if c.get("Gateway") and ":" not in c["Gateway"]), "")
        if not gateway and not self._engine().vm:
            net.remove()
            raise RunnerError(
                f"Docker network {net.name} has no IPv4 gateway, so its containers cannot reach the emulator."
            )
        return _Network(name=net.name, gateway_ip=gateway)

    def _gpus_for(self, job: JobSpec) -> bool:
        """Whether the job's containers get every GPU: its instance type has GPUs and the engine can give them."""
        if not GPU_INSTANCE.match(job.instance_type):
            return False
        if self._engine().gpus:
            return True
        job.note(
            f"[emulator] {job.instance_type} has GPUs, but this Docker engine has no NVIDIA runtime "
            "(nvidia-container-toolkit): the job runs without GPUs."
        )
        return False

    def _create_container(
        self, job: JobSpec, host: HostSpec, image: str, network: _Network | None, token: str, *, gpus: bool = False
    ) -> str:
        client = self._docker()
        environment, relays = self._container_environment(host.environment, network)
        labels = {**job.labels, KIND_LABEL: job.kind, NAME_LABEL: job.name, HOST_LABEL: host.host}
        if relays:
            labels[RELAYS_LABEL] = ",".join(relays)
        options: dict[str, Any] = {
            "image": image,
            "command": list(host.arguments) or None,
            "entrypoint": list(host.entrypoint) if host.entrypoint is not None else None,
            "environment": environment,
            "labels": labels,
            "mounts": [
                Mount(target=target, source=str(path.resolve()), type="bind") for target, path in host.mounts.items()
            ],
            "hostname": host.host,
            "name": f"sagemaker-{job.name}-{host.host}-{token}",
            "init": True,  # signals reach the job's process even when it is not written to be PID 1
            "privileged": False,
            "detach": True,
        }
        if gpus:
            options["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]  # all of them
        if network is None and self._shared_network:
            options.update(network=self._shared_network)
            if host.serves_http:
                options["ports"] = {"8080/tcp": ("127.0.0.1", None)}
        elif network is None:
            options.update(network_mode="host", extra_hosts={host.host: "127.0.0.1"})
        else:
            endpoint = client.api.create_endpoint_config(aliases=[host.host])
            options.update(network=network.name, networking_config={network.name: endpoint})
            if self._engine().vm:
                options["extra_hosts"] = {DESKTOP_GATEWAY: "host-gateway"}
            if host.serves_http:
                options["ports"] = {"8080/tcp": ("127.0.0.1", None)}
        return str(client.containers.create(**options).id)

    def _container_environment(
        self, environment: Mapping[str, str], network: _Network | None
    ) -> tuple[dict[str, str], list[str]]:
        """The environment with loopback gateway URLs made reachable from inside, and the relays that takes."""
        result = dict(environment)
        relays: list[str] = []
        if network is None:
            return result, relays  # host networking: 127.0.0.1 is this machine's loopback
        for key, value in environment.items():
            target = _loopback_target(value) if _is_endpoint_variable(key) else None
            if target is None:
                continue
            if self._engine().vm:
                result[key] = _with_netloc(value, DESKTOP_GATEWAY, target[1])
                continue
            port = self._relay(network.name, network.gateway_ip, target).port
            result[key] = _with_netloc(value, network.gateway_ip, port)
            relays.append(f"{network.gateway_ip}:{port}>{target[0]}:{target[1]}")
        return result, sorted(set(relays))

    def _relay(self, network: str, bind_ip: str, target: tuple[str, int], port: int = 0) -> _Relay:
        with self._lock:
            relays = self._relays.setdefault(network, {})
            if target not in relays:
                try:
                    relays[target] = _Relay(bind_ip, port, target)
                except OSError as exc:
                    raise RunnerError(
                        f"Cannot listen on {bind_ip}:{port or 'any port'} to relay the job's containers to "
                        f"{target[0]}:{target[1]}: {exc}. Without it they cannot reach the emulator."
                    ) from exc
            return relays[target]

    def _restore_relays(self, attrs: dict[str, Any]) -> None:
        spec = (attrs["Config"].get("Labels") or {}).get(RELAYS_LABEL, "")
        networks = list((attrs["NetworkSettings"].get("Networks") or {}).keys())
        for item in filter(None, spec.split(",")):
            (bind_ip, port), (host, target_port) = (part.rsplit(":", 1) for part in item.split(">"))
            with contextlib.suppress(RunnerError):  # the port is taken: the job loses its gateway, nothing else
                self._relay(networks[0], bind_ip, (host, int(target_port)), int(port))

    def _remove_container(self, handle: str) -> list[str]:
        """Remove one container; return the job networks it was on."""
        api = self._docker().api
        with self._lock:
            self._exits.pop(handle, None)
        try:
            networks = list(api.inspect_container(handle)["NetworkSettings"].get("Networks") or {})
            api.remove_container(handle, force=True, v=True)
        except NotFound:
            return []
        except APIError as exc:
            if "already in progress" not in str(exc):
                raise
        kept = {"host", "bridge", "none", "default", self._shared_network}
        return [name for name in networks if name not in kept]

    def _remove_network(self, name: str) -> None:
        try:
            self._docker().api.remove_network(name)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code in (403, 409):  # still in use by containers this cleanup does not own
                return
            raise
        with self._lock:
            relays = self._relays.pop(name, {})
        for relay in relays.values():
            relay.close()

    def _discard(self, handles: Iterable[str], network: str | None) -> None:
        """Best-effort removal after a failed start; the start's own error is what the caller sees."""
        with contextlib.suppress(RunnerError, DockerException, requests.exceptions.RequestException):
            for handle in handles:
                self._remove_container(handle)
            if network:
                self._remove_network(network)


class _Relay:
    """Forwards TCP connections accepted on bind_ip:port to target (a loopback address of this machine)."""

    def __init__(self, bind_ip: str, port: int, target: tuple[str, int]) -> None:
        self._target = ("127.0.0.1", target[1]) if target[0] == "0.0.0.0" else target
        self._server = socket.create_server((bind_ip, port))
        self._server.settimeout(0.5)
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"docker-relay-{self.port}", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=10)
        except OSError:
            conn.close()
            return
        upstream.settimeout(None)
        conn.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
        back.start()
        _pump(conn, upstream)
        back.join()
        conn.close()
        upstream.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


def _engine_has_gpus(info: Mapping[str, Any]) -> bool:
    """The NVIDIA runtime is registered, or (engine on this machine) GPUs and the toolkit's hook are here."""
    if "nvidia" in (info.get("Runtimes") or {}):
        return True
    return Path("/dev/nvidiactl").exists() and shutil.which("nvidia-container-runtime-hook") is not None


def _is_endpoint_variable(name: str) -> bool:
    return name.startswith("AWS_ENDPOINT_URL") or name.endswith("_ENDPOINT_URL")


def _loopback_target(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return (parts.hostname, port) if parts.hostname in LOOPBACK_HOSTS else None


def _with_netloc(url: str, host: str, port: int) -> str:
    return urlunsplit(urlsplit(url)._replace(netloc=f"{host}:{port}"))


def _why(exc: BaseException) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


def _missing_image(uri: str, local: str, why: str) -> str:
    mapped = f" (mapped to {local!r})" if local != uri else ""
    return (
        f"Cannot run image {uri!r}{mapped}: {why}. To fix it, either log in to its registry and pull it "
        f"(for ECR: `aws ecr get-login-password --region <region> | docker login --username AWS "
        f"--password-stdin <account>.dkr.ecr.<region>.amazonaws.com`, then `docker pull {local}`), or build or "
        f"`docker tag` a local image named {local!r}, or map {uri!r} to a local image with {IMAGE_MAP_HINT}."
    )


def _unreachable(exc: BaseException) -> str:
    where = os.environ.get("DOCKER_HOST") or "the default socket (unix:///var/run/docker.sock)"
    return (
        f"Cannot reach a Docker engine at {where}: {_why(exc)}. Start Docker (Docker Desktop, "
        "`sudo systemctl start docker`, or scripts/docker-engine.sh in a checkout of the emulator), point "
        "DOCKER_HOST at a running engine, or run jobs without Docker with the process runner."
    )


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """Docker SDK and transport errors become RunnerErrors that say what failed and what to do."""
    try:
        yield
    except RunnerError:
        raise
    except requests.exceptions.ConnectionError as exc:
        raise RunnerError(_unreachable(exc)) from exc
    except requests.exceptions.RequestException as exc:
        raise RunnerError(f"The Docker engine did not answer in time while trying to {action}: {exc}.") from exc
    except DockerException as exc:
        if not isinstance(exc, APIError) and "Error while fetching server API version" in str(exc):
            raise RunnerError(_unreachable(exc)) from exc
        raise RunnerError(f"Docker could not {action}: {_why(exc)}.") from exc
