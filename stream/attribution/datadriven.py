"""Population-level (data-driven) attribution over many channel paths: Markov removal effect and Shapley.

Input is a list of ``ChannelPath``: the channels of one journey's eligible touches in order (built with
``eligibility``), whether it converted, its conversion value and a multiplicity ``count``. A journey
without touches becomes the one-state path ``(no_touch_channel,)``; with ``no_touch_channel=None`` it is
left out and, if it converted, reported as unattributed.

Markov (first order):

- States start -> channels -> conversion | null, transition probabilities from the counted transitions of
  all paths; consecutive repeats of a channel are collapsed by default (``collapse_repeats``). In a first-
  order chain a self-loop only rescales the other exits of its state, so collapsing changes no result;
  the switch exists to state the convention explicitly.
- The conversion probability is the exact absorption probability, solved with Gaussian elimination (no
  simulation). Removing a channel sends every transition into it to null; removal effect
  ``RE(c) = 1 - P(without c) / P``; every RE is 0 when nothing converts.
- ``allocation="global"``: credit(c) = total * RE(c) / sum(RE). ``allocation="per_journey"``: inside each
  converting path the distinct channels share the conversion in proportion to their RE (equally if all
  of them have RE 0).
- ``value_mode="proportional"`` splits the total value like the conversions; ``"channelattribution"``
  weights each state's conversion transition by the mean value of the conversions whose path ends there
  and computes value removal effects from that expected value.
- Cost: one linear solve per channel, O(channels^4) overall; fine for the tens of channels we expect.

Shapley (Zhao et al. 2018): ``R(T)`` is the number (``measure="conversions"``) or value (``"value"``) of
conversions whose set of channels is exactly ``T``; ``v(S) = sum of R(T) over T subset of S``. Its exact
Shapley value has the closed form ``phi(c) = sum over T containing c of R(T) / |T|``, so credit = phi.
``characteristic="conversion_rate"`` instead uses ``v(S)`` = conversion rate of the journeys whose channel
set is exactly ``S`` (0 if there is none), computed by exact enumeration (at most ``MAX_SHAPLEY_CHANNELS``
channels), and credit = total * phi / sum(phi).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from typing import Literal

ValueMode = Literal["proportional", "channelattribution"]
Allocation = Literal["global", "per_journey"]
Measure = Literal["conversions", "value"]
Characteristic = Literal["zhao", "conversion_rate"]

MAX_SHAPLEY_CHANNELS = 16
_START, _CONV, _NULL = -1, -2, -3


@dataclass(frozen=True)
class ChannelPath:
    channels: tuple[str, ...]
    converted: bool
    value: float = 0.0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 0 or not math.isfinite(self.value):
            msg = f"a path needs count >= 0 and a finite value, got count={self.count}, value={self.value}"
            raise ValueError(msg)


@dataclass(frozen=True)
class MarkovResult:
    conversion_probability: float
    removal_effects: dict[str, float]
    credit_conversions: dict[str, float]
    credit_value: dict[str, float]
    unattributed_conversions: float = 0.0
    unattributed_value: float = 0.0


@dataclass(frozen=True)
class ShapleyResult:
    credit: dict[str, float]
    phi: dict[str, float] = field(default_factory=dict)
    unattributed_conversions: float = 0.0
    unattributed_value: float = 0.0


@dataclass
class _Population:
    paths: list[ChannelPath]
    channels: list[str]
    unattributed_conversions: float = 0.0
    unattributed_value: float = 0.0


def _prepare(paths: Iterable[ChannelPath], no_touch_channel: str | None, collapse: bool) -> _Population:
    kept: list[ChannelPath] = []
    lost_conv = lost_value = 0.0
    for path in paths:
        channels = path.channels
        if not channels:
            if no_touch_channel is None:
                if path.converted:
                    lost_conv += path.count
                    lost_value += path.value * path.count
                continue
            channels = (no_touch_channel,)
        if collapse:
            channels = tuple(c for i, c in enumerate(channels) if i == 0 or c != channels[i - 1])
        kept.append(ChannelPath(channels, path.converted, path.value, path.count))
    names = sorted({c for p in kept for c in p.channels})
    return _Population(kept, names, lost_conv, lost_value)


def solve_linear(matrix: Sequence[Sequence[float]], rhs: Sequence[float]) -> list[float]:
    """Solve ``matrix @ x = rhs`` by Gaussian elimination with partial pivoting."""
    n = len(rhs)
    rows = [[*matrix[i], rhs[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        if rows[pivot][col] == 0:
            msg = "singular system: a state cannot reach conversion or null"
            raise ArithmeticError(msg)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            if factor:
                for k in range(col, n + 1):
                    rows[r][k] -= factor * rows[col][k]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (rows[i][n] - math.fsum(rows[i][k] * x[k] for k in range(i + 1, n))) / rows[i][i]
    return x


class _Chain:
    """Transition probabilities between states (channel indices, _START, _CONV, _NULL)."""

    def __init__(self, population: _Population) -> None:
        index = {c: i for i, c in enumerate(population.channels)}
        self.size = len(index)
        counts: dict[int, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        value_sum: dict[int, float] = defaultdict(float)
        conv_count: dict[int, float] = defaultdict(float)
        for path in population.paths:
            states = [_START, *(index[c] for c in path.channels), _CONV if path.converted else _NULL]
            for a, b in pairwise(states):
                counts[a][b] += path.count
            if path.converted:
                value_sum[states[-2]] += path.value * path.count
                conv_count[states[-2]] += path.count
        self.prob: dict[int, dict[int, float]] = {}
        for a, row in counts.items():
            total = math.fsum(row.values())
            self.prob[a] = {b: n / total for b, n in row.items()} if total > 0 else {}
        self.mean_value = {s: value_sum[s] / conv_count[s] for s in conv_count if conv_count[s] > 0}

    def absorption(self, removed: int | None = None, value_weighted: bool = False) -> float:
        """P(start reaches conversion) (or the expected value) with channel ``removed`` sent to null."""
        live = [s for s in range(self.size) if s != removed]
        pos = {s: i for i, s in enumerate(live)}
        matrix = [[0.0] * len(live) for _ in live]
        rhs = [0.0] * len(live)
        for s in live:
            i = pos[s]
            matrix[i][i] += 1.0
            row = self.prob.get(s, {})
            for t, p in row.items():
                if t in pos:
                    matrix[i][pos[t]] -= p
            reward = self.mean_value.get(s, 0.0) if value_weighted else 1.0
            rhs[i] = row.get(_CONV, 0.0) * reward
        h = solve_linear(matrix, rhs)
        start = self.prob.get(_START, {})
        return math.fsum(p * h[pos[s]] for s, p in start.items() if s in pos)


def _removal_effects(chain: _Chain, value_weighted: bool) -> tuple[float, list[float]]:
    base = chain.absorption(None, value_weighted)
    if base <= 0:
        return base, [0.0] * chain.size
    return base, [max(0.0, 1.0 - chain.absorption(c, value_weighted) / base) for c in range(chain.size)]


def _global(total: float, effects: list[float]) -> list[float]:
    s = math.fsum(effects)
    return [total * e / s if s > 0 else 0.0 for e in effects]


def _per_journey(population: _Population, effects: list[float], measure: Measure) -> list[float]:
    index = {c: i for i, c in enumerate(population.channels)}
    credit = [0.0] * len(index)
    for path in population.paths:
        if not path.converted:
            continue
        amount = path.count * (path.value if measure == "value" else 1.0)
        members = sorted({index[c] for c in path.channels})
        weights = [effects[m] for m in members]
        if math.fsum(weights) <= 0:
            weights = [1.0] * len(members)
        s = math.fsum(weights)
        for m, w in zip(members, weights, strict=True):
            credit[m] += amount * w / s
    return credit


def markov_model(
    paths: Iterable[ChannelPath],
    *,
    no_touch_channel: str | None = "direct",
    collapse_repeats: bool = True,
    value_mode: ValueMode = "proportional",
    allocation: Allocation = "global",
) -> MarkovResult:
    population = _prepare(paths, no_touch_channel, collapse_repeats)
    chain = _Chain(population)
    probability, effects = _removal_effects(chain, value_weighted=False)
    value_effects = effects if value_mode == "proportional" else _removal_effects(chain, True)[1]
    converting = [p for p in population.paths if p.converted]
    total_conv = math.fsum(p.count for p in converting)
    total_value = math.fsum(p.value * p.count for p in converting)
    if allocation == "global":
        conv_credit = _global(total_conv, effects)
        value_credit = _global(total_value, value_effects)
    else:
        conv_credit = _per_journey(population, effects, "conversions")
        value_credit = _per_journey(population, value_effects, "value")
    names = population.channels
    return MarkovResult(
        conversion_probability=probability,
        removal_effects=dict(zip(names, effects, strict=True)),
        credit_conversions=dict(zip(names, conv_credit, strict=True)),
        credit_value=dict(zip(names, value_credit, strict=True)),
        unattributed_conversions=population.unattributed_conversions,
        unattributed_value=population.unattributed_value,
    )


def _zhao(population: _Population, measure: Measure) -> dict[str, float]:
    credit = dict.fromkeys(population.channels, 0.0)
    for path in population.paths:
        if path.converted:
            members = set(path.channels)
            amount = path.count * (path.value if measure == "value" else 1.0)
            for c in members:
                credit[c] += amount / len(members)
    return credit


def _conversion_rate_phi(population: _Population) -> dict[str, float]:
    names = population.channels
    if len(names) > MAX_SHAPLEY_CHANNELS:
        msg = f"exact Shapley enumeration is limited to {MAX_SHAPLEY_CHANNELS} channels, got {len(names)}"
        raise ValueError(msg)
    journeys: dict[frozenset[str], float] = defaultdict(float)
    conversions: dict[frozenset[str], float] = defaultdict(float)
    for path in population.paths:
        key = frozenset(path.channels)
        journeys[key] += path.count
        if path.converted:
            conversions[key] += path.count

    def v(coalition: frozenset[str]) -> float:
        seen = journeys.get(coalition, 0.0)
        return conversions[coalition] / seen if seen > 0 else 0.0

    n = len(names)
    phi: dict[str, float] = {}
    for c in names:
        others = [o for o in names if o != c]
        terms = []
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in combinations(others, size):
                s = frozenset(subset)
                terms.append(weight * (v(s | {c}) - v(s)))
        phi[c] = math.fsum(terms)
    return phi


def shapley_model(
    paths: Iterable[ChannelPath],
    *,
    no_touch_channel: str | None = "direct",
    measure: Measure = "conversions",
    characteristic: Characteristic = "zhao",
) -> ShapleyResult:
    population = _prepare(paths, no_touch_channel, collapse=False)
    lost = (population.unattributed_conversions, population.unattributed_value)
    if characteristic == "zhao":
        credit = _zhao(population, measure)
        return ShapleyResult(credit, dict(credit), *lost)
    phi = _conversion_rate_phi(population)
    converting = [p for p in population.paths if p.converted]
    total = math.fsum(p.count * (p.value if measure == "value" else 1.0) for p in converting)
    s = math.fsum(phi.values())
    credit = {c: total * f / s if s > 0 else 0.0 for c, f in phi.items()}
    return ShapleyResult(credit, phi, *lost)
