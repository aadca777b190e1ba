"""The endpoint executor: serves an endpoint's variants for as long as the endpoint exists.

One resumable work item per endpoint (it takes no job slot). The executor starts every production variant's
serving hosts (`emulator.serving.ServingHosts`, one per instance), publishes their URLs in the row's
`extra["Routes"]` for InvokeEndpoint, moves Creating → InService (or Failed with the hosts' last log lines),
then watches the row: Updating starts the new deployment next to the old one and switches over when it is
ready (a failed update rolls back: InService with a FailureReason); Deleting stops everything and removes the
row; a host that dies is replaced. When the worker shuts down, the hosts are stopped and the item stays
claimed: the next worker resumes it and serves the endpoint again (that is how endpoints survive restarts).

Logs: group `/aws/sagemaker/Endpoints/<endpoint>`, one stream per instance, `<variant>/<instance id>`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from emulator.jobs.context import JobRun
from emulator.jobs.runners.base import JobSpec, RunnerError
from emulator.sagemaker import endpoints as api
from emulator.serving import ServingError, ServingHosts, ServingSpec, instance_id

POLL_SECONDS = 0.25
HEALTH_EVERY_POLLS = 4
ABORT_CHECK_SECONDS = 0.5
DEFAULT_HEALTH_CHECK_TIMEOUT_SECONDS = 600
MAX_REASON = 1024

Live = dict[str, ServingHosts]  # variant name -> its hosts


def run_endpoint(run: JobRun) -> None:
    EndpointExecutor(run).execute()


class EndpointExecutor:
    def __init__(self, run: JobRun) -> None:
        self.run = run
        self.name = run.name
        self.live: Live = {}
        self._hosts: list[ServingHosts] = []
        self._generation = 0
        self._last_abort_check = 0.0
        self._abort = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def execute(self) -> None:
        self._clean_leftovers()
        try:
            current = self.run.store.get(api.KIND, self.name)
            if current is None:
                return
            if current.status == api.DELETING:
                self._delete()
                return
            if self._first_deployment(current.status, current.extra):
                self._watch()
            if self._deletion_requested():  # a start or a replacement was cut short by DeleteEndpoint
                self._delete()
        finally:
            self._stop(list(self.live.values()))

    def _deletion_requested(self) -> bool:
        if self.run.shutdown.is_set():
            return False
        current = self.run.store.get(api.KIND, self.name)
        return current is not None and current.status == api.DELETING

    def _first_deployment(self, status: str | None, extra: dict[str, Any]) -> bool:
        """Serve what the row says (a pending update first, when resuming one); False when done."""
        if status == api.UPDATING and extra.get("PendingDeployment"):
            try:
                self.live = self._deploy(extra["PendingDeployment"])
                return self._publish(extra["PendingDeployment"], self.live, pending_done=True)
            except ServingError as error:
                if self._interrupted():
                    return False
                reason = self._reason(error)
                self._rollback(reason)
        try:
            self.live = self._deploy(extra["Deployment"])
        except ServingError as error:
            if not self._interrupted():
                self._fail(self._reason(error))
            return False
        return self._publish(extra["Deployment"], self.live, pending_done=False)

    def _watch(self) -> None:
        polls = 0
        while not self.run.shutdown.wait(POLL_SECONDS):
            current = self.run.store.get(api.KIND, self.name)
            if current is None:
                return
            if current.status == api.DELETING:
                self._delete()
                return
            if current.status == api.UPDATING and current.extra.get("PendingDeployment"):
                self._update(current.extra["PendingDeployment"])
                continue
            polls += 1
            if polls % HEALTH_EVERY_POLLS == 0 and not self._replace_dead_hosts(current.extra["Deployment"]):
                return

    def _update(self, pending: dict[str, Any]) -> None:
        try:
            new = self._deploy(pending)
        except ServingError as error:
            if not self._interrupted():
                self._rollback(self._reason(error))
            return
        old, self.live = self.live, new
        self._publish(pending, new, pending_done=True)
        self._stop(list(old.values()))

    def _replace_dead_hosts(self, deployment: dict[str, Any]) -> bool:
        for item in deployment["Variants"]:
            variant = item["Variant"]["VariantName"]
            hosts = self.live.get(variant)
            dead = hosts.exited() if hosts is not None else []
            if hosts is None or not dead:
                continue
            index, code = dead[0]
            hosts.sinks[index].write(f"[emulator] instance {index + 1} exited with code {code}; replacing the hosts")
            try:
                replacement = self._start_variant(item)
            except ServingError as error:
                if not self._interrupted():
                    self._fail(self._reason(error))
                return False
            self.live[variant] = replacement
            self._set_routes(self.live)
            self._stop([hosts])
        return True

    # -- serving --------------------------------------------------------------------------------------

    def _deploy(self, deployment: dict[str, Any]) -> Live:
        self._generation += 1
        started: Live = {}
        try:
            for item in deployment["Variants"]:
                started[item["Variant"]["VariantName"]] = self._start_variant(item)
        except BaseException:
            self._stop(list(started.values()))
            raise
        return started

    def _start_variant(self, item: dict[str, Any]) -> ServingHosts:
        variant = item["Variant"]
        count = 1 if variant.get("ServerlessConfig") else int(variant["InitialInstanceCount"])
        spec = ServingSpec(
            kind=api.KIND,
            name=f"{self.name}-{variant['VariantName']}",
            model=item["Model"],
            instance_type=variant.get("InstanceType", "ml.m5.large"),
            log_group=api.LOG_GROUP_PREFIX + self.name,
            log_streams=[f"{variant['VariantName']}/{instance_id()}" for _ in range(count)],
            ready_timeout_seconds=float(
                variant.get("ContainerStartupHealthCheckTimeoutInSeconds", DEFAULT_HEALTH_CHECK_TIMEOUT_SECONDS)
            ),
            labels={"sagemaker-emulator.arn": api.endpoint_arn(self._region, self._account, self.name)},
        )
        directory = self.run.directory / f"deployment-{self._generation}" / variant["VariantName"]
        try:
            hosts = ServingHosts.start(
                self.run, spec, directory=directory, on_handles=self._record, should_abort=self._aborting
            )
        except ServingError as error:
            raise ServingError(f"Production variant {variant['VariantName']}: {error}") from None
        self._hosts.append(hosts)
        return hosts

    def _record(self, handles: list[str]) -> None:
        """Every handle of this endpoint's hosts, running or starting, for reconciliation after a crash."""
        known = [handle for hosts in [*self.live.values(), *self._hosts] for handle in hosts.handles]
        self.run.store.work.record_handles(self.run.item.id, list(dict.fromkeys([*known, *handles])))

    def _stop(self, hosts: list[ServingHosts]) -> None:
        for item in hosts:
            with contextlib.suppress(Exception):
                item.stop()
            if item in self._hosts:
                self._hosts.remove(item)

    def _clean_leftovers(self) -> None:
        """Hosts a previous worker left behind (it crashed or was killed): stop and remove them."""
        handles = list(self.run.item.handles)
        if not handles:
            return
        for handle in handles:
            with contextlib.suppress(RunnerError):
                if self.run.runner.reconcile(handle):
                    self.run.runner.stop(handle, 5)
        with contextlib.suppress(RunnerError):
            self.run.runner.cleanup(JobSpec(api.KIND, self.name, "", ()), handles)
        self.run.store.work.record_handles(self.run.item.id, [])

    # -- the row --------------------------------------------------------------------------------------

    def _publish(self, deployment: dict[str, Any], live: Live, *, pending_done: bool) -> bool:
        """InService with `deployment`'s variants and routes; False when the endpoint is being deleted."""
        now = time.time()

        def document(current: dict[str, Any]) -> dict[str, Any]:
            current.update(
                EndpointStatus=api.IN_SERVICE,
                EndpointConfigName=deployment["EndpointConfigName"],
                ProductionVariants=[api.variant_summary(item, now) for item in deployment["Variants"]],
            )
            current.pop("PendingDeploymentSummary", None)
            if pending_done:
                current.pop("FailureReason", None)
            return current

        def extra(current: dict[str, Any]) -> dict[str, Any]:
            current.pop("PendingDeployment", None)
            return {**current, "Deployment": deployment, "Routes": _routes(deployment, live)}

        changed = api.change_endpoint(
            self.run.store,
            self.name,
            document,
            extra,
            status=api.IN_SERVICE,
            only_if=(api.CREATING, api.IN_SERVICE, api.UPDATING),
        )
        return changed is not None

    def _set_routes(self, live: Live) -> None:
        api.change_endpoint(
            self.run.store, self.name, extra=lambda current: {**current, "Routes": _routes(current["Deployment"], live)}
        )

    def _rollback(self, reason: str) -> None:
        def document(current: dict[str, Any]) -> dict[str, Any]:
            current.pop("PendingDeploymentSummary", None)
            return {**current, "EndpointStatus": api.IN_SERVICE, "FailureReason": reason}

        def extra(current: dict[str, Any]) -> dict[str, Any]:
            current.pop("PendingDeployment", None)
            return current

        api.change_endpoint(self.run.store, self.name, document, extra, status=api.IN_SERVICE, only_if=(api.UPDATING,))

    def _fail(self, reason: str) -> None:
        def document(current: dict[str, Any]) -> dict[str, Any]:
            current.pop("PendingDeploymentSummary", None)
            return {**current, "EndpointStatus": api.FAILED, "FailureReason": reason}

        changed = api.change_endpoint(
            self.run.store,
            self.name,
            document,
            lambda current: {key: value for key, value in current.items() if key != "Routes"},
            status=api.FAILED,
            only_if=(api.CREATING, api.IN_SERVICE, api.UPDATING),
        )
        if changed is None and not self.run.shutdown.is_set():
            self._delete()

    def _delete(self) -> None:
        self._stop(list(self.live.values()))
        self.live = {}
        api.remove_endpoint(self.run.store, self.name)

    # -- helpers --------------------------------------------------------------------------------------

    def _aborting(self) -> bool:
        """Polled while hosts start: the worker is shutting down or the endpoint is being deleted."""
        if self.run.shutdown.is_set():
            return True
        if time.monotonic() - self._last_abort_check >= ABORT_CHECK_SECONDS:
            self._last_abort_check = time.monotonic()
            current = self.run.store.get(api.KIND, self.name)
            self._abort = current is None or current.status == api.DELETING
        return self._abort

    def _interrupted(self) -> bool:
        """After a failed start: was it because of shutdown or deletion (then the failure is not reported)?"""
        self._last_abort_check = 0.0
        return self._aborting()

    @staticmethod
    def _reason(error: ServingError) -> str:
        text = str(error)
        return text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "..."

    @property
    def _region(self) -> str:
        return self.run.settings.region

    @property
    def _account(self) -> str:
        return self.run.settings.account_id


def _routes(deployment: dict[str, Any], live: Live) -> dict[str, Any]:
    return {
        item["Variant"]["VariantName"]: {
            "urls": list(live[item["Variant"]["VariantName"]].urls),
            "weight": float(item["Variant"].get("InitialVariantWeight", 1.0)),
        }
        for item in deployment["Variants"]
        if item["Variant"]["VariantName"] in live
    }
