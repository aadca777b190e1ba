"""The tuning job coordinator: launches a tuning job's training jobs, at most `MaxParallelTrainingJobs` at a
time, reacts as they end, stops jobs early (median rule or Hyperband), and ends the tuning job Completed,
Stopped or Failed as the service does.

It takes no worker slot (its training jobs do) and keeps no state of its own: every loop rebuilds its view
from the store — the training jobs whose parent is this tuning job, each carrying its trial record — so a
restarted worker resumes it where it was. Only the objective values printed so far (read from the jobs' logs
for early stopping) are cached in memory, and re-read after a restart.

Trials are created through the same code path as CreateTrainingJob, named `<tuning job>-<NNN>-<8 hex>`,
tagged with the tuning job's tags and linked to it by `TuningJobArn`.

Not for: the choice of hyperparameters or stopping rules themselves (`emulator.tuning`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from emulator import aws_clients
from emulator.api.errors import ApiError
from emulator.api.registry import RequestContext
from emulator.jobs.context import JobRun
from emulator.jobs.training import LOG_GROUP
from emulator.sagemaker import training_jobs
from emulator.sagemaker.tuning_jobs import KIND, trials_of
from emulator.store.repository import Resource
from emulator.tuning import progress
from emulator.tuning.definitions import Definition, definitions_of
from emulator.tuning.early_stopping import (
    HyperbandPlan,
    hyperband_plan,
    hyperband_stops,
    median_rule_stops,
    metric_values,
)
from emulator.tuning.progress import Trial
from emulator.tuning.strategies import GRID, HYPERBAND, Observation, job_seed, next_values, startup_jobs

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2
# The service gives up when this many training jobs ended without an objective and none had one.
ATTEMPTS_WITHOUT_SUCCESS = 5
_LOG_PAGE = 1000


@dataclass(frozen=True)
class Ending:
    status: str  # Completed | Stopped | Failed
    reason: str | None = None


def run_tuning_job(run: JobRun) -> None:
    coordinator = TuningCoordinator(run)
    try:
        coordinator.run()
    except Exception:
        # The worker fails the tuning job with the error; its training jobs must not run on unattended.
        with contextlib.suppress(Exception):
            coordinator.stop_all(coordinator.trials(run.current()))
        raise


class TuningCoordinator:
    def __init__(self, run: JobRun) -> None:
        self.job = run
        resource = run.current()
        self.arn = str(resource.arn)
        self.definitions = definitions_of(resource.document)
        config = resource.document["HyperParameterTuningJobConfig"]
        self.strategy = config["Strategy"]
        limits = config["ResourceLimits"]
        self.max_jobs = int(limits["MaxNumberOfTrainingJobs"])
        self.max_parallel = int(limits["MaxParallelTrainingJobs"])
        self.max_runtime = limits.get("MaxRuntimeInSeconds")
        self.seed = int(config.get("RandomSeed", resource.extra.get("Seed", 0)))
        self.median_rule = config.get("TrainingJobEarlyStoppingType", "Off") == "Auto"
        self.criteria = config.get("TuningJobCompletionCriteria", {})
        hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")
        self.plans: dict[str | None, HyperbandPlan] = {}
        if self.strategy == HYPERBAND:
            self.plans = {d.name: hyperband_plan(hyperband, d.static) for d in self.definitions}
        self.tags = run.store.list_tags(self.arn)
        self.parents = _warm_start_trials(run, resource.document.get("WarmStartConfig"))
        self.overall = resource.document.get("WarmStartConfig", {}).get("WarmStartType") == "IdenticalDataAndAlgorithm"
        self.exhausted: set[str | None] = set()
        self.series = SeriesReader(run, self.definitions)
        self.context = RequestContext(
            settings=run.settings,
            store=run.store,
            request_id=f"tuning-{uuid.uuid4()}",
            aws=lambda service: aws_clients.client(run.settings.url, run.settings.region, service),
        )

    # -- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        while not self.job.shutdown.is_set():
            resource = self.job.current()
            if resource.status not in ("InProgress", "Stopping"):
                return  # ended elsewhere (the worker failed it)
            trials = self.trials(resource)
            ending = self.ending(resource, trials)
            if ending is None:
                self.stop_early(trials)
                trials = self.launch(resource, trials)
            else:
                self.stop_all(trials)
                if not any(trial.running for trial in trials):
                    self.finish(ending, trials)
                    return
            self.publish(trials)
            self.job.shutdown.wait(POLL_SECONDS)

    def trials(self, resource: Resource) -> list[Trial]:
        trials = trials_of(self.job.store, resource)
        if self.median_rule or self.plans:
            trials = [dataclasses.replace(trial, series=self.series.read(trial)) for trial in trials]
        return trials

    def ending(self, resource: Resource, trials: Sequence[Trial]) -> Ending | None:
        """Why the tuning job ends now, or None while it goes on."""
        if resource.status == "Stopping":
            return Ending("Stopped")
        if self.max_runtime is not None and time.time() - resource.document["CreationTime"] > self.max_runtime:
            return Ending("Stopped")
        if progress.target_reached(trials, self.criteria.get("TargetObjectiveMetricValue")):
            return Ending("Completed")
        patience = self.criteria.get("BestObjectiveNotImproving", {}).get("MaxNumberOfTrainingJobsNotImproving")
        if patience is not None and progress.jobs_not_improving(trials) >= patience:
            return Ending("Completed")
        ended = [trial for trial in trials if not trial.running]
        succeeded = any(trial.value is not None for trial in ended)
        if not succeeded and len(ended) >= ATTEMPTS_WITHOUT_SUCCESS:
            return _no_success(len(ended))
        all_launched = len(trials) >= self.max_jobs or len(self.exhausted) == len(self.definitions)
        if all_launched and len(ended) == len(trials):
            return Ending("Completed") if succeeded else _no_success(len(ended))
        return None

    # -- launching -----------------------------------------------------------------------------------
    def launch(self, resource: Resource, trials: list[Trial]) -> list[Trial]:
        """Start training jobs while fewer than MaxParallelTrainingJobs run and the budget allows."""
        while sum(trial.running for trial in trials) < self.max_parallel and len(trials) < self.max_jobs:
            if not self.launch_one(resource, trials, len(trials) + 1):
                break
            trials = self.trials(resource)
        return trials

    def launch_one(self, resource: Resource, trials: Sequence[Trial], index: int) -> bool:
        """Create training job `index`; False when no definition has anything left to try."""
        for offset in range(len(self.definitions)):
            definition = self.definitions[(index - 1 + offset) % len(self.definitions)]
            if definition.name in self.exhausted:
                continue
            values = next_values(
                self.strategy,
                definition.space,
                self.history(definition, trials),
                index=index,
                seed=self.seed,
                minimize=definition.objective.minimize,
                startup=startup_jobs(self.max_jobs, self.max_parallel),
            )
            if values is None:
                self.exhausted.add(definition.name)
                continue
            self.create_trial(resource, definition, index, values)
            return True
        return False

    def history(self, definition: Definition, trials: Sequence[Trial]) -> list[Observation]:
        own = [trial for trial in trials if trial.definition_name == definition.name]
        observations = [Observation(dict(t.tuned), t.value, t.running) for t in own]
        if self.strategy != GRID or self.overall:
            observations += [Observation(dict(t.tuned), t.value) for t in self.parents]
        return observations

    def create_trial(self, resource: Resource, definition: Definition, index: int, values: dict[str, str]) -> None:
        name = f"{resource.name}-{index:03d}-{secrets.token_hex(4)}"
        plan = self.plans.get(definition.name)
        record = {
            "Index": index,
            "DefinitionName": definition.name,
            "TunedHyperParameters": values,
            "Bracket": plan.choose_bracket(job_seed(self.seed, index, "bracket")) if plan else 0,
        }
        request = definition.training_request(name, values, self.tags)
        training_jobs.start_training_job(
            self.context, request, parent=self.arn, extra={"Tuning": record}, TuningJobArn=self.arn
        )
        log.info("tuning job %s launched training job %s with %s", resource.name, name, values)

    # -- stopping ------------------------------------------------------------------------------------
    def stop_early(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            if trial.status != "InProgress" or not trial.series:
                continue
            minimize = trial.objective.minimize
            if self.plans:
                peers = [t.series for t in trials if t.bracket == trial.bracket and t.index != trial.index]
                stop = hyperband_stops(self.plans[trial.definition_name], trial.bracket, trial.series, peers, minimize)
            else:
                earlier = [t.series for t in trials if t.index < trial.index]
                stop = median_rule_stops(trial.series, earlier, minimize)
            if stop:
                log.info("stopping training job %s early after %d epochs", trial.name, len(trial.series))
                self.stop(trial)

    def stop_all(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            if trial.status == "InProgress":
                self.stop(trial)

    def stop(self, trial: Trial) -> None:
        with contextlib.suppress(ApiError):  # it ended meanwhile
            training_jobs.stop_training_job(self.context, {"TrainingJobName": trial.name})

    # -- reporting -----------------------------------------------------------------------------------
    def report(self, trials: Sequence[Trial]) -> dict[str, Any]:
        """The Describe members that follow from the training jobs."""
        best = progress.best(trials)
        overall = progress.best([*trials, *self.parents]) if self.overall else None
        return {
            "TrainingJobStatusCounters": progress.status_counters(trials),
            "ObjectiveStatusCounters": progress.objective_counters(trials),
            "BestTrainingJob": best.summary() if best else None,
            "OverallBestTrainingJob": overall.summary() if overall else None,
            "TuningJobCompletionDetails": {
                "NumberOfTrainingJobsObjectiveNotImproving": progress.jobs_not_improving(trials)
            },
        }

    def publish(self, trials: Sequence[Trial]) -> None:
        report = self.report(trials)
        current = self.job.current().document
        if all(current.get(key) == value for key, value in report.items()):
            return
        self.job.update(lambda document: _without_none({**document, **report}))

    def finish(self, ending: Ending, trials: Sequence[Trial]) -> None:
        now = time.time()
        report = self.report(trials)

        def change(current: Resource) -> dict[str, Any]:
            document = {
                **current.document,
                **report,
                "HyperParameterTuningJobStatus": ending.status,
                "HyperParameterTuningEndTime": now,
                "LastModifiedTime": now,
                "ConsumedResources": {"RuntimeInSeconds": int(now - current.document["CreationTime"])},
            }
            if ending.reason:
                document["FailureReason"] = ending.reason
            return _without_none(document)

        self.job.store.transition(KIND, self.job.name, ("InProgress", "Stopping"), ending.status, change)
        log.info("tuning job %s ended %s after %d training jobs", self.job.name, ending.status, len(trials))


class SeriesReader:
    """The objective values each training job printed so far, read incrementally from its log streams."""

    def __init__(self, run: JobRun, definitions: Sequence[Definition]) -> None:
        self.logs = run.logs
        self.regexes = {definition.name: definition.objective_regex() or "" for definition in definitions}
        self.values: dict[str, list[float]] = {}
        self.positions: dict[str, dict[str, tuple[int, int]]] = {}
        self.complete: set[str] = set()

    def read(self, trial: Trial) -> tuple[float, ...]:
        name = trial.name
        if name in self.complete:
            return tuple(self.values[name])
        ended = not trial.running  # its lines were all written before it ended
        values, positions = self.values.setdefault(name, []), self.positions.setdefault(name, {})
        for stream in self.logs.streams(LOG_GROUP, prefix=f"{name}/"):
            while True:
                events = self.logs.events(LOG_GROUP, stream.name, after=positions.get(stream.name), limit=_LOG_PAGE)
                if not events:
                    break
                positions[stream.name] = events[-1].position
                values += metric_values((event.message for event in events), self.regexes[trial.definition_name])
                if len(events) < _LOG_PAGE:
                    break
        if ended:
            self.complete.add(name)
        return tuple(values)


def _warm_start_trials(run: JobRun, warm_start: dict[str, Any] | None) -> list[Trial]:
    """The training jobs of the parent tuning jobs, as prior observations."""
    if not warm_start:
        return []
    found: list[Trial] = []
    for item in warm_start["ParentHyperParameterTuningJobs"]:
        parent = run.store.get(KIND, item["HyperParameterTuningJobName"])
        if parent is not None:
            found += [trial for trial in trials_of(run.store, parent) if not trial.running]
    return found


def _no_success(attempts: int) -> Ending:
    return Ending(
        "Failed",
        f"No training job succeeded after {attempts} attempts. Please take a look at the training job failures "
        "to get more details.",
    )


def _without_none(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if value is not None}
