"""The stream benchmark's part (b), end to end: fixed rates, then the highest sustained rate, for this tree and
(with --baseline) another checkout, alternating.

Each run starts its own collector and processor from the checkout (`Service.start(cwd=root)`), on the same broker,
and sends a steady rate of 10-event requests (bench_stream.latency_run). A rate is **sustained** when at least
95% of it was acknowledged, nothing was refused, 95% of the sampled purchases were seen and their e2e p99 is at
most 2 s (issue 12's bar). The ladder climbs each side's rates in order and stops a side at its first failure;
its last passing rung is that side's highest sustained rate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtests.common import log, md_table

P99_LIMIT_MS = 2_000
RunFn = Callable[[int, float, str, Path], dict[str, Any]]


def sustained(r: dict[str, Any]) -> bool:
    return bool(
        r["achieved_events_per_s"] >= 0.95 * r["target_events_per_s"]
        and r["non_2xx"] == 0
        and r["samples_found"] >= 0.95 * max(1, r["samples"])
        and r["e2e_p99_ms"] <= P99_LIMIT_MS
    )


def latency_stage(run: RunFn, sides: list[tuple[str, Path]], rates: list[int], ladder: list[int],
                  duration: float) -> dict[str, Any]:
    """Runs every fixed rate for each side, then the ladder; returns every run and each side's highest rate."""
    runs: list[dict[str, Any]] = []

    def one(label: str, root: Path, rate: int, stage: str) -> dict[str, Any]:
        log(f"(b) {stage} {label}: {rate:,} events/s for {duration:.0f} s")
        r = run(rate, duration, f"{stage}-{label.replace(' ', '')}-{rate}", root)
        r["side"], r["stage"], r["sustained"] = label, stage, sustained(r)
        log(f"    {label}: achieved {r['achieved_events_per_s']:,.0f} events/s, e2e p50/p99 "
            f"{r['e2e_p50_ms']:.0f}/{r['e2e_p99_ms']:.0f} ms, flush every {r['flush']['cycle_p50_s']} s, "
            f"sustained: {r['sustained']}")
        runs.append(r)
        return r

    for rate in rates:
        for label, root in sides:
            one(label, root, rate, "fixed")
    highest: dict[str, int] = {label: 0 for label, _ in sides}
    climbing = [label for label, _ in sides]
    for rate in ladder:
        for label, root in sides:
            if label in climbing and not one(label, root, rate, "ladder")["sustained"]:
                climbing.remove(label)
            elif label in climbing:
                highest[label] = rate
        if not climbing:
            break
    return {"runs": runs, "highest_sustained": highest, "p99_limit_ms": P99_LIMIT_MS}


def print_latency_stage(stage: dict[str, Any]) -> None:
    runs = stage["runs"]
    print(f"End-to-end latency (collector 200 → credit rows queryable in attribution_credits), 10-event requests, "
          f"everything on 2 cores; sustained = ≥ 95% acknowledged, no refusals, e2e p99 ≤ {P99_LIMIT_MS:,} ms:\n")
    print(md_table(
        ["side", "stage", "target ev/s", "achieved ev/s", "sustained", "HTTP p50 ms", "HTTP p99 ms", "non-2xx",
         "samples", "e2e p50 ms", "e2e p99 ms", "flush every s", "CPU collector/stream/broker/loadgen"],
        [[r["side"], r["stage"], r["target_events_per_s"], r["achieved_events_per_s"],
          "yes" if r["sustained"] else "**no**", r["http_p50_ms"], r["http_p99_ms"], r["non_2xx"],
          f"{r['samples_found']}/{r['samples']}", r["e2e_p50_ms"], r["e2e_p99_ms"], r["flush"]["cycle_p50_s"],
          " / ".join(f"{r['cpu_util'].get(k, float('nan')) * 100:.0f}%"
                     for k in ("collector", "stream", "broker", "loadgen"))] for r in runs],
    ) + "\n")
    highest = stage["highest_sustained"]
    print("Highest sustained rate (ladder): " + ", ".join(f"{k} {v:,} events/s" for k, v in highest.items()))
    if highest.get("baseline"):
        print(f"ratio (this tree / baseline): {highest['this tree'] / highest['baseline']:.2f}")
    for rate in sorted({r["target_events_per_s"] for r in runs if r["stage"] == "fixed"}):
        p50 = {r["side"]: r["e2e_p50_ms"] for r in runs if r["stage"] == "fixed" and r["target_events_per_s"] == rate}
        print(f"e2e p50 at {rate:,} events/s: " + ", ".join(f"{k} {v:,.0f} ms" for k, v in p50.items()))
    print()
