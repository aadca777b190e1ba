"""Getting the user's inference code as the framework containers do, and the images' helper modules.

SAGEMAKER_SUBMIT_DIRECTORY is an S3 `sourcedir.tar.gz` (already extracted to SAGEMAKER_EMULATOR_SOURCE_DIR by
the worker, through its download cache; otherwise downloaded and extracted to /opt/ml/code), a directory, or
absent (then `<model dir>/code`, where the SDK repacks code, if it exists).
A `requirements.txt` there is installed with pip first. SAGEMAKER_PROGRAM names the script (`inference.py`).

`add_image_helpers_to_path` makes the helper modules user scripts import from inside the framework images
(`sagemaker_xgboost_container.encoder`, `sagemaker_containers.beta.framework`, `sagemaker_inference`)
importable, from `shims/`, our own minimal implementations; installed real packages take precedence.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

from emulator.serving.inference.handlers import import_user_module

SHIMS = Path(__file__).with_name("shims")
CODE_DIR = Path("/opt/ml/code")


def add_image_helpers_to_path() -> None:
    if str(SHIMS) not in sys.path:
        sys.path.append(str(SHIMS))


def load_user_module(model_dir: str) -> ModuleType | None:
    program = os.environ.get("SAGEMAKER_PROGRAM", "").strip()
    if not program:
        return None
    directory = code_directory(os.environ.get("SAGEMAKER_SUBMIT_DIRECTORY", "").strip(), Path(model_dir))
    requirements = directory / "requirements.txt"
    if requirements.is_file():
        print(f"inference server: installing {requirements}", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    sys.path.insert(0, str(directory))
    return import_user_module(program.removesuffix(".py"))


def code_directory(submit: str, model_dir: Path) -> Path:
    staged = os.environ.get("SAGEMAKER_EMULATOR_SOURCE_DIR")  # the worker extracted the S3 sourcedir here
    if submit.startswith("s3://") and staged and Path(staged).is_dir():
        return Path(staged)
    if submit.startswith("s3://"):
        return _download_source(submit)
    if submit and Path(submit).is_dir():
        return Path(submit)
    if submit and Path(submit).is_file() and tarfile.is_tarfile(submit):
        return _extract(Path(submit))
    if (model_dir / "code").is_dir():
        return model_dir / "code"
    return model_dir


def _download_source(uri: str) -> Path:
    import boto3

    bucket, _, key = uri[len("s3://") :].partition("/")
    CODE_DIR.mkdir(parents=True, exist_ok=True)
    archive = CODE_DIR.parent / "sourcedir.tar.gz"
    boto3.client("s3").download_file(bucket, key, str(archive))
    return _extract(archive)


def _extract(archive: Path) -> Path:
    CODE_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tarball:
        tarball.extractall(CODE_DIR, filter="data")
    return CODE_DIR
