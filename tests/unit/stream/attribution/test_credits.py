"""Credit rows and the cent-exact revenue split, by hand and as properties over random journeys."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.attribution import (
    DEFAULT_MODELS,
    ConversionFacts,
    ModelSpec,
    Touch,
    Windows,
    attribute,
    minor_unit_digits,
    split_revenue,
)

CONVERSION_TIME = datetime(2024, 6, 1, tzinfo=UTC)
D = Decimal


def conversion(revenue: str, currency: str = "USD") -> ConversionFacts:
    return ConversionFacts("conv-1", CONVERSION_TIME, D(revenue), currency)


def click(ident: str, age: timedelta, channel: str = "ads") -> Touch:
    return Touch(ident, CONVERSION_TIME - age, channel, "click")


# ---------------------------------------------------------------- split_revenue by hand


@pytest.mark.parametrize(
    ("revenue", "currency", "expected"),
    [
        # 10000 cents / 3 = 3333.33 each; one cent left goes to the first (tie -> earlier touch)
        ("100.00", "USD", ["33.34", "33.33", "33.33"]),
        # 5 cents / 3 = 1.67 each; two cents left -> first two
        ("0.05", "USD", ["0.02", "0.02", "0.01"]),
        ("1000", "JPY", ["334", "333", "333"]),
        ("1000", "jpy", ["334", "333", "333"]),
        ("1000", "KRW", ["334", "333", "333"]),
        ("1.000", "BHD", ["0.334", "0.333", "0.333"]),
        ("1", "KWD", ["0.334", "0.333", "0.333"]),
        # a refund is split like its absolute value
        ("-100.00", "CNY", ["-33.34", "-33.33", "-33.33"]),
        ("0", "USD", ["0", "0", "0"]),
        # trailing zeros do not make the split finer than the currency's cents
        ("100.0000", "EUR", ["33.34", "33.33", "33.33"]),
    ],
)
def test_split_thirds(revenue: str, currency: str, expected: list[str]) -> None:
    parts = split_revenue(D(revenue), [1 / 3, 1 / 3, 1 / 3], currency)
    assert parts == [D(e) for e in expected]
    assert sum(parts, D(0)) == D(revenue)


def test_split_largest_remainder_not_first_come() -> None:
    # 7 cents by 0.5/0.3/0.2: quotas 3.5, 2.1, 1.4 -> floors 3, 2, 1, the left cent to the 0.5 remainder
    assert split_revenue(D("0.07"), [0.5, 0.3, 0.2], "USD") == [D("0.04"), D("0.02"), D("0.01")]
    # 7 cents by 0.2/0.3/0.5: quotas 1.4, 2.1, 3.5 -> the left cent goes to the last share
    assert split_revenue(D("0.07"), [0.2, 0.3, 0.5], "USD") == [D("0.01"), D("0.02"), D("0.04")]


def test_split_finer_than_currency_keeps_every_unit() -> None:
    # 0.005 USD has mills: 5 mills / 2 = 2.5 each -> 3 and 2 (tie to the first)
    assert split_revenue(D("0.005"), [0.5, 0.5], "USD") == [D("0.003"), D("0.002")]


def test_split_zero_share_gets_nothing() -> None:
    assert split_revenue(D("10.00"), [0.0, 1.0, 0.0], "USD") == [D("0"), D("10.00"), D("0")]


@pytest.mark.parametrize("shares", [[0.0, 0.0], [], [1.5, -0.5]])
def test_split_rejects_bad_shares(shares: list[float]) -> None:
    with pytest.raises(ValueError, match="shares"):
        split_revenue(D("1.00"), shares, "USD")


def test_split_rejects_non_finite_revenue() -> None:
    with pytest.raises(ValueError, match="finite"):
        split_revenue(D("NaN"), [1.0], "USD")


def test_minor_units() -> None:
    assert [minor_unit_digits(c) for c in ("USD", "CNY", "JPY", "KRW", "BHD", "OMR", "XYZ")] == [
        2,
        2,
        0,
        0,
        3,
        3,
        2,
    ]


# ---------------------------------------------------------------- attribute by hand


def test_conversion_facts_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ConversionFacts("c", datetime(2024, 1, 1), D("1"), "USD")  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="finite Decimal"):
        ConversionFacts("c", CONVERSION_TIME, 1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite Decimal"):
        ConversionFacts("c", CONVERSION_TIME, D("Infinity"), "USD")


def test_no_eligible_touch_is_one_direct_row_per_model() -> None:
    stale = click("stale", timedelta(days=30))
    for touches in ([], [stale]):
        rows = attribute(conversion("12.34"), touches, DEFAULT_MODELS, Windows())
        assert [r.model for r in rows] == [m.name for m in DEFAULT_MODELS]
        for row in rows:
            assert (row.touch, row.channel, row.touch_index, row.touch_count) == (None, "direct", 0, 0)
            assert (row.credit, row.revenue_credit) == (1.0, D("12.34"))


def test_rows_per_touch_and_model() -> None:
    touches = [click("t2", timedelta(0), "search"), click("t1", timedelta(days=7), "social")]
    rows = attribute(conversion("10.00"), touches, DEFAULT_MODELS, Windows())
    assert len(rows) == 2 * len(DEFAULT_MODELS)
    by_model = {m.name: [r for r in rows if r.model == m.name] for m in DEFAULT_MODELS}
    for model_rows in by_model.values():
        assert [r.channel for r in model_rows] == ["social", "search"]  # oldest first
        assert [(r.touch_index, r.touch_count) for r in model_rows] == [(0, 2), (1, 2)]
    assert [r.credit for r in by_model["first_touch"]] == [1.0, 0.0]
    assert [r.revenue_credit for r in by_model["first_touch"]] == [D("10.00"), D("0")]
    # ages 7 d and 0 with half-life 7 d: 1/3, 2/3 of 1000 cents = 333.33, 666.67 -> 3.33, 6.67
    assert [r.revenue_credit for r in by_model["time_decay"]] == [D("3.33"), D("6.67")]
    assert [r.revenue_credit for r in by_model["linear"]] == [D("5.00"), D("5.00")]


def test_views_credited_only_without_clicks() -> None:
    view = Touch("v", CONVERSION_TIME - timedelta(hours=1), "feed", "view")
    rows = attribute(conversion("1.00"), [view], [ModelSpec("linear", "linear")], Windows())
    assert [(r.channel, r.credit) for r in rows] == [("feed", 1.0)]
    rows = attribute(
        conversion("1.00"), [view, click("c", timedelta(days=2))], [ModelSpec("linear", "linear")]
    )
    assert [(r.channel, r.credit) for r in rows] == [("ads", 1.0)]


def test_duplicate_model_names_are_rejected() -> None:
    models = [ModelSpec("mine", "linear"), ModelSpec("mine", "custom")]
    with pytest.raises(ValueError, match="unique"):
        attribute(conversion("1.00"), [], models, Windows())


# ---------------------------------------------------------------- properties

CURRENCIES = ["USD", "CNY", "EUR", "JPY", "KRW", "BHD", "KWD"]


@st.composite
def revenues(draw: st.DrawFn) -> tuple[Decimal, str]:
    currency = draw(st.sampled_from(CURRENCIES))
    places = minor_unit_digits(currency) + draw(st.sampled_from([0, 0, 0, 1]))  # sometimes finer
    units = draw(st.integers(min_value=-(10**9), max_value=10**13))
    return D(units).scaleb(-places), currency


@st.composite
def journeys(draw: st.DrawFn) -> list[Touch]:
    n = draw(st.integers(min_value=0, max_value=12))
    # few distinct offsets so that equal times (the tie-break) are common; some after the conversion
    offsets = st.sampled_from([-3600, 0, 1, 3600, 86400, 86400, 3 * 86400, 604800, 604801, 10**6])
    return [
        Touch(
            f"tp-{i:03d}",
            CONVERSION_TIME - timedelta(seconds=draw(offsets)),
            draw(st.sampled_from(["ads", "search", "social", "direct"])),
            draw(st.sampled_from(["click", "click", "view"])),
        )
        for i in range(n)
    ]


def smallest_unit(revenue: Decimal, currency: str) -> Decimal:
    exponent = revenue.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return D(1).scaleb(min(-minor_unit_digits(currency), exponent))


weights = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)
custom_specs = st.builds(
    lambda f, m, last, mult, wl: ModelSpec(
        "custom",
        "custom",
        first=f,
        middle=m,
        last=last + (1.0 if f + m + last == 0 else 0.0),
        channel_multipliers=mult,
        weights=wl,
    ),
    weights,
    weights,
    weights,
    st.dictionaries(st.sampled_from(["ads", "search", "social"]), weights, max_size=3),
    st.none() | st.lists(weights, min_size=1, max_size=5).map(tuple),
)
decay_specs = st.builds(
    lambda hl: ModelSpec("decay_x", "time_decay", half_life_seconds=hl),
    st.floats(min_value=1.0, max_value=1e8),
)
position_specs = st.builds(
    lambda f, last, rule: ModelSpec("pos_x", "position_based", first=f / 2, last=last / 2, two_touch=rule),
    st.floats(min_value=0.0, max_value=1.0),
    st.floats(min_value=0.0, max_value=1.0),
    st.sampled_from(["proportional", "split_middle"]),
)


@settings(max_examples=300, deadline=None)
@given(journeys(), revenues(), custom_specs, decay_specs, position_specs, st.randoms(use_true_random=False))
def test_credit_invariants(
    touches: list[Touch],
    money: tuple[Decimal, str],
    custom_spec: ModelSpec,
    decay_spec: ModelSpec,
    position_spec: ModelSpec,
    rng: random.Random,
) -> None:
    revenue, currency = money
    facts = ConversionFacts("c", CONVERSION_TIME, revenue, currency)
    models = [*DEFAULT_MODELS, custom_spec, decay_spec, position_spec]
    rows = attribute(facts, touches, models, Windows())
    unit = smallest_unit(revenue, currency)
    for spec in models:
        mine = [r for r in rows if r.model == spec.name]
        assert mine, spec
        assert abs(math.fsum(r.credit for r in mine) - 1.0) <= 1e-12
        assert all(r.credit >= 0.0 for r in mine)
        assert sum((r.revenue_credit for r in mine), D(0)) == revenue
        for r in mine:
            assert r.revenue_credit * revenue >= 0  # never the opposite sign
            if r.credit == 0.0:
                assert r.revenue_credit == 0
            # largest remainder never moves a share by a whole unit
            assert abs(r.revenue_credit - D(r.credit) * revenue) < unit
        assert [r.touch_index for r in mine] == list(range(len(mine)))
        assert {r.touch_count for r in mine} == {len(mine) if mine[0].touch is not None else 0}

    shuffled = list(touches)
    rng.shuffle(shuffled)
    assert attribute(facts, shuffled, models, Windows()) == rows
