"""Executing a transform job: start the model's serving hosts (one per instance), send every input
object through `/invocations` as the job's SplitType / BatchStrategy / MaxPayloadInMB /
MaxConcurrentTransforms / DataProcessing say, and write `<S3OutputPath>/<key relative to the input>.out`.

Input objects are dealt out to the instances in turn (InstanceCount > 1 splits the files, as the service
does). Within an instance, up to MaxConcurrentTransforms requests are in flight and outputs are assembled
in input order. A container's `GET /execution-parameters` supplies what the request leaves unset.
Container output goes to `/aws/sagemaker/TransformJobs` stream `<job>/<instance-id>-<epoch>`; what the
emulator itself says about the data goes to `<that stream>/data-log`, as on the service.
"""

from __future__ import annotations

import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from emulator.jobs.context import JobRun
from emulator.jobs.logsink import LogSink
from emulator.jobs.staging import S3Object, S3Stager, StagingError
from emulator.jobs.transform_filters import DataProcessing, FilterError, split_response
from emulator.jobs.transform_invoke import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_SECONDS,
    InvocationClient,
    InvocationError,
    ordered_map,
)
from emulator.jobs.transform_records import (
    Item,
    RecordError,
    batches,
    max_payload_bytes,
    payload_of,
    separator_for,
    split_records,
)
from emulator.sagemaker import models
from emulator.serving import ServingError, ServingHosts, ServingSpec, instance_id

