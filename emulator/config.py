"""Settings of one emulator process, read once from flags and environment variables.

Every component receives a `Settings` value; nothing else reads the environment for configuration.
Environment variables use the `SAGEMAKER_EMULATOR_` prefix (e.g. `SAGEMAKER_EMULATOR_PORT`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs

ENV_PREFIX = "SAGEMAKER_EMULATOR_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
# Dummy credentials handed to clients; moto maps them to the configured account.
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("sagemaker-emulator"))


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def _image_map(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{ENV_PREFIX}IMAGE_MAP must be a JSON object of image URI -> local image: {error}") from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError(f"{ENV_PREFIX}IMAGE_MAP must be a JSON object of image URI -> local image name")
    return {str(key): value for key, value in mapping.items()}


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None
    account_id: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    runner: str = "auto"
    run_worker: bool = True
    max_concurrent_jobs: int | None = None  # None: the CPU count
    # Image URI -> local image name, for images that cannot be pulled (SAGEMAKER_EMULATOR_IMAGE_MAP, JSON).
    image_map: dict[str, str] = field(default_factory=dict)
    # The API's URL as workers and job containers reach it, when not http://<host>:<port> (a worker in another
    # container: SAGEMAKER_EMULATOR_API_URL=http://emulator:4599 in the compose setup).
    api_url: str | None = None
    # An existing Docker network every job container joins (docker runner), instead of host networking:
    # the compose network, so jobs reach the API by service name (SAGEMAKER_EMULATOR_DOCKER_NETWORK).
    docker_network: str | None = None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Defaults, then environment variables, then explicit overrides (flags) that are not None."""
        settings = cls(
            host=_env("HOST", DEFAULT_HOST) or DEFAULT_HOST,
            port=int(_env("PORT", str(DEFAULT_PORT)) or DEFAULT_PORT),
            data_dir=Path(_env("DATA_DIR") or default_data_dir()).expanduser(),
            database_url=_env("DATABASE_URL"),
            account_id=_env("ACCOUNT_ID", DEFAULT_ACCOUNT) or DEFAULT_ACCOUNT,
            region=_env("REGION", DEFAULT_REGION) or DEFAULT_REGION,
            runner=_env("RUNNER", "auto") or "auto",
            run_worker=(_env("WORKER", "true") or "true").lower() not in ("0", "false", "no"),
            image_map=_image_map(_env("IMAGE_MAP")),
            api_url=(_env("API_URL") or "").rstrip("/") or None,
            docker_network=_env("DOCKER_NETWORK") or None,
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"])).expanduser()
        return replace(settings, **given)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        if self.api_url:
            return self.api_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'emulator.db'}"

    @property
    def default_bucket(self) -> str:
        """The bucket the SageMaker SDK derives: `sagemaker-<region>-<account>`."""
        return f"sagemaker-{self.region}-{self.account_id}"

    @property
    def s3_dir(self) -> Path:
        return self.data_dir / "s3"

    @property
    def sdk_config_path(self) -> Path:
        return self.data_dir / "sagemaker-sdk-config.yaml"
