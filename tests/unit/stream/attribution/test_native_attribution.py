"""The compiled `attribute_journey` (native/src/attribute.rs) against the Python reference (credits.py).

Random journeys, models, windows, revenues and currencies go through both. Where the crate answers, it must
give exactly the reference's answer: the same Touch objects in the same order, every share bit for bit (its
`float.hex`), every revenue part the same Decimal (value and exponent). Where the reference raises, the crate
must have declined. Inputs built to be declined (naive times, huge revenues, numbers that are not floats) must
be, and the typical journeys must not be.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.native import Attribution
from stream.attribution.compiled import JourneyAttribution
from stream.attribution.credits import ConversionFacts, _minor_units, _zero, attribute_journey
from stream.attribution.eligibility import Touch, Windows
from stream.attribution.models import DEFAULT_MODELS, MODEL_KINDS, ModelSpec

AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAY = 86_400

_offsets = st.one_of(
    st.sampled_from([0, 1, DAY, DAY + 1, 7 * DAY, 7 * DAY + 1, 3 * DAY, -1, -DAY]),
    st.integers(-DAY, 10 * DAY),
)
_touch = st.builds(
    lambda seconds, micros, tid, kind, channel, ctype, campaign, creative: Touch(
        tid, AT - timedelta(seconds=seconds, microseconds=micros), channel, kind, ctype, campaign, creative
    ),
    _offsets,
    st.sampled_from([0, 0, 1, 999_999]),
    st.sampled_from(["a", "b", "tp-1", "tp-10", "é", "Z"]),
    st.sampled_from(["click", "view"]),
    st.sampled_from(["wechat_ads", "douyin", "", "直播", "share"]),
    st.sampled_from(["", "ad", "organic"]),
    st.sampled_from(["", "c1", "c2"]),
    st.sampled_from(["", "x"]),
)
_weight = st.one_of(
    st.sampled_from([0.0, 0.2, 0.4, 0.5, 1.0, 0, 1, 2]),
    st.floats(0, 5, allow_nan=False, allow_infinity=False),
)


@st.composite
def _spec(draw: Any, name: str) -> ModelSpec:
    kind = draw(st.sampled_from(MODEL_KINDS))
    first, last = draw(_weight), draw(_weight)
    if kind == "position_based":
        first, last = min(float(first), 0.6), min(float(last), 0.4)
    multipliers = draw(st.dictionaries(st.sampled_from(["wechat_ads", "douyin", "直播", "none"]), _weight, max_size=3))
    weights = draw(st.none() | st.lists(_weight, min_size=1, max_size=4).map(tuple)) if kind == "custom" else None
    middle = draw(_weight)
    if kind == "custom" and weights is None and first + middle + last <= 0:
        middle = 1.0
    return ModelSpec(
        name, kind, half_life_seconds=draw(st.sampled_from([7 * DAY, DAY, 3600.0, 1.0, 0.001])), first=first,
        middle=middle, last=last, channel_multipliers=multipliers,
        two_touch=draw(st.sampled_from(["proportional", "split_middle"])),
        age_granularity_seconds=draw(st.sampled_from([0.0, 0.0, 3600.0, float(DAY), 7.5])), weights=weights,
    )


_models = st.integers(1, 4).flatmap(lambda n: st.tuples(*[_spec(f"m{i}") for i in range(n)]))
_window = st.sampled_from([0.0, 3600.0, float(DAY), 7.0 * DAY, math.inf, 1.5, DAY])
_revenue = st.one_of(
    st.builds(lambda n, e: Decimal(n).scaleb(-e), st.integers(-10**12, 10**12), st.integers(0, 6)),
    st.sampled_from([Decimal(0), Decimal("0.00"), Decimal("99.9"), Decimal("-5"), Decimal("1E+3"), Decimal(10**27)]),
)
_currency = st.sampled_from(["CNY", "JPY", "BHD", "usd", ""])


def _compiled(models: tuple[ModelSpec, ...]) -> Attribution | None:
    try:
        return Attribution(models, _minor_units, _zero, Decimal)
    except (TypeError, ValueError):
        return None


def _same(native: Any, reference: Any) -> None:
    journey, per_model = native
    ref_journey, ref_models = reference
    assert len(journey) == len(ref_journey)
    assert all(a is b for a, b in zip(journey, ref_journey, strict=True))
    assert [m for m, _, _ in per_model] == [m for m, _, _ in ref_models]
    for (_, shares, parts), (_, ref_shares, ref_parts) in zip(per_model, ref_models, strict=True):
        assert [s.hex() for s in shares] == [float(s).hex() for s in ref_shares]
        assert all(type(s) is float for s in shares)
        assert [(p, p.as_tuple()) for p in parts] == [(p, p.as_tuple()) for p in ref_parts]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    touches=st.lists(_touch, max_size=7), models=_models, click=_window, view=_window, revenue=_revenue,
    currency=_currency,
)
def test_the_crate_answers_as_the_reference_does(
    touches: list[Touch], models: tuple[ModelSpec, ...], click: float, view: float, revenue: Decimal, currency: str
) -> None:
    windows = Windows(click, view)
    try:
        reference: Any = attribute_journey(ConversionFacts("c", AT, revenue, currency), touches, models, windows)
    except ValueError:
        reference = None
    compiled = _compiled(models)
    if compiled is None:
        return
    native = compiled.journey(touches, AT, revenue, currency, windows)
    if reference is None:
        assert native is None  # the reference raised: the crate must not have answered
    elif native is not None:
        _same(native, reference)


def _typical() -> list[Touch]:
    return [
        Touch("t1", AT - timedelta(days=3), "douyin", "click", "ad", "c1"),
        Touch("t2", AT - timedelta(days=2, hours=5), "wechat_ads", "view"),
        Touch("t3", AT - timedelta(hours=6, microseconds=7), "wechat_ads", "click", "ad", "c2", "x"),
        Touch("t0", AT - timedelta(hours=6, microseconds=7), "share", "click"),
    ]


@pytest.mark.parametrize("revenue", [Decimal("99.90"), Decimal("100"), Decimal("0"), Decimal("-12.34")])
def test_typical_journeys_are_taken_by_the_crate_under_every_default_model(revenue: Decimal) -> None:
    compiled = _compiled(DEFAULT_MODELS)
    assert compiled is not None
    touches = _typical()
    native = compiled.journey(touches, AT, revenue, "CNY", Windows())
    assert native is not None
    _same(native, attribute_journey(ConversionFacts("c", AT, revenue, "CNY"), touches, DEFAULT_MODELS))
    journey, per_model = native
    assert [t.touchpoint_id for t in journey] == ["t1", "t0", "t3"]  # views drop out; equal times by id
    assert sum(per_model[2][2], Decimal(0)) == revenue  # linear's parts add up to the revenue


def test_no_eligible_touch_gives_the_whole_revenue_to_each_model() -> None:
    compiled = _compiled(DEFAULT_MODELS)
    assert compiled is not None
    revenue = Decimal("5.5")
    native = compiled.journey([Touch("late", AT + timedelta(seconds=1), "douyin", "click")], AT, revenue, "CNY",
                              Windows())
    assert native is not None
    journey, per_model = native
    assert journey == []
    assert [(m, s, p[0] is revenue) for m, s, p in per_model] == [(m.name, [1.0], True) for m in DEFAULT_MODELS]


@pytest.mark.parametrize(
    ("at", "revenue"),
    [
        (AT.replace(tzinfo=None), Decimal(1)),  # naive: the reference raises
        (AT.astimezone(timezone(timedelta(hours=8))), Decimal(1)),  # not UTC itself
        (AT, Decimal(10**26)),  # 10**28 minor units
        (AT, Decimal("NaN")),
        (AT, 1),  # not a Decimal
    ],
)
def test_inputs_it_is_not_sure_of_are_declined(at: datetime, revenue: Any) -> None:
    compiled = _compiled(DEFAULT_MODELS)
    assert compiled is not None
    assert compiled.journey(_typical(), at, revenue, "CNY", Windows()) is None


def test_a_touch_of_another_shape_is_declined() -> None:
    compiled = _compiled(DEFAULT_MODELS)
    assert compiled is not None
    odd = Touch("t9", AT - timedelta(hours=1), "douyin", "click")
    object.__setattr__(odd, "channel", 5)
    assert compiled.journey([*_typical(), odd], AT, Decimal(1), "CNY", Windows()) is None
    assert compiled.journey(tuple(_typical()), AT, Decimal(1), "CNY", Windows()) is None  # a list only


def test_models_it_does_not_compile_are_answered_by_the_reference() -> None:
    huge = (ModelSpec("m", "linear", channel_multipliers={"douyin": 2**60}),)
    twice = (ModelSpec("m", "linear"), ModelSpec("m", "first_touch"))
    for models in (huge, twice):
        attribution = JourneyAttribution(models)
        assert not attribution.compiled
    touches = _typical()
    got = JourneyAttribution(huge)("c", AT, Decimal("10"), "CNY", touches, Windows())
    _same(got, attribute_journey(ConversionFacts("c", AT, Decimal("10"), "CNY"), touches, huge))
    with pytest.raises(ValueError, match="model names must be unique"):
        JourneyAttribution(twice)("c", AT, Decimal("10"), "CNY", _typical(), Windows())


def test_the_wrapper_raises_the_references_error_where_the_crate_declines() -> None:
    attribution = JourneyAttribution(DEFAULT_MODELS)
    assert attribution.compiled
    with pytest.raises(ValueError, match="timezone-aware"):
        attribution("c", AT.replace(tzinfo=None), Decimal(1), "CNY", _typical(), Windows())
    with pytest.raises(ValueError, match="finite Decimal"):
        attribution("c", AT, Decimal("Infinity"), "CNY", _typical(), Windows())
