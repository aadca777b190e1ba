"""Executing a training job: stage every host's /opt/ml, run the hosts, collect metrics, upload
`model.tar.gz` and `output.tar.gz`, and end the job Completed, Failed or Stopped as the service does.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from emulator.jobs.context import JobRun
from emulator.jobs.execution import Ending, HostsOutcome, run_hosts
from emulator.jobs.hosts import HostTree
from emulator.jobs.logsink import LogSink, with_log_tail
from emulator.jobs.runners.base import HostSpec, JobSpec
from emulator.jobs.staging import S3Stager, StagingError, make_tarball, shard, write_json
from emulator.sagemaker.jobs import secondary_transition

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
MAX_REASON = 1024
# The sagemaker-training toolkit's failure file when it found no exception text in the script's stderr.
TOOLKIT_FOUND_NOTHING = 'ErrorMessage ""'
TOOLKIT_LOG = "sagemaker-training-toolkit "  # its log lines: "<time> sagemaker-training-toolkit ERROR …"
TAIL_LABEL = "Last lines the script printed"


class MetricCollector:
    """Applies `MetricDefinitions` regexes to log lines and keeps the last value of each metric."""

    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self._patterns = [(item["Name"], re.compile(item["Regex"])) for item in definitions]
        self.latest: dict[str, tuple[float, int]] = {}

    def observe(self, line: str, timestamp_ms: int) -> None:
        for name, pattern in self._patterns:
            match = pattern.search(line)
            if match:
                try:
                    value = float(match.group(1) if match.groups() else match.group(0))
                except ValueError:
                    continue
                if math.isfinite(value):
                    self.latest[name] = (value, timestamp_ms)

    def final(self) -> list[dict[str, Any]]:
        return [
            {"MetricName": name, "Value": value, "Timestamp": timestamp / 1000}
            for name, (value, timestamp) in self.latest.items()
        ]


def run_training_job(run: JobRun) -> None:
    document = run.current().document
    resources = document["ResourceConfig"]
    hosts = [f"algo-{index}" for index in range(1, int(resources.get("InstanceCount", 1)) + 1)]
    started = time.time()
    metrics = MetricCollector(document["AlgorithmSpecification"].get("MetricDefinitions", []))
    sinks = [LogSink(run.logs, LOG_GROUP, f"{run.name}/{host}-{int(started)}", metrics.observe) for host in hosts]
    _advance(run, "Downloading", "Downloading input data", TrainingStartTime=started)
    stager = S3Stager(run.s3, run.settings.data_dir / "cache" / "s3", sinks[0].write)
    trees = [HostTree(run.directory / host) for host in hosts]
    try:
        specs = [_stage_host(run, document, stager, trees[index], hosts, index) for index in range(len(hosts))]
    except StagingError as error:
        _finish(run, started, metrics, status="Failed", secondary="Failed", reason=f"ClientError: {error}")
        return
    _advance(run, "Training", "Training image download completed. Training in progress.")
    spec = JobSpec(
        "TrainingJob",
        run.name,
        resources["InstanceType"],
        tuple(specs),
        {"sagemaker-emulator.arn": run.current().arn or ""},
        say=sinks[0].write,
    )
    max_runtime = document.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    outcome = run_hosts(run.runner, run.store.work, run.item, spec, sinks, max_runtime, run.shutdown)
    _advance(run, "Uploading", "Uploading generated training model")
    try:
        artifacts = _upload_outputs(run, document, stager, trees)
    except StagingError as error:
        _finish(run, started, metrics, status="Failed", secondary="Failed", reason=f"ClientError: {error}")
        return
    _finish(run, started, metrics, **_ending(outcome, trees, sinks), artifacts=artifacts)


def _advance(run: JobRun, secondary: str, message: str, **members: Any) -> None:
    run.update(lambda document: {**secondary_transition(document, secondary, message, time.time()), **members})


def _stage_host(
    run: JobRun, document: dict[str, Any], stager: S3Stager, tree: HostTree, hosts: list[str], index: int
) -> HostSpec:
    config = tree.opt_ml / "input" / "config"
    instance_type = document["ResourceConfig"]["InstanceType"]
    write_json(config / "hyperparameters.json", document.get("HyperParameters", {}))
    write_json(config / "resourceconfig.json", _resource_config(hosts[index], hosts, instance_type))
    channels = document.get("InputDataConfig", [])
    write_json(
        config / "inputdataconfig.json",
        {channel["ChannelName"]: _channel_config(document, channel) for channel in channels},
    )
    for channel in channels:
        source = channel["DataSource"]["S3DataSource"]
        objects = stager.objects_of(source["S3Uri"], source["S3DataType"], f"channel '{channel['ChannelName']}'")
        chosen = shard(objects, index, len(hosts), source.get("S3DataDistributionType", "FullyReplicated"))
        stager.download(chosen, tree.opt_ml / "input" / "data" / channel["ChannelName"])
    for directory in ("model", "output/data", "code"):
        (tree.opt_ml / directory).mkdir(parents=True, exist_ok=True)
    checkpoint = document.get("CheckpointConfig")
    if checkpoint:
        local = tree.path(checkpoint.get("LocalPath", "/opt/ml/checkpoints"))
        local.mkdir(parents=True, exist_ok=True)
        bucket_objects = _existing(stager, checkpoint["S3Uri"])
        stager.download(bucket_objects, local)
    algorithm = document["AlgorithmSpecification"]
    entrypoint = algorithm.get("ContainerEntrypoint")
    return HostSpec(
        host=hosts[index],
        image=algorithm["TrainingImage"],
        entrypoint=tuple(entrypoint) if entrypoint else None,
        arguments=tuple(algorithm.get("ContainerArguments", ["train"] if not entrypoint else [])),
        environment={
            **document.get("Environment", {}),
            **run.aws_environment(),
            "TRAINING_JOB_NAME": run.name,
            "TRAINING_JOB_ARN": document["TrainingJobArn"],
        },
        mounts=tree.mounts(),
    )


def _existing(stager: S3Stager, uri: str) -> list[Any]:
    """The checkpoints already saved under `uri`, a folder (`…/checkpoints-old/` is not part of it)."""
    try:
        return stager.objects_under(uri.rstrip("/") + "/")
    except StagingError:
        return []


def _resource_config(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": instance_type, "hosts": hosts}
        ],
        "network_interface_name": "eth0",
    }


def _channel_config(document: dict[str, Any], channel: dict[str, Any]) -> dict[str, Any]:
    source = channel["DataSource"]["S3DataSource"]
    config = {
        "TrainingInputMode": channel.get(
            "InputMode", document["AlgorithmSpecification"].get("TrainingInputMode", "File")
        ),
        "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
    }
    if "ContentType" in channel:
        config["ContentType"] = channel["ContentType"]
    return config


def _upload_outputs(run: JobRun, document: dict[str, Any], stager: S3Stager, trees: list[HostTree]) -> str:
    """model.tar.gz, output.tar.gz and the checkpoints, uploaded at once (each upload mostly waits)."""
    base = document["OutputDataConfig"]["S3OutputPath"].rstrip("/") + f"/{run.name}/output"
    scratch = run.directory / "upload"
    model_uri = f"{base}/model.tar.gz"
    uploads: list[Callable[[], object]] = [
        lambda: stager.upload_file(make_tarball(trees[0].opt_ml / "model", scratch / "model.tar.gz"), model_uri),
        lambda: stager.upload_file(
            make_tarball(trees[0].opt_ml / "output" / "data", scratch / "output.tar.gz"), f"{base}/output.tar.gz"
        ),
    ]
    checkpoint = document.get("CheckpointConfig")
    if checkpoint:
        local = checkpoint.get("LocalPath", "/opt/ml/checkpoints")
        uploads += [partial(stager.upload_tree, tree.path(local), checkpoint["S3Uri"]) for tree in trees]
    with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
        for done in [pool.submit(upload) for upload in uploads]:
            done.result()  # re-raises a StagingError
    return model_uri


def _ending(outcome: HostsOutcome, trees: list[HostTree], sinks: list[LogSink]) -> dict[str, Any]:
    if outcome.ending is Ending.STOPPED:
        return {"status": "Stopped", "secondary": "Stopped", "reason": None}
    if outcome.ending is Ending.INTERRUPTED:
        return {"status": "Failed", "secondary": "Failed", "reason": JobRun.INTERRUPTED_REASON}
    if outcome.ending is Ending.MAX_RUNTIME:
        return {"status": "Stopped", "secondary": "MaxRuntimeExceeded", "reason": None}
    if outcome.succeeded:
        return {"status": "Completed", "secondary": "Completed", "reason": None}
    return {"status": "Failed", "secondary": "Failed", "reason": _failure_reason(outcome, trees, sinks)}


def _failure_reason(outcome: HostsOutcome, trees: list[HostTree], sinks: list[LogSink]) -> str:
    for tree, sink in zip(trees, sinks, strict=True):
        failure = tree.opt_ml / "output" / "failure"
        written = failure.read_text(errors="replace").strip() if failure.is_file() else ""
        if written and TOOLKIT_FOUND_NOTHING in written:
            # The toolkit saw no exception in the script's stderr (argparse errors, sys.exit("…")): what the
            # script printed last says what went wrong.
            return with_log_tail(f"AlgorithmError: {written}", _script_lines(sink.tail), MAX_REASON, TAIL_LABEL)
        if written:
            return f"AlgorithmError: {written}"[:MAX_REASON]
    index = next(i for i, code in enumerate(outcome.exit_codes) if code != 0)
    head = f"AlgorithmError: the training container algo-{index + 1} exited with code {outcome.exit_codes[index]}"
    return with_log_tail(head, sinks[index].tail[-10:], MAX_REASON)


def _script_lines(tail: list[str], count: int = 5) -> list[str]:
    """The last lines the user's script printed: those before the toolkit reports the failure, without
    the toolkit's own log lines."""
    end = next((i for i, line in enumerate(tail) if TOOLKIT_LOG in line and " ERROR " in line), len(tail))
    return [line for line in tail[:end] if line.strip() and TOOLKIT_LOG not in line][-count:]


def _finish(
    run: JobRun,
    started: float,
    metrics: MetricCollector,
    *,
    status: str,
    secondary: str,
    reason: str | None,
    artifacts: str | None = None,
) -> None:
    ended = time.time()
    seconds = max(1, math.ceil(ended - started))
    messages = {
        "Completed": "Training job completed",
        "Failed": "Training job failed",
        "Stopped": "Training job stopped",
        "MaxRuntimeExceeded": "Training job stopped: MaxRuntimeInSeconds was exceeded",
    }

    def change(document: dict[str, Any]) -> dict[str, Any]:
        document = secondary_transition(document, secondary, messages[secondary], ended)
        document.update(
            TrainingJobStatus=status,
            TrainingEndTime=ended,
            TrainingTimeInSeconds=seconds,
            BillableTimeInSeconds=seconds,
        )
        document["FinalMetricDataList"] = metrics.final()
        if reason:
            document["FailureReason"] = reason
        if artifacts:
            document["ModelArtifacts"] = {"S3ModelArtifacts": artifacts}
        return document

    run.update(change, status=status)
