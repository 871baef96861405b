"""Broker faults under load, end to end: real broker, real collector and processor processes, real chDB.

Each test owns its broker (own ports and data folder), so stopping it disturbs no other test. The load driver
(tests/integration/ledger.py) keeps a ledger of every event id that got a 2xx; at the end every acknowledged
id must be in `events` exactly once (count vs uniqExact, without FINAL), and nothing unknown.

The seconds from the broker accepting connections to the first 200 are printed (`-s` shows them) for the
issue's note; the only bound asserted is the issue's functional one, 15 s.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, unique
from tests.integration.broker import Broker
from tests.integration.harness import Service, scalar, sql, wait_for
from tests.integration.ledger import Driver, Ledger, check_stored

pytestmark = pytest.mark.integration

KEY = "wk_shop_0123456789"
RESUME_BOUND_S = 15.0  # issue 10: 200s resume within 15 s of the broker accepting connections
KNOWN_CAUSES = {"kafka_timeout", "kafka_refused", "producer_replaced", "producer_recovering", "overloaded"}


@dataclass
class Pipeline:
    broker: Broker
    base: str
    endpoint: str
    collector: Service
    stream: Service


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    broker = Broker(tmp_path / "kafka")
    broker.run("up")
    collector_port, query_port = free_port(), free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "KAFKA_EVENTS_TOPIC": unique("events"),
        "KAFKA_DEADLETTER_TOPIC": unique("deadletter"),
        "STREAM_GROUP_ID": unique("group"),
        "CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}",
        "COLLECTOR_WRITE_KEYS": f"shop:{KEY}",
        "COLLECTOR_PORT": str(collector_port),
        "STREAM_QUERY_PORT": str(query_port),
        "STREAM_FLUSH_INTERVAL_S": "0.3",
    }
    collector = Service("collector", env, tmp_path / "collector.log").start()
    stream = Service("stream", env, tmp_path / "stream.log").start()
    p = Pipeline(broker, f"http://127.0.0.1:{collector_port}", f"http://127.0.0.1:{query_port}/v1/query",
                 collector, stream)
    try:
        wait_for(lambda: httpx.get(f"{p.base}/readyz").status_code == 200, 60, "collector ready", collector)
        wait_for(lambda: scalar(p.endpoint, "SELECT 1") == 1, 60, "stream query endpoint", stream)
        yield p
    finally:
        collector.stop()
        stream.stop()
        broker.run("down")


def accepting(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


async def poll_readyz(base: str, broker_port: int, stop: asyncio.Event, out: list[tuple[float, int, bool]]) -> None:
    """Polls /readyz; each answer is marked `down` when the broker's port refused connections before and after
    it (so the broker was down for the whole request: `kafka.sh up` only notices a started broker later)."""
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        for _ in range(2_000):  # bounded; at 0.25 s a poll that is 500 s, far above any outage here
            if stop.is_set():
                return
            before = await asyncio.to_thread(accepting, broker_port)
            try:
                status = (await http.get("/readyz")).status_code
            except httpx.HTTPError:
                status = 0
            after = await asyncio.to_thread(accepting, broker_port)
            out.append((time.monotonic(), status, not before and not after))
            await asyncio.sleep(0.25)


@dataclass
class Outage:
    down_at: float  # `kafka.sh down` returned: the broker is gone
    up_at: float  # `kafka.sh up` returned: the broker accepts connections
    readyz: list[tuple[float, int, bool]]

    def readyz_while_down(self) -> list[int]:
        return [status for _, status, down in self.readyz if down]


async def outage(p: Pipeline, seconds_down: float) -> Outage:
    """Stop the broker, keep it down for `seconds_down` (beyond the time `up` itself takes), start it again."""
    polls: list[tuple[float, int, bool]] = []
    stop = asyncio.Event()
    poller = asyncio.create_task(poll_readyz(p.base, p.broker.port, stop, polls))
    await asyncio.to_thread(p.broker.run, "down")
    down_at = time.monotonic()
    await asyncio.sleep(seconds_down)
    await asyncio.to_thread(p.broker.run, "up")
    up_at = time.monotonic()
    stop.set()
    await poller
    return Outage(down_at, up_at, polls)


def check_resumed(ledger: Ledger, o: Outage, until: float) -> float:
    """Seconds to the first 200 after the broker accepted connections; from 15 s on, nothing but 2xx."""
    resumed = ledger.first_ok_after(o.up_at)
    assert resumed is not None, f"no 200 after the broker came back; statuses {ledger.statuses()}"
    assert resumed <= RESUME_BOUND_S, f"the first 200 came {resumed:.1f}s after the broker was back"
    late = [s for at, s in ledger.answers if o.up_at + RESUME_BOUND_S <= at < until and not 200 <= s < 300]
    assert late == [], f"{len(late)} non-2xx answers more than 15 s after the broker was back: {late[:10]}"
    return resumed


def metric_503s(base: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        if line.startswith("touchstream_collector_unavailable_total{"):
            labels, value = line.rsplit(" ", 1)
            out[labels.split('cause="', 1)[1].split('"', 1)[0]] = float(value)
    return out


def check_everything_stored_once(p: Pipeline, ledger: Ledger) -> tuple[int, int]:
    wait_for(lambda: scalar(p.endpoint, "SELECT uniqExact(event_id) FROM events") >= len(ledger.acked), 90,
             f"{len(ledger.acked)} acknowledged events in ClickHouse", p.stream)
    total, distinct = sql(p.endpoint, "SELECT count(), uniqExact(event_id) FROM events")[0]
    assert total == distinct, f"{total - distinct} duplicate rows in events (no FINAL)"
    rows = sql(p.endpoint, "SELECT event_id, count() FROM events GROUP BY event_id")
    check_stored(ledger, [(str(event_id), int(n)) for event_id, n in rows])
    return int(total), int(distinct)


def check_503s_counted(p: Pipeline, ledger: Ledger) -> dict[str, float]:
    # Only the driver publishes, so the counter must equal the 503s it saw (readyz polls are not counted).
    counted = metric_503s(p.base)
    assert set(counted) <= KNOWN_CAUSES, counted
    assert sum(counted.values()) == ledger.statuses()[503], (counted, ledger.statuses())
    return counted


def report(name: str, ledger: Ledger, windows: list[float], stored: tuple[int, int], causes: dict[str, float]) -> None:
    print(  # the note wants these numbers; `pytest -s` shows them
        f"\n[{name}] 503 window after each broker start (s to first 200): {[round(w, 2) for w in windows]}; "
        f"ledger sent={len(ledger.sent)} acked={len(ledger.acked)} stored rows={stored[0]} "
        f"distinct={stored[1]}; statuses={dict(ledger.statuses())}; 503s by cause={causes}"
    )


async def test_two_broker_restarts_under_load_lose_nothing_and_double_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    driver = Driver(p.base, KEY, clients=8, batch_size=10, make_events=_events).start()
    await asyncio.sleep(3)
    first = await outage(p, seconds_down=0)
    await asyncio.sleep(10)  # the second restart 10 s after the first broker start
    second = await outage(p, seconds_down=0)
    await asyncio.sleep(RESUME_BOUND_S + 3)
    ledger = await driver.finish()
    end = time.monotonic()

    for o in (first, second):
        while_down = o.readyz_while_down()
        assert while_down, "readyz was never polled while the broker was down"
        assert set(while_down) == {503}, f"readyz while the broker was down: {while_down}"
    windows = [check_resumed(ledger, first, second.down_at), check_resumed(ledger, second, end)]
    assert ledger.statuses()[503] > 0  # the outage was felt: a test that cannot see one proves nothing
    causes = check_503s_counted(p, ledger)
    stored = check_everything_stored_once(p, ledger)
    report("two restarts", ledger, windows, stored, causes)


async def test_broker_stopped_for_30s_under_load_loses_nothing_and_doubles_nothing(pipeline: Pipeline) -> None:
    p = pipeline
    driver = Driver(p.base, KEY, clients=8, batch_size=10, make_events=_events).start()
    await asyncio.sleep(3)
    o = await outage(p, seconds_down=30)
    await asyncio.sleep(RESUME_BOUND_S + 3)
    ledger = await driver.finish()
    end = time.monotonic()

    while_down = o.readyz_while_down()
    assert len(while_down) > 50, f"only {len(while_down)} readyz polls during a 30 s outage"
    assert set(while_down) == {503}, f"readyz while the broker was down: {sorted(set(while_down))}"
    window = check_resumed(ledger, o, end)
    assert ledger.statuses()[503] > 0
    causes = check_503s_counted(p, ledger)
    stored = check_everything_stored_once(p, ledger)
    report("30 s stop", ledger, [window], stored, causes)


_RUN = uuid.uuid4().hex[:6]


def _events(prefix: str, n: int) -> list[dict[str, object]]:
    # Ids unique to this run, so a stored id that was never sent here cannot hide behind another run's.
    return [
        {"event_id": f"{_RUN}-{prefix}-{i}", "type": "page_view", "timestamp": "2026-11-20T10:00:00Z",
         "anonymous_id": f"dev-{prefix.split('-')[0]}"}
        for i in range(n)
    ]
