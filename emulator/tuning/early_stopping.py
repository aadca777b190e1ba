"""When a running training job should be stopped early (pure). A job's *series* is the objective metric values
it printed so far, one per epoch (each match of the objective's regex in its log is one epoch).

- `TrainingJobEarlyStoppingType: Auto` — the median rule the service documents: after epoch k, compute for
  each earlier job that reached epoch k the running average of its objective up to epoch k; stop the job when
  its value at epoch k is worse than the median of those averages. Decided only once `MIN_PEERS` earlier jobs
  reached that epoch, so the first jobs always run to the end.
- Hyperband — brackets of successive halving with reduction factor `ETA` between `MinResource` and
  `MaxResource` epochs: a job in bracket b meets rungs at MinResource·ETA^(b+i) epochs; at its highest rung it
  continues only while it ranks in the best 1/ETA of the jobs of its bracket that reached that rung. A job
  that reached `MaxResource` epochs is stopped, as the service does.

Not for: stopping jobs (the coordinator does), reading logs, or choosing hyperparameters.
"""

from __future__ import annotations

import math
import random
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MIN_PEERS = 3
ETA = 3
# Static hyperparameters the service reads MaxResource from when HyperbandStrategyConfig does not give it.
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def metric_values(lines: Iterable[str], regex: str) -> list[float]:
    """The values the metric regex finds in `lines`, in order (as `MetricDefinitions` are applied to logs)."""
    pattern = re.compile(regex)
    values: list[float] = []
    for line in lines:
        match = pattern.search(line)
        if not match:
            continue
        try:
            value = float(match.group(1) if match.groups() else match.group(0))
        except (TypeError, ValueError):
            continue
        if math.isfinite(value):
            values.append(value)
    return values


def worse(value: float, reference: float, minimize: bool) -> bool:
    return value > reference if minimize else value < reference


def median_rule_stops(series: Sequence[float], earlier: Sequence[Sequence[float]], minimize: bool) -> bool:
    """Whether the median rule stops a job whose objective so far is `series`, given earlier jobs' series."""
    epoch = len(series)
    if epoch == 0:
        return False
    averages = [statistics.fmean(other[:epoch]) for other in earlier if len(other) >= epoch]
    if len(averages) < MIN_PEERS:
        return False
    return worse(series[-1], statistics.median(averages), minimize)


@dataclass(frozen=True)
class HyperbandPlan:
    min_resource: int
    max_resource: int
    eta: int = ETA

    @property
    def brackets(self) -> int:
        if self.max_resource <= self.min_resource:
            return 1
        return math.floor(math.log(self.max_resource / self.min_resource) / math.log(self.eta) + 1e-9) + 1

    def rungs(self, bracket: int) -> list[int]:
        """The epochs at which a job of `bracket` is compared with its peers (below `max_resource`)."""
        found, level = [], bracket
        while (milestone := self.min_resource * self.eta**level) < self.max_resource:
            found.append(milestone)
            level += 1
        return found

    def choose_bracket(self, seed: int) -> int:
        """A bracket for a new job, weighted as Hyperband sizes its brackets (aggressive ones get more jobs)."""
        top = self.brackets - 1
        weights = [(top + 1) / (top - bracket + 1) * self.eta ** (top - bracket) for bracket in range(top + 1)]
        return random.Random(seed).choices(range(top + 1), weights=weights)[0]


def hyperband_plan(strategy_config: Mapping[str, object] | None, static: Mapping[str, str]) -> HyperbandPlan:
    """The plan from `HyperbandStrategyConfig`, inferring MaxResource from static epochs as the service does;
    raises ValueError with the service's reason when it cannot."""
    config = dict(strategy_config or {})
    minimum = int(str(config.get("MinResource", 1)))
    maximum = config.get("MaxResource")
    if maximum is None:
        for key in EPOCH_KEYS:
            if key in static:
                maximum = _epochs(static[key])
                break
    if maximum is None:
        raise ValueError(
            "HyperbandStrategyConfig.MaxResource is required: it could not be inferred from a static "
            f"hyperparameter ({', '.join(EPOCH_KEYS)})."
        )
    maximum = int(str(maximum))
    if maximum > 20000:
        raise ValueError("HyperbandStrategyConfig.MaxResource can be at most 20000.")
    if minimum > maximum:
        raise ValueError("HyperbandStrategyConfig.MinResource cannot be greater than MaxResource.")
    return HyperbandPlan(minimum, maximum)


def _epochs(text: str) -> int:
    try:
        return int(float(text.strip('"')))
    except ValueError:
        raise ValueError(f"The static hyperparameter for epochs ({text!r}) is not a number.") from None


def hyperband_stops(
    plan: HyperbandPlan,
    bracket: int,
    series: Sequence[float],
    peers: Sequence[Sequence[float]],
    minimize: bool,
) -> bool:
    """Whether Hyperband stops a job of `bracket` with objective `series`; `peers` are the series of the
    other jobs of the same bracket."""
    if len(series) >= plan.max_resource:
        return True
    reached = [rung for rung in plan.rungs(bracket) if rung <= len(series)]
    if not reached:
        return False
    rung = reached[-1]
    at_rung = [other[rung - 1] for other in peers if len(other) >= rung]
    value = series[rung - 1]
    rank = 1 + sum(1 for other in at_rung if worse(value, other, minimize))
    return rank > max(1, math.ceil((len(at_rung) + 1) / plan.eta))
