"""The collector's in-process ceiling, A/B: this tree's and a baseline checkout's hot path on the same bodies,
each run in a fresh process on CPU 0 (loadtests/ceiling_worker.py), alternated, with the floor (orjson.loads +
orjson.dumps per event) in the same rotation; and this tree's per-stage breakdown."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from loadtests.common import PII_SECRET, log, median
from loadtests.events import EventGenerator, batch_body
from tests.integration.harness import ROOT

WORKER = Path(__file__).resolve().with_name("ceiling_worker.py")
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) MicroMessenger/8.0.47"


def make_bodies(n: int = 60, size: int = 100) -> list[bytes]:
    """100-event batch bodies made by this tree's generator, the same bytes for every side."""
    gen = EventGenerator(["app00"], seed=7)
    base = 1_795_000_000_000
    return [batch_body(gen.batch("app00", size, base + i * 1000), base + i * 1000 + 300) for i in range(n)]


def worker(root: Path, mode: str, bodies: Path, iterations: int) -> dict[str, Any]:
    spec = {"root": str(root), "mode": mode, "bodies": str(bodies), "iterations": iterations, "cpu": 0}
    out = subprocess.run([sys.executable, str(WORKER), orjson.dumps(spec).decode()], capture_output=True,
                         text=True, timeout=600, check=False, cwd=root)
    if out.returncode != 0:
        msg = f"ceiling worker ({mode}, {root}) failed ({out.returncode}):\n{out.stderr[-3000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = orjson.loads(out.stdout.strip().splitlines()[-1])
    if mode == "product" and not result["collector_file"].startswith(str(root.resolve()) + os.sep):
        msg = f"the worker for {root} imported collector from {result['collector_file']}"
        raise RuntimeError(msg)
    return result


def ab_ceiling(baseline: Path | None, runs: int, iterations: int, tmp: Path) -> dict[str, Any]:
    """Runs baseline, this tree, floor, baseline, this tree, floor, ...; medians of each side."""
    bodies = make_bodies()
    path = tmp / "ceiling-bodies.jsonl"
    path.write_bytes(b"\n".join(bodies))
    sides: list[tuple[str, Path, str]] = [("this tree", ROOT, "product"), ("floor", ROOT, "floor")]
    if baseline is not None:
        sides.insert(0, ("baseline", baseline, "product"))
    runs_by: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in sides}
    for run in range(runs):
        for label, root, mode in sides:
            r = worker(root, mode, path, iterations)
            runs_by[label].append(r)
            where = f", collector from {r['collector_file']}" if r["collector_file"] else ""
            log(f"(a) ceiling {label} run {run + 1}: {r['events_per_cpu_s']:,.0f} events/s per core "
                f"({1e6 / r['events_per_cpu_s']:.2f} µs/event){where}")
    med = {label: median([r["events_per_cpu_s"] for r in rs]) for label, rs in runs_by.items()}
    return {
        "batch_size": 100,
        "event_bytes": round(sum(len(b) for b in bodies) / (len(bodies) * 100)),
        "runs": runs_by,
        "median_events_per_cpu_s": med,
        "imported_from": {label: rs[0]["collector_file"] for label, rs in runs_by.items() if rs},
    }


def per_event(fn: Callable[[Any], Any], items: list[Any], events: int) -> float:
    best = float("inf")
    for _ in range(3):
        c0 = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - c0) / events * 1e6)
    return best


def stages() -> tuple[dict[str, float], list[str]]:
    """This tree's hot path stage by stage (µs/event), in this process pinned to CPU 0. A stage whose function
    is gone or changed its signature (the collector is being reworked) is skipped, with a note saying why."""
    from collector.body import BodyLimits, parse_batch
    from collector.ingest import RequestContext, ingest
    from collector.pii import PiiHasher
    from collector.routing import route_events

    previous = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    notes: list[str] = []
    out: dict[str, float] = {}
    try:
        bodies = make_bodies()
        limits, hasher = BodyLimits(), PiiHasher(PII_SECRET.encode())
        received = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
        ctx = RequestContext("app00", received, "127.0.0.1", UA)
        parsed = [parse_batch(b, limits) for b in bodies]
        ingested = [ingest(raw, s, ctx, limits, hasher) for s, raw in parsed]
        raws = [e for _, raw in parsed for e in raw]
        n = len(raws)
        measured: list[tuple[str, Callable[[], float]]] = [
            ("calibration: orjson.loads of one event",
             lambda: per_event(orjson.loads, [orjson.dumps(e) for e in raws], n)),
            ("parse_batch (orjson.loads of the body)",
             lambda: per_event(lambda b: parse_batch(b, limits), bodies, n)),
        ]
        measured += optional_stages(raws, limits, received, n)
        measured += [
            ("ingest (whole)", lambda: per_event(lambda p: ingest(p[1], p[0], ctx, limits, hasher), parsed, n)),
            ("route_events (encode the records)", lambda: per_event(
                lambda r: route_events(r.accepted, "touchstream.events"), ingested, n)),
        ]
        for name, measure in measured:
            try:
                out[name] = measure()
            except (ImportError, AttributeError, TypeError, KeyError) as exc:
                notes.append(f"{name}: skipped ({type(exc).__name__}: {str(exc)[:120]})")
    finally:
        os.sched_setaffinity(0, previous)
    return out, notes


def optional_stages(raws: list[Any], limits: Any, received: datetime, n: int) -> list[tuple[str, Callable[[], float]]]:
    """The inner stages of d346ffb's ingest, each only if this tree still has it (ImportError/AttributeError
    otherwise, which `stages` turns into a note)."""

    def check_raw() -> float:
        from collector import ingest as module

        fn = module._check_raw
        return per_event(lambda e: fn(e, limits, None), raws, n)

    def validate() -> float:
        from schemas.batch import strip_server_fields
        from schemas.events import EVENT_ADAPTER

        return per_event(lambda e: EVENT_ADAPTER.validate_python(strip_server_fields(e)), raws, n)

    def enrich() -> float:
        from schemas.batch import strip_server_fields
        from schemas.enrich import enrich as fn
        from schemas.events import EVENT_ADAPTER

        models = [EVENT_ADAPTER.validate_python(strip_server_fields(e)) for e in raws]
        zero = timedelta(0)
        return per_event(lambda m: fn(m, app_id="app00", received_at=received, sent_at=received, ip="127.0.0.1",
                                      user_agent=UA, max_future_skew=zero), models, n)

    return [
        ("ingest: _check_raw (size + shape walk)", check_raw),
        ("ingest: EVENT_ADAPTER.validate_python", validate),
        ("ingest: enrich (model_dump(mode=json) + timestamps)", enrich),
    ]
