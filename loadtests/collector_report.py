"""The collector benchmark's tables: both sides, their ratios and the fraction of the floor each reaches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loadtests.common import md_table

CEILING_TARGET = 0.60  # the real collector's 100-event rate per core against its own in-process ceiling
# Issue 12's targets for this tree against d346ffb, events/s per core.
TARGETS = {"ceiling": 3.0, 1: 1.5, 10: 2.5, 100: 2.0}


def ratio(a: float, b: float) -> float:
    return a / b if b and b == b and a == a else float("nan")


def verdict(value: float, target: float) -> str:
    if value != value:
        return "–"
    return f"{value:.2f}× ({'meets' if value >= target else 'misses'} ≥ {target:g}×)"


def print_report(ceil: dict[str, Any], stage_us: dict[str, float], notes: list[str],
                 real: dict[str, list[dict[str, Any]]], baseline: Path | None, runs: int, warmup: float,
                 duration: float) -> None:
    med = ceil["median_events_per_cpu_s"]
    n = len(ceil["runs"]["this tree"])
    print(f"In-process ceiling (parse_batch + ingest + route_events, 100-event batches of ~{ceil['event_bytes']} B "
          f"events, each run a fresh process on CPU 0, sides alternated, median of {n}); the floor is "
          f"orjson.loads of the body + orjson.dumps per event + join:\n")
    rows: list[list[Any]] = []
    for label in med:
        runs_text = ", ".join(f"{r['events_per_cpu_s']:,.0f}" for r in ceil["runs"][label])
        rows.append([label, med[label], 1e6 / med[label], runs_text, ceil["imported_from"].get(label) or "–"])
    print(md_table(["side", "events/s per core (median)", "µs/event", "runs", "collector imported from"], rows) + "\n")
    if "baseline" in med:
        value = ratio(med["this tree"], med["baseline"])
        print(f"Ceiling, this tree / baseline: **{verdict(value, TARGETS['ceiling'])}**")
    floor_share = ", ".join(
        f"{label} {ratio(med[label], med['floor']) * 100:.0f}%" for label in med if label != "floor")
    print(f"Fraction of the in-process floor: {floor_share}.\n")
    print(md_table(["stage of this tree (in process, 100-event batches)", "µs/event"],
                   [[k, v] for k, v in stage_us.items()]) + "\n")
    print("The `ingest:` stages are d346ffb's steps, each timed alone; this tree's `ingest (whole)` may take a "
          "shorter path for most events, so it can be less than their sum.\n")
    for note in notes:
        print(f"- {note}")
    if notes:
        print()

    print(f"Real collectors (uvicorn, taskset -c 0) → Kafka (acks=all, idempotent); load generator on CPU 1; "
          f"median of {runs} × {duration:.0f} s after {warmup:.0f} s warm-up, sides alternated per run:\n")
    headers = ["events/request", "side", "events/s", "p50 ms", "p99 ms", "non-2xx", "partial", "CPU",
               "events/s per core", "µs/event", "broker µs/event", "load-gen CPU"]
    rows = []
    for i in range(len(real["this tree"])):
        for label, results in real.items():
            r = results[i]
            rows.append([r["batch_size"], label, r["median_events_per_s"], r["median_p50_ms"], r["median_p99_ms"],
                         r["non_2xx_total"], r["partially_rejected_total"],
                         f"{r['median_collector_cpu_util'] * 100:.0f}%",
                         r["median_events_per_core_s"], r["median_collector_us_per_event"],
                         r["median_broker_us_per_event"], f"{r['median_loadgen_cpu_util'] * 100:.0f}%"])
    print(md_table(headers, rows) + "\n")
    rows = []
    for i, current in enumerate(real["this tree"]):
        size = current["batch_size"]
        floor = real["floor"][i]
        row: list[Any] = [size]
        if "baseline" in real:
            base = real["baseline"][i]
            per_core = ratio(current["median_events_per_core_s"], base["median_events_per_core_s"])
            row += [verdict(per_core, TARGETS[size]),
                    f"{ratio(current['median_p99_ms'], base['median_p99_ms']):.2f}×",
                    f"{ratio(base['median_events_per_core_s'], floor['median_events_per_core_s']) * 100:.0f}%"]
        row.append(f"{ratio(current['median_events_per_core_s'], floor['median_events_per_core_s']) * 100:.0f}%")
        rows.append(row)
    headers = ["events/request"]
    if "baseline" in real:
        headers += ["per core, this tree / baseline", "p99, this tree / baseline", "baseline / floor"]
    print(md_table([*headers, "this tree / floor (per core)"], rows) + "\n")
    by_size = {r["batch_size"]: r for r in real["this tree"]}
    if 100 in by_size:
        share = ratio(by_size[100]["median_events_per_core_s"], med["this tree"])
        print(f"This tree, 100-event batches, real per core vs its in-process ceiling: **{share * 100:.0f}%** "
              f"({'meets' if share >= CEILING_TARGET else 'misses'} the {CEILING_TARGET * 100:.0f}% target)\n")
    if baseline is not None:
        print(f"Baseline: {baseline}\n")
