"""Search strategies: given the search space and what was tried so far, the hyperparameters of the next
training job (pure functions of their inputs, so a resumed coordinator makes the same choices).

- Random: independent uniform draws (by each range's scaling), seeded per job.
- Grid: every combination of categorical values once, in order; done when all were tried.
- Bayesian: Gaussian-process optimisation with expected improvement (the `bayesian-optimization` library, on
  scikit-learn), as the service's Bayesian strategy is; rebuilt from the history each time (finished jobs with
  their objective, running ones with a constant liar), seeded by `RandomSeed` and the job's index. The first
  few jobs (`startup_jobs`) are random, as with the service.
- Hyperband: random configurations; its brackets and early stops live in `early_stopping`.

Not for: running anything; the coordinator (`emulator.jobs.tuning`) feeds results in and launches jobs.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bayes_opt import BayesianOptimization, acquisition

from emulator.tuning.space import SearchSpace

RANDOM, GRID, BAYESIAN, HYPERBAND = "Random", "Grid", "Bayesian", "Hyperband"
SUGGEST_RANDOM_POINTS = 2000
SUGGEST_LOCAL_SEARCHES = 2


@dataclass(frozen=True)
class Observation:
    """One training job as a strategy sees it: its tuned values and, once known, its objective."""

    values: dict[str, str]
    objective: float | None = None
    pending: bool = False


def job_seed(seed: int, index: int, purpose: str = "") -> int:
    """A seed for one job's draw, from the tuning job's seed and the job's 1-based index."""
    return random.Random(f"{seed}:{index}:{purpose}").getrandbits(32)


def startup_jobs(max_jobs: int, max_parallel: int) -> int:
    """How many random jobs a Bayesian search runs before it models the objective."""
    return max(2, min(10, max_jobs // 5, max_parallel))


def next_values(
    strategy: str,
    space: SearchSpace,
    history: Sequence[Observation],
    *,
    index: int,
    seed: int,
    minimize: bool,
    startup: int = 3,
) -> dict[str, str] | None:
    """The hyperparameters of job `index` (1-based), or None when the strategy has nothing left to try."""
    if strategy == GRID:
        return next_grid_point(space, history)
    if strategy == BAYESIAN:
        return bayesian(space, history, seed=job_seed(seed, index), minimize=minimize, startup=startup)
    return space.sample(random.Random(job_seed(seed, index)))


def next_grid_point(space: SearchSpace, history: Sequence[Observation]) -> dict[str, str] | None:
    tried = [observation.values for observation in history]
    return next((point for point in space.grid() if point not in tried), None)


def bayesian(
    space: SearchSpace, history: Sequence[Observation], *, seed: int, minimize: bool, startup: int
) -> dict[str, str]:
    """Gaussian-process Bayesian optimisation with expected improvement (the `bayesian-optimization` library).

    Jobs still running count as having the best objective seen so far (a constant liar), so parallel
    suggestions spread out instead of piling onto one point."""
    bounds = space.bounds()
    known = [(space.to_internal(o.values), o) for o in history]
    finished = [(params, o.objective) for params, o in known if params is not None and o.objective is not None]
    if len(finished) < startup or not bounds:
        return space.sample(random.Random(seed))
    sign = -1.0 if minimize else 1.0  # the library maximises
    liar = max(sign * value for _, value in finished)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # non-float (integer, categorical) parameters are "experimental" there
        optimizer = BayesianOptimization(
            f=None,
            pbounds=bounds,
            acquisition_function=_ExpectedImprovement(xi=0.01),
            random_state=seed,
            verbose=0,
            allow_duplicate_points=True,
        )
    for params, value in finished:
        optimizer.register(params=params, target=sign * value)
    for pending, observation in known:
        if pending is not None and observation.pending:
            optimizer.register(params=pending, target=liar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the GP's kernel fit may warn about convergence on tiny histories
        suggestion = optimizer.suggest()
    return space.from_internal(suggestion)


class _ExpectedImprovement(acquisition.ExpectedImprovement):
    """Expected improvement, maximised with fewer local searches than the library's default (10 L-BFGS-B
    runs from 10,000 random points): a suggestion takes ~0.1 s instead of ~0.5 s, as good on these budgets."""

    def suggest(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("n_random", SUGGEST_RANDOM_POINTS)
        kwargs.setdefault("n_smart", SUGGEST_LOCAL_SEARCHES)
        return super().suggest(*args, **kwargs)
