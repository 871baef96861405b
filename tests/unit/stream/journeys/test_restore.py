"""Rebuilding an engine from its stored rows (`stream.journeys.restore`) must let it continue exactly like the
engine that never stopped.

Engine A folds a prefix of events; its rows are reduced the way ClickHouse returns them to
`stream/restore_state.py` (latest version per id, deleted conversions left out, the earliest non-deleted
register / activate / convert per identity over all time, touchpoints and conversions only as far back as the
allowed lateness and the longest window can still reach, the watermark = the newest event time) and folded
into a fresh engine B. Both then get the same continuation. A restored conversion's last signature is unknown,
so B may re-write a conversion whose content did not change (an idempotent no-op for the analyst views); apart
from those, both engines must write the same rows, versions included.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine, parse_time
from stream.journeys.identity import ids_of
from stream.journeys.outputs import ConversionRow, CreditRow, EngineOutput
from stream.journeys.restore import (
    conversion_from_row,
    restore_ad_click,
    restore_conversion,
    restore_first,
    restore_identity,
    restore_person,
    restore_touch,
    restore_watermark,
)
from stream.journeys.state import AdClick, Touchpoint
from tests.unit.stream.journeys.conftest import (
    Recorder,
    ad_click,
    day,
    ev,
    journey_events,
    latest_conversions,
    latest_identities,
    latest_touchpoints,
    make_engine,
)

Content = tuple[Any, ...]


# -- the restore, as the shell does it --------------------------------------------------------------------------


def restore_from_rows(
    stored: EngineOutput, ad_clicks: list[dict[str, Any]], watermark: datetime, config: AttributionConfig,
    events: list[dict[str, Any]] | None = None, late_clicks: frozenset[str] = frozenset(),
) -> AppEngine:
    """`events`: the prefix, for each person's last event time; `late_clicks`: event ids of the ad clicks that
    arrived past the horizon (the `arrived_late` of their events rows)."""
    engine = make_engine(config)
    restore_watermark(engine, watermark)
    touches_since = watermark - config.allowed_lateness - config.longest_window
    conversions_since = watermark - config.allowed_lateness

    first_seen: dict[str, datetime] = {}
    for row in stored.identities:
        first_seen[row.typed_id] = min(first_seen.get(row.typed_id, row.first_seen), row.first_seen)
    identities = latest_identities(stored.identities)
    for typed_id, row in sorted(identities.items()):
        restore_identity(engine, typed_id, row.user_key, first_seen[typed_id])
    last_seen: dict[str, datetime] = {}
    for event in events or []:
        ids = ids_of(event)
        if event["type"] != "ad_click" and ids and ids[0] in identities:
            key, at = identities[ids[0]].user_key, parse_time(event["event_time"])
            last_seen[key] = max(last_seen.get(key, at), at)
    for key, at in last_seen.items():
        restore_person(engine, key, at)

    latest = latest_conversions(stored.conversions)
    firsts: dict[tuple[str, str], tuple[datetime, str]] = {}
    for c in latest.values():
        if not c.deleted and c.conversion_type in ("register", "activate", "convert"):
            k = (c.identity, c.conversion_type)
            firsts[k] = min(firsts.get(k, (c.conversion_time, c.conversion_id)), (c.conversion_time, c.conversion_id))
    for (identity, kind), (time, conversion_id) in sorted(firsts.items()):
        restore_first(engine, identity, "purchase" if kind == "convert" else kind, time, conversion_id)

    for click in ad_clicks:
        at, late = parse_time(click["event_time"]), click["event_id"] in late_clicks
        if at >= touches_since or late:
            restore_ad_click(engine, AdClick(
                click["click_id"], at, click.get("platform") or "", click.get("channel_type") or "paid",
                click.get("channel") or "", click.get("campaign") or "", click.get("creative") or "",
            ), late=late)
    first_written: dict[str, int] = {}
    for row in stored.touchpoints:
        first_written[row.touchpoint_id] = min(first_written.get(row.touchpoint_id, row.version), row.version)
    touches = sorted(latest_touchpoints(stored.touchpoints).values(), key=lambda t: first_written[t.touchpoint_id])
    for t in touches:
        if t.time >= touches_since or t.arrived_late:
            restore_touch(engine, Touchpoint(
                t.touchpoint_id, t.identity, t.anonymous_id, t.time, t.kind, t.source, t.channel_type,
                t.channel, t.campaign, t.creative, t.click_id, t.click_platform, t.signal, t.scene, t.matched_click,
                t.shared_click, t.arrived_late,
            ))
    for c in latest.values():
        if not c.deleted and (c.conversion_time >= conversions_since or c.arrived_late):
            restore_conversion(engine, conversion_from_row(
                c.conversion_id, c.event_id, c.identity, c.conversion_type, c.conversion_time, c.order_id,
                c.revenue, c.currency, arrived_late=c.arrived_late,
            ))
    return engine


# -- comparing the continuation ---------------------------------------------------------------------------------


def conversion_content(row: ConversionRow, credits: list[CreditRow]) -> Content:
    """Everything a conversion write says, except its version."""
    head = tuple(row._replace(version=0))
    body = sorted(tuple(c._replace(version=0)) for c in credits)
    return (head, tuple(body))


class Store:
    """The latest content per conversion, as the analyst views see it; sorts a write into effect or no-op."""

    def __init__(self, rows: EngineOutput) -> None:
        self.content: dict[str, Content] = {}
        self.apply(rows)

    def apply(self, out: EngineOutput) -> list[Content]:
        """Fold `out` in; returns the writes that changed something, with their versions."""
        effective = []
        for row in out.conversions:
            credits = [c for c in out.credits if c.conversion_id == row.conversion_id and c.version == row.version]
            content = conversion_content(row, credits)
            if self.content.get(row.conversion_id) != content:
                effective.append((row.version, content))
            self.content[row.conversion_id] = content
        return sorted(effective)


def continue_both(
    prefix: list[dict[str, Any]], continuation: list[dict[str, Any]], config: AttributionConfig | None = None
) -> tuple[list[EngineOutput], list[EngineOutput]]:
    config = config or AttributionConfig()
    a = Recorder(make_engine(config))
    late_clicks = set()
    for event in prefix:
        if a.engine.fold(event, a.version + a.step, a.total) and event["type"] == "ad_click":
            late_clicks.add(event["event_id"])
        a.version += a.step
    watermark = max(parse_time(e["event_time"]) for e in prefix)
    clicks = [e for e in prefix if e["type"] == "ad_click"]
    b_engine = restore_from_rows(a.total, clicks, watermark, config, prefix, frozenset(late_clicks))
    b = Recorder(b_engine, version=a.version)

    store_a, store_b = Store(a.total), Store(a.total)
    outs_a, outs_b = [], []
    for n, event in enumerate(continuation):
        out_a, out_b = a(event), b(event)
        outs_a.append(out_a)
        outs_b.append(out_b)
        where = f"continuation event {n} ({event['event_id']}, {event['type']})"
        assert store_b.apply(out_b) == store_a.apply(out_a), where
        assert out_b.touchpoints == out_a.touchpoints, where
        assert set(out_b.identities) == set(out_a.identities), where
    assert store_b.content == store_a.content
    return outs_a, outs_b


# -- a scripted restart ----------------------------------------------------------------------------------------

PREFIX = [
    ev("a1", "enter", day(1), "A", scene=1007),
    ev("a2", "convert", day(2), "A", order_id="o1", revenue="50.00"),
    ev("b1", "enter", day(3), "B", scene=1047),
    ev("b2", "identify", day(3, 1), "B", user_id="U"),
    ev("b3", "register", day(3, 2), "B", user_id="U"),
    ev("c1", "enter", day(3, 3), "C", query={"gdt_vid": "clk-late"}),  # its ad click comes after the restart
    ev("c2", "convert", day(3, 4), "C", order_id="o5", revenue="12.34"),
    ad_click("k0", day(3, 5), "clk-early", campaign="camp-early", creative="cr-early"),
    ev("d1", "register", day(3, 6), "D"),
    ev("d2", "convert", day(3, 7), "D", order_id="o7", revenue="8.00"),
]

CONTINUATION = [
    ev("a3", "identify", day(4), "A", user_id="U"),  # merge: B's register moves to A's key
    ev("b4", "convert", day(4, 1), "B", order_id="o2", revenue="30.00"),  # a repurchase of the merged person
    ev("a4", "enter", day(1, 12), "A", scene=1058),  # a late touch: re-attributes o1 and o2
    ad_click("k1", day(3, 3), "clk-late", campaign="camp-late", creative="cr-late"),  # enriches c1 and o5
    ev("c3", "enter", day(4, 2), "C", query={"gdt_vid": "clk-early"}),  # matched at once
    ev("c4", "convert", day(4, 3), "C", order_id="o6", revenue="1.00"),  # C's repurchase
    ev("d0", "convert", day(3, 1), "D", order_id="o0", revenue="2.00"),  # D's late earlier order: o7 repurchase
    ev("d3", "identify", day(4, 4), "D", user_id="U"),  # D joins: its later registration is tombstoned
    ev("a5", "convert", day(4, 5), "A", order_id="o1", revenue="50.00"),  # o1 re-sent: nothing
    ev("b5", "register", day(4, 6), "B", user_id="U"),  # registered already: nothing
]


def test_a_restored_engine_continues_like_the_one_that_never_stopped() -> None:
    outs_a, _ = continue_both(PREFIX, CONTINUATION)
    # The continuation does exercise the restored state (so the comparison above is not vacuous):
    merge, repurchase, late, click, matched, c_buy, d_late, d_merge, resent, again = outs_a
    assert [c.conversion_id for c in merge.conversions] == ["register:b3"]
    assert [(c.conversion_type, c.touch_count) for c in repurchase.conversions] == [("repurchase", 2)]  # a1, b1
    assert sorted((c.conversion_id, c.touch_count) for c in late.conversions) == [
        ("order:o1", 2), ("order:o2", 3), ("register:b3", 3)
    ]
    assert [(c.conversion_id, c.campaign) for c in click.credits if c.model == "first_touch"] == [
        ("order:o5", "camp-late")
    ]
    assert [(t.touchpoint_id, t.campaign, t.matched_click) for t in matched.touchpoints] == [
        ("c3", "camp-early", True)
    ]
    assert [c.conversion_type for c in c_buy.conversions] == ["repurchase"]
    assert {(c.conversion_id, c.conversion_type) for c in d_late.conversions} == {
        ("order:o0", "convert"), ("order:o7", "repurchase")
    }
    assert ("register:d1", True) in {(c.conversion_id, c.deleted) for c in d_merge.conversions}
    assert (resent.conversions, again.conversions) == ([], [])


def test_a_restore_leaves_out_what_is_final() -> None:
    prefix = [
        ev("a1", "enter", day(1), "A", scene=1007),
        ev("a2", "convert", day(2), "A", order_id="o1", revenue="5.00"),
        ev("x", "enter", day(10), "X", scene=1089),  # the watermark moves 8 days on: o1 is final
    ]
    late = [ev("a0", "enter", day(1, 12), "A", scene=1047), ev("a3", "convert", day(10, 1), "A", order_id="o2",
                                                                  revenue="1.00")]
    _outs_a, outs_b = continue_both(prefix, late)
    assert [c.conversion_id for c in outs_b[0].conversions] == []
    assert [c.conversion_type for c in outs_b[1].conversions] == ["repurchase"]  # the first outlives o1's row


def test_a_touch_out_of_reach_is_credited_alike_with_or_without_a_restart() -> None:
    prefix = [
        ev("x", "enter", day(15, 1), "B", scene=1089),  # watermark: day 15 09:00; touches before day 1 09:00 are gone
        ev("a1", "enter", day(1), "A", scene=1007),  # day 1 08:00, arriving two weeks late
    ]
    outs_a, outs_b = continue_both(prefix, [ev("r1", "register", day(1, 2), "A")])
    assert {r.channel for r in outs_b[0].credits} == {r.channel for r in outs_a[0].credits}


def test_a_final_conversion_is_final_alike_with_or_without_a_restart() -> None:
    prefix = [
        ev("c1", "convert", day(2), "A", order_id="o1", revenue="10.00"),
        ev("w1", "enter", day(9) - timedelta(minutes=30), "B", scene=1089),  # eviction runs, o1 is still open
        ev("w2", "enter", day(9) + timedelta(minutes=20), "B", scene=1089),  # o1 is final, no eviction yet
    ]
    continue_both(prefix, [ev("a0", "enter", day(1, 12), "A", scene=1007)])


# -- random restarts -------------------------------------------------------------------------------------------


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    events=journey_events(span_minutes=4 * 24 * 60, max_size=50),
    cut=st.floats(min_value=0.2, max_value=0.8),
)
def test_random_restarts_continue_like_the_engine_that_never_stopped(events: list[dict[str, Any]], cut: float) -> None:
    at = max(1, int(len(events) * cut))
    prefix, continuation = events[:at], events[at:]
    if not any(e["type"] != "ad_click" for e in prefix):
        return
    continue_both(prefix, continuation)


def test_the_scripted_prefix_restores_the_expected_state() -> None:
    a = Recorder(make_engine())
    a.feed(PREFIX)
    watermark = max(parse_time(e["event_time"]) for e in PREFIX)
    b = restore_from_rows(a.total, [PREFIX[7]], watermark, AttributionConfig())
    assert b.watermark == watermark
    assert {k: sorted(p.touches) for k, p in b.persons.items() if p.touches} == {
        k: sorted(p.touches) for k, p in a.engine.persons.items() if p.touches
    }
    assert {k: sorted(p.conversions) for k, p in b.persons.items() if p.conversions} == {
        k: sorted(p.conversions) for k, p in a.engine.persons.items() if p.conversions
    }
    assert {k: p.firsts for k, p in b.persons.items() if p.firsts} == {
        k: p.firsts for k, p in a.engine.persons.items() if p.firsts
    }
    assert b.waiting == a.engine.waiting == {"clk-late": ["c1"]}
    assert sorted(b.ad_clicks) == ["clk-early"]
    assert b.conversion_ids == a.engine.conversion_ids
    assert sum(c.revenue for p in b.persons.values() for c in p.conversions.values()) == Decimal("70.34")
