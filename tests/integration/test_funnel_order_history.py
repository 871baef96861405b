"""Funnels and paths count orders by the order history, as attribution does (issue 11, part 5): a person's
earliest order is `convert`, every other one `repurchase`, whatever type the client sent, and an order id sent
twice counts once (stream/journeys/engine.py). On the real engine, over hand-built data whose figures are
worked out in the comments; schemas/views/ holds the views."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from stream.reports.funnel_sql import LIFECYCLE_STEPS, funnel_sql, parse_steps
from stream.store import connect, load_migrations, migrate
from tests.conftest import unique
from tests.integration.test_funnel_path_views import (
    APP,
    DAY_FROM,
    DAY_TO,
    EVENT_COLUMNS,
    OTHER,
    at,
    by_channel,
    event,
    funnel_view,
    insert_events,
    query,
    users,
    view,
)
from tests.unit.stream.journeys.conftest import Recorder, ev, make_engine

pytestmark = pytest.mark.integration

PRE_ORDER = ["exposure", "click", "enter", "register", "activate"]


def chain(anon: str, day: str, hour: str) -> list[list[Any]]:
    """exposure, click, enter, register, activate, a minute apart from `11-<day> <hour>:00:00`."""
    return [event(f"{anon}-{i}", t, f"11-{day} {hour}:0{i}:00", anon) for i, t in enumerate(PRE_ORDER)]


def order(event_id: str, type_: str, when: str, anon: str, order_id: str, app: str) -> list[Any]:
    return [*event(event_id, type_, when, anon, app=app), order_id]


# The orders of history_data: event id, the type the client sent, event time, anonymous id, order id, app.
ORDERS = [
    ("h1-o1", "repurchase", "11-10 10:10:00", "h1", "A1", APP),
    ("h2-o1", "convert", "11-10 11:10:00", "h2", "B1", APP),
    ("h2-o2", "convert", "11-10 11:20:00", "h2", "B2", APP),
    ("h3-o1", "convert", "11-10 12:10:00", "h3", "C1", APP),
    ("h3-o2", "repurchase", "11-10 12:15:00", "h3", "C1", APP),
    ("h4-o1", "convert", "11-11 10:10:00", "h4", "D1", APP),
    ("h4-o2", "convert", "11-11 10:12:00", "h4", "D1", APP),
    ("h5-o0", "convert", "11-01 09:00:00", "h5", "E0", APP),
    ("h5-o1", "convert", "11-11 12:10:00", "h5", "E1", APP),
    ("h6-o1", "repurchase", "11-12 10:10:00.500", "h6", "F2", APP),
    ("h6-o2", "repurchase", "11-12 10:10:00.500", "h6", "F1", APP),
    ("h7-o1", "repurchase", "11-13 09:00:00", "h7", "", APP),
    ("h7-o2", "convert", "11-13 10:00:00", "h7", "", APP),
    ("h8-o1", "repurchase", "11-09 09:00:00", "h8", "G1", APP),
    ("h8-o2", "convert", "11-11 09:00:00", "h8", "G2", APP),
    ("x-o1", "convert", "11-09 09:00:00", "h1", "A1", OTHER),
]


def history_data(clickhouse: Any) -> None:
    """Six people enter the lifecycle funnel (all direct: no touchpoints), three more do not.

    h1 chain on 10 Nov, then its first order A1 labelled repurchase            -> convert, level 6
    h2 chain, orders B1 and B2, both labelled convert                          -> B2 repurchase, level 7
    h3 chain, order C1, then C1 again (another event id) labelled repurchase   -> one order, level 6
    h4 chain, order D1 twice, both labelled convert                            -> one order, level 6
    h5 an order E0 on 1 Nov (before the range); chain on 11 Nov, order E1 labelled convert
                                                                               -> E1 repurchase, level 5
    h6 chain on 12 Nov, orders F2 and F1 at one millisecond, both labelled repurchase; F1's event id is the
       greater one: the first order is the smaller order id, not the smaller event id
                                                                               -> F1 convert, F2 repurchase, 7
    h7 two purchases without an order id on 13 Nov: each event is its own order -> the earlier converts
    h8 first order G1 on 9 Nov labelled repurchase, a page view and G2 labelled convert on 11 Nov
    h9 an enter on 11 Nov and nothing else
    The other app has an order A1 for an anonymous id h1 before h1's: it must not make h1's a repurchase.
    """
    insert_events(clickhouse, [
        *chain("h1", "10", "10"), *chain("h2", "10", "11"), *chain("h3", "10", "12"), *chain("h4", "11", "10"),
        *chain("h5", "11", "12"), *chain("h6", "12", "10"),
        event("h8-1", "page_view", "11-11 08:00:00", "h8", path="/pages/goods"),
        event("h9-1", "enter", "11-11 08:00:00", "h9"),
    ])
    clickhouse.insert("events", [order(*o) for o in ORDERS], column_names=[*EVENT_COLUMNS, "order_id"])


async def test_order_history_gives_each_order_once_with_its_kind(clickhouse: Any) -> None:
    history_data(clickhouse)
    rows = query(clickhouse, "SELECT user_key, conversion_id, event_id, toString(event_time), kind "
                             f"FROM order_history(app='{APP}') ORDER BY user_key, event_time, conversion_id")
    assert rows == [
        ("anon:h1", "order:A1", "h1-o1", "2026-11-10 10:10:00.000", "convert"),
        ("anon:h2", "order:B1", "h2-o1", "2026-11-10 11:10:00.000", "convert"),
        ("anon:h2", "order:B2", "h2-o2", "2026-11-10 11:20:00.000", "repurchase"),
        ("anon:h3", "order:C1", "h3-o1", "2026-11-10 12:10:00.000", "convert"),  # its earliest event
        ("anon:h4", "order:D1", "h4-o1", "2026-11-11 10:10:00.000", "convert"),
        ("anon:h5", "order:E0", "h5-o0", "2026-11-01 09:00:00.000", "convert"),
        ("anon:h5", "order:E1", "h5-o1", "2026-11-11 12:10:00.000", "repurchase"),
        ("anon:h6", "order:F1", "h6-o2", "2026-11-12 10:10:00.500", "convert"),
        ("anon:h6", "order:F2", "h6-o1", "2026-11-12 10:10:00.500", "repurchase"),
        # without an order id an order is its event, named as the engine names it: type:event_id
        ("anon:h7", "repurchase:h7-o1", "h7-o1", "2026-11-13 09:00:00.000", "convert"),
        ("anon:h7", "convert:h7-o2", "h7-o2", "2026-11-13 10:00:00.000", "repurchase"),
        ("anon:h8", "order:G1", "h8-o1", "2026-11-09 09:00:00.000", "convert"),
        ("anon:h8", "order:G2", "h8-o2", "2026-11-11 09:00:00.000", "repurchase"),
    ]
    other = query(clickhouse, f"SELECT conversion_id, kind FROM order_history(app='{OTHER}')")
    assert other == [("order:A1", "convert")]


async def test_order_history_agrees_with_the_attribution_engine(clickhouse: Any) -> None:
    """The same orders through the journey engine, in time order: each order's kind as attribution writes it
    (its latest conversion row) is the view's, for the same event of the order."""
    history_data(clickhouse)
    recorder = Recorder(make_engine())
    ours = sorted((at(when), event_id, type_, anon, order_id) for event_id, type_, when, anon, order_id, app in ORDERS
                  if app == APP)
    recorder.feed(ev(event_id, type_, moment, anon, order_id=order_id)
                  for moment, event_id, type_, anon, order_id in ours)
    engine = {row.conversion_id: (row.event_id, row.conversion_type) for row in recorder.total.conversions}
    view_rows = query(clickhouse, f"SELECT conversion_id, event_id, kind FROM order_history(app='{APP}')")
    assert engine == {conversion_id: (event_id, kind) for conversion_id, event_id, kind in view_rows}
    assert len(engine) == 13  # A1, B1, B2, C1, D1, E0, E1, F1, F2, two without an order id, G1, G2


