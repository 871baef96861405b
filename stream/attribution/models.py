"""Per-conversion attribution models: pure functions from a journey to one weight per touch.

Every model returns a list of non-negative floats, one per touch in the order given (oldest first; the
caller orders the touches, see ``eligibility``), summing to 1 within 1e-12 (``math.fsum``). A model never
sees an empty journey: a conversion without an eligible touch is credited to ``direct`` by ``credits``.

Conventions:

- ``position_based(n, first, last)``: ``first``/``last`` go to the first/last touch and ``1 - first - last``
  is split equally over the middle touches. One touch gets 100 %. Two touches share ``first``/``last``
  proportionally (40/40 -> 50/50, 30/40 -> 3/7, 4/7), or, with ``two_touch="split_middle"``, each gets its
  own share plus half the middle share (30/50 -> 40/60).
- ``custom``: operator weights ``first``/``middle``/``last`` are normalised by their sum and laid out like
  ``position_based`` (``middle`` split over the middle touches). An explicit per-position weight list is
  also accepted: entry ``i`` weights the ``i``-th touch from the first; longer journeys reuse the final
  entry for the remaining touches. Weights that come out all 0 for a journey (e.g. middle-only weights on
  two touches) fall back to linear.
- Channel multipliers (any model, a ``ModelSpec`` field): each touch's weight is multiplied by its
  channel's multiplier (missing channel = 1) and the result renormalised. When that leaves nothing
  (every weighted touch multiplied by 0) the model falls back to linear weighted by the multipliers alone,
  and to plain linear if every multiplier is 0, so that the credits still sum to 1.
- Normalisation divides by the largest weight before summing (no overflow, no underflow to 0/0), then by
  the ``fsum``; if float error still leaves the sum more than 1e-12 away from 1, the last non-zero weight
  absorbs the difference (``settle``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal, get_args

from stream.attribution.eligibility import Touch

ModelKind = Literal["first_touch", "last_touch", "linear", "time_decay", "position_based", "custom"]
"""Every kind of model, in report order; the one list of model names (see ``WEIGHTS`` and ``DEFAULT_MODELS``)."""
TwoTouchRule = Literal["proportional", "split_middle"]

MODEL_KINDS: Final[tuple[ModelKind, ...]] = get_args(ModelKind)
# Every kind but the operator's own: each of them is a model of the same name in every deployment.
STANDARD_KINDS: Final[tuple[ModelKind, ...]] = tuple(k for k in MODEL_KINDS if k != "custom")
SUM_TOLERANCE = 1e-12
DAY_SECONDS = 86400.0


def _require_touches(n: int) -> None:
    if n < 1:
        msg = f"a model needs at least one touch, got n={n}"
        raise ValueError(msg)


def _require_weight(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        msg = f"{name} must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)


def settle(weights: Sequence[float]) -> list[float]:
    """Return ``weights`` with the last non-zero entry adjusted so that ``fsum`` is 1 within 1e-12."""
    out = list(weights)
    if abs(math.fsum(out) - 1.0) <= SUM_TOLERANCE:
        return out
    last = max((i for i, w in enumerate(out) if w > 0), default=len(out) - 1)
    out[last] = 1.0 - math.fsum(w for i, w in enumerate(out) if i != last)
    return out


def normalise(raw: Sequence[float]) -> list[float]:
    """Scale non-negative weights to sum to 1; raises ValueError if they are all 0."""
    for w in raw:
        _require_weight("weight", w)
    top = max(raw, default=0.0)
    if top <= 0:
        msg = "cannot normalise weights that are all 0"
        raise ValueError(msg)
    scaled = [w / top for w in raw]
    total = math.fsum(scaled)
    return settle([w / total for w in scaled])


def first_touch(n: int) -> list[float]:
    _require_touches(n)
    return [1.0] + [0.0] * (n - 1)


def last_touch(n: int) -> list[float]:
    _require_touches(n)
    return [0.0] * (n - 1) + [1.0]


def linear(n: int) -> list[float]:
    _require_touches(n)
    return normalise([1.0] * n)


def time_decay(ages_seconds: Sequence[float], half_life_seconds: float) -> list[float]:
    """Raw weight ``2 ** (-age / half_life)``, normalised."""
    _require_touches(len(ages_seconds))
    if not math.isfinite(half_life_seconds) or half_life_seconds <= 0:
        msg = f"half_life_seconds must be a finite number > 0, got {half_life_seconds!r}"
        raise ValueError(msg)
    for age in ages_seconds:
        if not math.isfinite(age) or age < 0:
            msg = f"touch ages must be finite and >= 0 (no touch after the conversion), got {age!r}"
            raise ValueError(msg)
    # Measuring from the youngest touch changes nothing after normalisation but keeps the largest raw
    # weight at 1, so very old journeys cannot underflow to all zeros.
    youngest = min(ages_seconds)
    return normalise([2.0 ** (-(age - youngest) / half_life_seconds) for age in ages_seconds])


def _layout(n: int, first: float, middle: float, last: float, two_touch: TwoTouchRule) -> list[float]:
    """Raw first/middle/last layout over ``n`` touches (not normalised)."""
    if n == 1:
        return [1.0]
    if n == 2:
        if two_touch == "split_middle":
            return [first + middle / 2, last + middle / 2]
        return [first, last]
    return [first] + [middle / (n - 2)] * (n - 2) + [last]


def position_based(
    n: int, first: float = 0.4, last: float = 0.4, two_touch: TwoTouchRule = "proportional"
) -> list[float]:
    _require_touches(n)
    _require_weight("first", first)
    _require_weight("last", last)
    if first + last > 1.0 + SUM_TOLERANCE:
        msg = f"position_based needs first + last <= 1, got {first} + {last}"
        raise ValueError(msg)
    raw = _layout(n, first, max(0.0, 1.0 - first - last), last, two_touch)
    # first = last = 0 with two touches leaves nothing to share proportionally: split evenly.
    return normalise(raw) if max(raw) > 0 else linear(n)


def apply_multipliers(weights: Sequence[float], multipliers: Sequence[float]) -> list[float]:
    """Multiply per-touch weights and renormalise, falling back to linear (see module docstring)."""
    if len(multipliers) != len(weights):
        msg = f"got {len(multipliers)} multipliers for {len(weights)} touches"
        raise ValueError(msg)
    for m in multipliers:
        _require_weight("multiplier", m)
    scaled = [w * m for w, m in zip(weights, multipliers, strict=True)]
    if max(scaled, default=0.0) > 0:
        return normalise(scaled)
    if max(multipliers, default=0.0) > 0:
        return normalise(multipliers)
    return linear(len(weights))


def _position_list(n: int, weights: Sequence[float]) -> list[float]:
    if not weights:
        msg = "an explicit custom weight list must not be empty"
        raise ValueError(msg)
    return [weights[min(i, len(weights) - 1)] for i in range(n)]


def custom(
    n: int,
    first: float = 0.4,
    middle: float = 0.2,
    last: float = 0.4,
    multipliers: Sequence[float] | None = None,
    *,
    weights: Sequence[float] | None = None,
) -> list[float]:
    """Operator-defined first/middle/last weights (or an explicit weight list), then multipliers."""
    _require_touches(n)
    if weights is not None:
        raw = _position_list(n, weights)
    else:
        for name, value in (("first", first), ("middle", middle), ("last", last)):
            _require_weight(name, value)
        if first + middle + last <= 0:
            msg = "custom weights first + middle + last must be > 0"
            raise ValueError(msg)
        raw = _layout(n, first, middle, last, "proportional")
    for w in raw:
        _require_weight("weight", w)
    base = normalise(raw) if max(raw) > 0 else [0.0] * n
    return apply_multipliers(base, multipliers if multipliers is not None else [1.0] * n)


@dataclass(frozen=True)
class ModelSpec:
    """A named, validated model configuration; several ``custom`` specs may coexist under their names.

    ``middle`` is used only by ``custom`` (``position_based`` gives the middle ``1 - first - last``).
    ``age_granularity_seconds`` > 0 floors time-decay ages to whole multiples (86400: whole days).
    ``weights`` is the explicit per-position list of a ``custom`` model (overrides first/middle/last).
    """

    name: str
    kind: ModelKind
    half_life_seconds: float = 7 * DAY_SECONDS
    first: float = 0.4
    middle: float = 0.2
    last: float = 0.4
    channel_multipliers: Mapping[str, float] = field(default_factory=dict, hash=False)
    two_touch: TwoTouchRule = "proportional"
    age_granularity_seconds: float = 0.0
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name:
            msg = "a model needs a non-empty name"
            raise ValueError(msg)
        if self.kind not in MODEL_KINDS:
            msg = f"model {self.name!r}: unknown kind {self.kind!r}, expected one of {MODEL_KINDS}"
            raise ValueError(msg)
        if not math.isfinite(self.half_life_seconds) or self.half_life_seconds <= 0:
            msg = f"model {self.name!r}: half_life_seconds must be > 0, got {self.half_life_seconds!r}"
            raise ValueError(msg)
        for label, value in (("first", self.first), ("middle", self.middle), ("last", self.last)):
            if not math.isfinite(value) or value < 0:
                msg = f"model {self.name!r}: {label} weight must be >= 0, got {value!r}"
                raise ValueError(msg)
        if self.kind == "position_based" and self.first + self.last > 1.0 + SUM_TOLERANCE:
            msg = f"model {self.name!r}: position_based needs first + last <= 1"
            raise ValueError(msg)
        if self.kind == "custom" and self.weights is None and self.first + self.middle + self.last <= 0:
            msg = f"model {self.name!r}: custom weights must not all be 0"
            raise ValueError(msg)
        if self.weights is not None:
            if self.kind != "custom" or not self.weights:
                msg = f"model {self.name!r}: a weight list needs kind 'custom' and at least one entry"
                raise ValueError(msg)
            for w in self.weights:
                if not math.isfinite(w) or w < 0:
                    msg = f"model {self.name!r}: custom weights must be >= 0, got {w!r}"
                    raise ValueError(msg)
        for channel, m in self.channel_multipliers.items():
            if not math.isfinite(m) or m < 0:
                msg = f"model {self.name!r}: multiplier for channel {channel!r} must be >= 0, got {m!r}"
                raise ValueError(msg)
        if self.two_touch not in ("proportional", "split_middle"):
            msg = f"model {self.name!r}: unknown two_touch rule {self.two_touch!r}"
            raise ValueError(msg)
        if not math.isfinite(self.age_granularity_seconds) or self.age_granularity_seconds < 0:
            msg = f"model {self.name!r}: age_granularity_seconds must be >= 0"
            raise ValueError(msg)
        # A private copy: the caller's dict must not change a frozen spec afterwards.
        object.__setattr__(self, "channel_multipliers", dict(self.channel_multipliers))


def standard_models(half_life_seconds: float = 7 * DAY_SECONDS) -> tuple[ModelSpec, ...]:
    """One model per standard kind, named after its kind; ``half_life_seconds`` is the time-decay model's."""
    return tuple(
        ModelSpec(kind, kind, half_life_seconds=half_life_seconds) if kind == "time_decay" else ModelSpec(kind, kind)
        for kind in STANDARD_KINDS
    )


