"""The stream benchmark's part (a): a topic pre-filled exactly as the collector writes it, then the processor run
over it until every event is queryable (see loadtests/bench_stream.py for the method)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from loadtests.bench_collector import top_frames
from loadtests.common import PII_SECRET, RESULTS, cpu_seconds, median, result_path
from loadtests.events import EventGenerator, batch_body
from tests.integration.broker import Broker
from tests.integration.harness import ROOT, Service, free_port, sql, wait_http_ok

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47"


# -- (a) pre-fill and throughput ----------------------------------------------------------------------------------


def legacy_scenes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """WeChat scenes back as the integers the collector wrote before scenes became text (d346ffb and earlier).

    A processor from before then writes `scene` into a UInt16 column as it comes, so it fails on today's "1045";
    today's processor reads both forms as the same text (schemas/scenes.py `scene_text`: old records stay
    readable). An A/B run therefore fills its topic in the old form, and both sides read the same bytes."""
    for event in events:
        context = event.get("context") or {}
        scene = context.get("scene")
        if isinstance(scene, str) and scene.isdigit() and context.get("platform", "wechat") == "wechat":
            context["scene"] = int(scene)
    return events


def live_requests(n_events: int, apps: list[str], topic: str, legacy: bool = False) -> Iterator[tuple[int, list[Any]]]:
    """The benchmark stream, request by request through this tree's collector code: (events in the request, the
    Kafka records the collector writes for it). Seeded: every call yields the same records."""
    from collector.body import BodyLimits, parse_batch
    from collector.ingest import RequestContext, ingest
    from collector.pii import PiiHasher
    from collector.routing import route_events

    gen = EventGenerator(apps, seed=42)
    limits, hasher = BodyLimits(), PiiHasher(PII_SECRET.encode())
    base = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    events = 0
    for i in range(n_events):  # bounded: at least one event per request
        if events >= n_events:
            break
        size = min(gen.rng.randint(1, 50), n_events - events)
        app = apps[i % len(apps)]
        at = base + timedelta(milliseconds=events * 20)  # 20 ms of device time per event: 200k events span ~67 min
        at_ms = int(at.timestamp() * 1000)
        sent_at, raw = parse_batch(batch_body(gen.batch(app, size, at_ms), at_ms + 200), limits)
        ctx = RequestContext(app, at + timedelta(milliseconds=350), "10.0.0.1", UA)
        result = ingest(raw, sent_at, ctx, limits, hasher)
        assert not result.rejected, result.rejected[:1]
        accepted = legacy_scenes(result.accepted) if legacy else result.accepted
        yield size, route_events(accepted, topic)
        events += size


async def produce(
    bootstrap: str, topic: str, deadletter: str, requests: Iterable[tuple[int, list[Any]]]
) -> dict[str, Any]:
    """Writes each request's Kafka records (as `live_requests` and `stream_extras.history_requests` give them) to
    a topic of 4 partitions, the way the collector's producer does; returns events, records, bytes, seconds."""
    from aiokafka import AIOKafkaProducer

    from runtime.kafka_admin import TopicSpec, ensure_topics

    await ensure_topics(bootstrap, [TopicSpec(topic, 4), TopicSpec(deadletter, 4)])
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
        max_batch_size=512_000, max_request_size=1_048_576,
    )
    await producer.start()
    started = time.perf_counter()
    events = records = value_bytes = 0
    futures: list[asyncio.Future[Any]] = []
    try:
        for size, routed in requests:
            for record in routed:
                futures.append(await producer.send(
                    record.topic, record.value, key=record.key, headers=list(record.headers)))
                records += 1
                value_bytes += len(record.value)
            events += size
            if len(futures) >= 2_000:
                await asyncio.gather(*futures)
                futures.clear()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return {"events": events, "records": records, "value_bytes": value_bytes, "seconds": time.perf_counter() - started}


async def prefill(bootstrap: str, topic: str, deadletter: str, n_events: int, apps: list[str],
                  legacy: bool = False) -> dict[str, Any]:
    sent = await produce(bootstrap, topic, deadletter, live_requests(n_events, apps, topic, legacy))
    events, records = sent["events"], sent["records"]
    return {"events": events, "records": records, "mean_events_per_record": events / records,
            "mean_enriched_event_bytes": sent["value_bytes"] / events, "seconds": sent["seconds"],
            "legacy_scenes": legacy}


def stream_env(kafka: Broker, topic: str, deadletter: str, group: str, db_dir: Path, qport: int) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap,
        "KAFKA_EVENTS_TOPIC": topic,
        "KAFKA_DEADLETTER_TOPIC": deadletter,
        "STREAM_GROUP_ID": group,
        "CLICKHOUSE_URL": f"chdb://{db_dir}",
        "STREAM_QUERY_HOST": "127.0.0.1",
        "STREAM_QUERY_PORT": str(qport),
        # One JSON line per flush ("flushed N events ..."): parsed afterwards for the flush cadence.
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
    }


