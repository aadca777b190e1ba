"""A tuning job's search space: its `ParameterRanges` parsed and checked, with the operations the strategies
need — sampling, the grid, and the internal coordinates of the Bayesian optimiser (pure).

Scaling types follow the service: `Linear` samples uniformly, `Logarithmic` uniformly in log space (ranges
above 0 only), `ReverseLogarithmic` makes values close to 1 likelier (continuous ranges within [0, 1) only).
`Auto` is treated as `Linear`, a choice the service leaves to itself. Values are the strings a training job
receives: integers as `"12"`, continuous values as Python's shortest float repr, categorical values verbatim.

For the Bayesian optimiser each range also has *internal* coordinates (`bounds`, `to_internal`,
`from_internal`): logarithmic ranges are searched as their logarithm, reverse-logarithmic ones as log(1 - x),
so the model sees each range on the scale it is sampled on. A range with a single value is left out.

Not for: choosing what to try next (`strategies`) or deciding when to stop (`early_stopping`).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Bounds = tuple[float, float] | tuple[float, float, type[int]] | tuple[str, ...]

LINEAR, LOGARITHMIC, REVERSE_LOGARITHMIC, AUTO = "Linear", "Logarithmic", "ReverseLogarithmic", "Auto"


class SpaceError(ValueError):
    """A parameter range the service would reject; the message says which and why."""


@dataclass(frozen=True)
class IntegerRange:
    name: str
    low: int
    high: int
    scaling: str = LINEAR

    def sample(self, rng: random.Random) -> str:
        if self.scaling == LOGARITHMIC:
            drawn = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return str(min(self.high, max(self.low, math.floor(drawn))))
        return str(rng.randint(self.low, self.high))

    @property
    def fixed(self) -> bool:
        return self.low == self.high

    def bounds(self) -> Bounds:
        if self.scaling == LOGARITHMIC:
            return (math.log(self.low), math.log(self.high + 1))
        return (self.low, self.high, int)

    def to_internal(self, value: str) -> Any:
        number = float(value)
        if not number.is_integer() or not self.low <= number <= self.high:
            raise SpaceError(f"{value!r} is not an integer within [{self.low}, {self.high}]")
        return math.log(number + 0.5) if self.scaling == LOGARITHMIC else int(number)

    def from_internal(self, value: Any) -> str:
        number = math.floor(math.exp(float(value))) if self.scaling == LOGARITHMIC else round(float(value))
        return str(min(self.high, max(self.low, int(number))))


@dataclass(frozen=True)
class ContinuousRange:
    name: str
    low: float
    high: float
    scaling: str = LINEAR

    def sample(self, rng: random.Random) -> str:
        if self.scaling == LOGARITHMIC:
            return _format(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        if self.scaling == REVERSE_LOGARITHMIC:
            return _format(1 - math.exp(rng.uniform(math.log(1 - self.high), math.log(1 - self.low))))
        return _format(rng.uniform(self.low, self.high))

    @property
    def fixed(self) -> bool:
        return self.low == self.high

    def bounds(self) -> Bounds:
        if self.scaling == LOGARITHMIC:
            return (math.log(self.low), math.log(self.high))
        if self.scaling == REVERSE_LOGARITHMIC:
            return (math.log(1 - self.high), math.log(1 - self.low))
        return (self.low, self.high)

    def to_internal(self, value: str) -> Any:
        number = float(value)
        if not self.low <= number <= self.high:
            raise SpaceError(f"{value!r} is outside [{self.low}, {self.high}]")
        if self.scaling == LOGARITHMIC:
            return math.log(number)
        return math.log(1 - number) if self.scaling == REVERSE_LOGARITHMIC else number

    def from_internal(self, value: Any) -> str:
        number = float(value)
        if self.scaling == LOGARITHMIC:
            number = math.exp(number)
        elif self.scaling == REVERSE_LOGARITHMIC:
            number = 1 - math.exp(number)
        return _format(min(self.high, max(self.low, number)))


@dataclass(frozen=True)
class CategoricalRange:
    name: str
    values: tuple[str, ...]

    def sample(self, rng: random.Random) -> str:
        return rng.choice(self.values)

    @property
    def fixed(self) -> bool:
        return len(self.values) == 1

    def bounds(self) -> Bounds:
        return self.values

    def to_internal(self, value: str) -> Any:
        if value not in self.values:
            raise SpaceError(f"{value!r} is not one of {list(self.values)}")
        return value

    def from_internal(self, value: Any) -> str:
        return str(value)


Parameter = IntegerRange | ContinuousRange | CategoricalRange


@dataclass(frozen=True)
class SearchSpace:
    parameters: tuple[Parameter, ...]

    @property
    def names(self) -> list[str]:
        return [parameter.name for parameter in self.parameters]

    def sample(self, rng: random.Random) -> dict[str, str]:
        return {parameter.name: parameter.sample(rng) for parameter in self.parameters}

    def grid(self) -> list[dict[str, str]]:
        """Every combination of the categorical values, in the order the ranges and values were given."""
        not_categorical = [p.name for p in self.parameters if not isinstance(p, CategoricalRange)]
        if not_categorical:
            raise SpaceError(
                "The Grid strategy supports only categorical hyperparameter ranges; "
                f"give {', '.join(not_categorical)} as CategoricalParameterRanges or choose another strategy."
            )
        names = self.names
        choices = [p.values for p in self.parameters if isinstance(p, CategoricalRange)]
        return [dict(zip(names, combination, strict=True)) for combination in itertools.product(*choices)]

    def bounds(self) -> dict[str, Bounds]:
        """The internal search box of the ranges that have more than one value."""
        return {parameter.name: parameter.bounds() for parameter in self.parameters if not parameter.fixed}

    def to_internal(self, values: Mapping[str, str]) -> dict[str, Any] | None:
        """`values` in internal coordinates, or None when they do not fit this space (another range or name)."""
        if set(values) != set(self.names):
            return None
        try:
            return {p.name: p.to_internal(values[p.name]) for p in self.parameters if not p.fixed}
        except (SpaceError, ValueError):
            return None

    def from_internal(self, params: Mapping[str, Any]) -> dict[str, str]:
        """Values from internal coordinates; ranges with a single value get it."""
        return {
            p.name: p.sample(random.Random(0)) if p.fixed else p.from_internal(params[p.name]) for p in self.parameters
        }


def parse_space(ranges: Mapping[str, Any]) -> SearchSpace:
    """The `ParameterRanges` of a request as a `SearchSpace`; raises `SpaceError` for what the service rejects."""
    if ranges.get("AutoParameters"):
        raise SpaceError(
            "AutoParameters need Autotune, which this emulator does not support; give explicit "
            "IntegerParameterRanges, ContinuousParameterRanges or CategoricalParameterRanges."
        )
    parameters: list[Parameter] = []
    parameters += [_integer(item) for item in ranges.get("IntegerParameterRanges", [])]
    parameters += [_continuous(item) for item in ranges.get("ContinuousParameterRanges", [])]
    parameters += [
        CategoricalRange(item["Name"], tuple(item["Values"])) for item in ranges.get("CategoricalParameterRanges", [])
    ]
    names = [parameter.name for parameter in parameters]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SpaceError(f"The hyperparameter {duplicates[0]} has more than one range in ParameterRanges.")
    if not parameters:
        raise SpaceError("ParameterRanges must give at least one hyperparameter range to tune.")
    for parameter in parameters:
        if isinstance(parameter, CategoricalRange) and len(set(parameter.values)) != len(parameter.values):
            raise SpaceError(f"The categorical hyperparameter {parameter.name} lists a value more than once.")
    return SearchSpace(tuple(parameters))


def _integer(item: Mapping[str, Any]) -> IntegerRange:
    name, scaling = item["Name"], item.get("ScalingType", AUTO)
    low, high = (
        _number(name, "MinValue", item["MinValue"], integer=True),
        _number(name, "MaxValue", item["MaxValue"], integer=True),
    )
    _check_bounds(name, low, high, scaling)
    if scaling == REVERSE_LOGARITHMIC:
        raise SpaceError(
            f"The ScalingType ReverseLogarithmic of the integer hyperparameter {name} is not supported: "
            "reverse logarithmic scaling applies to continuous ranges only."
        )
    return IntegerRange(name, int(low), int(high), LINEAR if scaling == AUTO else scaling)


def _continuous(item: Mapping[str, Any]) -> ContinuousRange:
    name, scaling = item["Name"], item.get("ScalingType", AUTO)
    low, high = _number(name, "MinValue", item["MinValue"]), _number(name, "MaxValue", item["MaxValue"])
    _check_bounds(name, low, high, scaling)
    if scaling == REVERSE_LOGARITHMIC and not (low >= 0 and high < 1):
        raise SpaceError(
            f"The hyperparameter {name} uses ReverseLogarithmic scaling, which needs 0 <= MinValue < MaxValue < 1."
        )
    return ContinuousRange(name, low, high, LINEAR if scaling == AUTO else scaling)


def _number(name: str, member: str, text: str, *, integer: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and not value.is_integer()):
        kind = "an integer" if integer else "a number"
        raise SpaceError(f"The {member} {text!r} of the hyperparameter {name} is not {kind}.")
    return value


def _check_bounds(name: str, low: float, high: float, scaling: str) -> None:
    if low > high:
        raise SpaceError(f"The MinValue of the hyperparameter {name} is greater than its MaxValue.")
    if scaling == LOGARITHMIC and low <= 0:
        raise SpaceError(f"The hyperparameter {name} uses Logarithmic scaling, which needs a MinValue above 0.")


def _format(value: float) -> str:
    return repr(float(value))
