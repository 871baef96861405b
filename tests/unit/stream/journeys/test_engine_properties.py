"""Properties of the engine over random journeys: credits reconcile, replays are identical, credits point at
touchpoints that were written, and conversion kinds follow the (merged) person's history."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import given, settings

from stream.journeys.engine import AppEngine
from stream.journeys.outputs import ConversionRow, CreditRow, EngineOutput, TouchpointRow
from tests.unit.stream.journeys.conftest import Recorder, journey_events, latest_conversions, make_engine

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)
MODELS = ["first_touch", "last_touch", "linear", "time_decay", "position_based"]


def feed(events: list[dict[str, Any]]) -> tuple[AppEngine, Recorder]:
    engine = make_engine()
    run = Recorder(engine)
    run.feed(events)
    return engine, run


def check_reconciles(total: EngineOutput) -> int:
    """Every conversion at its latest version: complete models, credits sum to 1, revenue to the cent."""
    credits: dict[tuple[str, int], list[CreditRow]] = defaultdict(list)
    for c in total.credits:
        credits[c.conversion_id, c.version].append(c)
    emitted = {(c.conversion_id, c.version) for c in total.conversions}
    assert set(credits) == emitted  # a conversion row and its credit rows always travel together
    live = 0
    for conversion_id, row in latest_conversions(total.conversions).items():
        rows = credits[conversion_id, row.version]
        if row.deleted:
            assert [(r.deleted, r.model) for r in rows] == [(True, "")]
            continue
        live += 1
        assert not any(r.deleted for r in rows)
        by_model: dict[str, list[CreditRow]] = defaultdict(list)
        for r in rows:
            by_model[r.model].append(r)
        assert sorted(by_model) == sorted(MODELS)
        for model, model_rows in by_model.items():
            assert abs(math.fsum(r.credit for r in model_rows) - 1.0) <= 1e-9, (conversion_id, model)
            assert sum((r.revenue_credit for r in model_rows), Decimal(0)) == row.revenue, (conversion_id, model)
            assert all(r.credit > 0 for r in model_rows)
            assert all(r.revenue_credit >= 0 for r in model_rows)
            assert {(r.conversion_type, r.touch_count, r.user_key, r.currency) for r in model_rows} == {
                (row.conversion_type, row.touch_count, row.user_key, row.currency)
            }
            indexes = [r.touch_index for r in model_rows]
            assert indexes == sorted(set(indexes))
            assert all(0 <= i < max(row.touch_count, 1) for i in indexes)
        # linear gives every touch a share: its rows are the whole journey (or one direct row).
        assert len(by_model["linear"]) == max(row.touch_count, 1)
        if row.touch_count == 0:
            assert {(r.channel, r.touchpoint_id, r.credit, r.revenue_credit) for r in rows} == {
                ("direct", "", 1.0, row.revenue)
            }
    return live


def check_credits_point_at_written_touchpoints(total: EngineOutput) -> None:
    touch_rows: dict[str, list[TouchpointRow]] = defaultdict(list)
    for t in total.touchpoints:
        touch_rows[t.touchpoint_id].append(t)
    for c in total.credits:
        if c.deleted or not c.touchpoint_id:
            continue
        written = [t for t in touch_rows.get(c.touchpoint_id, []) if t.version <= c.version]
        assert written, f"credit of {c.conversion_id} names touchpoint {c.touchpoint_id} never written before"
        t = max(written, key=lambda t: t.version)
        # The credit carries the touchpoint as last written (an ad click re-writes it enriched).
        assert (c.touch_time, c.channel, c.channel_type, c.campaign, c.creative) == (
            t.time, t.channel, t.channel_type, t.campaign, t.creative
        )
        assert t.time <= c.conversion_time


@SETTINGS
@given(events=journey_events(span_minutes=20 * 24 * 60))
def test_credits_reconcile_for_every_conversion_and_model(events: list[dict[str, Any]]) -> None:
    _, run = feed(events)
    check_reconciles(run.total)


@SETTINGS
@given(events=journey_events(span_minutes=20 * 24 * 60))
def test_a_replay_into_a_fresh_engine_gives_identical_outputs(events: list[dict[str, Any]]) -> None:
    _, first = feed(events)
    _, second = feed(events)
    assert second.outputs == first.outputs


@SETTINGS
@given(events=journey_events(span_minutes=20 * 24 * 60))
def test_every_credited_touchpoint_was_written_before(events: list[dict[str, Any]]) -> None:
    _, run = feed(events)
    check_credits_point_at_written_touchpoints(run.total)


@SETTINGS
@given(events=journey_events(span_minutes=5 * 24 * 60))
def test_kinds_follow_the_merged_persons_history(events: list[dict[str, Any]]) -> None:
    # Within 5 days nothing is evicted (allowed lateness 7 days), so the final state is the whole history.
    engine, run = feed(events)
    check_reconciles(run.total)
    per_person: dict[str, list[ConversionRow]] = defaultdict(list)
    for row in latest_conversions(run.total.conversions).values():
        person = engine.graph.key_of(row.identity)
        assert person is not None
        if row.deleted:
            continue
        assert row.user_key == person  # a merge re-emits the absorbed person's conversions under the new key
        per_person[person].append(row)
    for person, rows in per_person.items():
        kinds = [r.conversion_type for r in rows]
        for once in ("register", "activate", "convert"):
            assert kinds.count(once) <= 1, (person, kinds)
        purchases = sorted((r for r in rows if r.conversion_type in ("convert", "repurchase")),
                           key=lambda r: (r.conversion_time, r.conversion_id))
        if purchases:
            assert [r.conversion_type for r in purchases] == ["convert"] + ["repurchase"] * (len(purchases) - 1)
        registrations = [r for r in rows if r.conversion_type == "register"]
        assert len(registrations) <= 1