LOG_GROUP = "/aws/sagemaker/TransformJobs"
MAX_REASON = 1024
STOP_CHECK_SECONDS = 0.25
DEFAULTS: dict[str, Any] = {"BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6, "MaxConcurrentTransforms": 1}
_STRATEGY_ENV = {"SingleRecord": "SINGLE_RECORD", "MultiRecord": "MULTI_RECORD"}


class JobEnded(Exception):
    """Processing ends early: `status` is Stopped or Failed, `reason` the FailureReason."""

    def __init__(self, status: str, reason: str | None = None) -> None:
        super().__init__(reason or status)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Plan:
    """How one job sends its data; fixed once the serving hosts are up."""

    strategy: str
    max_payload_mb: int
    concurrency: int
    split_type: str
    compression: str
    assemble_lines: bool
    processing: DataProcessing
    headers: dict[str, str]
    timeout: float
    retries: int
    output_path: str


def run_transform_job(run: JobRun) -> None:
    document = run.current().document
    started = time.time()
    run.update(lambda current: {**current, "TransformStartTime": started})
    count = int(document["TransformResources"]["InstanceCount"])
    streams = [f"{run.name}/{instance_id()}-{int(started)}" for _ in range(count)]
    data_logs = [LogSink(run.logs, LOG_GROUP, f"{stream}/data-log") for stream in streams]
    control = _Control(run)
    try:
        status, reason = _run(run, document, streams, data_logs, control), None
    except JobEnded as ended:
        status, reason = ended.status, ended.reason
        if reason:
            data_logs[0].write(f"[sagemaker logs]: {reason}")
    finally:
        for sink in data_logs:
            sink.flush()
    _finish(run, status, reason)


def _run(run: JobRun, document: dict[str, Any], streams: list[str], data_logs: list[LogSink], control: _Control) -> str:
    model = models.find_model(run.store, run.settings.region, run.settings.account_id, document["ModelName"])
    if model is None:
        raise JobEnded(
            "Failed",
            "ClientError: "
            + models.not_found_message(run.settings.region, run.settings.account_id, document["ModelName"]),
        )
    stager = S3Stager(run.s3, run.settings.data_dir / "cache" / "s3", data_logs[0].write)
    objects = _input_objects(document, stager)
    hosts = _start_hosts(run, document, model.document, streams, control)
    try:
        plan = _plan(document, _offered_parameters(hosts.urls[0]))
        clients = [InvocationClient(url, plan.timeout, plan.retries, plan.headers) for url in hosts.urls]
        for sink in data_logs:
            sink.write(
                f"[sagemaker logs]: MaxConcurrentTransforms={plan.concurrency}, MaxPayloadInMB={plan.max_payload_mb}, "
                f"BatchStrategy={_STRATEGY_ENV[plan.strategy]}"
            )
        _process_all(run, plan, objects, clients, data_logs, stager, control, hosts)
    finally:
        hosts.stop()
    return "Completed"


class _Control:
    """Whether to stop now: StopTransformJob (the work item's flag, read at most every quarter second),
    worker shutdown, or a failure on another instance."""

    def __init__(self, run: JobRun) -> None:
        self._run = run
        self._checked = 0.0
        self._stop_requested = False
        self.failure: JobEnded | None = None
        self._lock = threading.Lock()

    def fail(self, ended: JobEnded) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = ended

    def stop_requested(self) -> bool:
        now = time.monotonic()
        if not self._stop_requested and now - self._checked >= STOP_CHECK_SECONDS:
            self._checked = now
            current = self._run.store.work.get(self._run.kind, self._run.name)
            self._stop_requested = current is not None and current.stop_requested
        return self._stop_requested

    def check(self) -> None:
        if self._run.shutdown.is_set():
            raise JobEnded("Failed", JobRun.INTERRUPTED_REASON)
        if self.stop_requested():
            raise JobEnded("Stopped")
        if self.failure is not None:
            raise self.failure


def _input_objects(document: dict[str, Any], stager: S3Stager) -> list[S3Object]:
    source = document["TransformInput"]["DataSource"]["S3DataSource"]
    try:
        if source["S3DataType"] == "ManifestFile":
            return stager.objects_in_manifest(source["S3Uri"])
        return stager.objects_under(source["S3Uri"])
    except StagingError as error:
        raise JobEnded("Failed", f"ClientError: {error}") from None


def _start_hosts(
    run: JobRun, document: dict[str, Any], model: dict[str, Any], streams: list[str], control: _Control
) -> ServingHosts:
    environment = {**document.get("Environment", {}), "SAGEMAKER_BATCH": "True"}
    if "BatchStrategy" in document:
        environment["SAGEMAKER_BATCH_STRATEGY"] = _STRATEGY_ENV[document["BatchStrategy"]]
    if "MaxPayloadInMB" in document:
        environment["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(document["MaxPayloadInMB"])
    if "MaxConcurrentTransforms" in document:
        environment["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(document["MaxConcurrentTransforms"])
    spec = ServingSpec(
        kind="TransformJob",
        name=run.name,
        model=model,
        instance_type=document["TransformResources"]["InstanceType"],
        log_group=LOG_GROUP,
        log_streams=streams,
        environment=environment,
        labels={"sagemaker-emulator.arn": document["TransformJobArn"]},
    )

    def should_abort() -> bool:
        return run.shutdown.is_set() or control.stop_requested()

    try:
        return ServingHosts.start(
            run,
            spec,
            directory=run.directory / "serving",
            on_handles=lambda handles: run.store.work.record_handles(run.item.id, handles),
            should_abort=should_abort,
        )
    except ServingError as error:
        control.check()
        raise JobEnded("Failed", str(error)) from None


def _offered_parameters(url: str) -> dict[str, Any]:
    probe = InvocationClient(url, timeout=30, max_retries=0, headers={})
    try:
        return probe.execution_parameters()
    finally:
        probe.close()


def _plan(document: dict[str, Any], offered: dict[str, Any]) -> Plan:
    """The request's settings, else what the container offers, else the service defaults."""

    def setting(name: str) -> Any:
        if name in document:
            return document[name]
        return offered.get(name, DEFAULTS[name])

    offered_strategy = str(setting("BatchStrategy"))
    strategy = {"SINGLE_RECORD": "SingleRecord", "MULTI_RECORD": "MultiRecord"}.get(offered_strategy, offered_strategy)
    if strategy not in _STRATEGY_ENV:
        strategy = str(DEFAULTS["BatchStrategy"])
    transform_input, transform_output = document["TransformInput"], document.get("TransformOutput", {})
    try:
        processing = DataProcessing.from_request(
            document.get("DataProcessing", {}), transform_input.get("ContentType"), transform_output.get("Accept")
        )
    except FilterError as error:
        raise JobEnded("Failed", f"ClientError: {error}") from None
    headers = {}  # only what the job names: a container applies its own defaults to the rest
    if transform_input.get("ContentType"):
        headers["Content-Type"] = transform_input["ContentType"]
    if transform_output.get("Accept"):
        headers["Accept"] = transform_output["Accept"]
    config = document.get("ModelClientConfig", {})
    return Plan(
        strategy=strategy,
        max_payload_mb=int(setting("MaxPayloadInMB")),
        concurrency=max(1, int(setting("MaxConcurrentTransforms") or 1)),
        split_type=transform_input.get("SplitType", "None"),
        compression=transform_input.get("CompressionType", "None"),
        assemble_lines=transform_output.get("AssembleWith", "None") == "Line",
        processing=processing,
        headers=headers,
        timeout=float(config.get("InvocationsTimeoutInSeconds", DEFAULT_TIMEOUT_SECONDS)),
        retries=int(config.get("InvocationsMaxRetries", DEFAULT_MAX_RETRIES)),
        output_path=transform_output["S3OutputPath"].rstrip("/"),
    )


def _process_all(
    run: JobRun,
    plan: Plan,
    objects: list[S3Object],
    clients: list[InvocationClient],
    data_logs: list[LogSink],
    stager: S3Stager,
    control: _Control,
    hosts: ServingHosts,
) -> None:
    """Every instance works through its share of the objects in its own thread."""
    threads = []
    for index, client in enumerate(clients):
        share = objects[index :: len(clients)]
        worker = _Instance(index, run, plan, client, data_logs[index], stager, control, hosts)
        threads.append(threading.Thread(target=worker.run, args=(share,), name=f"transform-{run.name}-{index + 1}"))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for client in clients:
        client.close()
    control.check()


class _Instance:
    def __init__(
        self,
        index: int,
        run: JobRun,
        plan: Plan,
        client: InvocationClient,
        data_log: LogSink,
        stager: S3Stager,
        control: _Control,
        hosts: ServingHosts,
    ) -> None:
        self.index, self.plan, self.client = index, plan, client
        self.data_log, self.stager, self.control, self.hosts = data_log, stager, control, hosts
        self.scratch = run.directory / f"instance-{index + 1}"

    def run(self, share: list[S3Object]) -> None:
        try:
            with ThreadPoolExecutor(self.plan.concurrency, thread_name_prefix="invoke") as pool:
                for item in share:
                    self.control.check()
                    self._transform(item, pool)
        except JobEnded as ended:
            self.control.fail(ended)
        except Exception as error:  # one instance's bug fails the job, not the worker
            self.control.fail(JobEnded("Failed", f"InternalServerError: the emulator failed: {error!r}"))

    def _transform(self, item: S3Object, pool: ThreadPoolExecutor) -> None:
        uri = f"s3://{item.bucket}/{item.key}"
        try:
            data = self._read(item)
        except (StagingError, OSError, EOFError) as error:
            raise JobEnded("Failed", f"ClientError: {uri}: {error}") from None
        target = self.scratch / "output" / (item.relative + ".out")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with target.open("wb") as output:
                records, requests = self._send(data, output, pool)
        except (RecordError, FilterError) as error:
            raise JobEnded("Failed", f"ClientError: {uri}: {error}") from None
        except InvocationError as error:
            self._log_model_error(uri, error)
            raise JobEnded("Failed", self._invocation_reason(uri, error)) from None
        try:
            self.stager.upload_file(target, output_key(self.plan.output_path, item.relative))
        except StagingError as error:
            raise JobEnded("Failed", f"ClientError: {error}") from None
        target.unlink(missing_ok=True)
        self.data_log.write(f"[sagemaker logs]: {uri}: {records} records transformed in {requests} requests")

    def _read(self, item: S3Object) -> bytes:
        directory = self.scratch / "input"
        self.stager.download([item], directory)
        path = directory / item.relative
        try:
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
        return gzip.decompress(data) if self.plan.compression == "Gzip" else data

    def _send(self, data: bytes, output: Any, pool: ThreadPoolExecutor) -> tuple[int, int]:
        """Send one object's records; returns how many records and requests it took."""
        plan, processing = self.plan, self.plan.processing
        records = requests = 0
        items = (Item(processing.filter_input(record), record) for record in split_records(data, plan.split_type))
        limit = max_payload_bytes(plan.max_payload_mb)
        groups = self._checked(batches(items, plan.strategy, limit, separator_for(plan.split_type)))
        for group, body in ordered_map(pool, self._invoke, groups, plan.concurrency):
            records, requests = records + len(group), requests + 1
            if processing.per_record_output:
                outputs = split_response(body, len(group), processing.output_format or "csv")
                for item, result in zip(group, outputs, strict=True):
                    output.write(processing.finish(item.origin, result))
                    output.write(b"\n" if plan.assemble_lines else b"")
            else:
                output.write(body)
                if plan.assemble_lines and not body.endswith(b"\n"):
                    output.write(b"\n")
        return records, requests

    def _checked(self, groups: Any) -> Any:
        for group in groups:
            self.control.check()
            yield group

    def _invoke(self, group: list[Item[bytes]]) -> bytes:
        return self.client.invoke(payload_of(group, separator_for(self.plan.split_type)))

    def _log_model_error(self, uri: str, error: InvocationError) -> None:
        self.data_log.write(f"[sagemaker logs]: {uri}: ClientError: {error.status or 'no response'}")
        if error.body:
            self.data_log.write(f"[sagemaker logs]: {uri}: Message:")
            for line in error.body.decode("utf-8", "replace").splitlines()[:50]:
                self.data_log.write(f"[sagemaker logs]: {uri}: {line}")

    def _invocation_reason(self, uri: str, error: InvocationError) -> str:
        reason = f"ClientError: {uri}: {error}"
        exited = [code for index, code in self.hosts.exited() if index == self.index]
        if exited:
            reason += (
                f"\nThe serving container exited with code {exited[0]}. Last log lines:\n{self.hosts.tail(self.index)}"
            )
        return reason


def _finish(run: JobRun, status: str, reason: str | None) -> None:
    ended = time.time()

    def change(document: dict[str, Any]) -> dict[str, Any]:
        document.update(TransformJobStatus=status, TransformEndTime=ended)
        if reason:
            document["FailureReason"] = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."
        return document

    run.update(change, status=status)


def output_key(output_path: str, relative: str) -> str:
    """Where an input object's output lands: `<S3OutputPath>/<key relative to the input prefix>.out`."""
    return f"{output_path.rstrip('/')}/{PurePosixPath(relative).as_posix()}.out"
