"""How executions and their steps are kept in the store — names, kinds and ARNs shared by the API
(`emulator.sagemaker.pipeline_executions`) and the driver (`emulator.pipelines.execution`).

- `PipelineExecution` rows: name = the 12-character execution id, parent = the pipeline ARN, status and
  document = the DescribePipelineExecution response; `extra` keeps the definition as it was at start, the
  parameters (as sent and typed), and the execution's settings.
- `PipelineExecutionStep` rows: name = `<execution id>/<step name>`, parent = the execution ARN, document =
  the step's ListPipelineExecutionSteps entry; `extra` keeps its resolved arguments, properties, runner
  handle and retry state.
- `PipelineStepCache` rows: name = `<pipeline ARN>|<step>|<cache key>` → the last successful step with
  those arguments (for CacheConfig).
"""

from __future__ import annotations

import secrets
import string

EXECUTION = "PipelineExecution"
STEP = "PipelineExecutionStep"
STEP_CACHE = "PipelineStepCache"

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_execution_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def execution_arn(pipeline_arn: str, execution_id: str) -> str:
    return f"{pipeline_arn}/execution/{execution_id}"


def execution_id_of(arn: str) -> str:
    """The id at the end of an execution ARN (or the id itself)."""
    return arn.rsplit("/execution/", 1)[-1]


def pipeline_arn_of(execution_arn: str) -> str:
    return execution_arn.rsplit("/execution/", 1)[0]


def step_record_name(execution_id: str, step_name: str) -> str:
    return f"{execution_id}/{step_name}"


def cache_entry_name(pipeline_arn: str, step_name: str, cache_key: str) -> str:
    return f"{pipeline_arn}|{step_name}|{cache_key}"
