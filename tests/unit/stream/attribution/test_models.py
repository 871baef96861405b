"""Model weight functions and ModelSpec; expected values are worked out by hand in the comments."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from stream.attribution import (
    DEFAULT_MODELS,
    ModelSpec,
    Touch,
    custom,
    first_touch,
    last_touch,
    linear,
    position_based,
    time_decay,
    weights_for,
)
from stream.attribution.models import (
    MODEL_KINDS,
    STANDARD_KINDS,
    WEIGHTS,
    apply_multipliers,
    normalise,
    settle,
    standard_models,
)

DAY = 86400.0
T0 = datetime(2024, 3, 1, tzinfo=UTC)


def approx(values: list[float]) -> object:
    return pytest.approx(values, rel=1e-12, abs=1e-15)


def touches(*channels: str, gap_days: float = 1.0) -> list[Touch]:
    return [Touch(f"t{i}", T0 + timedelta(days=i * gap_days), c, "click") for i, c in enumerate(channels)]


def test_first_last_linear() -> None:
    assert first_touch(3) == [1.0, 0.0, 0.0]
    assert last_touch(3) == [0.0, 0.0, 1.0]
    assert first_touch(1) == last_touch(1) == linear(1) == [1.0]
    assert linear(4) == [0.25, 0.25, 0.25, 0.25]


@pytest.mark.parametrize("model", [first_touch, last_touch, linear, position_based])
def test_empty_journey_is_rejected(model: object) -> None:
    with pytest.raises(ValueError, match="at least one touch"):
        model(0)  # type: ignore[operator]


def test_time_decay_halves_per_half_life() -> None:
    # ages 7d, 0 with half-life 7d: raw 0.5, 1 -> 1/3, 2/3
    assert time_decay([7 * DAY, 0.0], 7 * DAY) == approx([1 / 3, 2 / 3])
    # ages 2, 1, 0 half-lives: raw 1/4, 1/2, 1 (sum 7/4) -> 1/7, 2/7, 4/7
    assert time_decay([2.0, 1.0, 0.0], 1.0) == approx([1 / 7, 2 / 7, 4 / 7])


def test_time_decay_same_age_is_linear() -> None:
    assert time_decay([5.0, 5.0], 3.0) == approx([0.5, 0.5])


def test_time_decay_very_old_journey_does_not_underflow() -> None:
    # 2**-5000 underflows to 0; both touches equally old must still split 50/50, and a touch 2000
    # half-lives older than the other gets (numerically) nothing.
    assert time_decay([5000.0, 5000.0], 1.0) == approx([0.5, 0.5])
    assert time_decay([7000.0, 5000.0], 1.0) == [0.0, 1.0]


@pytest.mark.parametrize("half_life", [0.0, -1.0, math.inf, math.nan])
def test_time_decay_rejects_bad_half_life(half_life: float) -> None:
    with pytest.raises(ValueError, match="half_life_seconds"):
        time_decay([1.0], half_life)


def test_time_decay_rejects_negative_age() -> None:
    with pytest.raises(ValueError, match="after the conversion"):
        time_decay([-1.0, 0.0], 1.0)


def test_position_based_shapes() -> None:
    assert position_based(1) == [1.0]
    assert position_based(2) == approx([0.5, 0.5])  # 40/40 renormalised
    assert position_based(2, 0.3, 0.4) == approx([3 / 7, 4 / 7])  # 0.3/0.7, 0.4/0.7
    assert position_based(3) == approx([0.4, 0.2, 0.4])
    # five touches: 0.2 middle over three -> 1/15 each
    assert position_based(5) == approx([0.4, 1 / 15, 1 / 15, 1 / 15, 0.4])
    assert position_based(4, 0.5, 0.5) == approx([0.5, 0.0, 0.0, 0.5])


def test_position_based_two_touch_split_middle() -> None:
    # 0.3 / 0.5 and middle 0.2 shared evenly: 0.3 + 0.1, 0.5 + 0.1
    assert position_based(2, 0.3, 0.5, "split_middle") == approx([0.4, 0.6])


def test_position_based_zero_ends_with_two_touches_splits_evenly() -> None:
    assert position_based(2, 0.0, 0.0) == approx([0.5, 0.5])


@pytest.mark.parametrize(("first", "last"), [(0.6, 0.5), (-0.1, 0.4), (0.4, math.nan)])
def test_position_based_rejects_bad_weights(first: float, last: float) -> None:
    with pytest.raises(ValueError, match=r"first|last"):
        position_based(3, first, last)


def test_custom_normalises_like_position_based() -> None:
    # first 50 / middle 0 / last 50
    assert custom(4, 0.5, 0.0, 0.5) == approx([0.5, 0.0, 0.0, 0.5])
    # 1/2/1 sums to 4: 1/4, 2/4 over one middle touch, 1/4
    assert custom(3, 1.0, 2.0, 1.0) == approx([0.25, 0.5, 0.25])
    # two touches: first/last only, proportionally 1/(1+3), 3/(1+3)
    assert custom(2, 1.0, 5.0, 3.0) == approx([0.25, 0.75])


def test_custom_multipliers() -> None:
    # 0.4/0.2/0.4 with the first touch multiplied by 0: 0, 0.2/0.6, 0.4/0.6
    assert custom(3, 0.4, 0.2, 0.4, [0.0, 1.0, 1.0]) == approx([0.0, 1 / 3, 2 / 3])
    # multiplier 2 on the middle: 0.4, 0.4, 0.4 -> thirds
    assert custom(3, 0.4, 0.2, 0.4, [1.0, 2.0, 1.0]) == approx([1 / 3, 1 / 3, 1 / 3])


def test_custom_all_zero_falls_back_to_linear() -> None:
    # first-only weights but the first touch multiplied by 0: linear over the touches the multipliers keep
    assert custom(3, 1.0, 0.0, 0.0, [0.0, 1.0, 1.0]) == approx([0.0, 0.5, 0.5])
    # every multiplier 0: plain linear, so credits still sum to 1
    assert custom(3, 1.0, 0.0, 0.0, [0.0, 0.0, 0.0]) == approx([1 / 3, 1 / 3, 1 / 3])
    # middle-only weights with two touches leave nothing: linear
    assert custom(2, 0.0, 1.0, 0.0) == approx([0.5, 0.5])


def test_custom_weight_list() -> None:
    # 1+2+3+4 = 10
    assert custom(4, weights=[1, 2, 3, 4]) == approx([0.1, 0.2, 0.3, 0.4])
    # a longer journey reuses the final entry: 1, 2, 3, 3, 3 (sum 12)
    assert custom(5, weights=[1, 2, 3]) == approx([1 / 12, 2 / 12, 3 / 12, 3 / 12, 3 / 12])
    # a shorter journey uses the prefix: 1, 2 -> 1/3, 2/3
    assert custom(2, weights=[1, 2, 3]) == approx([1 / 3, 2 / 3])


def test_custom_rejects_bad_weights() -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        custom(3, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="multiplier"):
        custom(2, multipliers=[1.0, -1.0])
    with pytest.raises(ValueError, match="2 touches"):
        apply_multipliers([0.5, 0.5], [1.0])


def test_normalise_and_settle() -> None:
    assert normalise([1e300, 1e300]) == [0.5, 0.5]  # no overflow in the sum
    with pytest.raises(ValueError, match="all 0"):
        normalise([0.0, 0.0])
    # 0.3 + 0.3 + 0.3 is 1e-9 short: the last non-zero share (index 2) absorbs it, not the trailing 0.
    settled = settle([0.3, 0.3, 0.4 - 1e-9, 0.0])
    assert settled[:2] == [0.3, 0.3] and settled[3] == 0.0
    assert abs(math.fsum(settled) - 1.0) <= 1e-15
    assert settle([0.25, 0.75]) == [0.25, 0.75]


def test_default_models() -> None:
    assert [m.name for m in DEFAULT_MODELS] == [
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
    ]
    assert all(m.name == m.kind for m in DEFAULT_MODELS)
    assert DEFAULT_MODELS[3].half_life_seconds == 7 * DAY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "time_decay", "half_life_seconds": 0.0}, "half_life_seconds must be > 0"),
        ({"kind": "custom", "first": -0.1}, "first weight must be >= 0"),
        ({"kind": "custom", "first": 0.0, "middle": 0.0, "last": 0.0}, "must not all be 0"),
        ({"kind": "position_based", "first": 0.7, "last": 0.7}, "first \\+ last <= 1"),
        ({"kind": "linear", "channel_multipliers": {"ads": -2.0}}, "channel 'ads'"),
        ({"kind": "linear", "weights": (1.0,)}, "weight list needs kind 'custom'"),
        ({"kind": "custom", "weights": (1.0, -1.0)}, "custom weights must be >= 0"),
        ({"kind": "median_touch"}, "unknown kind"),
        ({"kind": "time_decay", "age_granularity_seconds": -1.0}, "age_granularity_seconds"),
        ({"kind": "position_based", "two_touch": "sometimes"}, "two_touch"),
    ],
)
def test_model_spec_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelSpec(name="m", **kwargs)  # type: ignore[arg-type]


def test_model_spec_copies_multipliers() -> None:
    multipliers = {"ads": 2.0}
    spec = ModelSpec("m", "linear", channel_multipliers=multipliers)
    multipliers["ads"] = 0.0
    assert spec.channel_multipliers == {"ads": 2.0}
    assert hash(spec) == hash(ModelSpec("m", "linear", channel_multipliers={"ads": 3.0}))


def test_weights_for_dispatch() -> None:
    journey = touches("a", "b", "c")  # days 0, 1, 2
    conversion = T0 + timedelta(days=2)
    assert weights_for(ModelSpec("f", "first_touch"), journey, conversion) == [1.0, 0.0, 0.0]
    assert weights_for(ModelSpec("l", "last_touch"), journey, conversion) == [0.0, 0.0, 1.0]
    assert weights_for(ModelSpec("p", "position_based"), journey, conversion) == approx([0.4, 0.2, 0.4])
    # ages 2, 1, 0 days, half-life 1 day -> 1/7, 2/7, 4/7
    decay = ModelSpec("d", "time_decay", half_life_seconds=DAY)
    assert weights_for(decay, journey, conversion) == approx([1 / 7, 2 / 7, 4 / 7])
    assert weights_for(ModelSpec("c", "custom", weights=(3.0, 1.0)), journey, conversion) == approx(
        [3 / 5, 1 / 5, 1 / 5]
    )


def test_every_kind_has_exactly_one_weight_function() -> None:
    # The kinds are the one list of model names: the registry, the defaults and the reports all derive from it.
    assert MODEL_KINDS == ("first_touch", "last_touch", "linear", "time_decay", "position_based", "custom")
    assert tuple(WEIGHTS) == MODEL_KINDS
    assert STANDARD_KINDS == ("first_touch", "last_touch", "linear", "time_decay", "position_based")
    # linear over three touches (the one kind the dispatch test above leaves out): a third each.
    journey = touches("a", "b", "c")
    assert weights_for(ModelSpec("lin", "linear"), journey, T0 + timedelta(days=2)) == approx([1 / 3] * 3)


def test_standard_models_set_the_half_life_of_time_decay_only() -> None:
    models = standard_models(half_life_seconds=2 * DAY)
    assert [(m.name, m.kind) for m in models] == [(k, k) for k in STANDARD_KINDS]
    assert [m.half_life_seconds for m in models] == [7 * DAY, 7 * DAY, 7 * DAY, 2 * DAY, 7 * DAY]
    assert standard_models() == DEFAULT_MODELS


def test_weights_for_day_granularity() -> None:
    # ages 1.5 and 0.5 days floor to 1 and 0: with half-life 1 day raw 1/2, 1 -> 1/3, 2/3
    journey = touches("a", "b")
    conversion = T0 + timedelta(days=1.5)
    spec = ModelSpec("d", "time_decay", half_life_seconds=DAY, age_granularity_seconds=DAY)
    assert weights_for(spec, journey, conversion) == approx([1 / 3, 2 / 3])


def test_weights_for_channel_multipliers_apply_to_any_model() -> None:
    journey = touches("a", "b", "a")
    conversion = T0 + timedelta(days=2)
    # linear thirds, b doubled: 1, 2, 1 over 4
    spec = ModelSpec("x", "linear", channel_multipliers={"b": 2.0})
    assert weights_for(spec, journey, conversion) == approx([0.25, 0.5, 0.25])
    # first touch on a, a multiplied by 0: fall back to linear over what the multipliers keep -> all to b
    spec = ModelSpec("y", "first_touch", channel_multipliers={"a": 0.0})
    assert weights_for(spec, journey, conversion) == approx([0.0, 1.0, 0.0])
