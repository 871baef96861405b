"""The HTTP load generator: raw keep-alive HTTP/1.1 over asyncio streams (uvloop), pre-encoded requests.

Run by the benchmarks as a subprocess (pinned with `taskset`) so its CPU is accounted separately:

    python -m loadtests.loadgen '<json spec>'   → one JSON object on stdout

Modes:
* `closed`: `connections` connections, each sending the next request as soon as the previous answer arrived,
  for `warmup_s` + `duration_s`; only requests completed inside the measured window count. The CPU time of
  the collector and the broker (`cpu_pids`) is read from /proc at the window's edges.
* `open`: a steady `rate_eps` events/s in `batch_size`-event requests for `duration_s`, request i scheduled at
  t0 + i·batch_size/rate (spread over the connections). Sampled purchases are timed from the collector's 200
  until their credit rows are queryable in `attribution_credits` (polled through the processor's query
  endpoint every `poll_interval_s`). The table, not the `attribution_credits_current` view: a conversion's
  first credit rows are its current ones, and the view's GROUP BY over every credit row, ten times a second,
  would load the processor being measured more than the traffic does.

Only the status line and Content-Length of a response are parsed (plus a byte comparison of the body to the
all-accepted answer), so one core of Python drives well over the collector's request rate.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

import orjson

from loadtests.common import cpu_seconds, percentile
from loadtests.events import EventGenerator, conversions_in, now_ms
from tests.integration.harness import SQL_AUTH

MAX_REQUESTS = 5_000_000  # hard bound on any loop, whatever the duration


class Conn:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(payload)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"content-length:")
        length = int(lower[at + 15 : lower.index(b"\r\n", at)]) if at >= 0 else 0
        body = await self.reader.readexactly(length) if length else b""
        if b"connection: close" in lower:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def http_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}",
             "Content-Type: application/json", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


USER_AGENT = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47 MiniProgramEnv/iOS"


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = cpu_seconds(pid)
        except OSError:
            out[name] = float("nan")
    out["loadgen"] = cpu_seconds(os.getpid())
    return out


# -- closed loop: maximum throughput ------------------------------------------------------------------------------


async def closed(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, size = spec["host"], spec["port"], spec["batch_size"]
    apps, keys = spec["apps"], spec["keys"]
    gen = EventGenerator(apps, seed=spec.get("seed", 1))
    payloads = []
    built_at = now_ms()
    for i in range(spec["n_bodies"]):
        app = apps[i % len(apps)]
        body = orjson.dumps({"sent_at": built_at, "events": gen.batch(app, size, built_at)})
        payloads.append(http_post(host, port, "/v1/batch", body, {"X-Write-Key": keys[app], "User-Agent": USER_AGENT}))
    ok_body = b'{"accepted":%d,"rejected":[]}' % size
    body_bytes = sum(len(p) for p in payloads) / len(payloads)

    t_start = time.monotonic() + spec["warmup_s"]
    t_end = t_start + spec["duration_s"]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    partial = 0
    errors = 0
    slow: list[tuple[float, float]] = []  # (start, latency) of requests slower than 500 ms
    cpu: dict[str, dict[str, float]] = {}

    async def worker(index: int) -> None:
        nonlocal partial, errors
        conn = Conn(host, port)
        i = index
        for _ in range(MAX_REQUESTS):
            now = time.monotonic()
            if now >= t_end:
                break
            payload = payloads[i % len(payloads)]
            i += spec["connections"]
            try:
                status, body = await conn.request(payload)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn.close()
                await asyncio.sleep(0.01)
                continue
            done = time.monotonic()
            if now >= t_start and done <= t_end:
                latencies.append(done - now)
                if done - now > 0.5:
                    slow.append((now, done - now))
                statuses[status] = statuses.get(status, 0) + 1
                if status == 200 and body != ok_body:
                    partial += 1
        conn.close()

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, t_start - time.monotonic()))
        cpu["start"] = _cpu(spec["cpu_pids"])
        cpu["start"]["wall"] = time.monotonic()
        await asyncio.sleep(max(0.0, t_end - time.monotonic()))
        cpu["end"] = _cpu(spec["cpu_pids"])
        cpu["end"]["wall"] = time.monotonic()

    await asyncio.gather(sampler(), *(worker(c) for c in range(spec["connections"])))
    wall = cpu["end"]["wall"] - cpu["start"]["wall"]
    cpu_delta = {k: cpu["end"][k] - cpu["start"][k] for k in cpu["start"] if k != "wall"}
    ok = statuses.get(200, 0)
    return {
        "batch_size": size,
        "connections": spec["connections"],
        "request_bytes": round(body_bytes),
        "window_s": wall,
        "requests": sum(statuses.values()),
        "ok": ok,
        "non_2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "statuses": statuses,
        "partially_rejected": partial,
        "errors": errors,
        "requests_per_s": ok / wall,
        "events_per_s": ok * size / wall,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "p999_ms": percentile(latencies, 99.9) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "over_500ms": sum(1 for x in latencies if x > 0.5),
        "slow_at_s": sorted({round(t - t_start, 1) for t, x in slow})[:50],
        "cpu_s": cpu_delta,
    }


# -- open loop: steady rate, end-to-end latency -----------------------------------------------------------------


async def open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    host, port, size, rate = spec["host"], spec["port"], spec["batch_size"], spec["rate_eps"]
    apps, keys = spec["apps"], spec["keys"]
    gen = EventGenerator(apps, seed=spec.get("seed", 2))
    n_requests = min(MAX_REQUESTS, int(rate * spec["duration_s"] / size))
    interval = size / rate
    # Pre-encoded: the events array and the request head; sent_at is spliced in at send time.
    built: list[tuple[bytes, bytes, list[str]]] = []
    base = now_ms()
    for i in range(n_requests):
        app = apps[i % len(apps)]
        events = gen.batch(app, size, base + int(i * interval * 1000))
        built.append((keys[app].encode(), orjson.dumps(events), conversions_in(events)))
    sample_every = max(1, spec["sample_every"])

    sent_200: dict[str, float] = {}  # sampled conversion id → monotonic time of the collector's 200
    found: dict[str, float] = {}
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    accepted_events = 0
    conversions_seen = 0
    last_ack = 0.0
    cpu: dict[str, dict[str, float]] = {}
    query_ms: list[float] = []
    t0 = time.monotonic() + 0.5
    sending_done = asyncio.Event()

    def payload(key: bytes, events_json: bytes) -> bytes:
        body = b'{"sent_at":%d,"events":%s}' % (now_ms(), events_json)
        return (b"POST /v1/batch HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nX-Write-Key: %s\r\n"
                b"User-Agent: %s\r\nContent-Length: %d\r\n\r\n" % (host.encode(), port, key, USER_AGENT.encode(),
                                                                    len(body))) + body

    async def worker(index: int) -> None:
        nonlocal errors, accepted_events, conversions_seen, last_ack
        conn = Conn(host, port)
        hard_stop = t0 + spec["duration_s"] + 5  # a collector that falls behind does not stretch the run
        for i in range(index, n_requests, spec["connections"]):
            if time.monotonic() > hard_stop:
                break
            due = t0 + i * interval
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            key, events_json, conv_ids = built[i]
            started = time.monotonic()
            lags.append(max(0.0, started - due))
            try:
                status, _ = await conn.request(payload(key, events_json))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn.close()
                continue
            done = time.monotonic()
            latencies.append(done - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                accepted_events += size
                last_ack = max(last_ack, done)
                for conv in conv_ids:
                    conversions_seen += 1
                    if conversions_seen % sample_every == 0:
                        sent_200[conv] = done
        conn.close()

    async def poller() -> None:
        conn = Conn(spec["query_host"], spec["query_port"])
        deadline = t0 + spec["duration_s"] + spec["drain_s"]
        for _ in range(100_000):
            if time.monotonic() > deadline:
                break
            pending = [c for c in sent_200 if c not in found][:400]
            if not pending:
                if sending_done.is_set():
                    break
                await asyncio.sleep(spec["poll_interval_s"])
                continue
            ids = ",".join("'" + c.replace("'", "") + "'" for c in pending)
            sql = f"SELECT DISTINCT conversion_id FROM attribution_credits WHERE conversion_id IN ({ids})"
            req = http_post(spec["query_host"], spec["query_port"], "/v1/query", orjson.dumps({"sql": sql}), SQL_AUTH)
            asked = time.monotonic()
            try:
                status, body = await conn.request(req)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                await asyncio.sleep(spec["poll_interval_s"])
                continue
            answered = time.monotonic()
            query_ms.append((answered - asked) * 1000)
            if status == 200:
                for (conv,) in orjson.loads(body)["rows"]:
                    found.setdefault(conv, answered)
            await asyncio.sleep(max(0.0, spec["poll_interval_s"] - (answered - asked)))
        conn.close()

    async def sampler() -> None:
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        cpu["start"] = _cpu(spec["cpu_pids"])
        cpu["start"]["wall"] = time.monotonic()
        await sending_done.wait()
        cpu["end"] = _cpu(spec["cpu_pids"])
        cpu["end"]["wall"] = time.monotonic()

    async def senders() -> None:
        await asyncio.gather(*(worker(c) for c in range(spec["connections"])))
        sending_done.set()

    await asyncio.gather(senders(), poller(), sampler())
    wall = cpu["end"]["wall"] - cpu["start"]["wall"]
    e2e = [found[c] - sent_200[c] for c in found if c in sent_200]
    return {
        "target_events_per_s": rate,
        "batch_size": size,
        "connections": spec["connections"],
        "requests_planned": n_requests,
        "ok": statuses.get(200, 0),
        "non_2xx": sum(v for k, v in statuses.items() if not 200 <= k < 300),
        "statuses": statuses,
        "errors": errors,
        "accepted_events": accepted_events,
        "send_window_s": wall,
        "achieved_events_per_s": accepted_events / (last_ack - t0) if last_ack > t0 else 0.0,
        "http_p50_ms": percentile(latencies, 50) * 1000,
        "http_p99_ms": percentile(latencies, 99) * 1000,
        "schedule_lag_p99_ms": percentile(lags, 99) * 1000,
        "samples": len(sent_200),
        "samples_found": len(e2e),
        "e2e_p50_ms": percentile(e2e, 50) * 1000,
        "e2e_p99_ms": percentile(e2e, 99) * 1000,
        "e2e_max_ms": max(e2e) * 1000 if e2e else float("nan"),
        "poll_interval_ms": spec["poll_interval_s"] * 1000,
        "poll_query_p50_ms": percentile(query_ms, 50),
        "cpu_s": {k: cpu["end"][k] - cpu["start"][k] for k in cpu["start"] if k != "wall"},
    }


def main() -> int:
    spec = orjson.loads(sys.argv[1])
    runner: Any
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result = runner(closed(spec) if spec["mode"] == "closed" else open_loop(spec))
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
