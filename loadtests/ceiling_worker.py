"""One timed run of the collector's in-process ceiling (or its floor) in a process of its own, on CPU 0.

    python loadtests/ceiling_worker.py '<json spec>'   → one JSON object on stdout

Started by path, not with `-m`, so that nothing of this tree is imported before `spec["root"]` is put first on
sys.path: the `collector` package then comes from that checkout (a baseline worktree or this tree), and the
answer says where it came from (`collector_file`). Only the standard library, orjson and the checkout's
`collector` package are imported, so the worker runs against any commit whose collector has the four calls of
the hot path (parse_batch, RequestContext, ingest, route_events) with their d346ffb signatures.

Modes: `product` times parse_batch + ingest + route_events per body; `floor` times what no collector can skip
(orjson.loads of the body, orjson.dumps per event, one join). Bodies are read from `spec["bodies"]`, one JSON
body per line, made once by the parent so that both sides see the same bytes.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

PII_SECRET = b"benchmark-pii-secret-0123456789"  # loadtests.common.PII_SECRET (not imported: see above)
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47"
RECEIVED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # fixed, as the in-process bench always had it


def product(root: str) -> tuple[Callable[[bytes], int], str]:
    """The collector's hot path as imported from `root`, and the file its package came from."""
    import collector
    from collector.body import BodyLimits, parse_batch
    from collector.ingest import RequestContext, ingest
    from collector.pii import PiiHasher
    from collector.routing import route_events

    limits, hasher = BodyLimits(), PiiHasher(PII_SECRET)

    def one(body: bytes) -> int:
        sent_at, raw = parse_batch(body, limits)
        ctx = RequestContext("app00", RECEIVED_AT, "127.0.0.1", UA)
        result = ingest(raw, sent_at, ctx, limits, hasher)
        return sum(r.event_count for r in route_events(result.accepted, "touchstream.events"))

    return one, str(collector.__file__)


def floor() -> Callable[[bytes], int]:
    loads, dumps = orjson.loads, orjson.dumps

    def one(body: bytes) -> int:
        events = loads(body)["events"]
        record = b"[" + b",".join([dumps(e) for e in events]) + b"]"
        return len(events) if record else 0

    return one


def timed(one: Callable[[bytes], int], bodies: list[bytes], iterations: int) -> dict[str, Any]:
    expected = sum(one(b) for b in bodies[:5])  # warm-up, and every event must be accepted
    wanted = sum(len(orjson.loads(b)["events"]) for b in bodies[:5])
    if expected != wanted:
        msg = f"only {expected} of {wanted} events accepted: the bodies do not fit this collector"
        raise SystemExit(msg)
    for i in range(50):
        one(bodies[i % len(bodies)])
    c0, w0 = time.process_time(), time.perf_counter()
    events = 0
    for i in range(iterations):
        events += one(bodies[i % len(bodies)])
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return {"events": events, "cpu_s": cpu, "wall_s": wall, "events_per_cpu_s": events / cpu}


def main() -> int:
    spec: dict[str, Any] = orjson.loads(sys.argv[1])
    root = str(Path(spec["root"]).resolve())
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [root, *(p for p in sys.path if p not in (here, root, ""))]
    os.sched_setaffinity(0, {int(spec.get("cpu", 0))})
    bodies = Path(spec["bodies"]).read_bytes().splitlines()
    if spec["mode"] == "floor":
        one, where = floor(), ""
    else:
        one, where = product(root)
    out = timed(one, bodies, int(spec["iterations"]))
    sys.stdout.write(orjson.dumps({**out, "mode": spec["mode"], "root": root, "collector_file": where}).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
