"""The retention, RFM, user-layer and share views (schemas/views/08-18) on hand-built data.

Each test writes a handful of persons into the base tables of a fresh migrated database and compares the
views with figures worked out by hand in the comments. Every data set carries the traps the views must
avoid: a re-attributed conversion (two versions), a tombstoned one, an identity merge, the range borders
and another app's rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.integration

APP = "shop"
OTHER = "other"

EVENT_COLUMNS = [
    "app_id", "event_id", "type", "event_time", "timestamp", "received_at", "anonymous_id", "user_id",
    "share_from", "share_depth",
]
CONVERSION_COLUMNS = [
    "app_id", "conversion_id", "event_id", "identity", "user_key", "conversion_type", "conversion_time",
    "order_id", "revenue", "currency", "touch_count", "version", "deleted",
]
CREDIT_COLUMNS = [
    "app_id", "conversion_id", "conversion_type", "conversion_time", "user_key", "model", "touchpoint_id",
    "touch_index", "touch_count", "channel_type", "channel", "campaign", "creative", "credit", "revenue_credit",
    "currency", "version", "deleted",
]


def at(stamp: str) -> datetime:
    """'11-01T10:00' or '11-01T10:00:00.999' in 2026, UTC."""
    return datetime.fromisoformat(f"2026-{stamp}").replace(tzinfo=UTC)


def day(stamp: str) -> date:
    return date.fromisoformat(f"2026-{stamp}")


class Data:
    """Rows for the base tables, built person by person and inserted at once."""

    def __init__(self) -> None:
        self.events: list[list[Any]] = []
        self.identities: list[list[Any]] = []
        self.conversions: list[list[Any]] = []
        self.credits: list[list[Any]] = []

    def ident(self, typed_id: str, user_key: str, version: int = 1, app: str = APP) -> None:
        self.identities.append([app, typed_id, user_key, at("01-01T00:00"), version, 0, 0])

    def event(self, event_id: str, type_: str, when: str, anon: str, *, uid: str = "", share_from: str = "",
              depth: int | None = None, app: str = APP) -> None:
        t = at(when)
        self.events.append([app, event_id, type_, t, t, t, anon, uid, share_from, depth])

    def conversion(self, conversion_id: str, event_id: str, user_key: str, type_: str, when: str, *,
                   revenue: str = "0", version: int = 1, deleted: int = 0, app: str = APP,
                   credits: dict[str, dict[str, float]] | None = None) -> None:
        """A conversion version and, for each model, its credits by channel in touch order."""
        t = at(when)
        order_id = conversion_id.removeprefix("order:") if conversion_id.startswith("order:") else ""
        self.conversions.append([app, conversion_id, event_id, "", user_key, type_, t, order_id, Decimal(revenue),
                                 "CNY", 1, version, deleted])
        for model, channels in (credits or {}).items():
            for index, (channel, credit) in enumerate(channels.items()):
                self.credits.append([app, conversion_id, type_, t, user_key, model, f"tp-{index}", index,
                                     len(channels), "x", channel, "", "", credit, Decimal(0), "CNY", version,
                                     deleted])

    def insert(self, clickhouse: Any) -> None:
        clickhouse.insert("events", self.events, column_names=EVENT_COLUMNS)
        clickhouse.insert("identities", self.identities,
                          column_names=["app_id", "typed_id", "user_key", "first_seen", "version", "_partition",
                                        "_offset"])
        clickhouse.insert("conversions", self.conversions, column_names=CONVERSION_COLUMNS)
        if self.credits:
            clickhouse.insert("attribution_credits", self.credits, column_names=CREDIT_COLUMNS)


def rows(clickhouse: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in clickhouse.query(sql).result_rows]


def td(channels: dict[str, float], first: str) -> dict[str, dict[str, float]]:
    """Credits under time_decay (the model the retention test asks for) and first_touch."""
    return {"time_decay": channels, "first_touch": {first: 1.0}}


def retention_data() -> Data:
    d = Data()
    for person in "ABCDEFH":
        d.ident(f"anon:d{person}", f"u{person}")
    # A: registered 11-01, 60/40 douyin/wechat_share; active 11-02 (d1), 11-08 (d7), 12-01 (d30).
    d.event("eA1", "register", "11-01T10:00", "dA")
    d.conversion("register:eA1", "eA1", "uA", "register", "11-01T10:00",
                 credits=td({"douyin": 0.6, "wechat_share": 0.4}, "douyin"))
    for n, when in enumerate(["11-02T09:00", "11-08T09:00", "12-01T09:00", "11-11T09:00"]):
        d.event(f"eA-act{n}", "page_view", when, "dA")
    # A's first order 11-04 (the 'convert' acquisition) and a repurchase 11-06, which is no acquisition.
    d.event("eA2", "convert", "11-04T10:00", "dA")
    d.conversion("order:oA1", "eA2", "uA", "convert", "11-04T10:00", revenue="10", credits=td({"douyin": 1}, "douyin"))
    d.event("eA3", "repurchase", "11-06T10:00", "dA")
    d.conversion("order:oA2", "eA3", "uA", "repurchase", "11-06T10:00", revenue="5",
                 credits=td({"qr_code": 1}, "qr_code"))
    # B: registered 11-01, re-attributed from douyin (v1) to wechat_moments_ads (v2); active 11-08 only.
    d.event("eB1", "register", "11-01T15:00", "dB")
    d.conversion("register:eB1", "eB1", "uB", "register", "11-01T15:00", credits=td({"douyin": 1}, "douyin"))
    d.conversion("register:eB1", "eB1", "uB", "register", "11-01T15:00", version=2,
                 credits=td({"wechat_moments_ads": 1}, "wechat_moments_ads"))
    d.event("eB2", "enter", "11-08T08:00", "dB")
    # G: a login (uid:g, device dG) merged with device dG2, which first belonged to uG2. The register on dG2
    # (11-02) was written under uG2 before the merge and stays current: it is G's acquisition, so G is in
    # the 11-02 cohort (qr_code), not the 11-03 one. Active 11-03 (d1, as the login) and 11-09 (d7, on dG2
    # without login), nothing on 12-02 (d30).
    d.ident("uid:g", "uG")
    d.ident("anon:dG", "uG")
    d.ident("anon:dG2", "uG2")
    d.ident("anon:dG2", "uG", version=2)
    d.event("eG0", "register", "11-02T10:00", "dG2")
    d.conversion("register:eG0", "eG0", "uG2", "register", "11-02T10:00", credits=td({"qr_code": 1}, "qr_code"))
    d.event("eG1", "register", "11-03T10:00", "dG", uid="g")
    d.conversion("register:eG1", "eG1", "uG", "register", "11-03T10:00",
                 credits=td({"wechat_share": 1}, "wechat_share"))
    d.event("eG2", "enter", "11-09T10:00", "dG2")
    # H: registered 11-03, credited to nothing under time_decay (only first_touch): 'unattributed'. Its
    # only later event is an exposure on 11-04, which is not activity.
    d.event("eH1", "register", "11-03T12:00", "dH")
    d.conversion("register:eH1", "eH1", "uH", "register", "11-03T12:00", credits={"first_touch": {"direct": 1.0}})
    d.event("eH2", "exposure", "11-04T12:00", "dH")
    # C: registered on the last instant of date_to (11-10); d1 11-11, d7 11-17; d30 (12-10) not observable.
    d.event("eC1", "register", "11-10T23:59:59.999", "dC")
    d.conversion("register:eC1", "eC1", "uC", "register", "11-10T23:59:59.999", credits=td({"douyin": 1}, "douyin"))
    d.event("eC2", "enter", "11-11T08:00", "dC")
    d.event("eC3", "enter", "11-17T08:00", "dC")
    # D (10-31) and E (11-11) registered just outside the range. D's enter on 12-05 is the app's last event day.
    d.event("eD1", "register", "10-31T23:59:59.999", "dD")
    d.conversion("register:eD1", "eD1", "uD", "register", "10-31T23:59:59.999", credits=td({"douyin": 1}, "douyin"))
    d.event("eD2", "enter", "12-05T20:00", "dD")
    d.event("eE1", "register", "11-11T00:00", "dE")
    d.conversion("register:eE1", "eE1", "uE", "register", "11-11T00:00", credits=td({"douyin": 1}, "douyin"))
    # F: registration tombstoned (v2 deleted): F has no acquisition.
    d.event("eF1", "register", "11-05T10:00", "dF")
    d.conversion("register:eF1", "eF1", "uF", "register", "11-05T10:00", credits=td({"douyin": 1}, "douyin"))
    d.conversion("register:eF1", "eF1", "uF", "register", "11-05T10:00", version=2, deleted=1,
                 credits=td({"douyin": 1}, "douyin"))
    d.event("eF2", "enter", "11-06T10:00", "dF")
    # Another app: same user key, activity, and a later last event day (12-31) that must not make day 30
    # of the 11-10 cohort observable.
    d.ident("anon:dA", "uA", app=OTHER)
    d.event("oA1", "register", "11-01T10:00", "dA", app=OTHER)
    d.conversion("register:oA1", "oA1", "uA", "register", "11-01T10:00", app=OTHER,
                 credits=td({"douyin": 1}, "douyin"))
    d.event("oA2", "enter", "11-02T10:00", "dA", app=OTHER)
    d.event("oA3", "enter", "12-31T10:00", "dA", app=OTHER)
    return d


def retention(clickhouse: Any, grain: str, acquisition: str = "register", date_to: str = "2026-11-10",
              model: str = "time_decay") -> dict[tuple[date, str], tuple[Any, ...]]:
    result = rows(clickhouse, f"SELECT * FROM retention(app='{APP}', date_from='2026-11-01', date_to='{date_to}', "
                              f"model='{model}', acquisition='{acquisition}', grain='{grain}')")
    return {(r[0], r[1]): r[2:] for r in result}


def approx(*values: float | None) -> tuple[Any, ...]:
    return tuple(None if v is None else pytest.approx(v) for v in values)


def test_daily_retention_by_channel(clickhouse: Any) -> None:
    retention_data().insert(clickhouse)
    got = retention(clickhouse, "day")
    # Last event day of 'shop' = 12-05 (D's enter). Columns: users, then (eligible, retained, rate) for d1, d7, d30.
    # 11-01: A (douyin .6 / wechat_share .4) and B (wechat_moments_ads 1, only the newest version).
    #   all: d1 A only 1/2, d7 A and B 2/2, d30 (12-01 <= 12-05) A only 1/2.
    expected = {
        (day("11-01"), "all"): approx(2, 2, 1, 0.5, 2, 2, 1.0, 2, 1, 0.5),
        (day("11-01"), "douyin"): approx(0.6, 0.6, 0.6, 1.0, 0.6, 0.6, 1.0, 0.6, 0.6, 1.0),
        (day("11-01"), "wechat_share"): approx(0.4, 0.4, 0.4, 1.0, 0.4, 0.4, 1.0, 0.4, 0.4, 1.0),
        (day("11-01"), "wechat_moments_ads"): approx(1, 1, 0, 0.0, 1, 1, 1.0, 1, 0, 0.0),
        # 11-02: G through its pre-merge registration: d1 11-03 yes, d7 11-09 yes, d30 12-02 observable, no.
        (day("11-02"), "all"): approx(1, 1, 1, 1.0, 1, 1, 1.0, 1, 0, 0.0),
        (day("11-02"), "qr_code"): approx(1, 1, 1, 1.0, 1, 1, 1.0, 1, 0, 0.0),
        # 11-03: H only (G's second registration is not an acquisition); the exposure is not activity.
        (day("11-03"), "all"): approx(1, 1, 0, 0.0, 1, 0, 0.0, 1, 0, 0.0),
        (day("11-03"), "unattributed"): approx(1, 1, 0, 0.0, 1, 0, 0.0, 1, 0, 0.0),
        # 11-10: C, d30 = 12-10 > 12-05: nobody eligible, rate NULL.
        (day("11-10"), "all"): approx(1, 1, 1, 1.0, 1, 1, 1.0, 0, 0, None),
        (day("11-10"), "douyin"): approx(1, 1, 1, 1.0, 1, 1, 1.0, 0, 0, None),
    }
    assert got == expected
    # Ordered by cohort, then channel.
    assert list(got) == sorted(expected)


def test_weekly_cohorts_start_on_monday(clickhouse: Any) -> None:
    retention_data().insert(clickhouse)
    got = {key: value for key, value in retention(clickhouse, "week").items() if key[1] == "all"}
    # 11-01 is a Sunday: A and B are in the week of Monday 10-26. G (11-02) and H (11-03) share the week of
    # 11-02: d1 G only 1/2, d7 G only 1/2, d30 (12-02, 12-03 observable) 0/2. C (11-10) is in the week of 11-09.
    assert got == {
        (day("10-26"), "all"): approx(2, 2, 1, 0.5, 2, 2, 1.0, 2, 1, 0.5),
        (day("11-02"), "all"): approx(2, 2, 1, 0.5, 2, 1, 0.5, 2, 0, 0.0),
        (day("11-09"), "all"): approx(1, 1, 1, 1.0, 1, 1, 1.0, 0, 0, None),
    }


def test_first_order_cohorts_and_models(clickhouse: Any) -> None:
    retention_data().insert(clickhouse)
    # acquisition='convert': only A's first order (11-04, douyin); the repurchase is no acquisition.
    # d1 11-05 no, d7 11-11 yes, d30 12-04 observable, no.
    assert retention(clickhouse, "day", acquisition="convert") == {
        (day("11-04"), "all"): approx(1, 1, 0, 0.0, 1, 1, 1.0, 1, 0, 0.0),
        (day("11-04"), "douyin"): approx(1, 1, 0, 0.0, 1, 1, 1.0, 1, 0, 0.0),
    }
    # Under first_touch, A's whole weight goes to douyin and H is credited to direct.
    first = retention(clickhouse, "day", model="first_touch")
    assert first[(day("11-01"), "douyin")] == approx(1, 1, 1, 1.0, 1, 1, 1.0, 1, 1, 1.0)
    assert (day("11-01"), "wechat_share") not in first
    assert first[(day("11-03"), "direct")] == approx(1, 1, 0, 0.0, 1, 0, 0.0, 1, 0, 0.0)


def test_retention_range_borders_and_bad_grain(clickhouse: Any) -> None:
    retention_data().insert(clickhouse)
    # A one-day range: the 11-01 cohort alone, whose day 30 (12-01 = date_to + 30) is in the data.
    assert retention(clickhouse, "day", date_to="2026-11-01")[(day("11-01"), "all")] == approx(
        2, 2, 1, 0.5, 2, 2, 1.0, 2, 1, 0.5)
    assert rows(clickhouse, f"SELECT * FROM retention(app='{APP}', date_from='2026-11-12', date_to='2026-11-20', "
                            "model='time_decay', acquisition='register', grain='day')") == []
    with pytest.raises(Exception, match="grain must be day or week"):
        retention(clickhouse, "month")


def rfm_data() -> Data:
    d = Data()
    for person in ["P1", "P2", "P3", "P4", "P5", "P6", "P7"]:
        d.ident(f"anon:d{person}", f"u{person}")

    def order(person: str, n: int, when: str, revenue: str, type_: str = "repurchase", **kw: Any) -> None:
        d.event(f"e{person}o{n}", type_, when, f"d{person}")
        d.conversion(f"order:{person}-{n}", f"e{person}o{n}", f"u{person}", type_, when, revenue=revenue, **kw)

    # P1: 3 orders in range (11-10, 11-20, 11-28): recency 30-28 = 2, frequency 3, monetary 180.
    # Registered 11-01 through wechat_share (first touch).
    d.event("eP1r", "register", "11-01T09:00", "dP1")
    d.conversion("register:eP1r", "eP1r", "uP1", "register", "11-01T09:00",
                 credits={"first_touch": {"wechat_share": 1.0}})
    order("P1", 1, "11-10T10:00", "30", "convert")
    order("P1", 2, "11-20T10:00", "50")
    order("P1", 3, "11-28T10:00", "100")
    # P2: one order 11-25: recency 5, frequency 1, monetary 500. Never registered: labelled by the first
    # order, whose two first_touch rows tie at 0.5 -> the smaller touch_index (qr_code) wins.
    d.event("eP2o1", "convert", "11-25T10:00", "dP2")
    d.conversion("order:P2-1", "eP2o1", "uP2", "convert", "11-25T10:00", revenue="500")
    d.credits.append([APP, "order:P2-1", "convert", at("11-25T10:00"), "uP2", "first_touch", "tp-b", 1, 2, "x",
                      "douyin", "", "", 0.5, Decimal(0), "CNY", 1, 0])
    d.credits.append([APP, "order:P2-1", "convert", at("11-25T10:00"), "uP2", "first_touch", "tp-a", 0, 2, "x",
                      "qr_code", "", "", 0.5, Decimal(0), "CNY", 1, 0])
    # P3: first order 10-31 (before the range, labels P3: wechat_official_account), 2 orders 11-02 and 11-03
    # (recency 27, frequency 2, monetary 40), one on 12-01 (after), and a registration on 12-02, after
    # date_to, which must not relabel P3.
    order("P3", 0, "10-31T23:59:59.999", "70", "convert",
          credits={"first_touch": {"wechat_official_account": 1.0}})
    order("P3", 1, "11-02T10:00", "20")
    order("P3", 2, "11-03T10:00", "20")
    order("P3", 3, "12-01T00:00", "1000")
    d.event("eP3r", "register", "12-02T09:00", "dP3")
    d.conversion("register:eP3r", "eP3r", "uP3", "register", "12-02T09:00", credits={"first_touch": {"douyin": 1.0}})
    # P4: one order on the last instant of date_to, written twice (re-attributed): counts once.
    # Recency 0, frequency 1, monetary 10. Registered 11-05, direct.
    d.event("eP4r", "register", "11-05T09:00", "dP4")
    d.conversion("register:eP4r", "eP4r", "uP4", "register", "11-05T09:00", credits={"first_touch": {"direct": 1.0}})
    order("P4", 1, "11-30T23:59:59.999", "10", "convert")
    d.conversion("order:P4-1", "eP4o1", "uP4", "convert", "11-30T23:59:59.999", revenue="10", version=2)
    # P5: its only order is tombstoned: not in the view.
    order("P5", 1, "11-15T10:00", "300", "convert")
    d.conversion("order:P5-1", "eP5o1", "uP5", "convert", "11-15T10:00", revenue="300", version=2, deleted=1)
    # P6: one order on the first instant of date_from: recency 29, frequency 1, monetary 5, no credits.
    order("P6", 1, "11-01T00:00", "5", "convert")
    # P7: one order 11-05: recency 25, frequency 1, monetary 8.
    order("P7", 1, "11-05T10:00", "8", "convert", credits={"first_touch": {"douyin": 1.0}})
    # Another app's big spender must neither appear nor move the averages.
    d.ident("anon:dP1", "uP1", app=OTHER)
    d.event("oP1", "convert", "11-29T10:00", "dP1", app=OTHER)
    d.conversion("order:X-1", "oP1", "uP1", "convert", "11-29T10:00", revenue="9999", app=OTHER)
    return d


def test_user_rfm_and_segments(clickhouse: Any) -> None:
    rfm_data().insert(clickhouse)
    args = f"app='{APP}', date_from='2026-11-01', date_to='2026-11-30'"
    got = rows(clickhouse, f"SELECT * FROM user_rfm({args})")
    # Averages over P1 P2 P3 P4 P6 P7: recency (2+5+27+0+29+25)/6 = 14.67, frequency (3+1+2+1+1+1)/6 = 1.5,
    # monetary (180+500+40+10+5+8)/6 = 123.83.
    # P1 R F M -> champions, P2 R M -> potential_loyalists, P3 F -> need_attention, P4 R -> new_customers,
    # P6 and P7 none -> hibernating.
    assert got == [
        ("uP1", 2, 3, pytest.approx(180), 1, 1, 1, "champions", "wechat_share"),
        ("uP2", 5, 1, pytest.approx(500), 1, 0, 1, "potential_loyalists", "qr_code"),
        ("uP3", 27, 2, pytest.approx(40), 0, 1, 0, "need_attention", "wechat_official_account"),
        ("uP4", 0, 1, pytest.approx(10), 1, 0, 0, "new_customers", "direct"),
        ("uP6", 29, 1, pytest.approx(5), 0, 0, 0, "hibernating", "unattributed"),
        ("uP7", 25, 1, pytest.approx(8), 0, 0, 0, "hibernating", "douyin"),
    ]
    # hibernating: P6 + P7: revenue 5+8 = 13, recency (29+25)/2 = 27, frequency 1, monetary 6.5.
    # The singletons follow by name.
    assert rows(clickhouse, f"SELECT * FROM rfm_segments({args})") == [
        ("hibernating", 2, pytest.approx(13), pytest.approx(27), pytest.approx(1), pytest.approx(6.5)),
        ("champions", 1, pytest.approx(180), pytest.approx(2), pytest.approx(3), pytest.approx(180)),
        ("need_attention", 1, pytest.approx(40), pytest.approx(27), pytest.approx(2), pytest.approx(40)),
        ("new_customers", 1, pytest.approx(10), pytest.approx(0), pytest.approx(1), pytest.approx(10)),
        ("potential_loyalists", 1, pytest.approx(500), pytest.approx(5), pytest.approx(1), pytest.approx(500)),
    ]
    assert rows(clickhouse, f"SELECT * FROM user_rfm(app='{APP}', date_from='2026-12-03', date_to='2026-12-31')") == []


def test_rfm_monetary_is_net_of_refunds(clickhouse: Any) -> None:
    rfm_data().insert(clickhouse)
    # P2's 500.00 order is refunded 200.00 (the engine writes the order again, at a higher version).
    clickhouse.insert("conversions", [[APP, "order:P2-1", "eP2o1", "", "uP2", "convert", at("11-25T10:00"), "P2-1",
                                       Decimal("500"), "CNY", 1, 2, 0, Decimal("200")]],
                      column_names=[*CONVERSION_COLUMNS, "refunded"])
    got = rows(clickhouse, f"SELECT user_key, monetary FROM user_rfm(app='{APP}', date_from='2026-11-01', "
                           "date_to='2026-11-30') WHERE user_key = 'uP2'")
    assert got == [("uP2", pytest.approx(300))]


def layers_data() -> Data:
    d = Data()
    for person in ["L1", "L2", "L3", "L4", "L5", "L7"]:
        d.ident(f"anon:d{person}", f"u{person}")
    # as_of 11-30: the 7-day window is 11-24..11-30, the 30-day window 11-01..11-30.
    # L1: first seen 11-24 -> new; registered that day through douyin.
    d.event("eL1", "register", "11-24T08:00", "dL1")
    d.conversion("register:eL1", "eL1", "uL1", "register", "11-24T08:00", credits={"first_touch": {"douyin": 1.0}})
    # L2: first seen 10-01, last active 11-24 (first day of the window) -> active; wechat_share. Its 12-01
    # event is after as_of.
    d.event("eL2a", "register", "10-01T08:00", "dL2")
    d.conversion("register:eL2a", "eL2a", "uL2", "register", "10-01T08:00",
                 credits={"first_touch": {"wechat_share": 1.0}})
    d.event("eL2b", "enter", "11-24T00:00", "dL2")
    d.event("eL2c", "enter", "12-01T00:00", "dL2")
    # L3: last active 11-23 (day 8 counting 11-30 as day 1) -> dormant; registered only after as_of.
    d.event("eL3a", "enter", "10-01T08:00", "dL3")
    d.event("eL3b", "enter", "11-23T23:59:59.999", "dL3")
    d.event("eL3c", "register", "12-01T08:00", "dL3")
    d.conversion("register:eL3c", "eL3c", "uL3", "register", "12-01T08:00", credits={"first_touch": {"douyin": 1.0}})
    # L4: last active 11-01 (day 30) -> dormant, no conversion.
    d.event("eL4a", "enter", "10-01T08:00", "dL4")
    d.event("eL4b", "enter", "11-01T00:00", "dL4")
    # L5: last active 10-31 (day 31) -> churned, however recent its exposure (11-29); registered via douyin.
    d.event("eL5a", "register", "10-01T08:00", "dL5")
    d.conversion("register:eL5a", "eL5a", "uL5", "register", "10-01T08:00", credits={"first_touch": {"douyin": 1.0}})
    d.event("eL5b", "enter", "10-31T23:00", "dL5")
    d.event("eL5c", "exposure", "11-29T10:00", "dL5")
    # L7: only exposures, first seen 11-10 -> never active: last_active 1970-01-01, churned.
    d.event("eL7", "exposure", "11-10T10:00", "dL7")
    # L8: a login first seen 11-10; device dL8 merged into it (v2) is active on 11-26 without login ->
    # one person, active, not a new one. No registration: labelled by its first order (qr_code).
    d.ident("uid:l8", "uL8")
    d.ident("anon:dL8", "uL8x")
    d.ident("anon:dL8", "uL8", version=2)
    d.event("eL8a", "convert", "11-10T10:00", "dL8main", uid="l8")
    d.conversion("order:L8", "eL8a", "uL8", "convert", "11-10T10:00", revenue="1",
                 credits={"first_touch": {"qr_code": 1.0}})
    d.event("eL8b", "page_view", "11-26T10:00", "dL8")
    # L6 exists only after as_of; another app's person exists only there.
    d.event("eL6", "enter", "12-01T10:00", "dL6")
    d.event("oL1", "enter", "11-29T10:00", "dL1", app=OTHER)
    d.event("oL9", "enter", "11-29T10:00", "dL9", app=OTHER)
    return d


def test_user_layers_and_counts(clickhouse: Any) -> None:
    layers_data().insert(clickhouse)
    args = f"app='{APP}', as_of='2026-11-30'"
    assert rows(clickhouse, f"SELECT * FROM user_layers({args})") == [
        ("uL1", day("11-24"), day("11-24"), "new", "douyin"),
        ("uL2", day("10-01"), day("11-24"), "active", "wechat_share"),
        ("uL3", day("10-01"), day("11-23"), "dormant", "unattributed"),
        ("uL4", day("10-01"), day("11-01"), "dormant", "unattributed"),
        ("uL5", day("10-01"), day("10-31"), "churned", "douyin"),
        ("uL7", day("11-10"), date(1970, 1, 1), "churned", "unattributed"),
        ("uL8", day("11-10"), day("11-26"), "active", "qr_code"),
    ]
    # new L1 (douyin); active L2 (wechat_share), L8 (qr_code); dormant L3, L4 (unattributed);
    # churned L5 (douyin), L7 (unattributed).
    assert rows(clickhouse, f"SELECT * FROM user_layer_counts({args})") == [
        ("new", "all", 1), ("new", "douyin", 1),
        ("active", "all", 2), ("active", "qr_code", 1), ("active", "wechat_share", 1),
        ("dormant", "all", 2), ("dormant", "unattributed", 2),
        ("churned", "all", 2), ("churned", "douyin", 1), ("churned", "unattributed", 1),
    ]
    # Before anyone's first event there is nobody.
    assert rows(clickhouse, f"SELECT * FROM user_layers(app='{APP}', as_of='2026-09-30')") == []


def share_data() -> Data:
    d = Data()
    d.ident("uid:s1", "uS1")
    d.ident("anon:dS1", "uS1")
    d.ident("unionid:un2", "uS2")
    d.ident("openid:op3", "uS3")
    d.ident("anon:dS4", "uS4")
    d.ident("uid:x5", "uS5")  # 'x5' is both a login and someone else's device id: the login wins
    d.ident("anon:x5", "uZZ")
    for person in ["V1", "V2", "V3", "V5", "V6", "V7", "V9"]:
        d.ident(f"anon:d{person}", f"u{person}")
    d.ident("anon:dV8", "uV8")
    d.ident("anon:dV8", "uV1", version=2)  # device dV8 turned out to be V1
    # V1: visits through s1 on 11-02 and un2 on 11-05, but its merged device dV8 came earlier, 11-01 12:00,
    # through op3 at depth 2: V1 was brought by S3. Orders 100 (11-05) and 50 (11-20, on dV8, written under
    # the pre-merge key uV8).
    d.event("eV1a", "enter", "11-02T10:00", "dV1", share_from="s1", depth=1)
    d.event("eV1b", "enter", "11-05T10:00", "dV1", share_from="un2", depth=1)
    d.event("eV8a", "enter", "11-01T12:00", "dV8", share_from="op3", depth=2)
    d.event("eV1o1", "convert", "11-05T11:00", "dV1")
    d.conversion("order:V1-1", "eV1o1", "uV1", "convert", "11-05T11:00", revenue="100")
    d.event("eV8o2", "repurchase", "11-20T11:00", "dV8")
    d.conversion("order:V1-2", "eV8o2", "uV8", "repurchase", "11-20T11:00", revenue="50")
    # V2 through un2 (depth 2), order 30 on 11-10.
    d.event("eV2", "enter", "11-03T10:00", "dV2", share_from="un2", depth=2)
    d.event("eV2o", "convert", "11-10T10:00", "dV2")
    d.conversion("order:V2-1", "eV2o", "uV2", "convert", "11-10T10:00", revenue="30")
    # V3 through op3, no depth sent (-> 1), orders only after the range.
    d.event("eV3", "enter", "11-04T10:00", "dV3", share_from="op3")
    d.event("eV3o", "convert", "12-02T10:00", "dV3")
    d.conversion("order:V3-1", "eV3o", "uV3", "convert", "12-02T10:00", revenue="70")
    # V4 (no identity row: events_people calls it anon:dV4) on the first instant of the range via dS4.
    d.event("eV4", "enter", "11-01T00:00", "dV4", share_from="dS4", depth=3)
    # V5 on the last instant of the range via x5, order 20 that same instant.
    d.event("eV5", "enter", "11-30T23:59:59.999", "dV5", share_from="x5", depth=1)
    d.event("eV5o", "convert", "11-30T23:59:59.999", "dV5")
    d.conversion("order:V5-1", "eV5o", "uV5", "convert", "11-30T23:59:59.999", revenue="20")
    # V6 via a sharer nobody knows in this app (only the other app knows 'ghost').
    d.event("eV6", "enter", "11-10T10:00", "dV6", share_from="ghost", depth=2)
    d.ident("uid:ghost", "uGhost", app=OTHER)
    # V7 via s1 on 10-31 (before the range) and 11-12: counted once, at 11-12. Its order is tombstoned.
    d.event("eV7a", "enter", "10-31T23:59:59.999", "dV7", share_from="s1", depth=1)
    d.event("eV7b", "enter", "11-12T10:00", "dV7", share_from="s1", depth=1)
    d.event("eV7o", "convert", "11-13T10:00", "dV7")
    d.conversion("order:V7-1", "eV7o", "uV7", "convert", "11-13T10:00", revenue="40")
    d.conversion("order:V7-1", "eV7o", "uV7", "convert", "11-13T10:00", revenue="40", version=2, deleted=1)
    # S1 opens its own share on 11-06 (left out), then comes through un2 on 11-07 and orders 200 on 11-08.
    d.event("eS1a", "enter", "11-06T10:00", "dS1", share_from="s1", depth=1)
    d.event("eS1b", "enter", "11-07T10:00", "dS1", share_from="un2", depth=1)
    d.event("eS1o", "convert", "11-08T10:00", "dS1", uid="s1")
    d.conversion("order:S1-1", "eS1o", "uS1", "convert", "11-08T10:00", revenue="200")
    # After the range, and in another app.
    d.event("eV9", "enter", "12-01T00:00", "dV9", share_from="s1", depth=1)
    d.event("oV2", "enter", "11-03T09:00", "dV2", share_from="s1", depth=1, app=OTHER)
    return d


def test_share_edges_depths_and_top_sharers(clickhouse: Any) -> None:
    share_data().insert(clickhouse)
    args = f"app='{APP}', date_from='2026-11-01', date_to='2026-11-30'"
    # The driver hands DateTime64 back naive; the column is UTC.
    got = [(*r[:3], r[3].replace(tzinfo=UTC)) for r in rows(clickhouse, f"SELECT * FROM share_edges({args})")]
    assert got == [
        ("uS4", "anon:dV4", 3, at("11-01T00:00")),
        ("uS3", "uV1", 2, at("11-01T12:00")),
        ("uS2", "uV2", 2, at("11-03T10:00")),
        ("uS3", "uV3", 1, at("11-04T10:00")),
        ("uS2", "uS1", 1, at("11-07T10:00")),
        ("unknown:ghost", "uV6", 2, at("11-10T10:00")),
        ("uS1", "uV7", 1, at("11-12T10:00")),
        ("uS5", "uV5", 1, at("11-30T23:59:59.999")),
    ]
    # depth 1: V3, S1, V7, V5 = 4; depth 2: V1, V2, V6 = 3; depth 3: V4 = 1.
    assert rows(clickhouse, f"SELECT * FROM share_depths({args})") == [(1, 4), (2, 3), (3, 1)]
    # S2 brought V2 (30) and S1 (200): 2 brought, 2 ordered, 230. S3 brought V1 (100 + 50) and V3 (no order in
    # range): 2, 1, 150. S5: V5 ordered 20. S1 (V7's order is tombstoned), S4 and ghost: nothing, by key.
    assert rows(clickhouse, f"SELECT * FROM top_sharers({args})") == [
        ("uS2", 2, 2, pytest.approx(230)),
        ("uS3", 2, 1, pytest.approx(150)),
        ("uS5", 1, 1, pytest.approx(20)),
        ("uS1", 1, 0, pytest.approx(0)),
        ("uS4", 1, 0, pytest.approx(0)),
        ("unknown:ghost", 1, 0, pytest.approx(0)),
    ]
    assert rows(clickhouse, f"SELECT * FROM top_sharers(app='{APP}', date_from='2026-12-02', "
                            "date_to='2026-12-31')") == []


def test_retention_waits_for_a_complete_day(clickhouse: Any) -> None:
    """The app's last event day may still be filling in: day N counts only once a later day has data."""
    d = Data()
    d.ident("anon:dX", "uX")
    d.event("x-reg", "register", "11-04T10:00", "dX")
    d.conversion("cX", "x-reg", "uX", "register", "11-04T10:00", credits={"first_touch": {"douyin": 1.0}})
    d.event("x-back", "enter", "11-05T09:00", "dX")  # last event day 11-05: day 1 of 11-04 is today
    d.insert(clickhouse)
    sql = ("SELECT d1_eligible, d1_rate FROM retention(app='shop', date_from='2026-11-04', date_to='2026-11-04', "
           "model='first_touch', acquisition='register', grain='day') WHERE channel = 'all'")
    assert rows(clickhouse, sql) == [(0.0, None)]
    later = Data()
    later.event("y-1", "enter", "11-06T08:00", "dY")  # someone's event on 11-06: 11-05 is complete
    later.insert(clickhouse)
    assert rows(clickhouse, sql) == [(1.0, 1.0)]
