"""The hand-derived reference cases (../shared/reference/attribution_cases.json) against the product code.

The adapter below maps the reference vocabulary onto the product API:

- times are days from ``EPOCH``; ``lookback_days`` sets both windows (all reference touches are clicks);
  ``null`` lookback means no limit.
- ``tie_break``: the product orders equal times by ``touchpoint_id``, so the adapter encodes the reference
  rule in the ids: input order -> zero-padded input index; ``"channel"`` -> channel name, then index.
- ``include_touch_at_conversion: false``: the adapter drops touches at the conversion time (the product
  always counts them).
- ``no_touch_channel``: the product's ``direct`` row is renamed to it, or dropped when it is ``null``.
- ``last_non_direct``: the product's touches are non-direct by definition, so the adapter drops the
  touches on channel ``direct`` and runs ``last_touch``; an all-direct path then gets the product's
  ``direct`` row, kept under the name ``direct`` (not ``(none)``), which is what the reference expects.
- ``value``: ``credit * value`` is compared with the reference tolerance; the cent-exact revenue credits are
  compared exactly where the expected value is a whole number of cents, and otherwise must be within one
  cent per touch (largest remainder never moves a share by a whole cent).
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stream.attribution import ConversionFacts, ModelSpec, Touch, Windows, attribute

FILE_NAME = "attribution_cases.json"
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
DAY = 86400.0
CENT = Decimal("0.01")


def reference_path() -> Path | None:
    path = Path(__file__).resolve().parents[4].parent / "shared" / "reference" / FILE_NAME
    if path.exists():
        return path
    env = os.environ.get("TOUCHSTREAM_REFERENCE_DIR")
    if env and (Path(env) / FILE_NAME).exists():
        return Path(env) / FILE_NAME
    return None


def load_reference() -> dict[str, Any]:
    path = reference_path()
    if path is None:
        pytest.skip(f"{FILE_NAME} not found (set TOUCHSTREAM_REFERENCE_DIR)", allow_module_level=True)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


REFERENCE = load_reference()
TOLERANCE: float = REFERENCE["meta"]["tolerance"]


def close(got: float, expected: float) -> bool:
    return abs(got - expected) <= TOLERANCE * max(1.0, abs(got), abs(expected))


def at(days: float) -> datetime:
    return EPOCH + timedelta(days=days)


def windows_for(params: dict[str, Any]) -> Windows:
    lookback = params.get("lookback_days")
    seconds = math.inf if lookback is None else lookback * DAY
    return Windows(click_seconds=seconds, view_seconds=seconds)


def journey_touches(journey: dict[str, Any], params: dict[str, Any]) -> list[Touch]:
    channel_order = params.get("tie_break") == "channel"
    conversion = journey["conversion_time"]
    touches = []
    for i, (channel, t) in enumerate(journey["touchpoints"]):
        if params.get("include_touch_at_conversion", True) is False and t == conversion:
            continue
        ident = f"{channel}\x00{i:06d}" if channel_order else f"{i:06d}"
        touches.append(Touch(ident, at(t), channel, "click"))
    return touches


def spec_for(model: str, params: dict[str, Any]) -> ModelSpec:
    kwargs: dict[str, Any] = {}
    if "half_life_days" in params:
        kwargs["half_life_seconds"] = params["half_life_days"] * DAY
    if params.get("granularity") == "day":
        kwargs["age_granularity_seconds"] = DAY
    for key in ("first", "last", "two_touch"):
        if key in params:
            kwargs[key] = params[key]
    if "channel_multipliers" in params:
        kwargs["channel_multipliers"] = {k: float(v) for k, v in params["channel_multipliers"].items()}
    if "weights" in params:
        kwargs["weights"] = tuple(float(w) for w in params["weights"])
    return ModelSpec(model, model, **kwargs)  # type: ignore[arg-type]


@dataclass
class Outcome:
    """Per-channel totals of one model over one or more conversions."""

    fractions: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    values: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    revenue: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    # Largest-remainder error bound, in cents: one per credited touch.
    slack: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unattributed_conversions: float = 0.0
    unattributed_value: float = 0.0


def run_journey(journey: dict[str, Any], model: str, params: dict[str, Any], out: Outcome) -> None:
    """Attribute one reference journey (times ``count``) under one model and add it to ``out``."""
    count = journey.get("count", 1)
    if journey["conversion_time"] is None:
        return
    touches = journey_touches(journey, params)
    no_touch = params.get("no_touch_channel", "(none)")
    if model == "last_non_direct":
        if touches and all(t.channel == "direct" for t in touches):
            no_touch = "direct"  # direct visits, not a journey without touches: keep the product's name
        touches = [t for t in touches if t.channel != "direct"]
        model = "last_touch"
    value = journey["value"]
    conversion = ConversionFacts("c", at(journey["conversion_time"]), Decimal(repr(value)), "USD")
    rows = attribute(conversion, touches, [spec_for(model, params)], windows_for(params))
    assert sum((r.revenue_credit for r in rows), Decimal(0)) == conversion.revenue
    for row in rows:
        if row.touch is None and no_touch is None:
            out.unattributed_conversions += count
            out.unattributed_value += count * value
            continue
        channel = row.channel if row.touch is not None else no_touch
        out.fractions[channel] += count * row.credit
        out.values[channel] += count * row.credit * value
        out.revenue[channel] += count * row.revenue_credit
        out.slack[channel] += count


def dict_mismatches(label: str, got: dict[str, float], expected: dict[str, float]) -> list[str]:
    return [
        f"{label}[{k}]: got {got.get(k, 0.0)!r}, expected {expected.get(k, 0.0)!r}"
        for k in sorted(set(got) | set(expected))
        if not close(got.get(k, 0.0), expected.get(k, 0.0))
    ]


def revenue_mismatches(label: str, out: Outcome, expected: dict[str, float], exact: bool) -> list[str]:
    problems = []
    for k in sorted(set(out.revenue) | set(expected)):
        want = expected.get(k, 0.0)
        got = out.revenue.get(k, Decimal(0))
        cents = want * 100
        if exact and abs(cents - round(cents)) < 1e-6:
            if got != Decimal(round(cents)) * CENT:
                problems.append(f"{label}[{k}]: revenue credit {got}, expected exactly {want}")
        elif abs(got - Decimal(repr(want))) > out.slack.get(k, 0) * CENT:
            problems.append(f"{label}[{k}]: revenue credit {got} too far from {want}")
    return problems


JOURNEY_CASES = REFERENCE["journey_cases"]


@pytest.mark.parametrize("case", JOURNEY_CASES, ids=[c["id"] for c in JOURNEY_CASES])
def test_journey_case(case: dict[str, Any]) -> None:
    problems: list[str] = []
    for key, expected in case["expected"].items():
        model = expected.get("model", key)
        params = {**case["params"], **expected.get("params", {})}
        out = Outcome()
        run_journey(case["journey"], model, params, out)
        problems += dict_mismatches(f"{key}.fractions", out.fractions, expected["fractions"])
        problems += dict_mismatches(f"{key}.value", out.values, expected["value"])
        problems += revenue_mismatches(f"{key}.revenue", out, expected["value"], exact=True)
    assert not problems, "\n".join(problems)


HEURISTIC_DATASET_CASES = [
    pytest.param(case, key, id=f"{case['id']}:{key}")
    for case in REFERENCE["dataset_cases"]
    for key, expected in case["expected"].items()
    if "kind" not in expected
]


@pytest.mark.parametrize(("case", "key"), HEURISTIC_DATASET_CASES)
def test_heuristic_dataset_case(case: dict[str, Any], key: str) -> None:
    expected = case["expected"][key]
    params = {**case["params"], **expected.get("params", {})}
    out = Outcome()
    for journey in case["journeys"]:
        run_journey(journey, expected["model"], params, out)
    problems = dict_mismatches("conversions", out.fractions, expected["conversions"])
    if "value" in expected:
        problems += dict_mismatches("value", out.values, expected["value"])
        problems += revenue_mismatches("revenue", out, expected["value"], exact=False)
    for name in ("unattributed_conversions", "unattributed_value"):
        if name in expected and not close(getattr(out, name), expected[name]):
            problems.append(f"{name}: got {getattr(out, name)}, expected {expected[name]}")
    assert not problems, "\n".join(problems)


def test_every_reference_case_is_exercised() -> None:
    # Guards the parametrisation: a reshaped file must not silently shrink the suite.
    assert len(JOURNEY_CASES) == 38
    assert len(HEURISTIC_DATASET_CASES) >= 6
