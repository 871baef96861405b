"""The funnel and path views (schemas/views/) and the custom-funnel builder on the real
ClickHouse engine, over small hand-built data sets whose figures are worked out in the comments."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from stream.reports.funnel_sql import LIFECYCLE_STEPS, funnel_sql, parse_steps
from stream.reports.sqltext import view_call

pytestmark = pytest.mark.integration

APP = "shop"
OTHER = "other"
DAY_FROM = date(2026, 11, 10)
DAY_TO = date(2026, 11, 12)

EVENT_COLUMNS = ["app_id", "event_id", "type", "name", "path", "anonymous_id", "event_time", "timestamp", "received_at"]
TOUCH_COLUMNS = [
    "app_id", "touchpoint_id", "identity", "user_key", "touch_time", "kind", "channel_type", "channel", "version",
]
CONVERSION_COLUMNS = [
    "app_id", "conversion_id", "event_id", "user_key", "conversion_type", "conversion_time", "revenue", "currency",
    "touch_count", "version", "deleted",
]
CREDIT_COLUMNS = [
    "app_id", "conversion_id", "conversion_type", "conversion_time", "user_key", "model", "touchpoint_id",
    "touch_index", "touch_count", "channel", "credit", "revenue_credit", "currency", "version", "deleted",
]


def at(text: str) -> datetime:
    """`11-10 10:00:00` (2026, UTC), optionally with milliseconds."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M:%S.%f" if "." in text else "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=UTC
    )


def event(
    event_id: str, type_: str, when: str, anon: str, *, path: str = "", name: str = "", app: str = APP
) -> list[Any]:
    moment = at(when)
    return [app, event_id, type_, name, path, anon, moment, moment, moment]


def touch(touchpoint_id: str, user_key: str, when: str, channel: str, *, app: str = APP) -> list[Any]:
    return [app, touchpoint_id, "", user_key, at(when), "enter", "social", channel, 1]


def insert_events(clickhouse: Any, rows: list[list[Any]]) -> None:
    clickhouse.insert("events", rows, column_names=EVENT_COLUMNS)


def query(clickhouse: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in clickhouse.query(sql).result_rows]


def view(clickhouse: Any, name: str, **arguments: str | int | date) -> list[tuple[Any, ...]]:
    return query(clickhouse, f"SELECT * FROM {view_call(name, **arguments)}")


def funnel_view(
    clickhouse: Any, date_from: date = DAY_FROM, date_to: date = DAY_TO, window_s: int = 3600
) -> list[tuple[Any, ...]]:
    return view(clickhouse, "lifecycle_funnel", app=APP, date_from=date_from, date_to=date_to, window_s=window_s)


def by_channel(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    """channel -> its rows without the channel column, in the view's order."""
    grouped: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row[1:])
    return grouped


def users(rows: list[tuple[Any, ...]]) -> list[int]:
    return [row[2] for row in rows]


def assert_conversions(rows: list[tuple[Any, ...]], step: list[float | None], overall: list[float | None]) -> None:
    assert [r[3] for r in rows] == [None if s is None else pytest.approx(s) for s in step]
    assert [r[4] for r in rows] == [None if o is None else pytest.approx(o) for o in overall]


# --- lifecycle funnel ---------------------------------------------------------------------------------------

