"""A GPU instance type in both runners (`runner_env`): the job runs. On a machine without GPUs (as here)
the docker runner says in the job's log that it runs without them; the process runner's jobs see this
machine's devices as they are, so it has nothing to say."""

from __future__ import annotations

import boto3
import docker

from emulator.jobs.runners.docker import _engine_has_gpus
from emulator.testing import RunningEmulator
from tests.jobs.conftest import runner_of
from tests.jobs.test_download_cache import run
from tests.jobs.test_training_process import low_level_job, upload_training_data


def test_a_gpu_instance_type_runs_and_the_log_says_whether_it_has_gpus(
    runner_env: RunningEmulator, unique: str
) -> None:
    sm = boto3.client("sagemaker")
    request = low_level_job(f"gpu-{unique}", upload_training_data(unique))
    request["ResourceConfig"]["InstanceType"] = "ml.g4dn.xlarge"
    lines = run(sm, request, "print('trained', flush=True)")
    assert "trained" in lines
    notes = [line for line in lines if "has GPUs" in line]
    if runner_of(runner_env) == "docker" and not _engine_has_gpus(docker.from_env().info()):
        assert notes == [
            "[emulator] ml.g4dn.xlarge has GPUs, but this Docker engine has no NVIDIA runtime "
            "(nvidia-container-toolkit): the job runs without GPUs."
        ]
    else:  # the process runner, or an engine that gives the job its GPUs
        assert notes == []
