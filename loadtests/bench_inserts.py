"""The cost of one chDB insert of the processor's own rows, under two sets of insert settings, alternated.

    python -m loadtests.bench_inserts [--rounds 3] [--small 150] [--large 40] [--settings max_threads=1]

Rows come from the benchmark stream (`bench_processing.live_records`) through this tree's processor: a
3-record slice (~90 events rows, 1 conversion: the fixed price of an insert) and an 80-record slice (~2,200 events
rows, ~760 credit rows). Each is inserted again and again through the writer's own `_insert`, built with the
run's insert settings (a fresh dedup token each time, so every insert is stored), in a process of its own per
(settings, table, size) run, rounds alternating no settings (the engine's defaults) and `--settings`. Reported:
milliseconds of wall and of CPU (the whole process: chDB's threads too) per insert, medians of the rounds, and
their ratio. No Kafka; data on tmpfs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

import orjson

from loadtests.common import log, median, scratch_root
from tests.integration.harness import ROOT

CASES = (("events", 3), ("conversions", 3), ("events", 80), ("attribution_credits", 80))


def worker(table: str, records: int, inserts: int, settings: dict[str, Any], path: str) -> dict[str, float]:
    import shutil
    import time
    from datetime import timedelta

    from loadtests.bench_processing import live_records
    from stream.channels import default_taxonomy
    from stream.journeys.config import AttributionConfig
    from stream.journeys.engine import AppEngine
    from stream.processor import PartitionProcessor, SourceRecord
    from stream.store import connect, migrate
    from stream.writer import ClickHouseWriter

    items = live_records(12_000, legacy=False)[0][:records]
    taxonomy = default_taxonomy()
    processor = PartitionProcessor("ev", "dl", timedelta(hours=1), 10**6,
                                   lambda app: AppEngine(app, AttributionConfig(), taxonomy))
    slice_ = [SourceRecord("ev", 0, offset, value, 0, key, headers)
              for offset, (value, key, headers) in enumerate(items)]
    processor.questions(slice_)
    columns, rows = next((c, r) for t, c, r in processor.process(slice_).tables() if t == table)
    shutil.rmtree(path, ignore_errors=True)
    client = connect(f"chdb://{path}", "bench")
    migrate(client)
    insert = ClickHouseWriter(client, insert_settings=settings)._insert
    insert(client, table, columns, rows, "warm-up")
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(inserts):
        insert(client, table, columns, rows, f"bench-{i}")
    n = max(inserts, 1)
    return {"rows": len(rows), "wall_ms": 1e3 * (time.perf_counter() - wall) / n,
            "cpu_ms": 1e3 * (time.process_time() - cpu) / n}


def run(table: str, records: int, inserts: int, settings: dict[str, Any]) -> dict[str, float]:
    path = str(scratch_root() / "bench-inserts-chdb")
    code = (f"import orjson; from loadtests.bench_inserts import worker; print(orjson.dumps(worker("
            f"{table!r}, {records}, {inserts}, {settings!r}, {path!r})).decode())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False,
                          cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"the insert worker failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def _setting(text: str) -> tuple[str, Any]:
    name, _, value = text.partition("=")
    return name, int(value) if value.isdigit() else value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=150, help="inserts per run of the 3-record slices")
    parser.add_argument("--large", type=int, default=40, help="inserts per run of the 80-record slices")
    parser.add_argument("--settings", action="append", default=None, help="NAME=VALUE, again for more")
    args = parser.parse_args()
    other = dict(map(_setting, args.settings or ["max_threads=1"]))
    # "engine default": no settings but the dedup token's, as before the writer had its own.
    sides: dict[str, dict[str, Any]] = {"engine default": {}, ", ".join(f"{k}={v}" for k, v in other.items()): other}
    results: dict[tuple[str, str, int], list[dict[str, float]]] = {}
    for round_ in range(args.rounds):
        for table, records in CASES:
            for label, settings in sides.items():
                r = run(table, records, args.small if records < 10 else args.large, settings)
                results.setdefault((label, table, records), []).append(r)
                log(f"round {round_ + 1} {label:>16} {table} x{r['rows']:,}: {r['wall_ms']:.2f} ms wall, "
                    f"{r['cpu_ms']:.2f} ms CPU")
    base, alt = list(sides)
    print(f"\nOne insert, median of {args.rounds} alternated rounds (ms): {base} against {alt}")
    print(f"| table | rows | wall, {base} | wall, {alt} | ratio | CPU, {base} | CPU, {alt} | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for table, records in CASES:
        a, b = results[(base, table, records)], results[(alt, table, records)]
        wa, wb = median([r["wall_ms"] for r in a]), median([r["wall_ms"] for r in b])
        ca, cb = median([r["cpu_ms"] for r in a]), median([r["cpu_ms"] for r in b])
        print(f"| {table} | {a[0]['rows']:,.0f} | {wa:.2f} | {wb:.2f} | {wb / wa:.2f} | {ca:.2f} | {cb:.2f} | "
              f"{cb / ca:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