def flush_stats(log_path: Path, since: float | None = None, until: float | None = None) -> dict[str, Any]:
    """Flush cadence from the processor's JSON log: time between flush ends and events per flush."""
    flushes: list[tuple[float, int]] = []
    if log_path.exists():
        for line in log_path.read_text(errors="replace").splitlines()[:1_000_000]:
            if '"flushed ' not in line:
                continue
            try:
                entry = orjson.loads(line)
                at = datetime.fromisoformat(entry["ts"]).timestamp()
                n = int(entry["msg"].split()[1])
            except (orjson.JSONDecodeError, KeyError, ValueError, IndexError):
                continue
            if (since is None or at >= since) and (until is None or at <= until):
                flushes.append((at, n))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(flushes)]
    return {
        "flushes": len(flushes),
        "cycle_p50_s": median(gaps),
        "cycle_max_s": max(gaps) if gaps else float("nan"),
        "events_per_flush_p50": median([float(n) for _, n in flushes]),
    }


def count(endpoint: str, table: str = "events") -> int:
    return int(sql(endpoint, f"SELECT count() FROM {table}")[0][0])


def peak_rss(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MiB, 0 if unknown."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def throughput_run(kafka: Broker, topic: str, deadletter: str, n: int, tmp: Path, run: int,
                   profile_seconds: int = 0, root: Path | None = None, native: bool = False) -> dict[str, Any]:
    qport = free_port()
    endpoint = f"http://127.0.0.1:{qport}/v1/query"
    env = stream_env(kafka, topic, deadletter, f"bench-tp-{os.getpid()}-{run}", tmp / f"chdb-tp-{run}", qport)
    log_path = tmp / f"stream-tp-{run}.log"
    if root is not None:  # another checkout's processor: `python -m` imports from its tree
        env["PYTHONPATH"] = str(root)
    stream = Service("stream", env, log_path).start(cwd=root or ROOT)
    spy: subprocess.Popen[bytes] | None = None
    raw_profile = result_path("profile-stream", ".txt")
    try:
        launched = time.monotonic()
        wait_http_ok(f"http://127.0.0.1:{qport}/healthz", 90, stream)
        t_ready, cpu_ready = time.monotonic(), cpu_seconds(stream.pid)
        if profile_seconds:
            spy_bin = Path(sys.executable).with_name("py-spy")
            RESULTS.mkdir(parents=True, exist_ok=True)
            # --native also shows time inside C extensions (orjson, the GC, chDB's calls) but pauses the process
            # to sample it, so it costs the processor some speed.
            mode = ["--native"] if native else ["--nonblocking"]
            spy = subprocess.Popen(
                [str(spy_bin), "record", *mode, "--threads", "--format", "raw", "-r", "200",
                 "-d", str(profile_seconds), "-o", str(raw_profile), "--pid", str(stream.pid)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        t_first = c_first = None
        t_done = cpu_done = None
        deadline = t_ready + 240
        while time.monotonic() < deadline:
            if not stream.alive():
                raise RuntimeError(f"the processor died:\n{stream.logs()}")
            c = count(endpoint)
            now = time.monotonic()
            if c and t_first is None:
                t_first, c_first = now, c
            if c >= n:
                t_done, cpu_done = now, cpu_seconds(stream.pid)
                break
            time.sleep(0.2)
        peak_rss_mb = peak_rss(stream.pid)
        if t_done is None or cpu_done is None or t_first is None or c_first is None:
            raise TimeoutError(f"the processor did not reach {n} rows in 240 s:\n{stream.logs()}")
        bad = count(endpoint, "bad_events")
        # The attribution tables of the last partition are inserted just after its events: wait until stable.
        credits, previous = count(endpoint, "attribution_credits"), -1
        for _ in range(40):  # at most ~10 s
            if credits == previous:
                break
            time.sleep(0.25)
            previous, credits = credits, count(endpoint, "attribution_credits")
        conversions = count(endpoint, "conversions")
        touchpoints = count(endpoint, "touchpoints")
    finally:
        if spy is not None:
            try:
                spy.wait(profile_seconds + 30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(5)
        stream.stop()
    wall = t_done - t_ready
    cpu = cpu_done - cpu_ready
    out: dict[str, Any] = {
        "events": n,
        "startup_s": t_ready - launched,
        "wall_s": wall,
        "cpu_s": cpu,
        "events_per_s_wall": n / wall,
        "events_per_cpu_s": n / cpu,
        "cpu_util": cpu / wall,
        "steady_events_per_s": (n - c_first) / (t_done - t_first) if t_done > t_first else float("nan"),
        "first_rows_after_s": t_first - t_ready,
        "bad_events": bad,
        "credit_rows": credits,
        "conversion_rows": conversions,
        "touchpoint_rows": touchpoints,
    }
    out["flush"] = flush_stats(log_path)
    out["load_at_end"] = os.getloadavg()[0]
    out["peak_rss_mb"] = peak_rss_mb
    if spy is not None:
        out["profile"] = {"raw_file": str(raw_profile), **top_frames(raw_profile, limit=20)}
    return out
