"""Choosing a runner by name: `docker`, `process`, or `auto` (docker when an engine answers)."""

from __future__ import annotations

from pathlib import Path

from emulator.jobs.runners.base import Runner

RUNNER_NAMES = ("auto", "docker", "process")


def docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def resolve(name: str) -> str:
    """The concrete runner an `auto|docker|process` setting means on this machine."""
    if name not in RUNNER_NAMES:
        raise ValueError(f"unknown runner {name!r}; choose one of {', '.join(RUNNER_NAMES)}")
    if name == "auto":
        return "docker" if docker_answers() else "process"
    return name


def create(
    name: str, work_dir: Path, image_map: dict[str, str] | None = None, *, docker_network: str | None = None
) -> Runner:
    concrete = resolve(name)
    if concrete == "docker":
        from emulator.jobs.runners.docker import DockerRunner

        return DockerRunner(image_map=image_map or {}, network=docker_network)  # type: ignore[return-value]
    from emulator.jobs.runners.process import ProcessRunner

    return ProcessRunner(work_dir, image_map=image_map or {})
