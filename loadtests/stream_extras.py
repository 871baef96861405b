"""The stream benchmark's catch-up stream, floor consumer and peer (issue 12), run in the same rounds as the
live throughput runs of loadtests/bench_stream.py.

- Catch-up: 20 days of 12,000 people's history (tests/histories.py, the generator of loadtests/bench_catchup.py:
  devices joined by logins, orders, ad clicks arriving through the webhook route) pre-filled into a topic of
  its own as the collector writes it, then processed in one go by `touchstream stream` (this tree's and the
  baseline's), events per CPU-second against the live benchmark stream's.
- Floor consumer (loadtests/floor_consumer.py): poll, decode, insert the events rows only.
- Peer (loadtests/quix_peer.py): a Quix Streams last-touch job, in its own virtualenv, on the live topic.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from loadtests.common import PII_SECRET, log, md_table, median
from loadtests.stream_throughput import UA, legacy_scenes, produce
from tests.histories import Step, random_history, sdk_event, time_order, webhook_click
from tests.integration.harness import ROOT

PEER_PYTHON = ROOT / ".venv" / "peer" / "bin" / "python"
CATCHUP_TARGET = 0.80  # catch-up events per CPU-second ≥ 80 % of the live stream's
PEER_TARGET = 1.0
BATCH = 50  # SDK events per request while pre-filling the history
_PERSON = re.compile(r"p(\d+)[ewk]\d+$")


def _app_of(step: Step, apps: list[str]) -> str:
    """Each person's events go to one app, spread over the apps (and so over the partitions)."""
    match = _PERSON.search(step.event_id)
    return apps[int(match.group(1)) % len(apps)] if match else apps[0]


def history_requests(steps: list[Step], apps: list[str], topic: str,
                     legacy: bool = False) -> Iterator[tuple[int, bool, list[Any]]]:
    """The history in time order through this tree's collector code (SDK batches of up to 50 events per app)
    and ad clicks as the webhook route writes them: (events, whether an ad click, the Kafka records) per
    request. Each app's batch goes before that app's next click, so a partition holds its events in time order."""
    from collector.body import BodyLimits, parse_batch
    from collector.ingest import RequestContext, ingest
    from collector.pii import PiiHasher
    from collector.routing import route_events

    limits, hasher = BodyLimits(), PiiHasher(PII_SECRET.encode())
    pending: dict[str, list[Step]] = {app: [] for app in apps}

    def flush(app: str) -> Iterator[tuple[int, bool, list[Any]]]:
        batch, pending[app] = pending[app], []
        if not batch:
            return
        last = batch[-1].at
        body = orjson.dumps({"sent_at": int((last + timedelta(milliseconds=200)).timestamp() * 1000),
                             "events": [sdk_event(s) for s in batch]})
        sent_at, raw = parse_batch(body, limits)
        result = ingest(raw, sent_at, RequestContext(app, last + timedelta(milliseconds=350), "10.0.0.1", UA),
                        limits, hasher)
        if result.rejected:
            msg = f"the collector rejected a history event: {result.rejected[0]}"
            raise RuntimeError(msg)
        yield len(batch), False, route_events(legacy_scenes(result.accepted) if legacy else result.accepted, topic)

    for step in steps:
        app = _app_of(step, apps)
        if step.type == "ad_click":
            yield from flush(app)
            yield 1, True, route_events([webhook_click(step, app)], topic)
        else:
            pending[app].append(step)
            if len(pending[app]) >= BATCH:
                yield from flush(app)
    for app in apps:
        yield from flush(app)


async def prefill_history(bootstrap: str, topic: str, deadletter: str, apps: list[str], people: int,
                          days: float, legacy: bool = False) -> dict[str, Any]:
    """`history_requests` of a random history, sent to `topic`."""
    steps = time_order(random_history(7, people=people, days=days))
    clicks = 0

    def requests() -> Iterator[tuple[int, list[Any]]]:
        nonlocal clicks
        for events, click, records in history_requests(steps, apps, topic, legacy):
            clicks += click
            yield events, records

    sent = await produce(bootstrap, topic, deadletter, requests())
    return {"events": sent["events"], "records": sent["records"], "ad_clicks": clicks, "people": people,
            "days": days, "span_days": (steps[-1].at - steps[0].at).total_seconds() / 86_400 if steps else 0.0}


def floor_run(bootstrap: str, topic: str, events: int, tmp: Path, run: int) -> dict[str, Any]:
    spec = {"bootstrap": bootstrap, "topic": topic, "group": f"bench-floor-{os.getpid()}-{run}",
            "db_dir": str(tmp / f"chdb-floor-{run}"), "events": events, "timeout_s": 300}
    return _subprocess([sys.executable, "-m", "loadtests.floor_consumer", orjson.dumps(spec).decode()], "floor")


def peer_run(bootstrap: str, topic: str, events: int, tmp: Path, run: int) -> dict[str, Any]:
    spec = {"bootstrap": bootstrap, "topic": topic, "group": f"bench-peer-{os.getpid()}-{run}",
            "db_dir": str(tmp / f"chdb-peer-{run}"), "state_dir": str(tmp / f"quix-state-{run}"), "events": events,
            "idle_timeout_s": 60}
    script = str(Path(__file__).resolve().with_name("quix_peer.py"))
    return _subprocess([str(PEER_PYTHON), script, orjson.dumps(spec).decode()], "peer")