async def test_lifecycle_funnel_counts_first_orders_and_repurchases_by_the_history(clickhouse: Any) -> None:
    history_data(clickhouse)
    # levels h1 6, h2 7, h3 6, h4 6, h5 5, h6 7; h7 and h8 have no exposure.
    # By the client's labels it would be h1 5, h2 6, h3 7, h4 6, h5 6, h6 5 -> [6, 6, 6, 6, 6, 4, 1].
    grouped = by_channel(funnel_view(clickhouse))
    assert list(grouped) == ["all", "direct"]
    assert users(grouped["all"]) == [6, 6, 6, 6, 6, 5, 2]
    assert users(grouped["direct"]) == [6, 6, 6, 6, 6, 5, 2]
    assert [r[5] for r in grouped["all"]] == [0, 0, 0, 0, 0, 1, 3]  # drop-offs: h5 at convert; h1, h3, h4
    # The builder's call counts the same way.
    built = query(clickhouse, funnel_sql(LIFECYCLE_STEPS, APP, DAY_FROM, DAY_TO, 3600))
    assert built == funnel_view(clickhouse)


async def test_custom_funnels_use_the_order_history_too(clickhouse: Any) -> None:
    history_data(clickhouse)
    steps = parse_steps("activate,convert,repurchase")
    # activate: h1-h6; convert after it: all but h5 (its order is a repurchase); repurchase: h2, h6.
    # By the labels: [6, 4, 1] (h2 B1, h3 C1, h4 D1, h5 E1 convert; only h3's re-sent C1 a repurchase).
    rows = query(clickhouse, funnel_sql(steps, APP, DAY_FROM, DAY_TO, 3600))
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("all", "activate", 6), ("all", "convert", 5), ("all", "repurchase", 2),
        ("direct", "activate", 6), ("direct", "convert", 5), ("direct", "repurchase", 2),
    ]
    # A funnel that starts at the first order: on 9 Nov h8's G1 (labelled repurchase) is one, and G2 on
    # 11 Nov is its repurchase but 2 days later, outside a one-hour window; a two-day window reaches it.
    ninth = date(2026, 11, 9)
    first_orders = parse_steps("convert,repurchase")
    for window_s, reached in [(3600, [1, 0]), (2 * 86400, [1, 1])]:
        grouped = by_channel(query(clickhouse, funnel_sql(first_orders, APP, ninth, ninth, window_s)))
        assert list(grouped) == ["all", "direct"]
        assert users(grouped["all"]) == reached


