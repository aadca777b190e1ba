"""Step caching (a step's `CacheConfig`) — pure: the cache key of a step's resolved arguments and the
length of its `ExpireAfter` window.

The key covers only the request members the service compares for that step type (its "default cache
key attributes": e.g. AppSpecification, Environment and ProcessingInputs for Processing), so output
locations that embed the execution id do not defeat caching, as in the cloud.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# ISO 8601 durations as the service documents them ("P30D", "PT1H", and the shorthand "30d", "T16m",
# "30dT5h"): years, months, weeks, days, then after T hours, minutes, seconds.
_DURATION = re.compile(
    r"^P?(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_SECONDS = {"y": 365 * 86400, "mo": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "mi": 60, "s": 1}


class CacheConfigError(ValueError):
    pass


def cache_window_seconds(cache_config: Mapping[str, Any] | None) -> float | None:
    """Seconds a previous run stays reusable, or None when caching is off for the step."""
    if not cache_config or not cache_config.get("Enabled"):
        return None
    text = str(cache_config.get("ExpireAfter") or "").strip()
    match = _DURATION.match(text)
    if not text or match is None or not any(match.groupdict().values()):
        raise CacheConfigError(f"CacheConfig.ExpireAfter '{text}' is not an ISO 8601 duration such as 'PT1H' or 'P30D'")
    return sum(float(value) * _SECONDS[unit] for unit, value in match.groupdict().items() if value)


def cache_key(step_type: str, arguments: Mapping[str, Any], attributes: Iterable[str]) -> str:
    """A digest of the step type and the named members of its resolved arguments."""
    selected = {name: arguments.get(name) for name in sorted(attributes)}
    text = json.dumps({"Type": step_type, "Arguments": selected}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
