"""Markov removal effect and Shapley: the reference dataset cases, hand-worked examples and properties."""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.attribution import ChannelPath, markov_model, shapley_model
from stream.attribution.datadriven import solve_linear
from stream.attribution.eligibility import eligible_touches

from .test_reference_cases import REFERENCE, at, close, journey_touches, windows_for

# ---------------------------------------------------------------- reference dataset cases


def to_paths(journeys: list[dict[str, Any]], params: dict[str, Any]) -> list[ChannelPath]:
    """Converting journeys keep their eligible touches; non-converting ones keep every touch."""
    paths = []
    for journey in journeys:
        touches = journey_touches(journey, params)
        if journey["conversion_time"] is None:
            ordered = sorted(touches, key=lambda t: (t.time, t.touchpoint_id))
        else:
            ordered = eligible_touches(touches, at(journey["conversion_time"]), windows_for(params))
        converted = journey["conversion_time"] is not None
        paths.append(
            ChannelPath(tuple(t.channel for t in ordered), converted, journey["value"], journey["count"])
        )
    return paths


DATA_DRIVEN_CASES = [
    pytest.param(case, key, id=f"{case['id']}:{key}")
    for case in REFERENCE["dataset_cases"]
    for key, expected in case["expected"].items()
    if expected.get("kind") in ("markov", "shapley")
]


def mismatches(label: str, got: dict[str, float], expected: dict[str, float]) -> list[str]:
    return [
        f"{label}[{k}]: got {got.get(k, 0.0)!r}, expected {expected.get(k, 0.0)!r}"
        for k in sorted(set(got) | set(expected))
        if not close(got.get(k, 0.0), expected.get(k, 0.0))
    ]


@pytest.mark.parametrize(("case", "key"), DATA_DRIVEN_CASES)
def test_data_driven_case(case: dict[str, Any], key: str) -> None:
    expected = case["expected"][key]
    params = {**case["params"], **expected.get("params", {})}
    paths = to_paths(case["journeys"], params)
    no_touch = params.get("no_touch_channel", "(none)")
    problems: list[str] = []
    if expected["kind"] == "markov":
        result = markov_model(
            paths,
            no_touch_channel=no_touch,
            collapse_repeats=params.get("collapse_repeats", True),
            value_mode=params.get("value_mode", "proportional"),
            allocation=params.get("allocation", "global"),
        )
        scalars = {
            "conversion_probability": result.conversion_probability,
            "unattributed_conversions": result.unattributed_conversions,
            "unattributed_value": result.unattributed_value,
        }
        tables = {
            "removal_effects": result.removal_effects,
            "credit_conversions": result.credit_conversions,
            "credit_value": result.credit_value,
        }
    else:
        measure = params.get("measure", "conversions")
        shapley = shapley_model(
            paths,
            no_touch_channel=no_touch,
            measure=measure,
            characteristic=params.get("characteristic", "zhao"),
        )
        lost = shapley.unattributed_value if measure == "value" else shapley.unattributed_conversions
        scalars = {"unattributed": lost}
        tables = {"credit": shapley.credit, "phi": shapley.phi}
    checked = 0
    for name, value in expected.items():
        if name in scalars:
            checked += 1
            if not close(scalars[name], value):
                problems.append(f"{name}: got {scalars[name]!r}, expected {value!r}")
        elif name in tables:
            checked += 1
            problems += mismatches(name, tables[name], value)
    # Every field of the case is checked: nothing in the reference is skipped.
    assert checked > 0
    assert set(expected) - set(scalars) - set(tables) <= {"kind", "params"}
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- hand-worked examples


def test_solve_linear_hand_example() -> None:
    # y = 7, x = 4: the zero top-left entry forces a row swap.
    x = solve_linear([[0.0, 1.0], [1.0, 0.0]], [7.0, 4.0])
    assert x == [4.0, 7.0]
    # 2x + y = 5, x + 3y = 10 -> 5y = 15 -> y = 3, x = 1.
    x = solve_linear([[2.0, 1.0], [1.0, 3.0]], [5.0, 10.0])
    assert math.isclose(x[0], 1.0) and math.isclose(x[1], 3.0)


def test_solve_linear_singular() -> None:
    with pytest.raises(ArithmeticError):
        solve_linear([[1.0, 1.0], [1.0, 1.0]], [1.0, 2.0])


