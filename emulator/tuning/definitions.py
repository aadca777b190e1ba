"""A tuning job's training job definitions, from the CreateHyperParameterTuningJob request (pure): the search
space and objective of each, and the CreateTrainingJob request of one trial (static hyperparameters merged
with the tuned ones, the resources from `ResourceConfig` or `HyperParameterTuningResourceConfig`).

`TrainingJobDefinition` with the config's objective and ranges is one definition without a name;
`TrainingJobDefinitions` (multi-algorithm tuning) are several, each with its own objective and ranges.

Not for: validating against other resources (parent jobs) or the store; see `emulator.sagemaker.tuning_jobs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulator.tuning.progress import Objective
from emulator.tuning.space import SearchSpace, SpaceError, parse_space

# Members of a HyperParameterTrainingJobDefinition copied as they are into each trial's CreateTrainingJob.
_COPIED = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
# The metrics SageMaker's built-in XGBoost algorithm reports ("[3]#011train-rmse:0.5#011validation-rmse:0.6").
_XGBOOST_METRICS = ("rmse", "mae", "mse", "logloss", "error", "auc", "aucpr", "merror", "mlogloss", "map", "ndcg")
_XGBOOST_REPOSITORY = "sagemaker-xgboost"


@dataclass(frozen=True)
class Definition:
    name: str | None  # DefinitionName; None for a single TrainingJobDefinition
    spec: Mapping[str, Any]  # the HyperParameterTrainingJobDefinition
    space: SearchSpace
    objective: Objective

    @property
    def static(self) -> dict[str, str]:
        return dict(self.spec.get("StaticHyperParameters", {}))

    @property
    def metric_definitions(self) -> list[dict[str, str]]:
        given = list(self.spec["AlgorithmSpecification"].get("MetricDefinitions", []))
        return given or builtin_metric_definitions(self.spec["AlgorithmSpecification"].get("TrainingImage", ""))

    def objective_regex(self) -> str | None:
        return next(
            (item["Regex"] for item in self.metric_definitions if item["Name"] == self.objective.metric_name), None
        )

    def training_request(self, name: str, tuned: Mapping[str, str], tags: list[dict[str, str]]) -> dict[str, Any]:
        """The CreateTrainingJob request of one trial named `name` with the `tuned` hyperparameters."""
        algorithm = dict(self.spec["AlgorithmSpecification"])
        algorithm.pop("AlgorithmName", None)
        if self.metric_definitions:
            algorithm["MetricDefinitions"] = self.metric_definitions
        request: dict[str, Any] = {
            "TrainingJobName": name,
            "HyperParameters": {**self.static, **tuned},
            "AlgorithmSpecification": algorithm,
            "ResourceConfig": resource_config(self.spec),
            **{key: self.spec[key] for key in _COPIED if key in self.spec},
        }
        if tags:
            request["Tags"] = tags
        return request


def definitions_of(request: Mapping[str, Any]) -> list[Definition]:
    """The request's definitions; raises ValueError (the service's reason) when they are inconsistent."""
    config = request["HyperParameterTuningJobConfig"]
    single, several = request.get("TrainingJobDefinition"), request.get("TrainingJobDefinitions")
    if (single is None) == (several is None):
        raise ValueError("Specify exactly one of TrainingJobDefinition and TrainingJobDefinitions.")
    if single is not None:
        objective = config.get("HyperParameterTuningJobObjective")
        if objective is None:
            raise ValueError("HyperParameterTuningJobConfig.HyperParameterTuningJobObjective is required.")
        if "ParameterRanges" not in config:
            raise ValueError("HyperParameterTuningJobConfig.ParameterRanges is required.")
        return [_definition(None, single, config["ParameterRanges"], objective)]
    if "HyperParameterTuningJobObjective" in config or "ParameterRanges" in config:
        raise ValueError(
            "With TrainingJobDefinitions, give the objective and ranges in each definition (TuningObjective, "
            "HyperParameterRanges), not in HyperParameterTuningJobConfig."
        )
    found = []
    for item in several or []:
        if "DefinitionName" not in item or "TuningObjective" not in item or "HyperParameterRanges" not in item:
            raise ValueError(
                "Each of TrainingJobDefinitions needs a DefinitionName, a TuningObjective and HyperParameterRanges."
            )
        found.append(_definition(item["DefinitionName"], item, item["HyperParameterRanges"], item["TuningObjective"]))
    names = [definition.name for definition in found]
    if len(set(names)) != len(names):
        raise ValueError("The DefinitionName of each of TrainingJobDefinitions must be unique.")
    if len({definition.objective.type for definition in found}) > 1:
        raise ValueError("Every TuningObjective of TrainingJobDefinitions must have the same Type.")
    return found


def _definition(name: str | None, spec: Mapping[str, Any], ranges: Mapping[str, Any], objective: Any) -> Definition:
    label = f"training job definition {name}" if name else "TrainingJobDefinition"
    try:
        space = parse_space(ranges)
    except SpaceError as error:
        raise ValueError(f"{label}: {error}") from None
    definition = Definition(name, spec, space, Objective(objective["MetricName"], objective["Type"]))
    if "ResourceConfig" not in spec and "HyperParameterTuningResourceConfig" not in spec:
        raise ValueError(f"{label}: give ResourceConfig or HyperParameterTuningResourceConfig.")
    overlap = sorted(set(space.names) & set(definition.static))
    if overlap:
        raise ValueError(f"{label}: the hyperparameter {overlap[0]} is both static and tunable.")
    if definition.objective_regex() is None:
        raise ValueError(
            "A metric is required for this hyperparameter tuning job objective. Provide a metric in the metric "
            f"definitions. ({label}: no MetricDefinitions entry is named {objective['MetricName']!r}.)"
        )
    return definition


def resource_config(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's ResourceConfig; with instance configs, the first (most preferred) one."""
    if "ResourceConfig" in spec:
        return dict(spec["ResourceConfig"])
    tuning = dict(spec["HyperParameterTuningResourceConfig"])
    chosen = tuning.get("InstanceConfigs", [tuning])[0]
    config = {key: chosen[key] for key in ("InstanceType", "InstanceCount", "VolumeSizeInGB") if key in chosen}
    if "VolumeKmsKeyId" in tuning:
        config["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    config.setdefault("InstanceCount", 1)
    config.setdefault("VolumeSizeInGB", 30)
    return config


def builtin_metric_definitions(image: str) -> list[dict[str, str]]:
    """The metric definitions the service knows for a built-in algorithm image (XGBoost), else none."""
    repository = image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    if repository != _XGBOOST_REPOSITORY:
        return []
    return [
        {"Name": f"{split}:{metric}", "Regex": rf".*\[[0-9]+\].*(?:#011|\t|\s){split}-{metric}:{_NUMBER}.*"}
        for split in ("train", "validation")
        for metric in _XGBOOST_METRICS
    ]
