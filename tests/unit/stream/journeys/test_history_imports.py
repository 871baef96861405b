"""History imports: a person's whole history sent after other people's newer ones (an export's order) must get
the credits the same events get in time order (docs/attribution.md, "History imports")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from stream.journeys.config import AttributionConfig
from stream.journeys.engine import LATE_PER_PERSON
from stream.journeys.outputs import EngineOutput
from tests.histories import Step, person_order, random_history, time_order
from tests.unit.stream.journeys.conftest import (
    Recorder,
    ad_click,
    credits_by_model,
    day,
    ev,
    latest_conversions,
    make_engine,
)


def enriched(step: Step) -> dict[str, Any]:
    """A history step in the shape the engine reads (tests.unit.stream.journeys.conftest)."""
    if step.type == "ad_click":
        return ad_click(step.event_id, step.at, step.click_id, campaign=step.campaign)
    fields: dict[str, Any] = {k: v for k, v in step.context.items() if k in ("scene", "query", "share")}
    if step.user_id:
        fields["user_id"] = step.user_id
    if step.type in ("convert", "repurchase"):
        fields.update(step.properties)
    return ev(step.event_id, step.type, step.at, step.device, **fields)


def current(out: EngineOutput) -> dict[str, tuple[Any, ...]]:
    """Each conversion's current row and credits, as `conversions_current` and the credits view show them."""
    result = {}
    for conversion_id, row in latest_conversions(out.conversions).items():
        if row.deleted:
            continue
        credits = [
            tuple(c._replace(version=0))
            for rows in credits_by_model(out.credits, conversion_id).values() for c in rows
        ]
        result[conversion_id] = (tuple(row._replace(version=0, arrived_late=False)), tuple(sorted(credits)))
    return result


def feed(steps: list[Step], config: AttributionConfig | None = None) -> Recorder:
    run = Recorder(make_engine(config))
    run.feed(enriched(s) for s in steps)
    return run


@pytest.mark.parametrize("seed", range(12))
def test_whole_people_sent_late_get_the_credits_of_time_order(seed: int) -> None:
    history = random_history(seed, people=25)
    by_time = current(feed(time_order(history)).total)
    by_person = current(feed(person_order(history, seed)).total)
    assert len(by_time) > 20  # the history has conversions to compare
    differing = sorted(c for c in by_time if by_person.get(c) != by_time[c])
    assert differing == []
    assert set(by_person) == set(by_time)


def test_a_late_person_keeps_their_touches_and_a_merge_after_the_order_still_counts() -> None:
    run = Recorder(make_engine())
    # Someone else's newer history first: the app's clock is now at day 40.
    run(ev("n1", "enter", day(39), "N", query={"utm_source": "weibo"}))
    run(ev("n2", "enter", day(40), "N", scene=1089))
    # Then person P's history, 38 days old: a UTM visit on phone A, an order on A, a share-card visit on tablet
    # B the day before the order, and a login on both 2 days after the order (within the lateness of 7 days).
    run(ev("a1", "enter", day(1), "A", query={"utm_source": "douyin", "utm_medium": "cpc"}))
    run(ev("b1", "enter", day(2, 12), "B", scene=1007, share={"from": "f", "depth": 1}))
    run(ev("a2", "convert", day(3), "A", order_id="o1", revenue="90.00"))
    run(ev("a3", "identify", day(5), "A", user_id="P"))
    run(ev("b2", "identify", day(5, 1), "B", user_id="P"))
    # Live, the order was first credited to douyin alone, then, after the merge, to both visits.
    linear = credits_by_model(run.total.credits, "order:o1")["linear"]
    assert [(r.touchpoint_id, r.channel, r.revenue_credit) for r in linear] == [
        ("a1", "douyin", Decimal("45.00")), ("b1", "wechat_share", Decimal("45.00"))
    ]
    assert all(r.arrived_late for r in run.total.touchpoints if r.touchpoint_id in ("a1", "b1"))
    # A login 8 days after the order comes past its lateness (by P's own clock): the order is final.
    run(ev("c1", "enter", day(10, 12), "C", query={"utm_source": "baidu"}))
    run(ev("c2", "identify", day(11, 1), "C", user_id="P"))
    last = credits_by_model(run.total.credits, "order:o1")["linear"]
    assert [r.touchpoint_id for r in last] == ["a1", "b1"]


def test_without_the_rule_a_late_order_would_be_direct() -> None:
    # The behaviour this replaces: a late order arrived after its own touch and was written once as direct.
    run = Recorder(make_engine())
    run(ev("n1", "enter", day(30), "N", scene=1089))
    run(ev("a1", "enter", day(1), "A", query={"utm_source": "douyin"}))
    run(ev("a2", "convert", day(1, 2), "A", order_id="o1", revenue="10.00"))
    first = credits_by_model(run.total.credits, "order:o1")["first_touch"]
    assert [(r.channel, r.credit) for r in first] == [("douyin", 1.0)]
    conversion = latest_conversions(run.total.conversions)["order:o1"]
    assert conversion.arrived_late is True


def test_late_touches_are_bounded_per_person() -> None:
    engine = make_engine()
    run = Recorder(engine)
    run(ev("n1", "enter", day(60), "N", scene=1089))
    for i in range(LATE_PER_PERSON + 40):
        run(ev(f"t{i}", "enter", day(1) + timedelta(minutes=i), "A", query={"utm_source": "douyin"}))
    key = engine.graph.key_of("anon:A")
    assert key is not None
    touches = engine.persons[key].touches
    assert len(touches) == LATE_PER_PERSON
    # The oldest 40 left: what stays is t40 .. t551.
    assert min(t.time for t in touches.values()) == day(1) + timedelta(minutes=40)
    assert "t39" not in touches and f"t{LATE_PER_PERSON + 39}" in touches


def test_late_state_leaves_by_the_persons_clock_not_when_eviction_runs() -> None:
    config = AttributionConfig()
    history = random_history(99, people=20)
    steps = [enriched(s) for s in person_order(history, 99)]
    plain = Recorder(make_engine(config))
    evicting = Recorder(make_engine(config))
    for n, event in enumerate(steps):
        a, b = plain(event), evicting(event)
        assert (a.touchpoints, a.conversions, a.credits) == (b.touchpoints, b.conversions, b.credits), n
        if n % 7 == 0 and evicting.engine.watermark is not None:
            evicting.engine.evict(evicting.engine.watermark)  # eviction at another rhythm changes no output
