"""The pure part of tuning: ranges and their scaling, the strategies, the median rule and Hyperband brackets.

The Bayesian-versus-Random experiment here is the cheap, many-seed version of the one the SDK tests repeat
with real training jobs: on loss = (x-3)^2 + (y+1)^2 over x in [0, 10], y in [-5, 5], 12 evaluations in
batches of 2 (as MaxParallelTrainingJobs=2 would run them), over 20 seeds. Measured when written: Random's
mean best loss ~0.9, Bayesian's (TPE, 2 random start-up jobs) ~0.3; Bayesian won on most seeds.
"""

from __future__ import annotations

import random
import statistics

import pytest

from emulator.tuning.early_stopping import HyperbandPlan, hyperband_plan, hyperband_stops, median_rule_stops
from emulator.tuning.space import SpaceError, parse_space
from emulator.tuning.strategies import BAYESIAN, GRID, RANDOM, Observation, next_values

SPACE = parse_space(
    {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "0", "MaxValue": "10"},
            {"Name": "y", "MinValue": "-5", "MaxValue": "5", "ScalingType": "Linear"},
        ]
    }
)


def loss(values: dict[str, str]) -> float:
    return (float(values["x"]) - 3) ** 2 + (float(values["y"]) + 1) ** 2


def best_found(strategy: str, seed: int, jobs: int = 12, parallel: int = 2) -> float:
    history: list[Observation] = []
    while len(history) < jobs:
        batch = []
        for _ in range(parallel):
            values = next_values(strategy, SPACE, history + batch, index=len(history) + len(batch) + 1, seed=seed,
                                 minimize=True, startup=2)  # fmt: skip
            assert values is not None
            batch.append(Observation(values, pending=True))
        history += [Observation(item.values, loss(item.values)) for item in batch]
    return min(item.objective for item in history if item.objective is not None)


def test_bayesian_finds_a_better_objective_than_random_on_average() -> None:
    seeds = range(8)
    random_best = [best_found(RANDOM, seed) for seed in seeds]
    bayesian_best = [best_found(BAYESIAN, seed) for seed in seeds]
    assert statistics.fmean(bayesian_best) < statistics.fmean(random_best) / 1.5
    assert sum(b < r for b, r in zip(bayesian_best, random_best, strict=True)) > len(seeds) / 2


def test_strategies_are_reproducible_from_the_seed() -> None:
    for strategy in (RANDOM, BAYESIAN):
        assert best_found(strategy, 7, jobs=6) == best_found(strategy, 7, jobs=6)
        assert best_found(strategy, 7, jobs=6) != best_found(strategy, 8, jobs=6)


def test_scaling_types_draw_within_the_range_with_the_right_bias() -> None:
    space = parse_space(
        {
            "ContinuousParameterRanges": [
                {"Name": "log", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"},
                {"Name": "rev", "MinValue": "0.9", "MaxValue": "0.9999", "ScalingType": "ReverseLogarithmic"},
            ],
            "IntegerParameterRanges": [
                {"Name": "n", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"}
            ],
        }
    )
    rng = random.Random(0)
    draws = [space.sample(rng) for _ in range(2000)]
    logs = [float(d["log"]) for d in draws]
    assert all(0.0001 <= value <= 1 for value in logs)
    assert sum(value < 0.01 for value in logs) > 800  # half the orders of magnitude, about half the draws
    reverse = [float(d["rev"]) for d in draws]
    assert all(0.9 <= value <= 0.9999 for value in reverse)
    assert sum(value > 0.99 for value in reverse) > 800
    counts = [int(d["n"]) for d in draws]
    assert all(1 <= value <= 1000 for value in counts) and sum(value < 32 for value in counts) > 800


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"IntegerParameterRanges": [{"Name": "a", "MinValue": "1.5", "MaxValue": "3"}]}, "is not an integer"),
        ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "x", "MaxValue": "3"}]}, "is not a number"),
        ({"ContinuousParameterRanges": [{"Name": "a", "MinValue": "4", "MaxValue": "3"}]}, "greater than"),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "3", "ScalingType": "Logarithmic"}
                ]
            },
            "above 0",
        ),
        (
            {
                "ContinuousParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "3", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "0 <= MinValue < MaxValue < 1",
        ),
        (
            {
                "IntegerParameterRanges": [
                    {"Name": "a", "MinValue": "0", "MaxValue": "3", "ScalingType": "ReverseLogarithmic"}
                ]
            },
            "continuous ranges only",
        ),
        (
            {
                "IntegerParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "3"}],
                "CategoricalParameterRanges": [{"Name": "a", "Values": ["1"]}],
            },
            "more than one range",
        ),
        ({}, "at least one"),
    ],
)
def test_ranges_the_service_rejects(ranges: dict, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        parse_space(ranges)


def test_grid_walks_every_categorical_combination_once_then_stops() -> None:
    space = parse_space(
        {"CategoricalParameterRanges": [{"Name": "a", "Values": ["1", "2"]}, {"Name": "b", "Values": ["x", "y", "z"]}]}
    )
    history: list[Observation] = []
    while (values := next_values(GRID, space, history, index=len(history) + 1, seed=0, minimize=True)) is not None:
        history.append(Observation(values))
    assert [(o.values["a"], o.values["b"]) for o in history] == [(a, b) for a in "12" for b in "xyz"]
    with pytest.raises(SpaceError, match="only categorical"):
        SPACE.grid()


def test_median_rule_stops_a_job_worse_than_the_median_of_earlier_running_averages() -> None:
    earlier = [[1.0, 0.8, 0.6], [1.2, 1.0, 0.9], [0.9, 0.7, 0.5]]
    assert median_rule_stops([5.0], earlier, minimize=True)
    assert not median_rule_stops([0.5], earlier, minimize=True)
    assert not median_rule_stops([5.0], earlier[:2], minimize=True)  # too few earlier jobs to judge
    assert median_rule_stops([0.1], earlier, minimize=False)
    # epoch 3: running averages 0.8, 1.033, 0.7 -> median 0.8
    assert not median_rule_stops([9.0, 9.0, 0.79], earlier, minimize=True)
    assert median_rule_stops([0.0, 0.0, 0.81], earlier, minimize=True)


def test_hyperband_brackets_rungs_and_max_resource() -> None:
    plan = hyperband_plan({"MinResource": 1, "MaxResource": 27}, {})
    assert plan.brackets == 4
    assert [plan.rungs(bracket) for bracket in range(4)] == [[1, 3, 9], [3, 9], [9], []]
    chosen = [plan.choose_bracket(seed) for seed in range(400)]
    assert chosen.count(0) > chosen.count(3)  # aggressive brackets get more jobs
    assert hyperband_plan(None, {"epochs": '"9"'}) == HyperbandPlan(1, 9)
    with pytest.raises(ValueError, match="MaxResource is required"):
        hyperband_plan(None, {})
    peers = [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    assert hyperband_stops(plan, 0, [3.0], peers, minimize=True)  # worst of three at rung 1
    assert not hyperband_stops(plan, 0, [0.5], peers, minimize=True)
    assert not hyperband_stops(plan, 3, [9.0] * 26, peers, minimize=True)  # no rungs in the last bracket
    assert hyperband_stops(plan, 3, [9.0] * 27, peers, minimize=True)  # reached MaxResource
