"""Serving a model: the hosts that transform jobs and endpoints send requests to.

A serving host follows SageMaker's container contract: `<image> serve` with the model at `/opt/ml/model`
(tarballs extracted), HTTP `GET /ping` (200 when ready), `POST /invocations`, optional
`GET /execution-parameters`. The runner decides where that runs (a container publishing 8080 on a free
loopback port, or, in the process runner, `emulator.serving.inference` on a free port); this package stages
the model, starts the hosts, waits for `/ping` and streams their output to CloudWatch Logs.

Use (from a worker executor that has a `JobRun`)::

    from emulator.serving import ServingHosts, ServingSpec, ServingError, instance_id

    spec = ServingSpec(
        kind="TransformJob", name=job_name, model=model_document,     # DescribeModel document
        instance_type="ml.m5.large",
        log_group="/aws/sagemaker/TransformJobs",
        log_streams=[f"{job_name}/{instance_id()}-{int(time.time())}"],   # one per instance
        environment={"SAGEMAKER_BATCH": "True", ...},                    # on top of the model's Environment
    )
    try:
        hosts = ServingHosts.start(run, spec, directory=run.directory / "serving",
                                   on_handles=lambda h: run.store.work.record_handles(run.item.id, h),
                                   should_abort=lambda: run.shutdown.is_set())
    except ServingError as error:   # staging failed, the runner cannot serve the image, the model exited
        fail(str(error))            # or never answered /ping: the message carries its last log lines
    try:
        # any HTTP client; emulator.serving.client.ServingClient (asyncio) adds ~0.5 ms a request, where
        # httpx's async client adds ~10 ms
        await client.post(f"{hosts.urls[0]}/invocations", body, {"Content-Type": "text/csv"})
        hosts.exited()              # [(index, exit code)] of hosts that died meanwhile
        hosts.tail(0)               # last log lines of host 0, for a FailureReason
    finally:
        hosts.stop()                # SIGTERM, grace, SIGKILL; logs flushed; runner cleanup; idempotent

Not for: routing InvokeEndpoint requests (`emulator.sagemaker.runtime`) or endpoint lifecycles
(`emulator.jobs.endpoints`). The inference server for framework images lives in `emulator.serving.inference`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from emulator.serving.hosts import ServingHosts, ServingSpec, instance_id
    from emulator.serving.model_files import ServingContainer, ServingError, serving_container

# Imported on first use: the inference server (`emulator.serving.inference`, a separate process per serving
# host) must start without loading the worker's machinery (store, logs, runners).
_EXPORTS = {
    "ServingHosts": "emulator.serving.hosts",
    "ServingSpec": "emulator.serving.hosts",
    "instance_id": "emulator.serving.hosts",
    "ServingContainer": "emulator.serving.model_files",
    "ServingError": "emulator.serving.model_files",
    "serving_container": "emulator.serving.model_files",
}
__all__ = ["ServingContainer", "ServingError", "ServingHosts", "ServingSpec", "instance_id", "serving_container"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
