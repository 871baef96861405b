"""The processor's pure step alone: the benchmark stream's records processed with no Kafka and no ClickHouse.

    python -m loadtests.bench_processing [--events 200000] [--rounds 3] [--catchup] [--baseline CHECKOUT]

The cheapest A/B of decode → dedup → rows → identity → touchpoints → models: the same records as
`bench_stream` (through this tree's collector code; WeChat scenes as integers with a baseline, as in
`bench_stream`), split over 4 partitions by Kafka's partitioner, processed slice by slice as the runner does
(`loadtests/processing_worker.py`, one process per run). With `--catchup`, the catch-up history of
`bench_stream` instead. Rounds alternate baseline and this tree; reported: CPU seconds, µs per event, medians
and their ratio, and which tables got the same rows (a digest of each table's rows, order aside).
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from loadtests.common import log, median, spread_apps
from loadtests.stream_throughput import live_requests
from tests.histories import random_history, time_order
from tests.integration.harness import ROOT

PARTITIONS = 4
WORKER = Path(__file__).with_name("processing_worker.py")
Records = dict[int, list[tuple[bytes, bytes, tuple[tuple[str, bytes], ...]]]]


def live_records(n_events: int, legacy: bool) -> Records:
    return _by_partition(r for _, routed in live_requests(n_events, spread_apps(), "ev", legacy) for r in routed)


def catchup_records(people: int, days: float, legacy: bool) -> Records:
    from loadtests.stream_extras import history_requests

    steps = time_order(random_history(7, people=people, days=days))
    return _by_partition(r for _, _, routed in history_requests(steps, spread_apps(), "ev", legacy) for r in routed)


def _by_partition(records: Any) -> Records:
    from aiokafka.partitioner import DefaultPartitioner

    partitioner, every = DefaultPartitioner(), list(range(PARTITIONS))
    out: Records = {p: [] for p in every}
    for record in records:
        out[partitioner(record.key, every, every)].append((record.value, record.key, tuple(record.headers)))
    return out


def run(tree: Path, records_file: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(WORKER), str(tree), str(records_file)], capture_output=True,
                          text=True, timeout=600, check=False, cwd=tree)
    if done.returncode != 0:
        raise RuntimeError(f"the processing worker of {tree} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    result["us_per_event"] = 1e6 * result["cpu_s"] / max(result["events"], 1)
    return result


def compare_rows(baseline: dict[str, Any], this: dict[str, Any]) -> str:
    """Which tables got the same rows on both sides (a baseline from before a column or table was added differs
    there by design; an optimisation must leave every table the same)."""
    a, b = baseline["digests"], this["digests"]
    differ = sorted(t for t in a.keys() | b.keys() if a.get(t) != b.get(t))
    if not differ:
        return f"identical rows in all {len(a)} tables"
    return f"rows differ in {', '.join(differ)} ({baseline['rows']:,} against {this['rows']:,} rows)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--catchup", action="store_true", help="the catch-up history instead of the live stream")
    parser.add_argument("--people", type=int, default=12_000)
    parser.add_argument("--days", type=float, default=20.0)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout of this repository")
    args = parser.parse_args()
    legacy = args.baseline is not None
    records = (catchup_records(args.people, args.days, legacy) if args.catchup
               else live_records(args.events, legacy))
    sides = ([("baseline", args.baseline.resolve())] if args.baseline else []) + [("this tree", ROOT)]
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        f.write(pickle.dumps(records))
        f.flush()
        for round_ in range(args.rounds):
            for label, tree in sides:
                r = run(tree, Path(f.name))
                results[label].append(r)
                log(f"{label} round {round_ + 1}: {r['cpu_s']:.2f} CPU s, {r['us_per_event']:.1f} us/event, "
                    f"{r['events']:,} events, {r['rows']:,} rows")
    medians = {label: median([r["us_per_event"] for r in rs]) for label, rs in results.items()}
    kind = "catch-up history" if args.catchup else "live stream"
    print(f"\nProcessing alone ({kind}), median µs per event of {args.rounds} rounds:")
    for label, value in medians.items():
        runs = ", ".join(f"{r['us_per_event']:.1f}" for r in results[label])
        print(f"- {label}: {value:.1f} µs/event ({runs})")
    if args.baseline is not None:
        print(f"- events per CPU-second, this tree / baseline: {medians['baseline'] / medians['this tree']:.2f}x; "
              f"{compare_rows(results['baseline'][0], results['this tree'][0])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
