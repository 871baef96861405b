"""Collector throughput: the in-process ceiling, then the real collector against the real broker.

    python -m loadtests.bench_collector [--quick] [--profile]

(a) Ceiling: `collector.body.parse_batch` + `collector.ingest.ingest` + `collector.routing.route_events` on
    100-event batch bodies with a fixed clock, on one core (this process pinned to CPU 0), median of 5 runs;
    plus a per-stage breakdown in µs/event.
(b) The real collector: `touchstream collector` (one uvicorn process) pinned to CPU 0 with `taskset`, the load
    generator (loadtests/loadgen.py, raw keep-alive HTTP/1.1, pre-encoded requests) pinned to CPU 1, a private
    Kafka broker (unpinned). 1-, 10- and 100-event batches, 2 s warm-up + 8 s measured, 3 runs each; the
    collector's CPU seconds in the window come from /proc/<pid>/stat, so "events/s per core" is events divided
    by the collector's CPU seconds, whether or not it was saturated.

`--profile` adds one 100-event and one 1-event run under `py-spy record --nonblocking` and prints the top
frames (written to loadtests/results/ as collapsed stacks).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from loadtests.common import (
    PII_SECRET,
    RESULTS,
    Bench,
    collector_env,
    log,
    md_table,
    median,
    profile_tables,
    write_keys,
)
from loadtests.events import EventGenerator, batch_body
from tests.integration.harness import Service, free_port, wait_http_ok

CEILING_TARGET = 0.60
PLAN = ((1, 64, 4_000), (10, 64, 1_000), (100, 32, 200))  # (events per request, connections, distinct bodies)


# -- (a) the in-process ceiling -----------------------------------------------------------------------------------


def ceiling(runs: int = 5, iterations: int = 300) -> dict[str, Any]:
    from collector.body import BodyLimits, parse_batch
    from collector.ingest import RequestContext, _check_raw, ingest
    from collector.pii import PiiHasher
    from collector.routing import route_events
    from runtime.clock import fixed_clock
    from schemas.batch import strip_server_fields
    from schemas.enrich import enrich
    from schemas.events import EVENT_ADAPTER

    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        gen = EventGenerator(["app00"], seed=7)
        base = 1_795_000_000_000
        bodies = [batch_body(gen.batch("app00", 100, base + i * 1000), base + i * 1000 + 300) for i in range(60)]
        limits, hasher = BodyLimits(), PiiHasher(PII_SECRET.encode())
        clock = fixed_clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
        ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47"

        def one(body: bytes) -> int:
            sent_at, raw = parse_batch(body, limits)
            ctx = RequestContext("app00", clock(), "127.0.0.1", ua)
            result = ingest(raw, sent_at, ctx, limits, hasher)
            records = route_events(result.accepted, "touchstream.events")
            return sum(r.event_count for r in records)

        assert all(one(b) == 100 for b in bodies), "the generator's events must all be accepted"
        for i in range(50):
            one(bodies[i % len(bodies)])
        results = []
        for _ in range(runs):
            c0, w0 = time.process_time(), time.perf_counter()
            events = 0
            for i in range(iterations):
                events += one(bodies[i % len(bodies)])
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            results.append({"events": events, "cpu_s": cpu, "wall_s": wall, "events_per_cpu_s": events / cpu})
        # Stage breakdown (µs/event): each stage alone on the same events, results discarded as they are made
        # (keeping thousands of results alive would bill the stage for the cyclic GC's full collections).
        parsed = [parse_batch(b, limits) for b in bodies]
        ctx = RequestContext("app00", clock(), "127.0.0.1", ua)
        ingested = [ingest(raw, s, ctx, limits, hasher) for s, raw in parsed]
        raws = [e for _, raw in parsed for e in raw]
        models = [EVENT_ADAPTER.validate_python(strip_server_fields(e)) for e in raws]
        event_bytes = [orjson.dumps(e) for e in raws]
        sent = clock()
        n = len(raws)

        def per_event(fn: Any, items: list[Any], events: int) -> float:
            best = float("inf")
            for _ in range(3):
                c0 = time.process_time()
                for item in items:
                    fn(item)
                best = min(best, (time.process_time() - c0) / events * 1e6)
            return best

        zero = timedelta(0)
        stages = {
            "calibration: orjson.loads of one event": per_event(orjson.loads, event_bytes, n),
            "parse_batch (orjson.loads of the body)": per_event(lambda b: parse_batch(b, limits), bodies, n),
            "ingest: _check_raw (orjson.dumps size + shape_problem walk)": per_event(
                lambda e: _check_raw(e, limits, None), raws, n),
            "ingest: EVENT_ADAPTER.validate_python": per_event(
                lambda e: EVENT_ADAPTER.validate_python(strip_server_fields(e)), raws, n),
            "ingest: enrich (model_dump(mode=json) + 3 timestamps)": per_event(
                lambda m: enrich(m, app_id="app00", received_at=sent, sent_at=sent, ip="127.0.0.1", user_agent=ua,
                                 max_future_skew=zero), models, n),
            "ingest (whole)": per_event(lambda p: ingest(p[1], p[0], ctx, limits, hasher), parsed, n),
            "route_events (orjson.dumps per event + join)": per_event(
                lambda r: route_events(r.accepted, "touchstream.events"), ingested, n),
        }
    finally:
        os.sched_setaffinity(0, previous)
    med = median([r["events_per_cpu_s"] for r in results])
    return {
        "batch_size": 100,
        "event_bytes": round(sum(len(b) for b in bodies) / (len(bodies) * 100)),
        "runs": results,
        "median_events_per_cpu_s": med,
        "us_per_event": 1e6 / med,
        "stages_us_per_event": stages,
    }


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
    raw = RESULTS / f"profile-collector-{label}-{datetime.now(UTC).date().isoformat()}.txt"
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 4 s per batch size (smoke test)")
    parser.add_argument("--profile", action="store_true", help="also profile the collector with py-spy")
    parser.add_argument("--runs", type=int, default=3, help="runs per batch size (median reported)")
    args = parser.parse_args()
    runs, warmup, duration = (1, 1.0, 4.0) if args.quick else (max(1, min(args.runs, 9)), 2.0, 8.0)

    bench = Bench("collector")
    log("(a) in-process ceiling: parse_batch + ingest + route_events, 100-event batches, one core")
    ceil = ceiling()
    log(f"    {ceil['median_events_per_cpu_s']:,.0f} events/s per core ({ceil['us_per_event']:.2f} µs/event)")

    apps = bench.apps
    keys = write_keys(apps)
    results: list[dict[str, Any]] = []
    profiles: dict[str, Any] = {}
    with bench.services() as (broker, tmp):
        port = free_port()
        topics = f"bench.events.{os.getpid()}", f"bench.deadletter.{os.getpid()}"
        env = collector_env(broker.bootstrap, *topics, port, keys)
        collector = Service("collector", env, tmp / "collector.log", cpus="0").start()
        try:
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", 60, collector)
            cpu_pids = {"collector": collector.pid}
            if broker.pid:
                cpu_pids["broker"] = broker.pid
            for size, connections, n_bodies in PLAN:
                spec = {
                    "mode": "closed", "host": "127.0.0.1", "port": port, "batch_size": size,
                    "connections": connections, "n_bodies": n_bodies, "warmup_s": warmup, "duration_s": duration,
                    "apps": apps, "keys": keys, "cpu_pids": cpu_pids,
                }
                size_runs = []
                for run in range(runs):
                    spec["seed"] = 100 * size + run
                    r = derive(run_loadgen(spec, timeout=warmup + duration + 120))
                    size_runs.append(r)
                    log(f"(b) {size:>3}-event batches, run {run + 1}: {r['events_per_s']:>9,.0f} events/s, "
                        f"{r['requests_per_s']:>7,.0f} req/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                        f"collector CPU {r['collector_cpu_util'] * 100:.0f}%, "
                        f"{r['events_per_core_s']:,.0f} events/s per core, non-2xx {r['non_2xx']}, "
                        f"loadgen CPU {r['loadgen_cpu_util'] * 100:.0f}%")
                    if not collector.alive():
                        raise RuntimeError(f"the collector died:\n{collector.logs()}")
                results.append(summarise(size, size_runs))
            if args.profile:
                for size, connections, n_bodies in (PLAN[2], PLAN[0]):
                    spec = {
                        "mode": "closed", "host": "127.0.0.1", "port": port, "batch_size": size,
                        "connections": connections, "n_bodies": n_bodies, "warmup_s": 2.0, "duration_s": 8.0,
                        "apps": apps, "keys": keys, "cpu_pids": cpu_pids, "seed": 999,
                    }
                    log(f"profiling the collector with py-spy, {size}-event batches")
                    profiles[f"{size}-event"] = profile(collector, spec, f"{size}ev", 9)
        finally:
            collector.stop()

    by_size = {r["batch_size"]: r for r in results}
    ratio = by_size[100]["median_events_per_core_s"] / ceil["median_events_per_cpu_s"] if 100 in by_size else None
    table = md_table(
        ["events/request", "events/s", "requests/s", "p50 ms", "p99 ms", "non-2xx", "collector CPU",
         "events/s per core", "collector µs/event", "broker µs/event", "load-gen CPU"],
        [[r["batch_size"], r["median_events_per_s"], r["median_requests_per_s"], r["median_p50_ms"],
          r["median_p99_ms"], r["non_2xx_total"], f"{r['median_collector_cpu_util'] * 100:.0f}%",
          r["median_events_per_core_s"], r["median_collector_us_per_event"], r["median_broker_us_per_event"],
          f"{r['median_loadgen_cpu_util'] * 100:.0f}%"] for r in results],
    )
    stages = md_table(["stage (in process, 100-event batches)", "µs/event"],
                      [[k, v] for k, v in ceil["stages_us_per_event"].items()])
    bench.heading("Collector benchmark")
    print(f"In-process ceiling (parse_batch + ingest + route_events, 100-event batches of "
          f"~{ceil['event_bytes']} B events, one core, median of {len(ceil['runs'])}): "
          f"**{ceil['median_events_per_cpu_s']:,.0f} events/s** ({ceil['us_per_event']:.2f} µs/event)\n")
    print(stages + "\n")
    print(f"Real collector (uvicorn, taskset -c 0) → Kafka (acks=all, idempotent); load generator on CPU 1; "
          f"median of {runs} × {duration:.0f} s after {warmup:.0f} s warm-up:\n")
    print(table + "\n")
    if ratio is not None:
        verdict = "meets" if ratio >= CEILING_TARGET else "misses"
        print(f"100-event batches, per core vs in-process ceiling: **{ratio * 100:.0f}%** "
              f"({verdict} the {CEILING_TARGET * 100:.0f}% target)\n")
    for label, prof in profiles.items():
        if "self" in prof:
            print(f"py-spy, {label} batches ({prof['samples']} samples, {prof['raw_file']}):\n")
            print(profile_tables(prof))
        else:
            print(f"py-spy, {label}: {prof}\n")
    bench.finish({
        "ceiling": ceil, "collector": results, "ratio_100_vs_ceiling": ratio, "profiles": profiles,
        "plan": {"runs": runs, "warmup_s": warmup, "duration_s": duration},
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