def funnel_data(clickhouse: Any) -> None:
    """Five people enter the funnel on 10-12 Nov (window 3600 s), two more must not.

    p1 all seven steps, minutes apart                                     -> level 7, channel wechat_moments_ads
    p2 exposure, click on device p2; enter, register on device p2b, which the identity graph merges into p2
                                                                          -> level 4, channel wechat_share
       (its touch of 9 Nov is outside the range; a later in-range touch is not the first)
    p3 click BEFORE exposure, then enter: the click is out of order       -> level 1, direct (no touchpoint)
    p4 exposure 12:00, click 12:30, enter 13:00:01 = 3601 s after exposure -> level 2, direct
    p5 exposure on date_to 23:30, click after date_to at 00:10, enter at exactly exposure + 3600 s (bound
       inclusive)                                                         -> level 3, wechat_moments_ads
    p6 exposure on 9 Nov (before the range), click on 10 Nov              -> not in the funnel
    p7 exposure on 13 Nov (after the range)                               -> not in the funnel
    App "other" has a complete funnel for an anonymous id "p1" and a touch for p2: neither may leak in.
    """
    insert_events(clickhouse, [
        event("p1-1", "exposure", "11-10 10:00:00", "p1"),
        event("p1-2", "click", "11-10 10:01:00", "p1"),
        event("p1-3", "enter", "11-10 10:02:00", "p1"),
        event("p1-4", "register", "11-10 10:05:00", "p1"),
        event("p1-5", "activate", "11-10 10:10:00", "p1"),
        event("p1-6", "convert", "11-10 10:20:00", "p1"),
        event("p1-7", "repurchase", "11-10 10:30:00", "p1"),
        event("p2-1", "exposure", "11-10 09:00:00", "p2"),
        event("p2-2", "click", "11-10 09:05:00", "p2"),
        event("p2-3", "enter", "11-10 09:06:00", "p2b"),
        event("p2-4", "register", "11-10 09:30:00", "p2b"),
        event("p3-1", "click", "11-11 08:00:00", "p3"),
        event("p3-2", "exposure", "11-11 08:10:00", "p3"),
        event("p3-3", "enter", "11-11 08:20:00", "p3"),
        event("p4-1", "exposure", "11-11 12:00:00", "p4"),
        event("p4-2", "click", "11-11 12:30:00", "p4"),
        event("p4-3", "enter", "11-11 13:00:01", "p4"),
        event("p5-1", "exposure", "11-12 23:30:00", "p5"),
        event("p5-2", "click", "11-13 00:10:00", "p5"),
        event("p5-3", "enter", "11-13 00:30:00", "p5"),
        event("p6-1", "exposure", "11-09 23:59:59.999", "p6"),
        event("p6-2", "click", "11-10 00:00:10", "p6"),
        event("p7-1", "exposure", "11-13 00:00:00", "p7"),
        event("o1-1", "exposure", "11-10 10:00:00", "p1", app=OTHER),
        event("o1-2", "click", "11-10 10:01:00", "p1", app=OTHER),
        event("o1-3", "enter", "11-10 10:02:00", "p1", app=OTHER),
    ])
    clickhouse.insert(
        "identities",
        [[APP, "anon:p2", "anon:p2", at("11-10 09:00:00"), 1], [APP, "anon:p2b", "anon:p2", at("11-10 09:06:00"), 2]],
        column_names=["app_id", "typed_id", "user_key", "first_seen", "version"],
    )
    clickhouse.insert("touchpoints", [
        touch("t1", "anon:p1", "11-10 10:01:00", "wechat_moments_ads"),
        touch("t2-old", "anon:p2", "11-09 09:00:00", "search"),
        touch("t2", "anon:p2", "11-10 09:05:00", "wechat_share"),
        touch("t2-late", "anon:p2", "11-11 09:00:00", "wechat_moments_ads"),
        touch("t5", "anon:p5", "11-12 23:31:00", "wechat_moments_ads"),
        touch("to", "anon:p2", "11-10 08:00:00", "leak", app=OTHER),
    ], column_names=TOUCH_COLUMNS)


