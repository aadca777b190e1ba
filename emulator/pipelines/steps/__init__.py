"""One executor per step type the emulator runs; `EXECUTORS` is the registry the driver dispatches on.

A step type missing here is refused when a pipeline is created or updated (see `unsupported_steps`), so an
execution never meets a step it cannot run.
"""

from __future__ import annotations

from emulator.pipelines.definition import PipelineDefinition, Step, StepType
from emulator.pipelines.steps import jobs
from emulator.pipelines.steps.base import StepExecutor
from emulator.pipelines.steps.callback import CallbackStep
from emulator.pipelines.steps.control import ConditionStep, FailStep
from emulator.pipelines.steps.models import ModelStep, RegisterModelStep

EXECUTORS: dict[StepType, StepExecutor] = {
    StepType.PROCESSING: jobs.PROCESSING,
    StepType.TRAINING: jobs.TRAINING,
    StepType.TRANSFORM: jobs.TRANSFORM,
    StepType.TUNING: jobs.TUNING,
    StepType.MODEL: ModelStep(),
    StepType.CREATE_MODEL: ModelStep(),
    StepType.REGISTER_MODEL: RegisterModelStep(),
    StepType.CONDITION: ConditionStep(),
    StepType.FAIL: FailStep(),
    StepType.CALLBACK: CallbackStep(),
}


def unsupported_steps(definition: PipelineDefinition) -> list[Step]:
    return [step for step in definition.steps if step.type not in EXECUTORS]
