"""Stream processor throughput from a pre-filled topic, and end-to-end conversion → credit latency.

    python -m loadtests.bench_stream [--quick] [--profile] [--events N] [--rates 2000] [--ladder 3000,...]
                                     [--baseline DIR]
                                     [--skip-catchup] [--skip-floor] [--skip-peer] [--catchup-people N]

(a) Throughput: a fresh 4-partition topic is pre-filled with N events exactly as the collector writes them
    (SDK batches of 1–50 events through `collector.body.parse_batch` + `collector.ingest.ingest` +
    `collector.routing.route_events`: one record per request, a JSON array of enriched events keyed by app_id;
    8 apps chosen so every partition gets two). Then `touchstream stream` (subprocess, chDB in a temp folder,
    its own consumer group) runs until `SELECT count() FROM events` on its query endpoint reaches N. Reported:
    wall time and the processor's CPU seconds (from /proc, all threads, chDB included) from "query endpoint up"
    to "N rows queryable"; events/s wall, events per CPU-second; median of 3 runs (fresh group and database each).
    With --baseline DIR (another checkout of this repository, e.g. a git worktree of the previous commit), the
    throughput runs alternate between that tree's processor and this one's (A B A B ...) on the same pre-filled
    topic, so both see the same machine load; medians of each and their ratio are reported. The topic then holds
    WeChat scenes as integers, as the baseline's collector wrote them (stream_throughput.legacy_scenes).
    In the same rounds (loadtests/stream_extras.py): a catch-up stream (20 days of 12,000 people's history,
    its own topic, processed in one go by each processor: catch-up vs live events per CPU-second), the floor
    consumer (poll, decode, events rows only) and the Quix Streams peer (last touch, in .venv/peer) on the
    live topic.
(b) Latency: collector + processor + broker + load generator on the same 2 cores, unpinned. A steady rate of
    10-event requests for 20 s per rate; sampled purchases (convert/repurchase) are timed from the collector's
    200 until their credit rows are queryable in `attribution_credits`. Fixed rates (--rates) for each side,
    then a ladder of rates per side up to its first failure: the highest sustained rate (loadtests/latency_ab.py;
    sustained means e2e p99 <= 2 s). With --baseline, both checkouts' own collector and processor run, alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from loadtests.common import (
    Bench,
    collector_env,
    cpu_seconds,
    imported_from,
    log,
    md_table,
    median,
    profile_tables,
    write_keys,
)
from loadtests.events import EventGenerator, batch_body
from loadtests.latency_ab import latency_stage, print_latency_stage
from loadtests.stream_extras import attempt, floor_run, peer_missing, peer_run, prefill_history, print_extras
from loadtests.stream_throughput import count, flush_stats, prefill, stream_env, throughput_run
from tests.integration.broker import Broker
from tests.integration.harness import ROOT, Service, free_port, wait_for, wait_http_ok

# -- (b) latency --------------------------------------------------------------------------------------------------


def latency_run(
    kafka: Broker, tmp: Path, apps: list[str], rate: int, duration: float, label: str, root: Path = ROOT
) -> dict[str, Any]:
    keys = write_keys(apps)
    tag = f"{os.getpid()}-{label}"
    topic, deadletter = f"bench.lat.events.{tag}", f"bench.lat.deadletter.{tag}"
    qport, cport = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{qport}/v1/query"
    stream = Service("stream", stream_env(kafka, topic, deadletter, f"bench-lat-{tag}", tmp / f"chdb-{label}", qport),
                     tmp / f"stream-{label}.log")
    collector = Service("collector", collector_env(kafka.bootstrap, topic, deadletter, cport, keys),
                        tmp / f"collector-{label}.log")
    stream.start(cwd=root)
    collector.start(cwd=root)
    try:
        wait_http_ok(f"http://127.0.0.1:{qport}/healthz", 90, stream)
        wait_http_ok(f"http://127.0.0.1:{cport}/readyz", 90, collector)
        # Warm-up: one batch per app end to end, so partitions are assigned before the clock starts.
        import httpx

        gen = EventGenerator(apps, seed=5)
        warm = 0
        for app in apps:
            now = int(time.time() * 1000)
            r = httpx.post(f"http://127.0.0.1:{cport}/v1/batch", content=batch_body(gen.batch(app, 10, now), now),
                           headers={"X-Write-Key": keys[app], "Content-Type": "application/json"}, timeout=10)
            r.raise_for_status()
            warm += 10
        wait_for(lambda: count(endpoint) >= warm, 90, "warm-up events in ClickHouse")
        # Idle baseline: what the services burn with no traffic (consumer long-polls, producer metadata, ...).
        pids = {"collector": collector.pid, "stream": stream.pid, **({"broker": kafka.pid} if kafka.pid else {})}
        before = {k: cpu_seconds(p) for k, p in pids.items()}
        time.sleep(3.0)
        idle = {k: (cpu_seconds(p) - before[k]) / 3.0 for k, p in pids.items()}
        conversions_per_s = rate * 0.021
        spec = {
            "mode": "open", "host": "127.0.0.1", "port": cport, "batch_size": 10, "rate_eps": rate,
            "connections": 64, "duration_s": duration, "drain_s": 30.0, "poll_interval_s": 0.1,
            "sample_every": max(1, round(conversions_per_s / 10)), "apps": apps, "keys": keys, "seed": rate,
            "query_host": "127.0.0.1", "query_port": qport,
            "cpu_pids": pids,
        }
        argv = [sys.executable, "-m", "loadtests.loadgen", orjson.dumps(spec).decode()]
        send_started = time.time()
        out = subprocess.run(argv, capture_output=True, text=True, timeout=duration * 1.5 + 120, check=False,
                             cwd=Path(__file__).resolve().parents[1])
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{out.stderr[-3000:]}")
        finished = time.monotonic()
        result: dict[str, Any] = orjson.loads(out.stdout.strip().splitlines()[-1])
        want = warm + result["accepted_events"]
        # The loadgen may already have waited for its samples; this measures any remaining backlog.
        reached = wait_for(lambda: (c := count(endpoint)) >= want and c, 120, f"{want} events in ClickHouse",
                           interval=0.25)
        result["drain_after_loadgen_s"] = time.monotonic() - finished
        result["events_in_clickhouse"] = reached
        result["bad_events"] = count(endpoint, "bad_events")
        window = result["send_window_s"]
        result["cpu_util"] = {k: v / window for k, v in result["cpu_s"].items()}
        result["idle_cpu_util"] = idle
        result["flush"] = flush_stats(tmp / f"stream-{label}.log", send_started, time.time())
    finally:
        collector.stop()
        stream.stop()
    return result


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="2000", help="fixed rates of the latency runs (events/s)")
    parser.add_argument("--ladder", default="3000,4500,6000,8000,10000,12500,15000",
                        help="rates climbed per side until one is not sustained (empty: none)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per latency run")
    parser.add_argument("--quick", action="store_true", help="20k events, 1 run, 8 s latency runs")
    parser.add_argument("--profile", action="store_true", help="one more throughput run under py-spy")
    parser.add_argument("--profile-seconds", type=int, default=8, help="how long py-spy samples (from the start)")
    parser.add_argument("--profile-native", action="store_true", help="py-spy --native (C extension frames too)")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true", help="only the latency runs (needs no pre-fill)")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout of this repository: "
                        "throughput runs alternate between its processor and this one's, then the ratio is reported")
    parser.add_argument("--catchup-people", type=int, default=12_000, help="people in the catch-up history")
    parser.add_argument("--catchup-days", type=float, default=20.0, help="days of the catch-up history")
    parser.add_argument("--skip-catchup", action="store_true")
    parser.add_argument("--skip-floor", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs, args.duration, args.catchup_people = 20_000, 1, 8.0, 1_500
        args.ladder = "4000"
    bench = Bench("stream")
    apps = bench.apps
    throughput: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    latency: dict[str, Any] = {}
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        where = imported_from(args.baseline)
        if not where.startswith(str(args.baseline)):
            parser.error(f"a processor started in {args.baseline} imports stream from {where}")
        log(f"baseline processor: stream from {where}; this tree: {imported_from(ROOT)}")
    profile: dict[str, Any] = {}
    sides: list[tuple[str, Path | None]] = [("baseline", args.baseline)] if args.baseline is not None else []
    sides.append(("this tree", None))
    catchup: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in sides}
    catchup_fill: dict[str, Any] = {}
    floor: list[dict[str, Any]] = []
    peer: list[dict[str, Any]] = []
    notes = {"peer": "" if args.skip_peer or args.skip_throughput else peer_missing()}
    with bench.services() as (broker, tmp):
        topic, deadletter = f"bench.tp.events.{os.getpid()}", f"bench.tp.deadletter.{os.getpid()}"
        catchup_topic = f"bench.catchup.events.{os.getpid()}"
        fill: dict[str, Any] = {}
        if not args.skip_throughput:
            log(f"(a) pre-filling {topic} with {args.events:,} events")
            # With a baseline, WeChat scenes are written as integers, as its collector did (legacy_scenes).
            legacy = args.baseline is not None
            fill = asyncio.run(prefill(broker.bootstrap, topic, deadletter, args.events, apps, legacy))
            log(f"    {fill['records']:,} records ({fill['mean_events_per_record']:.1f} events/record, "
                f"{fill['mean_enriched_event_bytes']:.0f} B/enriched event) in {fill['seconds']:.1f} s")
            if not args.skip_catchup:
                log(f"(a) pre-filling {catchup_topic}: {args.catchup_days:g} days of {args.catchup_people:,} people")
                catchup_fill = asyncio.run(prefill_history(broker.bootstrap, catchup_topic, deadletter, apps,
                                                           args.catchup_people, args.catchup_days, legacy))
                log(f"    {catchup_fill['events']:,} events in {catchup_fill['records']:,} records")
        # Every round runs each job once, in the same order (A B A B ...), so all see the same machine load.
        for run in range(0 if args.skip_throughput else args.runs):
            if args.baseline is not None:
                b = throughput_run(broker, topic, deadletter, args.events, tmp, 100 + run, root=args.baseline)
                baseline.append(b)
                log_run("baseline", run, b)
            r = throughput_run(broker, topic, deadletter, args.events, tmp, run)
            throughput.append(r)
            log_run("this tree", run, r)
            # A floor or peer that fails (the tree is being changed under it) is reported, not fatal.
            if not args.skip_floor and not notes.get("floor"):
                attempt(floor, notes, "floor", partial(floor_run, broker.bootstrap, topic, args.events, tmp, run))
            if not args.skip_peer and not notes.get("peer"):
                attempt(peer, notes, "peer", partial(peer_run, broker.bootstrap, topic, args.events, tmp, run))
            for label, root in sides if catchup_fill else []:
                c = throughput_run(broker, catchup_topic, deadletter, catchup_fill["events"], tmp,
                                   (200 if root else 300) + run, root=root)
                catchup[label].append(c)
                log_run(f"catch-up {label}", run, c)
        if args.profile and not args.skip_throughput:
            log("(a) one more run under py-spy")
            profile = throughput_run(broker, topic, deadletter, args.events, tmp, 99,
                                     profile_seconds=args.profile_seconds, native=args.profile_native)
        if not args.skip_latency:
            roots = [(label, root or ROOT) for label, root in sides]  # the baseline first, as above
            latency = latency_stage(partial(latency_run, broker, tmp, apps), roots, _ints(args.rates),
                                    _ints(args.ladder), args.duration)

    tp_med = {k: median([r[k] for r in throughput]) for k in
              ("events_per_s_wall", "steady_events_per_s", "events_per_cpu_s", "cpu_util", "wall_s", "cpu_s",
               "startup_s")}
    tp_med["flush_cycle_p50_s"] = median([r["flush"]["cycle_p50_s"] for r in throughput])
    tp_med["events_per_flush_p50"] = median([r["flush"]["events_per_flush_p50"] for r in throughput])
    bench.heading("Stream benchmark")
    if throughput:
        print_throughput(fill, throughput, tp_med)
    if baseline and args.baseline is not None:
        print_comparison(args.baseline, baseline, throughput)
    if throughput:
        live = {"baseline": baseline, "this tree": throughput} if baseline else {"this tree": throughput}
        print_extras(live, catchup, catchup_fill, floor, peer, notes)
    if latency:
        print_latency_stage(latency)
    if profile.get("profile", {}).get("self"):
        p = profile["profile"]
        print(f"py-spy on the processor ({p['samples']} samples, {p['raw_file']}):\n")
        print(profile_tables(p))
    bench.finish({
        "prefill": fill, "throughput": throughput, "throughput_median": tp_med,
        "baseline_root": str(args.baseline or ""), "baseline_throughput": baseline,
        "latency": latency, "profile_run": profile, "catchup_prefill": catchup_fill, "catchup": catchup,
        "floor_consumer": floor, "peer": peer, "notes": notes,
    })
    return 0


def print_throughput(fill: dict[str, Any], throughput: list[dict[str, Any]], tp_med: dict[str, Any]) -> None:
    print(f"Pre-filled: {fill['events']:,} events in {fill['records']:,} records "
          f"({fill['mean_events_per_record']:.1f} events/record, ~{fill['mean_enriched_event_bytes']:.0f} B per "
          f"enriched event), 4 partitions, 8 apps"
          + ("; WeChat scenes as integers, as the baseline's collector wrote them" if fill.get("legacy_scenes") else "")
          + ".\n")
    print(md_table(
        ["run", "wall s", "events/s (wall)", "events/s (steady)", "CPU s", "events per CPU-s", "CPU util",
         "bad_events", "credit rows"],
        [[i + 1, r["wall_s"], r["events_per_s_wall"], r["steady_events_per_s"], r["cpu_s"], r["events_per_cpu_s"],
          f"{r['cpu_util'] * 100:.0f}%", r["bad_events"], r["credit_rows"]] for i, r in enumerate(throughput)]
        + [["**median**", tp_med["wall_s"], tp_med["events_per_s_wall"], tp_med["steady_events_per_s"],
            tp_med["cpu_s"], tp_med["events_per_cpu_s"], f"{tp_med['cpu_util'] * 100:.0f}%", "", ""]],
    ) + "\n")
    flushes = median([float(r["flush"]["flushes"]) for r in throughput])
    print(f"Flushes per run (from the processor's log, median): {flushes:.0f}, "
          f"{tp_med['events_per_flush_p50']:,.0f} events per flush (median). STREAM_FLUSH_ROWS (10,000) counts Kafka "
          f"records, not rows, so a pre-filled backlog is taken in as few flushes as the 1 s timer allows.\n")


def log_run(label: str, run: int, r: dict[str, Any]) -> None:
    log(f"(a) {label} run {run + 1}: {r['events_per_s_wall']:,.0f} events/s wall "
        f"({r['steady_events_per_s']:,.0f} steady), {r['events_per_cpu_s']:,.0f} events per CPU-second, "
        f"CPU {r['cpu_util'] * 100:.0f}%, {r['wall_s']:.1f} s, bad_events {r['bad_events']}, "
        f"credit rows {r['credit_rows']:,}, peak RSS {r['peak_rss_mb']:.0f} MiB, load {r['load_at_end']:.2f}")


def print_comparison(root: Path, baseline: list[dict[str, Any]], current: list[dict[str, Any]]) -> None:
    keys = ("events_per_s_wall", "events_per_cpu_s", "wall_s", "cpu_s", "peak_rss_mb")
    a = {k: median([r[k] for r in baseline]) for k in keys}
    b = {k: median([r[k] for r in current]) for k in keys}
    print(f"Interleaved with the processor of {root} (runs alternate: baseline, this tree, ...):\n")
    # In the order they ran: baseline 1, this tree 1, baseline 2, ...
    rows: list[list[Any]] = [
        [f"{label} run {i + 1}", r["wall_s"], r["events_per_s_wall"], r["cpu_s"], r["events_per_cpu_s"],
         r["peak_rss_mb"], r["credit_rows"], r["load_at_end"]]
        for i, pair in enumerate(zip(baseline, current, strict=False))
        for label, r in zip(("baseline", "this tree"), pair, strict=True)
    ]
    for label, m in (("**baseline median**", a), ("**this tree median**", b)):
        rows.append([label, m["wall_s"], m["events_per_s_wall"], m["cpu_s"], m["events_per_cpu_s"], m["peak_rss_mb"],
                     "", ""])
    ratio_of = ("wall_s", "events_per_s_wall", "cpu_s", "events_per_cpu_s", "peak_rss_mb")
    rows.append(["**ratio (this / baseline)**", *(f"{b[k] / a[k]:.2f}" if a[k] else "" for k in ratio_of), "", ""])
    print(md_table(["run", "wall s", "events/s (wall)", "CPU s", "events per CPU-s", "peak RSS MiB", "credit rows",
                    "load at end"], rows) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
