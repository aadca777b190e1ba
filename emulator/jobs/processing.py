"""Executing a processing job: inputs to each `LocalPath`, the config files under /opt/ml/config,
the hosts run with AppSpecification's entrypoint and arguments, outputs from each `LocalPath` to its
`S3Uri`, and the end status with `ExitMessage` / `FailureReason` as the service reports them.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.jobs.context import JobRun
from emulator.jobs.execution import Ending, HostsOutcome, run_hosts
from emulator.jobs.hosts import HostTree
from emulator.jobs.logsink import LogSink, with_log_tail
from emulator.jobs.runners.base import HostSpec, JobSpec
from emulator.jobs.staging import S3Stager, StagingError, shard, write_json

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
MAX_TEXT = 1024
_CONFIG_MEMBERS = (
    "ProcessingJobArn", "ProcessingJobName", "AppSpecification", "Environment", "ProcessingInputs",
    "ProcessingOutputConfig", "ProcessingResources", "RoleArn", "StoppingCondition",
)  # fmt: skip


def run_processing_job(run: JobRun) -> None:
    document = run.current().document
    cluster = document["ProcessingResources"]["ClusterConfig"]
    hosts = [f"algo-{index}" for index in range(1, int(cluster["InstanceCount"]) + 1)]
    started = time.time()
    run.update(lambda current: {**current, "ProcessingStartTime": started})
    sinks = [LogSink(run.logs, LOG_GROUP, f"{run.name}/{host}-{int(started)}") for host in hosts]
    stager = S3Stager(run.s3, run.settings.data_dir / "cache" / "s3", sinks[0].write)
    trees = [HostTree(run.directory / host) for host in hosts]
    try:
        specs = [_stage_host(run, document, stager, trees, hosts, index) for index in range(len(hosts))]
    except StagingError as error:
        _finish(run, "Failed", failure=f"ClientError: {error}")
        return
    spec = JobSpec("ProcessingJob", run.name, cluster["InstanceType"], tuple(specs), say=sinks[0].write)
    max_runtime = document.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    outcome = run_hosts(run.runner, run.store.work, run.item, spec, sinks, max_runtime, run.shutdown)
    exit_message = _read_first(trees, "output/message")
    if outcome.ending is Ending.INTERRUPTED:
        _finish(run, "Failed", exit_message=exit_message, failure=JobRun.INTERRUPTED_REASON)
        return
    if outcome.ending is not Ending.EXITED:
        _finish(run, "Stopped", exit_message=exit_message)
        return
    if not outcome.succeeded:
        _finish(run, "Failed", exit_message=exit_message, failure=_failure_reason(outcome, trees, sinks))
        return
    try:
        _upload_outputs(document, stager, trees)
    except StagingError as error:
        _finish(run, "Failed", exit_message=exit_message, failure=f"ClientError: {error}")
        return
    _finish(run, "Completed", exit_message=exit_message)


def _stage_host(
    run: JobRun, document: dict[str, Any], stager: S3Stager, trees: list[HostTree], hosts: list[str], index: int
) -> HostSpec:
    tree = trees[index]
    config = {member: document[member] for member in _CONFIG_MEMBERS if member in document}
    write_json(tree.opt_ml / "config" / "processingjobconfig.json", config)
    write_json(
        tree.opt_ml / "config" / "resourceconfig.json",
        {"current_host": hosts[index], "hosts": hosts, "network_interface_name": "eth0"},
    )
    for item in document.get("ProcessingInputs", []):
        source = item["S3Input"]
        objects = stager.objects_of(source["S3Uri"], source.get("S3DataType"), f"input '{item['InputName']}'")
        chosen = shard(objects, index, len(hosts), source.get("S3DataDistributionType", "FullyReplicated"))
        stager.download(chosen, tree.path(source["LocalPath"]))
    for output in document.get("ProcessingOutputConfig", {}).get("Outputs", []):
        tree.path(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
    (tree.opt_ml / "output").mkdir(parents=True, exist_ok=True)
    application = document["AppSpecification"]
    return HostSpec(
        host=hosts[index],
        image=application["ImageUri"],
        entrypoint=tuple(application["ContainerEntrypoint"]) if application.get("ContainerEntrypoint") else None,
        arguments=tuple(application.get("ContainerArguments", [])),
        environment={**document.get("Environment", {}), **run.aws_environment()},
        mounts=tree.mounts(),
    )


def _upload_outputs(document: dict[str, Any], stager: S3Stager, trees: list[HostTree]) -> None:
    for output in document.get("ProcessingOutputConfig", {}).get("Outputs", []):
        target = output["S3Output"]
        for tree in trees:
            stager.upload_tree(tree.path(target["LocalPath"]), target["S3Uri"])


def _read_first(trees: list[HostTree], relative: str) -> str | None:
    for tree in trees:
        path = tree.opt_ml / relative
        if path.is_file():
            text = path.read_text(errors="replace").strip()
            if text:
                return text[:MAX_TEXT]
    return None


def _failure_reason(outcome: HostsOutcome, trees: list[HostTree], sinks: list[LogSink]) -> str:
    written = _read_first(trees, "output/failure")
    if written:
        return f"AlgorithmError: {written}"[:MAX_TEXT]
    index = next(i for i, code in enumerate(outcome.exit_codes) if code != 0)
    head = f"AlgorithmError: algo-{index + 1} exited with code {outcome.exit_codes[index]}"
    return with_log_tail(head, sinks[index].tail[-10:], MAX_TEXT)


def _finish(run: JobRun, status: str, *, exit_message: str | None = None, failure: str | None = None) -> None:
    ended = time.time()

    def change(document: dict[str, Any]) -> dict[str, Any]:
        document.update(ProcessingJobStatus=status, ProcessingEndTime=ended)
        if exit_message:
            document["ExitMessage"] = exit_message
        if failure:
            document["FailureReason"] = failure
        return document

    run.update(change, status=status)
