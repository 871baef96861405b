"""Eligibility: windows, click-over-view precedence, deterministic order, UTC-only times."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from stream.attribution import Touch, Windows, eligible_touches
from stream.attribution.eligibility import TouchKind

CONVERSION = datetime(2024, 5, 20, 12, 0, tzinfo=UTC)


def touch(ident: str, age: timedelta, kind: TouchKind = "click", channel: str = "ads") -> Touch:
    return Touch(ident, CONVERSION - age, channel, kind)


def ids(touches: list[Touch]) -> list[str]:
    return [t.touchpoint_id for t in touches]


def test_touch_after_conversion_is_dropped_and_at_conversion_kept() -> None:
    after = touch("after", -timedelta(microseconds=1))
    at = touch("at", timedelta(0))
    assert ids(eligible_touches([after, at], CONVERSION, Windows())) == ["at"]


def test_click_window_bound_is_inclusive() -> None:
    edge = touch("edge", timedelta(days=7))
    beyond = touch("beyond", timedelta(days=7, microseconds=1))
    assert ids(eligible_touches([edge, beyond], CONVERSION, Windows())) == ["edge"]


def test_view_window_bound_is_inclusive_and_shorter() -> None:
    edge = touch("edge", timedelta(days=1), "view")
    beyond = touch("beyond", timedelta(days=1, seconds=1), "view")
    assert ids(eligible_touches([edge, beyond], CONVERSION, Windows())) == ["edge"]


def test_views_only_count_without_an_eligible_click() -> None:
    view = touch("view", timedelta(hours=1), "view")
    click = touch("click", timedelta(days=3))
    stale_click = touch("stale", timedelta(days=8))
    assert ids(eligible_touches([view, click], CONVERSION, Windows())) == ["click"]
    # the only click is outside its window, so the view is credited
    assert ids(eligible_touches([view, stale_click], CONVERSION, Windows())) == ["view"]


def test_custom_and_unlimited_windows() -> None:
    old = touch("old", timedelta(days=400))
    recent = touch("recent", timedelta(hours=2))
    assert ids(eligible_touches([old, recent], CONVERSION, Windows(click_seconds=3600.0))) == []
    assert ids(eligible_touches([old, recent], CONVERSION, Windows(click_seconds=math.inf))) == [
        "old",
        "recent",
    ]


def test_default_windows_are_used_when_none_given() -> None:
    assert ids(eligible_touches([touch("old", timedelta(days=8))], CONVERSION)) == []


def test_order_is_time_then_touchpoint_id_whatever_the_input_order() -> None:
    same = timedelta(hours=5)
    touches = [
        touch("b", same),
        touch("a", same),
        touch("z", timedelta(hours=9)),
        touch("c", timedelta(hours=1)),
    ]
    expected = ["z", "a", "b", "c"]
    rng = random.Random(7)
    for _ in range(20):
        rng.shuffle(touches)
        assert ids(eligible_touches(touches, CONVERSION, Windows())) == expected


def test_duplicate_ids_still_order_deterministically() -> None:
    one = touch("dup", timedelta(hours=1), channel="x")
    two = touch("dup", timedelta(hours=1), channel="a")
    assert eligible_touches([one, two], CONVERSION) == eligible_touches([two, one], CONVERSION)
    assert [t.channel for t in eligible_touches([one, two], CONVERSION)] == ["a", "x"]


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Touch("t", datetime(2024, 1, 1), "ads", "click")  # noqa: DTZ001 - the naive time under test
    with pytest.raises(ValueError, match="conversion time"):
        eligible_touches([], datetime(2024, 1, 1))  # noqa: DTZ001


def test_aware_times_are_normalised_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    t = Touch("t", datetime(2024, 1, 1, 8, 0, tzinfo=beijing), "ads", "click")
    assert t.time == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert t.time.tzinfo is UTC
    # a conversion given in +08:00 at the same instant as the touch: age 0, eligible
    assert eligible_touches([t], datetime(2024, 1, 1, 8, 0, tzinfo=beijing)) == [t]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"touchpoint_id": ""}, "touchpoint_id"),
        ({"kind": "impression"}, "kind must be"),
    ],
)
def test_touch_validation(kwargs: dict[str, str], message: str) -> None:
    base: dict[str, object] = {"touchpoint_id": "t", "time": CONVERSION, "channel": "ads", "kind": "click"}
    with pytest.raises(ValueError, match=message):
        Touch(**{**base, **kwargs})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_windows_validation(bad: float) -> None:
    with pytest.raises(ValueError, match="click_seconds"):
        Windows(click_seconds=bad)
    with pytest.raises(ValueError, match="view_seconds"):
        Windows(view_seconds=bad)