async def test_behaviour_paths_start_from_the_first_order_by_the_history(clickhouse: Any) -> None:
    history_data(clickhouse)
    rows = view(clickhouse, "behaviour_paths", app=APP, date_from=DAY_FROM, date_to=DAY_TO, max_steps=5)
    # h1 (first order labelled repurchase), h2, h3, h4, h6 (the other order of its millisecond is not a step);
    # h5's and h8's first orders are before the range. By the labels it would be h2, h3, h4 and h8 (its
    # convert of 11 Nov, after 'repurchase > page_view:/pages/goods').
    assert [(r[1], r[2]) for r in rows] == [("click > enter > register > activate > convert", 5)]
    # 9 Nov: h8's first order, nothing before it.
    ninth = date(2026, 11, 9)
    assert [(r[1], r[2]) for r in view(clickhouse, "behaviour_paths", app=APP, date_from=ninth, date_to=ninth,
                                       max_steps=5)] == [("convert", 1)]


async def test_exit_points_count_either_label_as_an_order(clickhouse: Any) -> None:
    history_data(clickhouse)
    # In 10-12 Nov h1 to h6 and h8 ordered (h1 and h6 only by orders labelled repurchase): h9 alone exits.
    rows = view(clickhouse, "exit_points", app=APP, date_from=DAY_FROM, date_to=DAY_TO)
    assert [r[:3] for r in rows] == [("all", "enter", 1), ("direct", "enter", 1)]
    assert [r[3] for r in rows] == [pytest.approx(1.0), pytest.approx(1.0)]


def test_a_database_with_older_views_ends_like_a_fresh_one(clickhouse: Any, chdb_path: Path) -> None:
    """Views are not migrated but created again at every start (schemas/views/): a database whose views have
    older definitions (005 used to create lifecycle_funnel, exit_points and behaviour_paths itself; stand-ins
    here) ends with the same definitions as a fresh database."""
    old_views = tuple(
        f"CREATE VIEW IF NOT EXISTS {name} AS SELECT {{app:String}} AS stale"
        for name in ("lifecycle_funnel", "exit_points", "behaviour_paths")
    )
    shipped = load_migrations()
    before = [replace(m, statements=m.statements + old_views) if m.version == 5 else m
              for m in shipped if m.version < 10]
    database = unique("old")
    old = connect(f"chdb://{chdb_path}", database)
    try:
        migrate(old, before)
        assert view_definitions(old, database)["lifecycle_funnel"].endswith("AS stale")
        assert "010_funnel_views.sql" in migrate(old)
        assert view_definitions(old, database) == view_definitions(clickhouse, clickhouse.test_database)
    finally:
        old.command(f"DROP DATABASE IF EXISTS {database}")


def view_definitions(client: Any, database: str) -> dict[str, str]:
    """Each view of the database, its CREATE statement with the database name taken out."""
    rows = client.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = {db:String} AND engine = 'View'",
        parameters={"db": database},
    ).result_rows
    return {name: text.replace(f"{database}.", "") for name, text in rows}