def test_markov_hand_example() -> None:
    # Paths: X>Y conv, X null, Y conv x2. start->X 1/2, start->Y 1/2; X->Y 1/2, X->null 1/2; Y->conv 1.
    # P = 1/2 * 1/2 + 1/2 = 3/4. Without X: 1/2 -> RE 1/3. Without Y: 0 -> RE 1.
    # 3 conversions: X = 3 * (1/3) / (4/3) = 3/4, Y = 3 * 1 / (4/3) = 9/4; value 40 -> 10, 30.
    paths = [
        ChannelPath(("X", "Y"), True, 10.0),
        ChannelPath(("X",), False),
        ChannelPath(("Y",), True, 15.0, count=2),
    ]
    result = markov_model(paths)
    assert math.isclose(result.conversion_probability, 0.75)
    assert math.isclose(result.removal_effects["X"], 1 / 3)
    assert math.isclose(result.removal_effects["Y"], 1.0)
    assert math.isclose(result.credit_conversions["X"], 0.75)
    assert math.isclose(result.credit_conversions["Y"], 2.25)
    assert math.isclose(result.credit_value["X"], 10.0)
    assert math.isclose(result.credit_value["Y"], 30.0)


def test_markov_no_touch_paths_go_to_direct_by_default() -> None:
    # Only a no-touch conversion: start->direct 1, direct->conv 1 -> RE 1, all credit to direct.
    result = markov_model([ChannelPath((), True, 5.0)])
    assert result.credit_conversions == {"direct": 1.0}
    assert result.credit_value == {"direct": 5.0}
    dropped = markov_model([ChannelPath((), True, 5.0)], no_touch_channel=None)
    assert dropped.credit_conversions == {}
    assert (dropped.unattributed_conversions, dropped.unattributed_value) == (1.0, 5.0)


def test_shapley_hand_example() -> None:
    # Sets {X} x2 (value 4 each), {X,Y} (value 6): X = 2 + 1/2 = 2.5, Y = 1/2; value X = 8 + 3, Y = 3.
    paths = [ChannelPath(("X",), True, 4.0, count=2), ChannelPath(("Y", "X", "Y"), True, 6.0)]
    assert shapley_model(paths).credit == {"X": 2.5, "Y": 0.5}
    assert shapley_model(paths, measure="value").credit == {"X": 11.0, "Y": 3.0}


# ---------------------------------------------------------------- properties

CHANNELS = ["a", "b", "c", "d"]
path_strategy = st.builds(
    ChannelPath,
    st.lists(st.sampled_from(CHANNELS), min_size=0, max_size=5).map(tuple),
    st.booleans(),
    st.integers(min_value=0, max_value=1000).map(float),
    st.integers(min_value=1, max_value=4),
)


def brute_force_shapley(paths: list[ChannelPath]) -> dict[str, float]:
    """Textbook Shapley of Zhao's v(S) = sum of R(T), T subset of S, by enumerating coalitions."""
    paths = [p if p.channels else ChannelPath(("direct",), p.converted, p.value, p.count) for p in paths]
    names = sorted({c for p in paths for c in p.channels})

    def v(coalition: set[str]) -> float:
        return sum(p.count for p in paths if p.converted and set(p.channels) <= coalition)

    n = len(names)
    phi = {}
    for c in names:
        others = [o for o in names if o != c]
        total = 0.0
        for size in range(n):
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            total += sum(w * (v({*s, c}) - v(set(s))) for s in combinations(others, size))
        phi[c] = total
    return phi


@settings(max_examples=60, deadline=None)
@given(st.lists(path_strategy, min_size=1, max_size=8))
def test_shapley_closed_form_equals_enumeration(paths: list[ChannelPath]) -> None:
    got = shapley_model(paths).credit
    want = brute_force_shapley(paths)
    assert set(got) == set(want)
    assert all(math.isclose(got[c], want[c], abs_tol=1e-9) for c in got)


@settings(max_examples=60, deadline=None)
@given(st.lists(path_strategy, min_size=1, max_size=8), st.booleans())
def test_markov_credits_reconcile(paths: list[ChannelPath], per_journey: bool) -> None:
    result = markov_model(paths, allocation="per_journey" if per_journey else "global")
    conversions = sum(p.count for p in paths if p.converted)
    value = sum(p.count * p.value for p in paths if p.converted)
    assert all(0.0 <= re <= 1.0 for re in result.removal_effects.values())
    assert 0.0 <= result.conversion_probability <= 1.0 + 1e-12
    if result.conversion_probability > 0:
        assert math.isclose(math.fsum(result.credit_conversions.values()), conversions)
        assert math.isclose(math.fsum(result.credit_value.values()), value, abs_tol=1e-6)
    else:
        assert conversions == 0


@settings(max_examples=40, deadline=None)
@given(st.lists(path_strategy, min_size=1, max_size=8))
def test_markov_self_loops_change_nothing(paths: list[ChannelPath]) -> None:
    # h(s) = sum_t c(s,t) h(t) / sum_{t != s} c(s,t) once the self-loop term is moved left: the same
    # equation as with the repeats collapsed.
    collapsed = markov_model(paths)
    raw = markov_model(paths, collapse_repeats=False)
    assert math.isclose(collapsed.conversion_probability, raw.conversion_probability, abs_tol=1e-12)
    for c, re in collapsed.removal_effects.items():
        assert math.isclose(re, raw.removal_effects[c], abs_tol=1e-9)
