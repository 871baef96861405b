"""Scripted journeys through AppEngine, with every expected credit worked out by hand in the comments.

Conventions used below: T0 = 2024-03-01 08:00 UTC is "day 1"; `day(n, h)` is day n plus h hours. Events get
versions 10, 20, 30, ... in feeding order (the Recorder). Scene 1007 = WeChat share card (channel
`wechat_share`, type social), 1047 = mini-program code (`qr_code`, offline), 1058 = official-account article
(`wechat_official_account`, content), 1089 = recent list (direct: no touchpoint). `utm_source=douyin` is the
paid channel `douyin`; `gdt_vid` is a Tencent Ads click id (channel `tencent_ads`, paid).
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest

from stream.journeys.config import AttributionConfig, parse_config
from stream.journeys.identity import user_key_for
from stream.journeys.outputs import CreditRow
from tests.unit.stream.journeys.conftest import (
    APP,
    DAY,
    MS,
    Recorder,
    ad_click,
    credits_by_model,
    day,
    ev,
    latest_conversions,
    latest_identities,
    latest_touchpoints,
    make_engine,
)

HOUR, MINUTE = timedelta(hours=1), timedelta(minutes=1)
BUILTIN = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]


def key(typed_id: str) -> str:
    return user_key_for(APP, typed_id)


def shares(rows: dict[str, list[CreditRow]]) -> dict[str, list[tuple[str, float, Decimal]]]:
    return {model: [(r.touchpoint_id, r.credit, r.revenue_credit) for r in rs] for model, rs in rows.items()}


def assert_shares(actual: dict[str, list[tuple[str, float, Decimal]]], expected: dict[str, list[tuple]]) -> None:
    assert sorted(actual) == sorted(expected)
    for model, rows in expected.items():
        got = actual[model]
        assert [t for t, _, _ in got] == [t for t, _, _ in rows], model
        assert [c for _, c, _ in got] == pytest.approx([c for _, c, _ in rows], abs=1e-12), model
        assert [m for _, _, m in got] == [Decimal(m) for _, _, m in rows], model


# -- (a) two touches, one purchase --------------------------------------------------------------------------------


def test_two_touches_then_a_purchase_credited_by_every_model(run: Recorder) -> None:
    t1 = run(ev("e1", "enter", day(1), scene=1007))
    t2 = run(ev("e2", "enter", day(3), query={"utm_source": "douyin", "utm_campaign": "spring"}))
    out = run(ev("e3", "convert", day(4), order_id="o1", revenue="100.00"))

    assert [(t.touchpoint_id, t.channel, t.channel_type, t.kind, t.signal, t.version) for t in t1.touchpoints] == [
        ("e1", "wechat_share", "social", "click", "scene", 10)
    ]
    assert [(t.touchpoint_id, t.channel, t.channel_type, t.campaign, t.signal) for t in t2.touchpoints] == [
        ("e2", "douyin", "paid", "spring", "explicit")
    ]
    assert t1.conversions == t2.conversions == []

    [conversion] = out.conversions
    assert conversion.conversion_id == "order:o1"
    assert conversion.conversion_type == "convert"
    assert conversion.revenue == Decimal("100.00")
    assert conversion.currency == "CNY"
    assert conversion.touch_count == 2
    assert conversion.version == 30
    assert conversion.user_key == key("anon:A")
    assert not conversion.deleted

    # By hand. Ages at the conversion (day 4): e1 3 days, e2 1 day.
    # time_decay: w1 = 2^(-3/7) = 0.742997, w2 = 2^(-1/7) = 0.905724; e1 share = w1/(w1+w2) = 1/(1+2^(2/7))
    #   = 1/2.219014 = 0.450651, e2 = 0.549349. Revenue in cents: 4506.51 and 5493.49, floors 4506 + 5493 =
    #   9999; the cent left goes to the larger remainder (.51, e1): 45.07 + 54.93.
    # position_based with two touches: 40/40 renormalised -> 50/50.
    w1, w2 = 2 ** (-3 / 7), 2 ** (-1 / 7)
    assert w1 / (w1 + w2) == pytest.approx(0.450651, abs=1e-6)
    expected = {
        "first_touch": [("e1", 1.0, "100.00")],  # e2 gets 0: no row
        "last_touch": [("e2", 1.0, "100.00")],
        "linear": [("e1", 0.5, "50.00"), ("e2", 0.5, "50.00")],
        "time_decay": [("e1", w1 / (w1 + w2), "45.07"), ("e2", w2 / (w1 + w2), "54.93")],
        "position_based": [("e1", 0.5, "50.00"), ("e2", 0.5, "50.00")],
    }
    by_model = credits_by_model(out.credits, "order:o1")
    assert_shares(shares(by_model), expected)
    for model, rows in by_model.items():
        assert sum((r.revenue_credit for r in rows), Decimal(0)) == Decimal("100.00"), model
        assert math.fsum(r.credit for r in rows) == pytest.approx(1.0, abs=1e-12), model
        for r in rows:
            assert (r.conversion_type, r.touch_count, r.currency) == ("convert", 2, "CNY")
            assert (r.version, r.deleted) == (30, False)
            assert r.channel == {"e1": "wechat_share", "e2": "douyin"}[r.touchpoint_id]
            assert r.touch_index == {"e1": 0, "e2": 1}[r.touchpoint_id]
            assert r.touch_time == {"e1": day(1), "e2": day(3)}[r.touchpoint_id]
    assert by_model["last_touch"][0].campaign == "spring"
    assert len(out.credits) == 8


# -- (b) direct only ---------------------------------------------------------------------------------------------


def test_a_direct_only_visit_gives_one_direct_row_per_model(run: Recorder) -> None:
    visit = run(ev("e1", "enter", day(1), scene=1089))
    assert visit.touchpoints == []  # the recent list is no channel
    assert [i.typed_id for i in visit.identities] == ["anon:A"]
    out = run(ev("e2", "register", day(1, 1)))
    [conversion] = out.conversions
    assert (conversion.conversion_id, conversion.conversion_type) == ("register:e2", "register")
    assert conversion.touch_count == 0
    assert conversion.revenue == Decimal(0)
    assert sorted(r.model for r in out.credits) == sorted(BUILTIN)
    for r in out.credits:
        assert (r.channel, r.channel_type, r.touchpoint_id, r.touch_time) == ("direct", "direct", "", None)
        assert (r.credit, r.revenue_credit, r.touch_index, r.touch_count) == (1.0, Decimal(0), 0, 0)
        assert (r.conversion_type, r.version, r.deleted) == ("register", 20, False)


def test_a_direct_purchase_gets_the_whole_revenue_on_direct(run: Recorder) -> None:
    out = run(ev("e1", "convert", day(1), order_id="o1", revenue="19.90"))
    assert {(r.model, r.channel, r.credit, r.revenue_credit) for r in out.credits} == {
        (m, "direct", 1.0, Decimal("19.90")) for m in BUILTIN
    }


# -- (c) identity merge --------------------------------------------------------------------------------------------


def test_a_merge_joins_the_journeys_and_re_emits_the_absorbed_conversions(run: Recorder) -> None:
    run(ev("a1", "enter", day(1), "A", scene=1007))  # v10
    o1 = run(ev("a2", "convert", day(2), "A", order_id="o1", revenue="50.00"))  # v20
    run(ev("b1", "enter", day(3), "B", scene=1047))  # v30
    run(ev("b2", "identify", day(3, 1), "B", user_id="U"))  # v40
    o2 = run(ev("b3", "convert", day(3, 2), "B", user_id="U", order_id="o2", revenue="30.00"))  # v50

    person_a, person_b = key("anon:A"), key("anon:B")
    assert o1.conversions[0].user_key == person_a
    assert (o2.conversions[0].user_key, o2.conversions[0].conversion_type) == (person_b, "convert")
    assert {(r.model, r.touchpoint_id) for r in o2.credits} == {(m, "b1") for m in BUILTIN}

    merge = run(ev("a3", "identify", day(4), "A", user_id="U"))  # v60: A logs in as U
    # A was first seen on day 1, B on day 3: A's key survives, B's ids move over.
    assert {(i.typed_id, i.user_key, i.version) for i in merge.identities} == {
        ("anon:B", person_a, 60), ("uid:U", person_a, 60)
    }
    assert merge.touchpoints == []
    # o2 moves to A's key, and becomes a repurchase: o1 (day 2) is the merged person's first order.
    # o1 is not re-emitted: b1 (day 3) is after it, its credits did not change.
    [re_emitted] = merge.conversions
    assert re_emitted.conversion_id == "order:o2"
    assert (re_emitted.user_key, re_emitted.conversion_type, re_emitted.touch_count) == (person_a, "repurchase", 2)
    assert re_emitted.version == 60 > o2.conversions[0].version
    # By hand, o2 at day 3 10:00: a1 (age 2d 2h) and b1 (age 2h) are both in the 7-day click window.
    # linear 15.00/15.00; first a1, last b1; position 50/50.
    # time_decay: the ages differ by 2 days, so a1 = 1/(1+2^(2/7)) = 0.450651: 1351.95 cents, b1 1648.05;
    #   floors 1351 + 1648 = 2999, the cent left goes to the larger remainder (.95, a1): 13.52 + 16.48.
    w_a, w_b = 2 ** (-(2 + 2 / 24) / 7), 2 ** (-(2 / 24) / 7)
    assert_shares(shares(credits_by_model(merge.credits, "order:o2")), {
        "first_touch": [("a1", 1.0, "30.00")],
        "last_touch": [("b1", 1.0, "30.00")],
        "linear": [("a1", 0.5, "15.00"), ("b1", 0.5, "15.00")],
        "time_decay": [("a1", w_a / (w_a + w_b), "13.52"), ("b1", w_b / (w_a + w_b), "16.48")],
        "position_based": [("a1", 0.5, "15.00"), ("b1", 0.5, "15.00")],
    })
    assert {(r.user_key, r.conversion_type, r.version) for r in merge.credits} == {(person_a, "repurchase", 60)}

    # A later order from device B alone belongs to the merged person and sees both devices' touches.
    o3 = run(ev("b4", "convert", day(5), "B", order_id="o3", revenue="20.00"))  # v70
    [c3] = o3.conversions
    assert (c3.user_key, c3.conversion_type, c3.touch_count) == (person_a, "repurchase", 2)
    # By hand at day 5: a1 age 4d, b1 age 2d. linear 10.00/10.00. time_decay a1 = 1/(1+2^(2/7)) = 0.450651
    #   -> 901.30 cents, b1 1098.70; floors 901 + 1098 = 1999, the cent goes to b1 (.70): 9.01 + 10.99.
    w_a, w_b = 2 ** (-4 / 7), 2 ** (-2 / 7)
    assert_shares(shares(credits_by_model(o3.credits, "order:o3")), {
        "first_touch": [("a1", 1.0, "20.00")],
        "last_touch": [("b1", 1.0, "20.00")],
        "linear": [("a1", 0.5, "10.00"), ("b1", 0.5, "10.00")],
        "time_decay": [("a1", w_a / (w_a + w_b), "9.01"), ("b1", w_b / (w_a + w_b), "10.99")],
        "position_based": [("a1", 0.5, "10.00"), ("b1", 0.5, "10.00")],
    })


def test_the_absorbed_persons_conversion_stays_a_first_when_it_is_the_earliest(run: Recorder) -> None:
    run(ev("a0", "enter", day(1), "A", scene=1089))  # A is first seen on day 1 (a direct visit)
    run(ev("b1", "convert", day(2), "B", order_id="ob", revenue="10.00"))  # B's order, day 2
    run(ev("a1", "convert", day(3), "A", order_id="oa", revenue="20.00"))  # A's order, day 3
    merge = run(ev("m", "identify", day(4), "B", unionid="X"))  # links nothing yet
    assert merge.conversions == []
    merge = run(ev("m2", "identify", day(4, 1), "A", unionid="X"))
    # Both re-keyed to A's key; B's day-2 order is the first purchase now, A's own becomes a repurchase.
    assert {(c.conversion_id, c.conversion_type, c.user_key, c.version) for c in merge.conversions} == {
        ("order:ob", "convert", key("anon:A"), 50), ("order:oa", "repurchase", key("anon:A"), 50)
    }


def test_a_shared_device_keeps_two_accounts_apart(run: Recorder) -> None:
    run(ev("e1", "enter", day(1), "A", scene=1007, user_id="U1"))
    out = run(ev("e2", "convert", day(1, 2), "A", user_id="U2", order_id="o1", revenue="10.00"))
    # U2's order on U1's device: U2 has no touch of its own, the share card belongs to U1.
    [c] = out.conversions
    assert (c.identity, c.user_key, c.conversion_type, c.touch_count) == ("uid:U2", key("uid:U2"), "convert", 0)
    assert {r.channel for r in out.credits} == {"direct"}
    assert latest_identities(run.total.identities)["anon:A"].user_key == min(key("uid:U1"), key("anon:A"))


# -- (d) purchase kinds from history -----------------------------------------------------------------------------


def test_the_first_order_is_a_convert_whatever_the_client_says(run: Recorder) -> None:
    out = run(ev("e1", "repurchase", day(2), order_id="o1", revenue="10.00"))
    assert [(c.conversion_id, c.conversion_type) for c in out.conversions] == [("order:o1", "convert")]
    assert {r.conversion_type for r in out.credits} == {"convert"}
    later = run(ev("e2", "convert", day(3), order_id="o2", revenue="5.00"))
    assert [(c.conversion_id, c.conversion_type) for c in later.conversions] == [("order:o2", "repurchase")]


def test_the_same_order_id_counts_once_whoever_sends_it(run: Recorder) -> None:
    first = run(ev("e1", "convert", day(2), order_id="o1", revenue="10.00"))
    assert len(first.conversions) == 1
    again = run(ev("e2", "convert", day(2, 1), order_id="o1", revenue="10.00"))  # re-sent under a new event id
    other_device = run(ev("e3", "repurchase", day(2, 2), "B", order_id="o1", revenue="10.00"))
    replay = run(ev("e1", "convert", day(2), order_id="o1", revenue="10.00"))  # the very same event
    for out in (again, other_device, replay):
        assert (out.conversions, out.credits) == ([], [])
    assert [c.conversion_id for c in run.total.conversions] == ["order:o1"]


def test_a_late_earlier_order_turns_the_previous_first_into_a_repurchase(run: Recorder) -> None:
    run(ev("e1", "enter", day(1), scene=1007))  # v10
    first = run(ev("e2", "convert", day(3), order_id="o2", revenue="10.00"))  # v20
    assert first.conversions[0].conversion_type == "convert"
    late = run(ev("e3", "convert", day(2), order_id="o1", revenue="4.00"))  # v30, arrives late
    assert {(c.conversion_id, c.conversion_type, c.version) for c in late.conversions} == {
        ("order:o1", "convert", 30), ("order:o2", "repurchase", 30)
    }
    # o2's credits are re-emitted with the new kind; they are unchanged otherwise (e1 gets all of 10.00).
    o2 = credits_by_model(late.credits, "order:o2")
    assert {(m, r.touchpoint_id, r.credit, r.revenue_credit, r.conversion_type)
            for m, rs in o2.items() for r in rs} == {(m, "e1", 1.0, Decimal("10.00"), "repurchase") for m in BUILTIN}
    # A third order in between is a repurchase, and changes nobody else's kind.
    mid = run(ev("e4", "convert", day(2, 12), order_id="o3", revenue="1.00"))
    assert [(c.conversion_id, c.conversion_type) for c in mid.conversions] == [("order:o3", "repurchase")]


def test_equal_order_times_are_decided_by_the_conversion_id(run: Recorder) -> None:
    run(ev("e1", "convert", day(2), order_id="o2", revenue="1.00"))
    out = run(ev("e2", "convert", day(2), order_id="o1", revenue="1.00"))
    assert {(c.conversion_id, c.conversion_type) for c in out.conversions} == {
        ("order:o1", "convert"), ("order:o2", "repurchase")
    }


# -- (e) register once per person -----------------------------------------------------------------------------


def test_a_person_registers_once(run: Recorder) -> None:
    first = run(ev("r1", "register", day(1)))
    assert [c.conversion_type for c in first.conversions] == ["register"]
    second = run(ev("r2", "register", day(2)))
    assert (second.conversions, second.credits, second.touchpoints) == ([], [], [])
    activate = run(ev("x1", "activate", day(2)))
    assert [c.conversion_type for c in activate.conversions] == ["activate"]
    assert run(ev("x2", "activate", day(3))).conversions == []


def test_after_a_merge_the_later_registration_gets_a_tombstone(run: Recorder) -> None:
    run(ev("r1", "register", day(1), "A"))  # v10
    rb = run(ev("r2", "register", day(2), "B"))  # v20
    assert rb.conversions[0].conversion_type == "register"
    run(ev("i1", "identify", day(3), "B", user_id="U"))  # v30
    merge = run(ev("i2", "identify", day(3, 1), "A", user_id="U"))  # v40
    [gone] = merge.conversions
    assert (gone.conversion_id, gone.deleted, gone.version, gone.user_key) == ("register:r2", True, 40, key("anon:A"))
    [tombstone] = merge.credits
    assert (tombstone.conversion_id, tombstone.deleted, tombstone.version) == ("register:r2", True, 40)
    assert (tombstone.model, tombstone.credit, tombstone.revenue_credit) == ("", 0.0, Decimal(0))
    latest = latest_conversions(run.total.conversions)
    assert not latest["register:r1"].deleted
    assert latest["register:r2"].deleted


def test_after_a_merge_the_absorbed_earlier_registration_wins(run: Recorder) -> None:
    run(ev("a0", "enter", day(1), "A", scene=1089))  # v10: A first seen day 1
    run(ev("rb", "register", day(2), "B"))  # v20: B registers on day 2
    run(ev("ra", "register", day(3), "A"))  # v30: A registers on day 3
    merge = run(ev("m", "identify", day(4), "A", user_id="U", openid="O"))  # v40
    assert merge.conversions == []
    merge = run(ev("m2", "identify", day(4, 1), "B", openid="O"))  # v50: B joins A
    assert {(c.conversion_id, c.conversion_type, c.user_key, c.deleted) for c in merge.conversions} == {
        ("register:rb", "register", key("anon:A"), False), ("register:ra", "", key("anon:A"), True)
    }
    assert Counter((r.conversion_id, r.deleted) for r in merge.credits) == {
        ("register:rb", False): 5, ("register:ra", True): 1
    }


def test_a_late_earlier_registration_replaces_the_first_one(run: Recorder) -> None:
    run(ev("r2", "register", day(2)))  # v10
    late = run(ev("r1", "register", day(1)))  # v20: the person really registered on day 1
    assert {(c.conversion_id, c.conversion_type, c.deleted, c.version) for c in late.conversions} == {
        ("register:r1", "register", False, 20), ("register:r2", "", True, 20)
    }
    assert run(ev("r1", "register", day(1))).conversions == []  # and re-sent, it counts once


# -- (f) windows -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "counted"), [(7 * DAY, True), (7 * DAY + MS, False), (0 * DAY, True)])
def test_the_click_window_is_seven_days_inclusive(run: Recorder, gap, counted: bool) -> None:
    run(ev("e1", "enter", day(1), scene=1007))
    out = run(ev("e2", "convert", day(1) + gap, order_id="o1", revenue="10.00"))
    assert out.conversions[0].touch_count == (1 if counted else 0)
    assert {r.channel for r in out.credits} == ({"wechat_share"} if counted else {"direct"})


@pytest.mark.parametrize(("gap", "counted"), [(DAY, True), (DAY + MS, False)])
def test_an_exposure_counts_within_one_day(run: Recorder, gap, counted: bool) -> None:
    out = run(ev("x1", "exposure", day(2), query={"utm_source": "weibo"}))
    assert [(t.kind, t.source, t.channel) for t in out.touchpoints] == [("view", "exposure", "weibo")]
    conv = run(ev("e2", "convert", day(2) + gap, order_id="o1", revenue="10.00"))
    assert {r.touchpoint_id for r in conv.credits} == ({"x1"} if counted else {""})


def test_an_exposure_counts_only_when_no_click_touch_is_eligible(run: Recorder) -> None:
    run(ev("c1", "enter", day(1), scene=1047))  # click-type, 3 days before the conversion
    run(ev("x1", "exposure", day(4), query={"utm_source": "weibo"}))  # view-type, 12 hours before
    out = run(ev("e2", "convert", day(4, 12), order_id="o1", revenue="10.00"))
    assert out.conversions[0].touch_count == 1
    assert {(r.touchpoint_id, r.channel, r.credit) for r in out.credits} == {("c1", "qr_code", 1.0)}
    # Eight days later the click is out of its window; the next exposure within a day is credited.
    run(ev("x2", "exposure", day(12), query={"utm_source": "weibo"}))
    later = run(ev("e3", "convert", day(12, 1), order_id="o2", revenue="10.00"))
    assert {(r.touchpoint_id, r.channel, r.credit) for r in later.credits} == {("x2", "weibo", 1.0)}


def test_a_touch_after_the_conversion_does_not_count(run: Recorder) -> None:
    run(ev("e1", "enter", day(1), scene=1007))
    run(ev("e2", "convert", day(2), order_id="o1", revenue="10.00"))
    after = run(ev("e3", "enter", day(2) + MS, scene=1047))
    assert [t.touchpoint_id for t in after.touchpoints] == ["e3"]
    assert (after.conversions, after.credits) == ([], [])  # o1 is unchanged: nothing re-emitted
    # ...but a touch arriving late with a time before the conversion does re-attribute it.
    late = run(ev("e4", "enter", day(1, 12), scene=1058))
    assert [c.conversion_id for c in late.conversions] == ["order:o1"]
    assert [r.touchpoint_id for r in credits_by_model(late.credits, "order:o1")["linear"]] == ["e1", "e4"]


def test_windows_per_conversion_type_come_from_the_config() -> None:
    run = Recorder(make_engine(parse_config({"windows": {"register": {"click_days": 3}}})))
    run(ev("e1", "enter", day(1), scene=1007))
    reg = run(ev("r1", "register", day(4) + MS))  # 3 days + 1 ms: outside the register window
    buy = run(ev("o1", "convert", day(4) + MS, order_id="o1", revenue="1.00"))  # inside the default 7 days
    assert {r.channel for r in reg.credits} == {"direct"}
    assert {r.channel for r in buy.credits} == {"wechat_share"}


def test_identical_touch_times_are_ordered_by_touchpoint_id_whatever_the_arrival(run: Recorder) -> None:
    run(ev("tz", "enter", day(1), scene=1007))
    run(ev("ta", "enter", day(1), scene=1047))
    out = run(ev("e2", "convert", day(2), order_id="o1", revenue="0.01"))
    by_model = credits_by_model(out.credits, "order:o1")
    assert [r.touchpoint_id for r in by_model["first_touch"]] == ["ta"]
    assert [r.touchpoint_id for r in by_model["last_touch"]] == ["tz"]
    # One cent over two equal shares: the earlier touch (ta) takes it.
    assert [(r.touchpoint_id, r.revenue_credit) for r in by_model["linear"]] == [
        ("ta", Decimal("0.01")), ("tz", Decimal("0.00"))
    ]


def test_a_signal_naming_the_direct_channel_is_no_touchpoint(run: Recorder) -> None:
    out = run(ev("e1", "enter", day(1), query={"utm_source": "direct"}))
    assert out.touchpoints == []
    buy = run(ev("e2", "convert", day(1, 1), order_id="o1", revenue="1.00"))
    assert {(r.channel, r.touchpoint_id) for r in buy.credits} == {("direct", "")}


def test_a_re_sent_visit_is_one_touchpoint(run: Recorder) -> None:
    first = run(ev("e1", "enter", day(1), scene=1007))
    again = run(ev("e1", "enter", day(1), scene=1007))
    assert len(first.touchpoints) == 1
    assert again.touchpoints == []
    out = run(ev("e2", "convert", day(2), order_id="o1", revenue="1.00"))
    assert out.conversions[0].touch_count == 1


# -- (g) ad clicks -------------------------------------------------------------------------------------------------


def test_a_late_ad_click_enriches_the_visit_and_re_attributes(run: Recorder) -> None:
    visit = run(ev("e1", "enter", day(1), query={"gdt_vid": "clk1"}))  # v10
    [t] = visit.touchpoints
    assert (t.channel, t.channel_type, t.signal, t.click_id, t.click_platform) == (
        "tencent_ads", "paid", "click_id", "clk1", "tencent_ads"
    )
    assert (t.campaign, t.creative, t.matched_click) == ("", "", False)
    buy = run(ev("e2", "convert", day(2), order_id="o1", revenue="10.00"))  # v20
    assert {(r.channel, r.campaign) for r in buy.credits} == {("tencent_ads", "")}

    click = run(ad_click("k1", day(1) - 5 * MS, "clk1", campaign="camp9", creative="cr3"))  # v30
    [enriched] = click.touchpoints
    assert (enriched.touchpoint_id, enriched.version, enriched.matched_click) == ("e1", 30, True)
    assert (enriched.campaign, enriched.creative, enriched.channel) == ("camp9", "cr3", "tencent_ads")
    assert enriched.time == day(1)  # the visit's time, not the click's
    assert [(c.conversion_id, c.version, c.touch_count) for c in click.conversions] == [("order:o1", 30, 1)]
    assert {(r.model, r.touchpoint_id, r.campaign, r.creative, r.credit, r.version) for r in click.credits} == {
        (m, "e1", "camp9", "cr3", 1.0, 30) for m in BUILTIN
    }
    # The enter and the ad click are one touchpoint: one id, one credit row per model.
    assert list(latest_touchpoints(run.total.touchpoints)) == ["e1"]

    duplicate = run(ad_click("k2", day(1) - 4 * MS, "clk1", campaign="other", creative="x"))  # same click id
    assert (duplicate.touchpoints, duplicate.conversions, duplicate.credits) == ([], [], [])
    next_buy = run(ev("e3", "convert", day(3), order_id="o2", revenue="1.00"))
    assert {(r.touchpoint_id, r.campaign) for r in next_buy.credits} == {("e1", "camp9")}


def test_an_ad_click_before_the_visit_enriches_it_at_once(run: Recorder) -> None:
    click = run(ad_click("k1", day(1) - 5 * MS, "clk1", campaign="camp9", creative="cr3"))
    assert (click.identities, click.touchpoints, click.conversions) == ([], [], [])  # a click alone is no touch
    twice = run(ad_click("k2", day(1) - 4 * MS, "clk1", campaign="other", creative="x"))  # the same click, re-sent
    assert (twice.touchpoints, twice.conversions) == ([], [])
    visit = run(ev("e1", "enter", day(1), query={"gdt_vid": "clk1"}))
    [t] = visit.touchpoints
    assert (t.touchpoint_id, t.campaign, t.creative, t.matched_click) == ("e1", "camp9", "cr3", True)
    buy = run(ev("e2", "convert", day(2), order_id="o1", revenue="10.00"))
    assert buy.conversions[0].touch_count == 1
    assert {(r.touchpoint_id, r.campaign, r.creative) for r in buy.credits} == {("e1", "camp9", "cr3")}
    assert len(buy.credits) == len(BUILTIN)


def test_an_ad_click_for_an_unknown_visit_changes_nothing(run: Recorder) -> None:
    run(ev("e1", "enter", day(1), query={"gdt_vid": "clk1"}))
    run(ev("e2", "convert", day(2), order_id="o1", revenue="10.00"))
    out = run(ad_click("k1", day(1), "clk-other", campaign="camp9"))
    assert (out.touchpoints, out.conversions, out.credits) == ([], [], [])


def test_a_late_ad_click_reaches_a_visit_after_a_merge(run: Recorder) -> None:
    run(ev("b0", "enter", day(1), "B", scene=1089))  # B is first seen on day 1
    run(ev("e1", "enter", day(2), "A", query={"gdt_vid": "clk1"}))  # A's ad visit
    run(ev("e2", "convert", day(2, 1), "A", order_id="o1", revenue="10.00"))
    run(ev("m", "identify", day(2, 2), "A", user_id="U"))
    run(ev("m2", "identify", day(2, 3), "B", user_id="U"))  # A is absorbed into B
    out = run(ad_click("k1", day(2), "clk1", campaign="camp9"))
    assert [(t.touchpoint_id, t.user_key, t.campaign) for t in out.touchpoints] == [("e1", key("anon:B"), "camp9")]
    assert [(c.conversion_id, c.user_key) for c in out.conversions] == [("order:o1", key("anon:B"))]


def test_two_visits_with_one_click_id_are_enriched_whatever_the_arrival_order() -> None:
    visits = [
        ev("e1", "enter", day(1), query={"gdt_vid": "clk1"}),
        ev("e2", "enter", day(1, 1), query={"gdt_vid": "clk1"}),  # re-opened from the same ad
        ev("c", "convert", day(2), order_id="o1", revenue="10.00"),
    ]
    click = ad_click("k1", day(1) - MS, "clk1", campaign="camp9")
    click_first, click_last = Recorder(make_engine()), Recorder(make_engine())
    click_first.feed([click, *visits])
    click_last.feed([*visits, click])
    # Click first: both visits come out of the click, both carry its campaign.
    assert {t: r.campaign for t, r in latest_touchpoints(click_first.total.touchpoints).items()} == {
        "e1": "camp9", "e2": "camp9"
    }
    # The same events in another order must end in the same touchpoints and credits.
    assert {t: r.campaign for t, r in latest_touchpoints(click_last.total.touchpoints).items()} == {
        "e1": "camp9", "e2": "camp9"
    }
    # One complete set of credits per model at the newest version, whichever came last: linear gives each
    # of the two visits 1/2 and ¥5.00 (a click releasing two waiting visits once wrote two sets, summing to 2).
    for recorder in (click_first, click_last):
        linear = credits_by_model(recorder.total.credits, "order:o1")["linear"]
        assert [(r.touchpoint_id, r.credit, r.revenue_credit, r.campaign) for r in linear] == [
            ("e1", 0.5, Decimal("5.00"), "camp9"), ("e2", 0.5, Decimal("5.00"), "camp9")]
        for rows in credits_by_model(recorder.total.credits, "order:o1").values():
            assert sum(r.credit for r in rows) == pytest.approx(1)


# -- (h) eviction ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("watermark_gap", "re_attributed"), [(6 * DAY, True), (7 * DAY + 2 * HOUR, False)])
def test_final_conversions_are_not_re_attributed_by_a_late_touch(run: Recorder, watermark_gap, re_attributed) -> None:
    run(ev("e1", "convert", day(2), order_id="o1", revenue="10.00"))
    run(ev("e2", "enter", day(2) + watermark_gap, "B", scene=1089))  # another device moves the watermark
    late = run(ev("e3", "enter", day(1, 12), scene=1007))  # a touch 12 hours before o1, arriving late
    assert [t.touchpoint_id for t in late.touchpoints] == ["e3"]
    assert [c.conversion_id for c in late.conversions] == (["order:o1"] if re_attributed else [])
    if re_attributed:
        assert {r.channel for r in late.credits} == {"wechat_share"}


def test_firsts_outlive_evicted_conversions(run: Recorder) -> None:
    run(ev("r1", "register", day(1)))
    run(ev("o1", "convert", day(1), order_id="o1", revenue="1.00"))
    run(ev("x", "enter", day(20), scene=1089))  # 19 days later: both conversions have left the state
    assert run.engine.persons[key("anon:A")].conversions == {}
    again = run(ev("r2", "register", day(20, 1)))
    assert again.conversions == []
    buy = run(ev("o2", "convert", day(20, 2), order_id="o2", revenue="1.00"))
    assert [c.conversion_type for c in buy.conversions] == ["repurchase"]
    resent = run(ev("o1", "convert", day(1), order_id="o1", revenue="1.00"))  # the first order, re-sent
    assert resent.conversions == []


def test_a_conversion_past_the_allowed_lateness_is_final_even_between_evictions(run: Recorder) -> None:
    run(ev("e1", "convert", day(2), order_id="o1", revenue="10.00"))
    run(ev("w1", "enter", day(9) - 30 * MINUTE, "B", scene=1089))  # eviction runs: o1 is 6d 23.5h old, stays
    run(ev("w2", "enter", day(9) + 20 * MINUTE, "B", scene=1089))  # 50 min later: no eviction yet
    # The watermark is now 7 days 20 minutes after o1: o1 is final.
    late = run(ev("e3", "enter", day(1, 12), scene=1007))
    assert late.conversions == []


def test_a_final_repurchase_re_sent_later_does_not_overwrite_its_credits(run: Recorder) -> None:
    run(ev("e1", "enter", day(1), scene=1007))
    run(ev("c1", "convert", day(1, 1), order_id="o1", revenue="10.00"))
    o2 = run(ev("c2", "convert", day(2), order_id="o2", revenue="20.00"))
    assert [(c.conversion_type, c.touch_count) for c in o2.conversions] == [("repurchase", 1)]
    run(ev("x", "enter", day(20), "B", scene=1089))  # o2 is final now
    resent = run(ev("c2-retry", "repurchase", day(2), order_id="o2", revenue="20.00"))  # the SDK re-sends o2
    assert (resent.conversions, resent.credits) == ([], [])
    assert {r.channel for r in credits_by_model(run.total.credits, "order:o2")["linear"]} == {"wechat_share"}


# -- (i) custom models -------------------------------------------------------------------------------------------


def test_a_custom_first_last_model_from_the_config() -> None:
    config = parse_config({"custom_models": [{"name": "fl", "first": 0.5, "middle": 0, "last": 0.5}]})
    assert [m.name for m in config.models] == [*BUILTIN, "fl"]
    run = Recorder(make_engine(config))
    run(ev("e1", "enter", day(1), scene=1007))
    run(ev("e2", "enter", day(2), scene=1047))
    run(ev("e3", "enter", day(3), scene=1058))
    out = run(ev("e4", "convert", day(4), order_id="o1", revenue="99.99"))
    by_model = credits_by_model(out.credits, "order:o1")
    # fl: 0.5 / 0 / 0.5 -> the middle touch gets 0 and no row; 99.99 = 9999 cents, 4999.5 each: the left-over
    # cent goes to the earlier touch on the tie: 50.00 + 49.99.
    assert [(r.touchpoint_id, r.touch_index, r.touch_count, r.credit, r.revenue_credit) for r in by_model["fl"]] == [
        ("e1", 0, 3, 0.5, Decimal("50.00")), ("e3", 2, 3, 0.5, Decimal("49.99"))
    ]
    # position_based 40/20/40 over three touches: quotas 3999.6, 1999.8, 3999.6 cents, floors 3999 + 1999 +
    # 3999 = 9997; the two cents left go to the largest remainders, .8 (e2) and .6 (e1, the earlier on the tie):
    # 40.00, 20.00, 39.99.
    pb = by_model["position_based"]
    assert [(r.touchpoint_id, r.revenue_credit) for r in pb] == [
        ("e1", Decimal("40.00")), ("e2", Decimal("20.00")), ("e3", Decimal("39.99"))
    ]
    assert [r.credit for r in pb] == pytest.approx([0.4, 0.2, 0.4], abs=1e-12)
    # linear: 3333 cents each, 9999 - 9999 = 0 left: 33.33 x 3.
    assert [r.revenue_credit for r in by_model["linear"]] == [Decimal("33.33")] * 3
    assert out.conversions[0].touch_count == 3


def test_conversion_types_outside_the_config_are_not_attributed() -> None:
    run = Recorder(make_engine(AttributionConfig(conversion_types=frozenset({"convert"}))))
    assert run(ev("r1", "register", day(1))).conversions == []
    assert [c.conversion_type for c in run(ev("o1", "convert", day(2), order_id="o1", revenue="1")).conversions] == [
        "convert"
    ]
    assert run(ev("o2", "convert", day(3), order_id="o2", revenue="1")).conversions == []  # a repurchase
