"""The latency stage's logic: what counts as sustained, and a ladder that stops each side at its first failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadtests.latency_ab import latency_stage, sustained


def result(rate: int, p99: float, achieved: float | None = None, non_2xx: int = 0, found: int = 100) -> dict[str, Any]:
    return {"target_events_per_s": rate, "achieved_events_per_s": rate if achieved is None else achieved,
            "non_2xx": non_2xx, "samples": 100, "samples_found": found, "e2e_p50_ms": p99 / 2, "e2e_p99_ms": p99,
            "flush": {"cycle_p50_s": 1.0}}


def test_sustained_needs_the_rate_no_refusals_the_samples_and_p99_within_2_s() -> None:
    assert sustained(result(1000, 2000.0)) is True
    assert sustained(result(1000, 2000.1)) is False
    assert sustained(result(1000, 500.0, achieved=949.0)) is False
    assert sustained(result(1000, 500.0, non_2xx=1)) is False
    assert sustained(result(1000, 500.0, found=94)) is False


def test_each_side_climbs_until_its_first_failure_and_keeps_its_last_passing_rung() -> None:
    limits = {"baseline": 4_500, "this tree": 3_000}  # the highest rate each side sustains
    calls: list[tuple[str, int]] = []

    def run(rate: int, duration: float, label: str, root: Path) -> dict[str, Any]:
        side = root.name
        calls.append((side, rate))
        return result(rate, 1_000.0 if rate <= limits[side] else 3_000.0)

    sides = [("baseline", Path("baseline")), ("this tree", Path("this tree"))]
    stage = latency_stage(run, sides, [2_000], [3_000, 4_500, 6_000, 8_000], 10.0)
    assert stage["highest_sustained"] == {"baseline": 4_500, "this tree": 3_000}
    assert calls == [("baseline", 2_000), ("this tree", 2_000), ("baseline", 3_000), ("this tree", 3_000),
                     ("baseline", 4_500), ("this tree", 4_500), ("baseline", 6_000)]
    assert [r["stage"] for r in stage["runs"]] == ["fixed", "fixed", *["ladder"] * 5]
