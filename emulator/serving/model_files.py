"""Which container a model serves, and its `/opt/ml/model` on this machine.

`serving_container` picks the container of a DescribeModel document (PrimaryContainer, or the single entry of
Containers; a container naming a ModelPackageName takes image, model data and environment from the package's
InferenceSpecification). `stage_model_data` fills a host's model directory the way SageMaker does: a
`ModelDataUrl` tarball (or `ModelDataSource` with CompressionType Gzip) is extracted, an uncompressed
`ModelDataSource` S3Prefix lands by relative key, an S3Object by file name. Downloads go through the job
download cache (`S3Stager`), so a model served again is not fetched again. `stage_source_code` does the same
for an S3 `sourcedir.tar.gz` (SAGEMAKER_SUBMIT_DIRECTORY), into `/opt/ml/code`.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.jobs.staging import S3Stager, StagingError


class ServingError(Exception):
    """A model cannot be served; the message says why and what to do (shown as a FailureReason)."""


@dataclass(frozen=True)
class ServingContainer:
    image: str
    environment: Mapping[str, str]
    model_data_url: str | None = None
    model_data_source: Mapping[str, Any] | None = None


def serving_container(
    model: Mapping[str, Any], find_package: Callable[[str], Mapping[str, Any] | None] | None = None
) -> ServingContainer:
    """The container to serve for a DescribeModel document."""
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else list(model.get("Containers", []))
    name = model.get("ModelName", "the model")
    if not containers:
        raise ServingError(f"Model {name} has no PrimaryContainer or Containers to serve.")
    if len(containers) > 1:
        raise ServingError(
            f"Model {name} is an inference pipeline of {len(containers)} containers; this emulator serves models "
            "with one container."
        )
    container = dict(containers[0])
    if container.get("ModelPackageName") and not container.get("Image"):
        container = _from_package(container, find_package)
    if container.get("Mode") == "MultiModel":
        raise ServingError(f"Model {name} is a multi-model container (Mode MultiModel), which is not supported.")
    if not container.get("Image"):
        raise ServingError(f"Model {name}'s container has no Image.")
    return ServingContainer(
        image=container["Image"],
        environment={str(key): str(value) for key, value in (container.get("Environment") or {}).items()},
        model_data_url=container.get("ModelDataUrl") or None,
        model_data_source=container.get("ModelDataSource") or None,
    )


def _from_package(
    container: dict[str, Any], find_package: Callable[[str], Mapping[str, Any] | None] | None
) -> dict[str, Any]:
    package_name = container["ModelPackageName"]
    package = find_package(package_name) if find_package else None
    if package is None:
        raise ServingError(f"Model package {package_name} does not exist, so its model cannot be served.")
    inner = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not inner:
        raise ServingError(f"Model package {package_name} has no InferenceSpecification.Containers to serve.")
    return {
        **inner[0],
        "Environment": {**(inner[0].get("Environment") or {}), **(container.get("Environment") or {})},
    }


def stage_model_data(container: ServingContainer, stager: S3Stager, model_dir: Path, scratch: Path) -> None:
    """Fill `model_dir` (the host's /opt/ml/model) from the container's model data; nothing if it has none."""
    model_dir.mkdir(parents=True, exist_ok=True)
    source = (container.model_data_source or {}).get("S3DataSource")
    if source:
        if source.get("CompressionType", "None") == "Gzip":
            _extract_tarball(stager, source["S3Uri"], model_dir, scratch)
        else:
            stager.download(stager.objects_under(source["S3Uri"]), model_dir)
    elif container.model_data_url:
        _extract_tarball(stager, container.model_data_url, model_dir, scratch)


def stage_source_code(container: ServingContainer, stager: S3Stager, code_dir: Path, scratch: Path) -> bool:
    """Extract an S3 `sourcedir.tar.gz` named by SAGEMAKER_SUBMIT_DIRECTORY into `code_dir` (through the
    download cache); True when it did. The framework server then finds the code there instead of fetching it."""
    submit = container.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if not (submit.startswith("s3://") and submit.endswith(".tar.gz")):
        return False
    _extract_tarball(stager, submit, code_dir, scratch)
    return True


def _extract_tarball(stager: S3Stager, uri: str, target: Path, scratch: Path) -> None:
    objects = stager.objects_under(uri)
    exact = [item for item in objects if f"s3://{item.bucket}/{item.key}" == uri]
    if not exact:
        raise StagingError(f"{uri} does not exist")
    stager.download(exact, scratch)
    archive = scratch / exact[0].relative
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tarball:
            tarball.extractall(target, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise StagingError(f"{uri} is not a readable tar.gz archive: {error}") from None
    archive.unlink(missing_ok=True)
