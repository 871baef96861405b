"""The data-driven channels report's logic (stream/reports/population.py) on the reference datasets and by hand.

Reference cases come from ../shared/reference/attribution_cases.json (hand-derived from the published
definitions); each is fed in the shape the two population queries return: converting paths with their
conversion type, count and summed revenue (a journey without touches is the path `direct`, as
`conversion_paths` writes it), and non-converting paths with their count.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from schemas.events import PURCHASE_TYPES
from stream.reports.population import (
    OTHER_CHANNEL,
    PURCHASES,
    Journey,
    channel_rows,
    fold_channels,
    left_out,
    population_credits,
)

ROOT = Path(__file__).resolve().parents[4]
REFERENCE = json.loads((ROOT.parent / "shared" / "reference" / "attribution_cases.json").read_text())
DATASETS = {case["id"]: case for case in REFERENCE["dataset_cases"]}


def close(got: float, expected: float) -> bool:
    return abs(got - expected) <= 1e-9 * max(1.0, abs(got), abs(expected))


def query_rows(case: dict[str, Any], kind: str = "convert") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    converting: list[dict[str, Any]] = []
    open_paths: list[dict[str, Any]] = []
    for journey in case["journeys"]:
        path = [channel for channel, _ in journey["touchpoints"]] or ["direct"]
        if journey["conversion_time"] is None:
            open_paths.append({"path": path, "journeys": journey["count"]})
        else:
            converting.append({"path": path, "conversion_type": kind, "conversions": journey["count"],
                               "revenue": journey["value"] * journey["count"]})
    return converting, open_paths


def named(credits: dict[str, float]) -> dict[str, float]:
    return {"direct" if channel == "(none)" else channel: value for channel, value in credits.items()}


def assert_credits(got: dict[str, dict[str, float]], measure: str, expected: dict[str, float]) -> None:
    assert set(got) == set(expected)
    for channel, value in expected.items():
        assert close(got[channel][measure], value), (channel, measure, got[channel][measure], value)


MARKOV_CASES = ["D01_removal_effect_example", "D02_markov_repeated_channel", "D03_markov_loop",
                "D04_markov_no_touch_journeys", "D05_markov_no_conversions", "D09_counts_and_totals"]


@pytest.mark.parametrize("case_id", MARKOV_CASES)
def test_markov_credits_are_the_reference_global_allocation(case_id: str) -> None:
    case = DATASETS[case_id]
    expected = case["expected"]["markov"]
    result = population_credits("markov", *query_rows(case), acquisition="convert")
    assert result.conversion_probability is not None
    assert close(result.conversion_probability, expected["conversion_probability"])
    assert result.removal_effects is not None
    effects = named(expected["removal_effects"])
    assert set(result.removal_effects) == set(effects)
    assert all(close(result.removal_effects[c], e) for c, e in effects.items())
    expected_conversions = named(expected["credit_conversions"])
    # Every modelled conversion is a first order here: acquisitions (acquisition=convert) and orders are too.
    for measure in ("conversions", "acquisitions", "orders"):
        assert_credits(result.credits, measure, expected_conversions)
    if "credit_value" in expected:
        assert_credits(result.credits, "revenue", named(expected["credit_value"]))


@pytest.mark.parametrize("case_id", ["D01_removal_effect_example", "D02_markov_repeated_channel",
                                     "D04_markov_no_touch_journeys", "D07_shapley_three_channels",
                                     "D08_shapley_set_semantics"])
def test_shapley_credits_are_the_reference_zhao_values(case_id: str) -> None:
    case = DATASETS[case_id]
    result = population_credits("shapley", *query_rows(case), acquisition="convert")
    conversions = named(case["expected"]["shapley"]["credit"])
    for measure in ("conversions", "acquisitions", "orders"):
        assert_credits({c: v for c, v in result.credits.items() if c in conversions}, measure, conversions)
    assert result.conversion_probability is None and result.removal_effects is None
    if "shapley_value" in case["expected"]:
        assert_credits({c: v for c, v in result.credits.items() if c in conversions}, "revenue",
                       named(case["expected"]["shapley_value"]["credit"]))


def test_a_channel_only_on_non_converting_paths_gets_nothing_from_shapley() -> None:
    # D07: journey B > C did not convert; B still has its credit from converting paths, nothing more.
    case = DATASETS["D07_shapley_three_channels"]
    result = population_credits("shapley", *query_rows(case), acquisition="convert")
    assert close(result.credits["B"]["conversions"], 5 / 6)


def mixed() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """By hand: registrations via [A] and [A, B]; first orders via [B] (30 net, 6 refunded) and [A, B] (10);
    nothing open."""
    converting = [
        {"path": ["A"], "conversion_type": "register", "conversions": 1, "revenue": 0.0},
        {"path": ["A", "B"], "conversion_type": "register", "conversions": 1, "revenue": 0.0},
        {"path": ["B"], "conversion_type": "convert", "conversions": 1, "revenue": 30.0, "refunds": 6.0},
        {"path": ["A", "B"], "conversion_type": "convert", "conversions": 1, "revenue": 10.0},
    ]
    return converting, []


def test_shapley_credits_each_column_from_its_own_conversions() -> None:
    result = population_credits("shapley", *mixed(), acquisition="register")
    # acquisitions (registrations): A 1 + 1/2, B 1/2; orders: A 1/2, B 1 + 1/2; revenue: A 10/2, B 30 + 10/2;
    # refunds: B's own 6; gross: A 5, B 36 + 5.
    assert result.credits == {
        "A": {"acquisitions": 1.5, "conversions": 2.0, "orders": 0.5, "gross_revenue": 5.0, "refunds": 0.0,
              "revenue": 5.0},
        "B": {"acquisitions": 0.5, "conversions": 2.0, "orders": 1.5, "gross_revenue": 41.0, "refunds": 6.0,
              "revenue": 35.0},
    }


def test_markov_splits_every_column_by_the_same_removal_effects() -> None:
    result = population_credits("markov", *mixed(), acquisition="register")
    # start->A 3/4, start->B 1/4, A->conv 1/3, A->B 2/3, B->conv 1: P = 1; without A 1/4, without B 3/4 * 1/3.
    assert result.removal_effects is not None
    assert close(result.removal_effects["A"], 0.75) and close(result.removal_effects["B"], 0.75)
    for channel in ("A", "B"):
        got = result.credits[channel]
        measures = ("acquisitions", "conversions", "orders", "gross_revenue", "refunds", "revenue")
        assert [round(got[m], 12) for m in measures] == [1, 2, 1, 23, 3, 20]


def test_purchases_are_the_contracts_order_types() -> None:
    assert PURCHASES == PURCHASE_TYPES


def test_channels_beyond_the_cap_are_folded_into_one() -> None:
    journeys = [Journey(("a", "b"), 5, "convert", 50.0), Journey(("c",), 3, "convert", 30.0),
                Journey(("d", "a"), 2), Journey(("e",), 1, "convert", 1.0)]
    folded, names = fold_channels(journeys, max_channels=3)
    # reach: a 7, b 5, c 3, d 2, e 1 -> a and b keep their names, c d e become one channel.
    assert names == ["c", "d", "e"]
    assert [j.channels for j in folded] == [("a", "b"), (OTHER_CHANNEL,), (OTHER_CHANNEL, "a"), (OTHER_CHANNEL,)]
    assert fold_channels(journeys, max_channels=5) == (journeys, [])


def test_folding_keeps_the_totals_and_the_spend() -> None:
    converting = [{"path": [f"ch{i:02d}"], "conversion_type": "convert", "conversions": 30 - i, "revenue": 10.0}
                  for i in range(30)]
    result = population_credits("shapley", converting, [], acquisition="convert")
    assert len(result.folded) == 30 - 23 and OTHER_CHANNEL in result.credits
    assert result.credits[OTHER_CHANNEL]["conversions"] == sum(30 - i for i in range(23, 30))
    assert math.isclose(sum(c["conversions"] for c in result.credits.values()), sum(30 - i for i in range(30)))
    spend = {"ch00": 5.0, "ch29": 7.0, "ch28": 1.0, "paid_only": 2.0}
    rows = channel_rows(result, spend, {"ch00": "paid", "paid_only": "paid"})
    by_channel = {r["channel"]: r for r in rows}
    assert by_channel[OTHER_CHANNEL]["spend"] == 8.0 and by_channel[OTHER_CHANNEL]["channel_type"] == "mixed"
    assert by_channel["paid_only"] == {"channel_type": "paid", "channel": "paid_only", "acquisitions": 0.0,
                                       "conversions": 0.0, "orders": 0.0, "gross_revenue": 0.0, "refunds": 0.0,
                                       "revenue": 0.0, "spend": 2.0}
    assert by_channel["ch01"]["channel_type"] == "unknown"
    assert [r["channel"] for r in rows[:3]] == [OTHER_CHANNEL, "ch00", "paid_only"]  # spend, descending


def test_what_the_path_caps_left_out_comes_from_the_window_totals() -> None:
    converting = [
        {"path": ["a"], "conversion_type": "convert", "conversions": 4, "revenue": 40.5, "distinct_paths": 5,
         "all_conversions": 9, "all_revenue": 100.25},
        {"path": ["b"], "conversion_type": "convert", "conversions": 2, "revenue": 9.5, "distinct_paths": 5,
         "all_conversions": 9, "all_revenue": 100.25},
    ]
    open_paths = [{"path": ["a"], "journeys": 7, "distinct_paths": 3, "all_journeys": 10}]
    left = left_out(converting, open_paths)
    assert (left.converting_paths, left.conversions, left.revenue) == (3, 3.0, 50.25)
    assert (left.open_paths, left.open_journeys) == (2, 3.0)
    nothing = left_out([], [])
    assert (nothing.converting_paths, nothing.conversions, nothing.open_paths) == (0, 0.0, 0)
