"""Step retry policies (a step's `RetryPolicies`) — pure: may a failed attempt be retried, and when.

Each policy names exception types (`Step.SERVICE_FAULT`, `Step.THROTTLING`, `SageMaker.JOB_INTERNAL_ERROR`,
`SageMaker.CAPACITY_ERROR`, `SageMaker.RESOURCE_LIMIT`), `IntervalSeconds` before the first retry (default 1),
`BackoffRate` (default 2.0), and a bound: `MaxAttempts` retries (0 never retries) and/or `ExpireAfterMin`
minutes since the step first started. Which local failures map to which type is decided by the step
executors (see `emulator/pipelines/steps/jobs.py`); a failure with no type (a user's script error, a bad
request) is never retried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def next_attempt_delay(
    policies: Sequence[Mapping[str, Any]] | None,
    error_type: str | None,
    attempts_made: int,
    seconds_since_first_start: float,
) -> float | None:
    """Seconds to wait before the next attempt, or None when the failure stands."""
    if error_type is None:
        return None
    for policy in policies or ():
        if error_type not in policy.get("ExceptionType", ()):
            continue
        retries_made = attempts_made - 1
        max_attempts = policy.get("MaxAttempts")
        expire_minutes = policy.get("ExpireAfterMin")
        if max_attempts is not None and retries_made >= int(max_attempts):
            return None
        delay = float(policy.get("IntervalSeconds", 1)) * float(policy.get("BackoffRate", 2.0)) ** retries_made
        if expire_minutes is not None and seconds_since_first_start + delay > float(expire_minutes) * 60:
            return None
        return delay
    return None
