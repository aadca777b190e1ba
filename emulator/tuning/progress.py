"""A tuning job's training jobs as the tuning job reports them (pure): each job's objective, the
`HyperParameterTrainingJobSummary`, the status and objective counters, the best job, and the completion
criteria.

A job's objective is the last value of its objective metric in `FinalMetricDataList`. A job that ended
without one (it failed, or never printed the metric) has `ObjectiveStatus` Failed and is never the best; a
running job's objective is Pending. Jobs stopped early keep the objective they reached.

Not for: reading the store (the coordinator builds `Trial`s from training job rows) or choosing values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RUNNING_STATUSES = ("InProgress", "Stopping")
PENDING, SUCCEEDED, FAILED = "Pending", "Succeeded", "Failed"


@dataclass(frozen=True)
class Objective:
    metric_name: str
    type: str  # Minimize | Maximize

    @property
    def minimize(self) -> bool:
        return self.type == "Minimize"

    def better(self, value: float, than: float) -> bool:
        return value < than if self.minimize else value > than


@dataclass(frozen=True)
class Trial:
    """One training job launched by a tuning job."""

    index: int
    document: Mapping[str, Any]  # the training job's Describe document
    tuned: Mapping[str, str]
    objective: Objective
    tuning_job_name: str
    definition_name: str | None = None
    bracket: int = 0
    series: tuple[float, ...] = field(default=())  # the objective values printed so far (early stopping)

    @property
    def name(self) -> str:
        return str(self.document["TrainingJobName"])

    @property
    def status(self) -> str:
        return str(self.document["TrainingJobStatus"])

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def value(self) -> float | None:
        """The final objective value, once the job ended with one."""
        if self.running:
            return None
        found = [
            item["Value"]
            for item in self.document.get("FinalMetricDataList", [])
            if item["MetricName"] == self.objective.metric_name
        ]
        return float(found[-1]) if found else None

    @property
    def objective_status(self) -> str:
        if self.running:
            return PENDING
        return SUCCEEDED if self.value is not None else FAILED

    def summary(self) -> dict[str, Any]:
        """The job's `HyperParameterTrainingJobSummary`."""
        document = self.document
        summary: dict[str, Any] = {
            "TrainingJobDefinitionName": self.definition_name,
            "TrainingJobName": self.name,
            "TrainingJobArn": document["TrainingJobArn"],
            "TuningJobName": self.tuning_job_name,
            "CreationTime": document["CreationTime"],
            "TrainingStartTime": document.get("TrainingStartTime"),
            "TrainingEndTime": document.get("TrainingEndTime"),
            "TrainingJobStatus": self.status,
            "TunedHyperParameters": dict(self.tuned),
            "FailureReason": document.get("FailureReason"),
            "ObjectiveStatus": self.objective_status,
        }
        if self.value is not None:
            summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                "MetricName": self.objective.metric_name,
                "Value": self.value,
            }
        return {key: value for key, value in summary.items() if value is not None}


def status_counters(trials: Sequence[Trial]) -> dict[str, int]:
    counters = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    for trial in trials:
        if trial.running:
            counters["InProgress"] += 1
        elif trial.status == "Failed":
            retryable = str(trial.document.get("FailureReason", "")).startswith("InternalServerError")
            counters["RetryableError" if retryable else "NonRetryableError"] += 1
        elif trial.status in counters:
            counters[trial.status] += 1
    return counters


def objective_counters(trials: Sequence[Trial]) -> dict[str, int]:
    counters = {SUCCEEDED: 0, PENDING: 0, FAILED: 0}
    for trial in trials:
        counters[trial.objective_status] += 1
    return counters


def best(trials: Sequence[Trial]) -> Trial | None:
    """The job with the best final objective (the earliest one on a tie), or None."""
    found: Trial | None = None
    for trial in sorted(trials, key=lambda item: item.index):
        value = trial.value
        if value is None:
            continue
        if found is None or trial.objective.better(value, found.value):  # type: ignore[arg-type]
            found = trial
    return found


def jobs_not_improving(trials: Sequence[Trial]) -> int:
    """How many jobs ended, in order of ending, since the best objective last improved."""
    ended = sorted(
        (trial for trial in trials if not trial.running and trial.value is not None),
        key=lambda trial: (trial.document.get("TrainingEndTime", 0), trial.index),
    )
    best_value: float | None = None
    since = 0
    for trial in ended:
        value = trial.value
        assert value is not None
        if best_value is None or trial.objective.better(value, best_value):
            best_value, since = value, 0
        else:
            since += 1
    return since


def target_reached(trials: Sequence[Trial], target: float | None) -> bool:
    if target is None:
        return False
    for trial in trials:
        value = trial.value
        if value is not None and not trial.objective.better(target, value):
            return True
    return False


def sort_key(sort_by: str) -> Any:
    """How ListTrainingJobsForHyperParameterTuningJob orders summaries for its `SortBy`."""
    if sort_by == "Name":
        return lambda trial: trial.name
    if sort_by == "Status":
        return lambda trial: trial.status
    if sort_by == "FinalObjectiveMetricValue":
        return lambda trial: (trial.value is None, trial.value if trial.value is not None else 0.0)
    return lambda trial: (trial.document["CreationTime"], trial.index)