DEFAULT_MODELS: Final[tuple[ModelSpec, ...]] = standard_models()


def _ages(spec: ModelSpec, touches: Sequence[Touch], conversion_time: datetime) -> list[float]:
    ages = [(conversion_time - t.time).total_seconds() for t in touches]
    step = spec.age_granularity_seconds
    return [math.floor(a / step) * step for a in ages] if step > 0 else ages


WeightFunction = Callable[[ModelSpec, Sequence[Touch], datetime], list[float]]

WEIGHTS: Final[Mapping[ModelKind, WeightFunction]] = {
    "first_touch": lambda spec, touches, at: first_touch(len(touches)),
    "last_touch": lambda spec, touches, at: last_touch(len(touches)),
    "linear": lambda spec, touches, at: linear(len(touches)),
    "time_decay": lambda spec, touches, at: time_decay(_ages(spec, touches, at), spec.half_life_seconds),
    "position_based": lambda spec, touches, at: position_based(len(touches), spec.first, spec.last, spec.two_touch),
    "custom": lambda spec, touches, at: custom(len(touches), spec.first, spec.middle, spec.last, weights=spec.weights),
}
"""Each kind's weight function of (spec, eligible touches oldest first, conversion time), before multipliers."""


def weights_for(spec: ModelSpec, touches: Sequence[Touch], conversion_time: datetime) -> list[float]:
    """Weights of ``spec`` for ``touches`` (already eligible and ordered) of one conversion."""
    base = WEIGHTS[spec.kind](spec, touches, conversion_time)
    if not spec.channel_multipliers:
        return base
    return apply_multipliers(base, [spec.channel_multipliers.get(t.channel, 1.0) for t in touches])