def peer_missing() -> str:
    """Why the peer cannot run here, or '' when it can."""
    if not PEER_PYTHON.exists():
        return f"{PEER_PYTHON} is missing: `make bench-stream` creates it (from loadtests/peer-requirements.txt)"
    out = subprocess.run([str(PEER_PYTHON), "-c", "import quixstreams, chdb"], capture_output=True, text=True,
                         timeout=120, check=False)
    return "" if out.returncode == 0 else f"the peer venv cannot import quixstreams/chdb: {out.stderr[-500:]}"


def _subprocess(argv: list[str], what: str) -> dict[str, Any]:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        msg = f"the {what} run failed ({out.returncode}):\n{out.stderr[-3000:]}\n{out.stdout[-1000:]}"
        raise RuntimeError(msg)
    result: dict[str, Any] = orjson.loads(lines[-1])
    log(f"(a) {what}: {result['events']:,} events, {result['events_per_cpu_s']:,.0f} events per CPU-second, "
        f"{result['cpu_s']:.1f} CPU s, {result['wall_s']:.1f} s wall"
        + (f", {result['credit_rows']:,} credit rows" if "credit_rows" in result else ""))
    return result


def attempt(runs: list[dict[str, Any]], notes: dict[str, str], what: str, run: Callable[[], dict[str, Any]]) -> None:
    try:
        runs.append(run())
    except RuntimeError as exc:
        notes[what] = str(exc)[-800:]
        log(f"(a) the {what} failed; it is left out of the next rounds: {notes[what]}")


def med(runs: list[dict[str, Any]], key: str = "events_per_cpu_s") -> float:
    return median([float(r[key]) for r in runs])


def _pct(a: float, b: float) -> str:
    return f"{a / b * 100:.0f}%" if b and a == a and b == b else "–"


def print_extras(live: dict[str, list[dict[str, Any]]], catchup: dict[str, list[dict[str, Any]]],
                 catchup_fill: dict[str, Any], floor: list[dict[str, Any]], peer: list[dict[str, Any]],
                 notes: dict[str, str]) -> None:
    """Catch-up vs live per side, the floor consumer and the peer against the processor(s)."""
    if catchup_fill:
        print(f"Catch-up stream: {catchup_fill['events']:,} events ({catchup_fill['ad_clicks']:,} ad clicks through "
              f"the webhook route) of {catchup_fill['people']:,} people whose first visits spread over "
              f"{catchup_fill['days']:g} days (the history spans {catchup_fill['span_days']:.0f}), "
              f"{catchup_fill['records']:,} records, processed in one go:\n")
        rows = []
        for side, runs in catchup.items():
            if not runs or not live.get(side):
                continue
            c, lv = med(runs), med(live[side])
            ok = "meets" if c >= CATCHUP_TARGET * lv else "misses"
            rows.append([side, lv, c, ", ".join(f"{r['events_per_cpu_s']:,.0f}" for r in runs),
                         f"{c / lv * 100:.0f}% ({ok} ≥ {CATCHUP_TARGET * 100:.0f}%)",
                         med(runs, "peak_rss_mb"), med(runs, "credit_rows")])
        print(md_table(["processor", "live events per CPU-s", "catch-up events per CPU-s", "catch-up runs",
                        "catch-up / live", "catch-up peak RSS MiB", "credit rows"], rows) + "\n")
        if "baseline" in catchup and catchup["baseline"] and catchup.get("this tree"):
            print(f"Catch-up, this tree / baseline: {med(catchup['this tree']) / med(catchup['baseline']):.2f}×\n")
    if floor:
        f = med(floor)
        floor_runs = ", ".join(f"{r['events_per_cpu_s']:,.0f}" for r in floor)
        shares = "; ".join(f"{side} processor reaches {_pct(med(r), f)} of it" for side, r in live.items() if r)
        print(f"Floor consumer (poll, decode, events rows only, the project's writer), same live topic: "
              f"**{f:,.0f} events per CPU-second** (runs: {floor_runs}); {shares}.\n")
    if peer:
        p = med(peer)
        rows = [["Quix Streams peer (last touch, RocksDB, repartition)", p,
                 ", ".join(f"{r['events_per_cpu_s']:,.0f}" for r in peer), med(peer, "credit_rows"), "1.00×"]]
        rows += [[f"processor, {side}", med(runs), ", ".join(f"{r['events_per_cpu_s']:,.0f}" for r in runs),
                  med(runs, "credit_rows"),
                  f"{med(runs) / p:.2f}× ({'meets' if med(runs) >= PEER_TARGET * p else 'misses'} ≥ 1×)"]
                 for side, runs in live.items() if runs]
        print("Peer on the same pre-filled records, in the same rounds (events per CPU-second of its process, "
              "from its first record):\n")
        print(md_table(["job", "events per CPU-s (median)", "runs", "credit rows", "vs the peer"], rows) + "\n")
        print(f"The peer writes one credit row per purchase ({med(peer, 'purchases'):,.0f} purchases seen); the "
              "processor's credit rows are every model's, restatements included.\n")
    for what, note in notes.items():
        if note:
            print(f"The {what} did not run (or stopped): {note}\n")
