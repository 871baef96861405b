"""Collector work counted in CPU instructions (valgrind's callgrind), which a shared machine's noise does not move.

    python -m loadtests.bench_instructions [--baseline DIR] [--requests N]

Events/s per core on this VM moves by 20–40% between runs of the same code (BENCHMARKS.md), so a change of a
few per cent cannot be seen in time. The count of instructions a run executes is the same run after run
(PYTHONHASHSEED fixed). Each figure is the difference between a run of N + 1 units and a run of 1, over N: the
start-up (imports, the app, warm-up) cancels out.

- the in-process ceiling: `ceiling_worker.py` (parse_batch + ingest + route_events of 100-event bodies), and its
  floor (orjson.loads, orjson.dumps per event, join): instructions per event;
- whole requests: `app_worker.py` (`POST /v1/batch` through every ASGI layer of the app, in-memory sink) of 1- and
  10-event bodies: instructions per request.

Instructions are not time: a cache miss or a branch mispredicted costs cycles an instruction count does not
show. These figures say how much work a change removed; the events/s of `make bench-collector` stay the targets.
Needs `valgrind` (Debian: `apt-get install valgrind`); under it a run is ~50× slower: 10–15 minutes in all.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from loadtests.ceiling import make_bodies
from loadtests.common import log, md_table
from tests.integration.harness import ROOT

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(script: Path, spec: dict[str, Any], root: Path) -> int:
    """Instructions executed by one run of a worker under callgrind."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, str(script),
         orjson.dumps(spec).decode()],
        capture_output=True, text=True, timeout=3600, check=False, cwd=root,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    found = _COLLECTED.search(out.stderr)
    if out.returncode != 0 or found is None:
        msg = f"{script.name} under callgrind failed ({out.returncode}):\n{out.stderr[-3000:]}"
        raise RuntimeError(msg)
    where = orjson.loads(out.stdout.strip().splitlines()[-1]).get("collector_file") or ""
    if spec.get("mode") != "floor" and not where.startswith(str(root) + os.sep):
        msg = f"{script.name} run for {root} imported collector from {where}"
        raise RuntimeError(msg)
    return int(found.group(1))


def per_unit(script: Path, spec: dict[str, Any], key: str, units: int, root: Path, per: int) -> float:
    """(instructions of units + 1) − (instructions of 1), per unit and per `per` (events of a unit)."""
    one = instructions(script, {**spec, key: 1}, root)
    many = instructions(script, {**spec, key: units + 1}, root)
    return (many - one) / units / per


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout of this repository")
    parser.add_argument("--requests", type=int, default=200, help="units counted per figure (bodies or requests)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind)")
    sides: list[tuple[str, Path]] = [("this tree", ROOT)]
    if args.baseline is not None:
        sides.insert(0, ("baseline", args.baseline.resolve()))
    n = args.requests
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[int, Path] = {}
        for size in (1, 10, 100):
            files[size] = Path(tmp) / f"bodies-{size}.jsonl"
            files[size].write_bytes(b"\n".join(make_bodies(n=200 if size < 100 else 60, size=size)))
        jobs: dict[tuple[str, str], Any] = {}
        with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two callgrind runs at a time
            for label, root in sides:
                ceiling = {"root": str(root), "mode": "product", "bodies": str(files[100]), "cpu": 0}
                jobs[(label, "ceiling")] = pool.submit(
                    per_unit, HERE / "ceiling_worker.py", ceiling, "iterations", max(1, n // 2), root, 100)
                for size in (1, 10):
                    spec = {"root": str(root), "bodies": str(files[size])}
                    jobs[(label, f"{size}-event")] = pool.submit(
                        per_unit, HERE / "app_worker.py", spec, "requests", n, root, 1)
            floor = {"root": str(ROOT), "mode": "floor", "bodies": str(files[100]), "cpu": 0}
            jobs[("floor", "ceiling")] = pool.submit(
                per_unit, HERE / "ceiling_worker.py", floor, "iterations", max(1, n // 2), ROOT, 100)
            counts = {key: job.result() for key, job in jobs.items()}
    log("done")
    columns = [("ceiling", "in process, instructions per event (100-event bodies)"),
               ("1-event", "whole request, instructions per 1-event request"),
               ("10-event", "whole request, instructions per 10-event request")]
    rows: list[list[Any]] = []
    for what, title in columns:
        row: list[Any] = [title]
        for label, _ in sides:
            row.append(f"{counts[(label, what)]:,.0f}")
        if args.baseline is not None:
            row.append(f"{counts[('baseline', what)] / counts[('this tree', what)]:.2f}×")
        rows.append(row)
    floor_row: list[Any] = ["floor of the ceiling (orjson only), instructions per event",
                            *["" for _ in sides[:-1]], f"{counts[('floor', 'ceiling')]:,.0f}"]
    if args.baseline is not None:
        floor_row.append("")
    rows.append(floor_row)
    headers = ["", *(label for label, _ in sides), *(["baseline / this tree"] if args.baseline else [])]
    print(md_table(headers, rows))
    if args.baseline is not None:
        print(f"\nBaseline: {args.baseline}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