async def test_lifecycle_funnel_counts_steps_in_order_within_the_window(clickhouse: Any) -> None:
    funnel_data(clickhouse)
    rows = funnel_view(clickhouse)
    grouped = by_channel(rows)
    assert list(grouped) == ["all", "direct", "wechat_moments_ads", "wechat_share"]
    steps = ["exposure", "click", "enter", "register", "activate", "convert", "repurchase"]
    for channel_rows in grouped.values():
        assert [(r[0], r[1]) for r in channel_rows] == list(enumerate(steps, start=1))

    # levels p1 7, p2 4, p3 1, p4 2, p5 3: reached step k = people with level >= k
    everyone = grouped["all"]
    assert users(everyone) == [5, 4, 3, 2, 1, 1, 1]
    # 4/5, 3/4, 2/3, 1/2, 1/1, 1/1 and overall k/5
    assert_conversions(everyone, [None, 0.8, 0.75, 2 / 3, 0.5, 1.0, 1.0], [1.0, 0.8, 0.6, 0.4, 0.2, 0.2, 0.2])
    assert [r[5] for r in everyone] == [0, 1, 1, 1, 1, 0, 0]

    # direct: p3 (1), p4 (2) -> [2, 1, 0, 0, ...]; after a step with 0 users the step conversion is NULL
    direct = grouped["direct"]
    assert users(direct) == [2, 1, 0, 0, 0, 0, 0]
    assert_conversions(direct, [None, 0.5, 0.0, None, None, None, None], [1.0, 0.5, 0, 0, 0, 0, 0])
    assert [r[5] for r in direct] == [0, 1, 1, 0, 0, 0, 0]

    # wechat_moments_ads: p1 (7), p5 (3) -> [2, 2, 2, 1, 1, 1, 1]
    moments = grouped["wechat_moments_ads"]
    assert users(moments) == [2, 2, 2, 1, 1, 1, 1]
    assert_conversions(moments, [None, 1.0, 1.0, 0.5, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    assert [r[5] for r in moments] == [0, 0, 0, 1, 0, 0, 0]

    # wechat_share: p2 (4, its two devices merged) -> [1, 1, 1, 1, 0, 0, 0]
    share = grouped["wechat_share"]
    assert users(share) == [1, 1, 1, 1, 0, 0, 0]
    assert_conversions(share, [None, 1.0, 1.0, 1.0, 0.0, None, None], [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])


async def test_lifecycle_funnel_window_bound_and_range_border(clickhouse: Any) -> None:
    funnel_data(clickhouse)
    # Window 3599 s: p5's enter (3600 s after its exposure) no longer counts, p5 stops at click.
    # Levels p1 7, p2 4, p3 1, p4 2, p5 2 -> enter reached by p1, p2 only.
    assert users(by_channel(funnel_view(clickhouse, window_s=3599))["all"]) == [5, 4, 2, 2, 1, 1, 1]
    # Range 12 Nov only: p5 alone (exposure 23:30 on date_to); its click and enter fall on 13 Nov.
    rows = by_channel(funnel_view(clickhouse, date_from=DAY_TO, date_to=DAY_TO))
    assert list(rows) == ["all", "wechat_moments_ads"]
    assert users(rows["all"]) == [1, 1, 1, 0, 0, 0, 0]
    # Range 13 Nov only: p7 enters; p5's click and enter on that day do not start a funnel.
    assert users(by_channel(funnel_view(clickhouse, date_from=date(2026, 11, 13), date_to=date(2026, 11, 13)))[
        "all"
    ]) == [1, 0, 0, 0, 0, 0, 0]


async def test_lifecycle_funnel_empty_range_has_every_step_at_zero(clickhouse: Any) -> None:
    funnel_data(clickhouse)
    rows = funnel_view(clickhouse, date_from=date(2026, 12, 1), date_to=date(2026, 12, 31))
    assert [r[:4] for r in rows] == [
        ("all", i, step, 0)
        for i, step in enumerate(["exposure", "click", "enter", "register", "activate", "convert", "repurchase"], 1)
    ]
    assert {(r[4], r[5], r[6]) for r in rows} == {(None, None, 0)}


async def test_builder_query_gives_the_view_rows(clickhouse: Any) -> None:
    funnel_data(clickhouse)
    for window_s, date_from, date_to in [(3600, DAY_FROM, DAY_TO), (3599, DAY_FROM, DAY_TO), (60, DAY_TO, DAY_TO)]:
        built = query(clickhouse, funnel_sql(LIFECYCLE_STEPS, APP, date_from, date_to, window_s))
        assert built == funnel_view(clickhouse, date_from, date_to, window_s)
        assert built  # never vacuous: 'all' is always there
    # The other app's data is reachable through the builder with its own name, and only there:
    # its person "p1" has exposure, click, enter and no channel (its touch is p2's) -> direct.
    other = by_channel(query(clickhouse, funnel_sql(LIFECYCLE_STEPS, OTHER, DAY_FROM, DAY_TO, 3600)))
    assert list(other) == ["all", "direct"]
    assert users(other["all"]) == [1, 1, 1, 0, 0, 0, 0]


async def test_custom_funnel_with_page_paths_and_custom_names(clickhouse: Any) -> None:
    """q1 views the cart once, then adds to cart: one event never fills two steps      -> level 1
    q2 home, cart, add_to_cart                                                        -> level 3
    q3 home, then a custom event with another name, then add_to_cart (no cart view)   -> level 1
    q4 the cart view at the same millisecond as a home view (taken in step order), then add_to_cart
                                                                                      -> level 3
    """
    insert_events(clickhouse, [
        event("q1-1", "page_view", "11-10 10:00:00", "q1", path="/pages/cart"),
        event("q1-2", "custom", "11-10 10:01:00", "q1", name="add_to_cart"),
        event("q2-1", "page_view", "11-10 10:00:00", "q2", path="/pages/home"),
        event("q2-2", "page_view", "11-10 10:00:30", "q2", path="/pages/cart"),
        event("q2-3", "custom", "11-10 10:01:00", "q2", name="add_to_cart"),
        event("q3-1", "page_view", "11-10 10:00:00", "q3", path="/pages/home"),
        event("q3-2", "custom", "11-10 10:00:10", "q3", name="search"),
        event("q3-3", "custom", "11-10 10:00:20", "q3", name="add_to_cart"),
        event("q4-2", "page_view", "11-11 10:00:00.500", "q4", path="/pages/cart"),
        event("q4-1", "page_view", "11-11 10:00:00.500", "q4", path="/pages/home"),
        event("q4-3", "custom", "11-11 10:00:01", "q4", name="add_to_cart"),
    ])
    steps = parse_steps("page_view, page_view:/pages/cart, custom:add_to_cart")
    rows = query(clickhouse, funnel_sql(steps, APP, DAY_FROM, DAY_TO, 600))
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        ("all", 1, "page_view", 4),
        ("all", 2, "page_view:/pages/cart", 2),  # q2, q4
        ("all", 3, "custom:add_to_cart", 2),
        ("direct", 1, "page_view", 4),
        ("direct", 2, "page_view:/pages/cart", 2),
        ("direct", 3, "custom:add_to_cart", 2),
    ]
    assert [r[4] for r in rows[:3]] == [None, pytest.approx(0.5), pytest.approx(1.0)]  # 2/4, 2/2
    assert [r[6] for r in rows[:3]] == [0, 2, 0]


# --- conversion paths ---------------------------------------------------------------------------------------

def credit(conversion: str, model: str, index: int, count: int, channel: str, version: int, *, deleted: int = 0,
           when: str = "11-10 10:20:00", type_: str = "convert", app: str = APP) -> list[Any]:
    return [app, conversion, type_, at(when), "anon:x", model, "" if channel == "direct" else f"tp-{channel}",
            index, count, channel, 1 / max(count, 1), Decimal("0"), "CNY", version, deleted]


def conversion(conversion_id: str, when: str, revenue: str, version: int, *, deleted: int = 0,
               type_: str = "convert", app: str = APP) -> list[Any]:
    return [app, conversion_id, f"ev-{conversion_id}", "anon:x", type_, at(when), Decimal(revenue), "CNY", 1,
            version, deleted]


async def test_conversion_paths(clickhouse: Any) -> None:
    """o1  moments > share (linear; its first_touch row must not add to the path), 100
    o2  re-attributed: version 1 ['search'], version 2 moments > share, 50          -> joins o1's path
    r1  a registration with no touch: one direct row                               -> ['direct'], 0
    o3  tombstoned at version 2                                                    -> left out
    o4  converted on 13 Nov, after the range                                       -> left out
    o5  at 23:59:59.999 on date_to, share only, 30
    other app: an 'order:o1' with channel leak                                     -> left out
    """
    clickhouse.insert("conversions", [
        conversion("order:o1", "11-10 10:20:00", "100", 1),
        conversion("order:o2", "11-10 11:00:00", "50", 1),
        conversion("order:o2", "11-10 11:00:00", "50", 2),
        conversion("register:r1", "11-11 09:00:00", "0", 1, type_="register"),
        conversion("order:o3", "11-11 10:00:00", "70", 1),
        conversion("order:o3", "11-11 10:00:00", "70", 2, deleted=1),
        conversion("order:o4", "11-13 00:00:00", "20", 1),
        conversion("order:o5", "11-12 23:59:59.999", "30", 1),
        conversion("order:o1", "11-10 10:20:00", "999", 1, app=OTHER),
    ], column_names=CONVERSION_COLUMNS)
    clickhouse.insert("attribution_credits", [
        credit("order:o1", "linear", 1, 2, "wechat_share", 1),  # written before index 0: the path sorts
        credit("order:o1", "linear", 0, 2, "wechat_moments_ads", 1),
        credit("order:o1", "first_touch", 0, 2, "wechat_moments_ads", 1),
        credit("order:o2", "linear", 0, 1, "search", 1),
        credit("order:o2", "linear", 0, 2, "wechat_moments_ads", 2),
        credit("order:o2", "linear", 1, 2, "wechat_share", 2),
        credit("register:r1", "linear", 0, 0, "direct", 1, type_="register", when="11-11 09:00:00"),
        credit("order:o3", "linear", 0, 1, "wechat_share", 1),
        credit("order:o3", "linear", 0, 1, "wechat_share", 2, deleted=1),
        credit("order:o4", "linear", 0, 1, "wechat_share", 1, when="11-13 00:00:00"),
        credit("order:o5", "linear", 0, 1, "wechat_share", 1, when="11-12 23:59:59.999"),
        credit("order:o1", "linear", 0, 1, "leak", 1, app=OTHER),
    ], column_names=CREDIT_COLUMNS)
    rows = view(clickhouse, "conversion_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO)
    assert rows == [
        # o1 + o2: 2 conversions, 100 + 50 revenue (no refunds: gross = net)
        (["wechat_moments_ads", "wechat_share"], "wechat_moments_ads > wechat_share", 2, 150.0,
         "wechat_moments_ads", "wechat_share", 2, "convert", 150.0, 0.0),
        (["direct"], "direct", 1, 0.0, "direct", "direct", 1, "register", 0.0, 0.0),
        (["wechat_share"], "wechat_share", 1, 30.0, "wechat_share", "wechat_share", 1, "convert", 30.0, 0.0),
    ]
    assert view(clickhouse, "conversion_paths", app=APP, date_from=date(2026, 12, 1), date_to=date(2026, 12, 1)) == []


# --- exit points --------------------------------------------------------------------------------------------

async def test_exit_points(clickhouse: Any) -> None:
    """x1 enter, home, cart                                        -> page_view:/pages/cart, wechat_share
    x2 enter, add_to_cart                                          -> custom:add_to_cart, direct
    x3 enter, cart, then an exposure (not a step)                  -> page_view:/pages/cart, direct
    x4 enter, convert in the range                                 -> bought: left out
    x5 only an exposure                                            -> left out
    x6 register and a page view at the same millisecond: the greater event id (x6b) is last
                                                                   -> page_view:/pages/me, direct
    x7 convert on 9 Nov (before the range), enter, cart, and a checkout on 13 Nov (after it)
                                                                   -> page_view:/pages/cart, wechat_share
    x8 enter, repurchase in the range                              -> bought: left out
    another app's visitor                                          -> left out
    """
    insert_events(clickhouse, [
        event("x1-1", "enter", "11-10 10:00:00", "x1"),
        event("x1-2", "page_view", "11-10 10:01:00", "x1", path="/pages/home"),
        event("x1-3", "page_view", "11-10 10:05:00", "x1", path="/pages/cart"),
        event("x2-1", "enter", "11-11 08:00:00", "x2"),
        event("x2-2", "custom", "11-11 09:00:00", "x2", name="add_to_cart"),
        event("x3-1", "enter", "11-11 10:00:00", "x3"),
        event("x3-2", "page_view", "11-11 10:01:00", "x3", path="/pages/cart"),
        event("x3-3", "exposure", "11-11 12:00:00", "x3"),
        event("x4-1", "enter", "11-11 10:00:00", "x4"),
        event("x4-2", "convert", "11-11 10:30:00", "x4"),
        event("x5-1", "exposure", "11-11 10:00:00", "x5"),
        event("x6a", "register", "11-12 10:00:00.250", "x6"),
        event("x6b", "page_view", "11-12 10:00:00.250", "x6", path="/pages/me"),
        event("x7-0", "convert", "11-09 10:00:00", "x7"),
        event("x7-1", "enter", "11-10 10:00:00", "x7"),
        event("x7-2", "page_view", "11-12 23:59:59", "x7", path="/pages/cart"),
        event("x7-3", "custom", "11-13 00:00:01", "x7", name="checkout"),
        event("x8-1", "enter", "11-10 10:00:00", "x8"),
        event("x8-2", "repurchase", "11-12 10:00:00", "x8"),
        event("y1-1", "enter", "11-10 10:00:00", "y1", app=OTHER),
    ])
    clickhouse.insert("touchpoints", [
        touch("tx1", "anon:x1", "11-10 10:00:00", "wechat_share"),
        touch("tx7", "anon:x7", "11-10 10:00:00", "wechat_share"),
        touch("ty1", "anon:x2", "11-10 10:00:00", "leak", app=OTHER),
    ], column_names=TOUCH_COLUMNS)
    rows = view(clickhouse, "exit_points", app=APP, date_from=DAY_FROM, date_to=DAY_TO)
    expected = [
        # all: 5 non-buyers (x1, x2, x3, x6, x7): cart 3/5, add_to_cart 1/5, me 1/5
        ("all", "page_view:/pages/cart", 3, 0.6),
        ("all", "custom:add_to_cart", 1, 0.2),
        ("all", "page_view:/pages/me", 1, 0.2),
        # direct: x2, x3, x6, one each of 3
        ("direct", "custom:add_to_cart", 1, 1 / 3),
        ("direct", "page_view:/pages/cart", 1, 1 / 3),
        ("direct", "page_view:/pages/me", 1, 1 / 3),
        # wechat_share: x1, x7 both on the cart
        ("wechat_share", "page_view:/pages/cart", 2, 1.0),
    ]
    assert [r[:3] for r in rows] == [e[:3] for e in expected]
    assert [r[3] for r in rows] == [pytest.approx(e[3]) for e in expected]
    assert view(clickhouse, "exit_points", app=APP, date_from=date(2026, 12, 1), date_to=date(2026, 12, 31)) == []


# --- behaviour paths ----------------------------------------------------------------------------------------

def behaviour_data(clickhouse: Any) -> None:
    """b1 enter, home, cart, cart (a repeat), add_to_cart, an exposure (not a step), convert
         -> steps enter, home, cart, add_to_cart
    b2 home, cart, add_to_cart, convert, then a page view after the order (not before it)
         -> steps home, cart, add_to_cart
    b3 convert with nothing before                             -> steps none
    b4 first convert on 9 Nov, another on 11 Nov               -> first order before the range: left out
    b5 first convert on 13 Nov                                 -> after the range: left out
    b6 enter and register on 5 Nov (before the range), convert on 12 Nov -> steps enter, register
    b7 enter, page a, enter, convert                           -> steps enter, page a, enter (not consecutive)
    another app's b1                                           -> left out
    """
    insert_events(clickhouse, [
        event("b1-1", "enter", "11-10 10:00:00", "b1"),
        event("b1-2", "page_view", "11-10 10:01:00", "b1", path="/pages/home"),
        event("b1-3", "page_view", "11-10 10:02:00", "b1", path="/pages/cart"),
        event("b1-4", "page_view", "11-10 10:03:00", "b1", path="/pages/cart"),
        event("b1-5", "custom", "11-10 10:04:00", "b1", name="add_to_cart"),
        event("b1-6", "exposure", "11-10 10:04:30", "b1"),
        event("b1-7", "convert", "11-10 10:05:00", "b1"),
        event("b2-1", "page_view", "11-11 09:00:00", "b2", path="/pages/home"),
        event("b2-2", "page_view", "11-11 09:01:00", "b2", path="/pages/cart"),
        event("b2-3", "custom", "11-11 09:02:00", "b2", name="add_to_cart"),
        event("b2-4", "convert", "11-11 09:10:00", "b2"),
        event("b2-5", "page_view", "11-11 09:20:00", "b2", path="/pages/me"),
        event("b3-1", "convert", "11-12 09:00:00", "b3"),
        event("b4-1", "convert", "11-09 09:00:00", "b4"),
        event("b4-2", "convert", "11-11 09:00:00", "b4"),
        event("b5-1", "page_view", "11-12 09:00:00", "b5", path="/pages/home"),
        event("b5-2", "convert", "11-13 09:00:00", "b5"),
        event("b6-1", "enter", "11-05 09:00:00", "b6"),
        event("b6-2", "register", "11-05 09:10:00", "b6"),
        event("b6-3", "convert", "11-12 20:00:00", "b6"),
        event("b7-1", "enter", "11-10 08:00:00", "b7"),
        event("b7-2", "page_view", "11-10 08:01:00", "b7", path="/pages/a"),
        event("b7-3", "enter", "11-10 08:02:00", "b7"),
        event("b7-4", "convert", "11-10 08:03:00", "b7"),
        event("o-b1", "enter", "11-10 10:00:00", "b1", app=OTHER),
        event("o-b2", "convert", "11-10 10:05:00", "b1", app=OTHER),
    ])


async def test_behaviour_paths(clickhouse: Any) -> None:
    behaviour_data(clickhouse)
    rows = view(clickhouse, "behaviour_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO, max_steps=3)
    assert [(r[1], r[2]) for r in rows] == [
        # b1 keeps the last 3 of its 4 steps (uncollapsed they would be cart, cart, add_to_cart) and matches b2
        ("page_view:/pages/home > page_view:/pages/cart > custom:add_to_cart > convert", 2),
        ("convert", 1),  # b3
        ("enter > page_view:/pages/a > enter > convert", 1),  # b7
        ("enter > register > convert", 1),  # b6
    ]
    assert rows[0][0] == ["page_view:/pages/home", "page_view:/pages/cart", "custom:add_to_cart", "convert"]
    assert all(r[1] == " > ".join(r[0]) for r in rows)

    # max_steps 1: the step right before the order
    short = view(clickhouse, "behaviour_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO, max_steps=1)
    assert [(r[1], r[2]) for r in short] == [
        ("custom:add_to_cart > convert", 2),  # b1, b2
        ("convert", 1),  # b3
        ("enter > convert", 1),  # b7
        ("register > convert", 1),  # b6
    ]


async def test_behaviour_paths_range_border(clickhouse: Any) -> None:
    behaviour_data(clickhouse)
    # 13 Nov alone: b5's first order; its page view the day before still counts as a step.
    rows = view(clickhouse, "behaviour_paths", app=APP, date_from=date(2026, 11, 13),
                date_to=date(2026, 11, 13), max_steps=5)
    assert [(r[1], r[2]) for r in rows] == [("page_view:/pages/home > convert", 1)]
    # 9 Nov alone: b4's first order, nothing before it.
    rows = view(clickhouse, "behaviour_paths", app=APP, date_from=date(2026, 11, 9),
                date_to=date(2026, 11, 9), max_steps=5)
    assert [(r[1], r[2]) for r in rows] == [("convert", 1)]
    # 14 Nov onwards: no first order, no rows.
    assert view(clickhouse, "behaviour_paths", app=APP, date_from=date(2026, 11, 14),
                date_to=date(2026, 12, 31), max_steps=5) == []


async def test_views_keep_their_column_types(clickhouse: Any) -> None:
    """The report API reads these types; the contract names them."""
    calls = {
        "lifecycle_funnel": view_call("lifecycle_funnel", app=APP, date_from=DAY_FROM, date_to=DAY_TO, window_s=60),
        "conversion_paths": view_call("conversion_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO),
        "exit_points": view_call("exit_points", app=APP, date_from=DAY_FROM, date_to=DAY_TO),
        "behaviour_paths": view_call("behaviour_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO, max_steps=3),
    }
    types = {name: [tuple(r[:2]) for r in clickhouse.query(f"DESCRIBE (SELECT * FROM {call})").result_rows]
             for name, call in calls.items()}
    assert types == {
        "lifecycle_funnel": [
            ("channel", "String"), ("step_index", "UInt8"), ("step", "String"), ("users", "UInt64"),
            ("step_conversion", "Nullable(Float64)"), ("overall_conversion", "Nullable(Float64)"),
            ("drop_off", "UInt64"),
        ],
        "conversion_paths": [
            ("path", "Array(String)"), ("path_text", "String"), ("conversions", "UInt64"), ("revenue", "Float64"),
            ("first_channel", "String"), ("last_channel", "String"), ("touch_count", "UInt32"),
            ("conversion_type", "String"), ("gross_revenue", "Float64"), ("refunds", "Float64"),
        ],
        "exit_points": [("channel", "String"), ("step", "String"), ("users", "UInt64"), ("share", "Float64")],
        "behaviour_paths": [("path", "Array(String)"), ("path_text", "String"), ("users", "UInt64")],
    }
