"""Collector throughput: the in-process ceiling, then the real collector against the real broker.

    python -m loadtests.bench_collector [--quick] [--profile] [--runs N] [--baseline DIR]

(a) Ceiling: `collector.body.parse_batch` + `collector.ingest.ingest` + `collector.routing.route_events` on
    100-event batch bodies with a fixed clock, each run a fresh process pinned to CPU 0 (loadtests/ceiling.py):
    the baseline checkout's (with --baseline), this tree's and the floor's (orjson.loads + orjson.dumps per
    event), alternated, median of 5; plus this tree's per-stage breakdown in µs/event.
(b) The real collector: `touchstream collector` (one uvicorn process) pinned to CPU 0 with `taskset`, the load
    generator (loadtests/loadgen.py, raw keep-alive HTTP/1.1, pre-encoded requests) pinned to CPU 1, a private
    Kafka broker (unpinned). 1-, 10- and 100-event batches, 2 s warm-up + 8 s measured, 3 runs each; the
    collector's CPU seconds in the window come from /proc/<pid>/stat, so "events/s per core" is events divided
    by the collector's CPU seconds, whether or not it was saturated. With --baseline, the baseline's collector
    (started in its tree) and this tree's alternate run by run; the floor collector (loadtests/floor_collector.py:
    read, orjson.loads, one Kafka record) takes its turn too, and the report gives each side's fraction of it.

`--profile` adds one 100-event and one 1-event run under `py-spy record --nonblocking` and prints the top
frames (written to loadtests/results/ as collapsed stacks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from loadtests.ceiling import ab_ceiling, stages
from loadtests.collector_report import print_report
from loadtests.common import (
    RESULTS,
    Bench,
    collector_env,
    imported_from,
    log,
    median,
    profile_tables,
    result_path,
    write_keys,
)
from tests.integration.harness import ROOT, Service, free_port, wait_http_ok

PLAN = ((1, 64, 4_000), (10, 64, 1_000), (100, 32, 200))  # (events per request, connections, distinct bodies)


# -- (b) the real collector -----------------------------------------------------------------------------------------


def run_loadgen(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    argv = [sys.executable, "-m", "loadtests.loadgen", orjson.dumps(spec).decode()]
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                         cwd=Path(__file__).resolve().parents[1])
    if out.returncode != 0:
        msg = f"load generator failed ({out.returncode}):\n{out.stderr[-3000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = orjson.loads(out.stdout.strip().splitlines()[-1])
    return result


def derive(result: dict[str, Any]) -> dict[str, Any]:
    cpu = result["cpu_s"]
    events = result["ok"] * result["batch_size"]
    collector_cpu = cpu.get("collector", float("nan"))
    broker_cpu = cpu.get("broker", float("nan"))
    wall = result["window_s"]
    return {
        **result,
        "events_per_core_s": events / collector_cpu if collector_cpu > 0 else float("nan"),
        "collector_us_per_event": collector_cpu / events * 1e6 if events else float("nan"),
        "broker_us_per_event": broker_cpu / events * 1e6 if events else float("nan"),
        "collector_cpu_util": collector_cpu / wall,
        "broker_cpu_util": broker_cpu / wall,
        "loadgen_cpu_util": cpu.get("loadgen", float("nan")) / wall,
    }


def summarise(size: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("events_per_s", "requests_per_s", "p50_ms", "p99_ms", "events_per_core_s", "collector_us_per_event",
            "broker_us_per_event", "collector_cpu_util", "broker_cpu_util", "loadgen_cpu_util")
    out: dict[str, Any] = {"batch_size": size, "runs": runs}
    out |= {f"median_{k}": median([r[k] for r in runs]) for k in keys}
    out["non_2xx_total"] = sum(r["non_2xx"] for r in runs)
    out["errors_total"] = sum(r["errors"] for r in runs)
    out["partially_rejected_total"] = sum(r["partially_rejected"] for r in runs)
    return out


def profile(collector: Service, spec: dict[str, Any], label: str, seconds: int) -> dict[str, Any]:
    """py-spy (non-blocking sampling) on the collector while the load generator runs; top frames."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return {"error": "py-spy not found"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = result_path(f"profile-collector-{label}", ".txt")
    proc = subprocess.Popen(
        [str(spy), "record", "--nonblocking", "--format", "raw", "-r", "200", "-d", str(seconds),
         "-o", str(raw), "--pid", str(collector.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        result = run_loadgen(spec, timeout=spec["warmup_s"] + spec["duration_s"] + 120)
    finally:
        try:
            proc.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return {"raw_file": str(raw), "run": derive(result), **top_frames(raw)}


def top_frames(path: Path, limit: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed (raw) output."""
    if not path.exists():
        return {"error": f"{path} was not written"}
    self_counts: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";") if f]
        if frames:
            self_counts[frames[-1]] += n
            packages[_package(stack.split(";")[-1])] += n
        for f in set(frames):
            incl[f] += n
    if not total:
        return {"error": "no samples"}
    return {
        "samples": total,
        "self": [(f, round(c / total * 100, 1)) for f, c in self_counts.most_common(limit)],
        "inclusive": [(f, round(c / total * 100, 1)) for f, c in incl.most_common(limit + 15)],
        "self_by_package": [(p, round(c / total * 100, 1)) for p, c in packages.most_common(limit)],
    }


def _package(frame: str) -> str:
    """Where a leaf frame's code lives: the top-level package (py-spy prints paths from it) or the stdlib module."""
    _, _, where = frame.partition(" (")
    file = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    return file.split("/", 1)[0].removesuffix(".py") if file else frame


def _short(frame: str) -> str:
    # "func (pkg/module.py:123)" → "func (pkg/module.py)"; process/thread frames are kept as is.
    name, _, where = frame.partition(" (")
    if not where or name in ("thread", "process"):
        return frame
    file = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    return f"{name} ({file})"


def start_side(label: str, root: Path | None, env: dict[str, str], tmp: Path) -> Service:
    """One collector pinned to CPU 0: `touchstream collector` of `root` (this tree when None), or the floor."""
    if label == "floor":
        return Service("serve", env, tmp / "floor.log", cpus="0", module="loadtests.floor_collector").start()
    if root is None:
        return Service("collector", env, tmp / "collector.log", cpus="0").start()
    return Service("collector", {**env, "PYTHONPATH": str(root)}, tmp / "collector-baseline.log", cpus="0").start(
        cwd=root)


def real_runs(broker: Any, tmp: Path, apps: list[str], baseline: Path | None, runs: int, warmup: float,
              duration: float, profile_it: bool) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Every side started at once (idle ones cost next to nothing), then per batch size the runs alternate:
    baseline, this tree, floor, baseline, ... so that all three see the same machine load."""
    keys = write_keys(apps)
    sides: list[tuple[str, Path | None]] = [("this tree", None), ("floor", None)]
    if baseline is not None:
        sides.insert(0, ("baseline", baseline))
    services: dict[str, tuple[Service, int]] = {}
    results: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    profiles: dict[str, Any] = {}
    try:
        for label, root in sides:
            port = free_port()
            tag = f"{os.getpid()}.{label.replace(' ', '')}"
            env = collector_env(broker.bootstrap, f"bench.events.{tag}", f"bench.deadletter.{tag}", port, keys)
            services[label] = (start_side(label, root, env, tmp), port)
        for service, port in services.values():
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", 90, service)
        for size, connections, n_bodies in PLAN:
            by_side: dict[str, list[dict[str, Any]]] = {label: [] for label in services}
            for run in range(runs):
                for label, (service, port) in services.items():
                    spec = {
                        "mode": "closed", "host": "127.0.0.1", "port": port, "batch_size": size,
                        "connections": connections, "n_bodies": n_bodies, "warmup_s": warmup, "duration_s": duration,
                        "apps": apps, "keys": keys, "seed": 100 * size + run,
                        "cpu_pids": {"collector": service.pid, **({"broker": broker.pid} if broker.pid else {})},
                    }
                    r = derive(run_loadgen(spec, timeout=warmup + duration + 120))
                    by_side[label].append(r)
                    log(f"(b) {label:>9}, {size:>3}-event batches, run {run + 1}: "
                        f"{r['events_per_s']:>9,.0f} events/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                        f"CPU {r['collector_cpu_util'] * 100:.0f}%, "
                        f"{r['events_per_core_s']:,.0f} events/s per core, non-2xx {r['non_2xx']}, "
                        f"partial {r['partially_rejected']}, loadgen CPU {r['loadgen_cpu_util'] * 100:.0f}%")
                    if not service.alive():
                        raise RuntimeError(f"the {label} collector died:\n{service.logs()}")
            for label, rs in by_side.items():
                results[label].append(summarise(size, rs))
        if profile_it:
            service, port = services["this tree"]
            for size, connections, n_bodies in (PLAN[2], PLAN[0]):
                spec = {
                    "mode": "closed", "host": "127.0.0.1", "port": port, "batch_size": size,
                    "connections": connections, "n_bodies": n_bodies, "warmup_s": 2.0, "duration_s": 8.0,
                    "apps": apps, "keys": keys, "cpu_pids": {"collector": service.pid}, "seed": 999,
                }
                log(f"profiling this tree's collector with py-spy, {size}-event batches")
                profiles[f"{size}-event"] = profile(service, spec, f"{size}ev", 9)
    finally:
        for service, _ in services.values():
            service.stop()
    return results, profiles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 4 s per batch size (smoke test)")
    parser.add_argument("--profile", action="store_true", help="also profile the collector with py-spy")
    parser.add_argument("--runs", type=int, default=3, help="runs per batch size and side (median reported)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of this repository: its collector alternates with this tree's")
    args = parser.parse_args()
    runs, warmup, duration = (1, 1.0, 4.0) if args.quick else (max(1, min(args.runs, 9)), 2.0, 8.0)
    baseline: Path | None = args.baseline.resolve() if args.baseline is not None else None
    if baseline is not None:
        where = imported_from(baseline, "collector")
        if not where.startswith(str(baseline) + os.sep):
            parser.error(f"a collector started in {baseline} imports collector from {where}")
        log(f"baseline collector: collector from {where}; this tree: {imported_from(ROOT, 'collector')}")

    bench = Bench("collector")
    with bench.services() as (broker, tmp):
        log("(a) in-process ceiling: parse_batch + ingest + route_events, 100-event batches, one core, alternated")
        ceil = ab_ceiling(baseline, runs=1 if args.quick else max(5, runs), iterations=60 if args.quick else 300,
                          tmp=tmp)
        stage_us, notes = stages()
        real, profiles = real_runs(broker, tmp, bench.apps, baseline, runs, warmup, duration, args.profile)

    bench.heading("Collector benchmark")
    print_report(ceil, stage_us, notes, real, baseline, runs, warmup, duration)
    for label, prof in profiles.items():
        if "self" in prof:
            print(f"py-spy, {label} batches ({prof['samples']} samples, {prof['raw_file']}):\n")
            print(profile_tables(prof))
        else:
            print(f"py-spy, {label}: {prof}\n")
    bench.finish({
        "baseline_root": str(baseline or ""), "ceiling": ceil, "stages_us_per_event": stage_us,
        "stage_notes": notes, "collector": real, "profiles": profiles,
        "plan": {"runs": runs, "warmup_s": warmup, "duration_s": duration},
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
