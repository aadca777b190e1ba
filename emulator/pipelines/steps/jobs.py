"""Steps that run a SageMaker job: Processing, Training, Transform and Tuning.

Each creates its job through the emulator's own API (so the request is validated exactly as a user's
would be), watches the job's status in the store, and when the job ends reads its Describe response,
which becomes the step's properties (`Steps.S.ModelArtifacts.S3ModelArtifacts` and the like).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from emulator.pipelines.scheduler import StepStatus
from emulator.pipelines.steps.base import (
    CAPACITY_ERROR,
    JOB_INTERNAL_ERROR,
    RESOURCE_LIMIT,
    SERVICE_FAULT,
    THROTTLING,
    Finished,
    Started,
    StepContext,
    generated_name,
    plain_response,
)

_ENDED = {"Completed": StepStatus.SUCCEEDED, "Failed": StepStatus.FAILED, "Stopped": StepStatus.STOPPED}
# Job FailureReasons that mean "not the user's fault": the service's own wording, and the emulator's
# when its worker or a runner broke (see emulator/jobs/worker.py).
_INTERNAL_REASONS = ("InternalServerError", "The emulator's worker stopped", "The emulator was shut down")
_CAPACITY_REASONS = ("CapacityError",)


@dataclass(frozen=True)
class JobStep:
    kind: str  # store kind and API noun: "TrainingJob"
    name_field: str  # request member holding the job name
    metadata_key: str  # PipelineExecutionStepMetadata member
    cache_attributes: tuple[str, ...]
    max_name_length: int = 63

    def start(self, ctx: StepContext, arguments: dict[str, Any]) -> Started | Finished:
        name = generated_name(ctx, self.max_name_length)
        try:
            response = getattr(ctx.client("sagemaker"), f"create_{_snake(self.kind)}")(
                **{**arguments, self.name_field: name}
            )
        except ClientError as error:
            return failed_call(error, f"Create{self.kind}")
        arn = response[f"{self.api_noun}Arn"]
        return Started({self.metadata_key: {"Arn": arn}}, {"name": name, "arn": arn})

    def poll(self, ctx: StepContext, handle: Mapping[str, Any]) -> Finished | None:
        job = ctx.store.get(self.kind, handle["name"])
        if job is None:
            return Finished(StepStatus.FAILED, failure_reason=f"{self.kind} {handle['name']} no longer exists.")
        status = _ENDED.get(job.status or "")
        if status is None:
            return None
        properties = self.properties(ctx, handle["name"])
        if status is not StepStatus.FAILED:
            return Finished(status, properties)
        reason = str(properties.get("FailureReason") or f"{self.kind} {handle['name']} failed.")
        return Finished(status, properties, failure_reason=reason, error_type=_job_error_type(reason))

    def stop(self, ctx: StepContext, handle: Mapping[str, Any]) -> None:
        with contextlib.suppress(ClientError):  # already ended: nothing to stop
            getattr(ctx.client("sagemaker"), f"stop_{_snake(self.kind)}")(**{self.name_field: handle["name"]})

    def properties(self, ctx: StepContext, name: str) -> dict[str, Any]:
        response = getattr(ctx.client("sagemaker"), f"describe_{_snake(self.kind)}")(**{self.name_field: name})
        return plain_response(response)

    @property
    def api_noun(self) -> str:
        return self.kind


@dataclass(frozen=True)
class TuningStep(JobStep):
    """A tuning step's properties are its Describe response plus `TrainingJobSummaries`, best first
    (what `TuningStep.get_top_model_s3_uri` reads)."""

    def properties(self, ctx: StepContext, name: str) -> dict[str, Any]:
        properties = super().properties(ctx, name)
        client = ctx.client("sagemaker")
        summaries: list[Any] = []
        objective = properties.get("HyperParameterTuningJobConfig", {}).get("HyperParameterTuningJobObjective", {})
        best_first = "Descending" if objective.get("Type") == "Maximize" else "Ascending"
        request: dict[str, Any] = {
            "HyperParameterTuningJobName": name,
            "SortBy": "FinalObjectiveMetricValue",
            "SortOrder": best_first,
        }
        while True:
            page = client.list_training_jobs_for_hyper_parameter_tuning_job(**request)
            summaries.extend(plain_response(page).get("TrainingJobSummaries", []))
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        properties["TrainingJobSummaries"] = summaries
        return properties


def failed_call(error: ClientError, operation: str) -> Finished:
    """A step whose API call was refused: the service's error becomes the FailureReason."""
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", str(error))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    error_type = None
    if code in ("ThrottlingException", "Throttling"):
        error_type = THROTTLING
    elif code == "ResourceLimitExceeded":
        error_type = RESOURCE_LIMIT
    elif status >= 500:
        error_type = SERVICE_FAULT
    reason = f"{code}: {message}" if code else message
    return Finished(StepStatus.FAILED, failure_reason=f"{operation} failed: {reason}", error_type=error_type)


def _job_error_type(reason: str) -> str | None:
    if reason.startswith(_INTERNAL_REASONS):
        return JOB_INTERNAL_ERROR
    if reason.startswith(_CAPACITY_REASONS):
        return CAPACITY_ERROR
    return None


def _snake(kind: str) -> str:
    return {
        "TrainingJob": "training_job",
        "ProcessingJob": "processing_job",
        "TransformJob": "transform_job",
        "HyperParameterTuningJob": "hyper_parameter_tuning_job",
    }[kind]


PROCESSING = JobStep(
    "ProcessingJob", "ProcessingJobName", "ProcessingJob", ("AppSpecification", "Environment", "ProcessingInputs")
)
TRAINING = JobStep(
    "TrainingJob",
    "TrainingJobName",
    "TrainingJob",
    (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
)
TRANSFORM = JobStep(
    "TransformJob", "TransformJobName", "TransformJob", ("DataProcessing", "Environment", "ModelName", "TransformInput")
)
TUNING = TuningStep(
    "HyperParameterTuningJob",
    "HyperParameterTuningJobName",
    "TuningJob",
    ("HyperParameterTuningJobConfig", "TrainingJobDefinition", "TrainingJobDefinitions"),
    max_name_length=32,
)
