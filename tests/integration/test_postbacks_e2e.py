"""Conversion postbacks end to end: the real collector (webhook clicks, SDK batches), the real broker, the stream
processor on chDB with its HTTP side, the `touchstream postbacks` worker as a real process, and fake Tencent /
Ocean Engine HTTPS servers on loopback that keep a ledger of what they received (tests/integration/postback_fakes.py).

The oracle: every conversion the rule gives an integration has exactly one intent; each fake case received
exactly the requests its script implies (a success is never sent again), with the intent id as Tencent's
`outer_action_id` on every one; the recorded statuses match what the fake answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from prometheus_client import CollectorRegistry

from schemas.events import format_timestamp
from stream.channels import default_taxonomy
from stream.consumer import StreamRunner
from stream.journeys.config import AttributionConfig
from stream.journeys.engine import AppEngine
from stream.metrics import StreamMetrics
from stream.postbacks.decide import intent_id_of
from stream.postbacks.hook import JourneyFactory
from stream.postbacks.load import load_postbacks
from stream.query_server import create_query_app
from stream.store import connect
from stream.writer import ClickHouseWriter
from tests.integration.harness import ROOT, TEST_SQL_KEY, Service
from tests.integration.pipeline import collector_client, send, stream_settings
from tests.integration.postback_fakes import FakePlatforms, Reply, fake_platforms
from tests.integration.report_server import serve_app

pytestmark = pytest.mark.integration

TX_TOKEN = "tok_tx_postbacks_0123456789"
IDS_TOKEN = "tok_tx_click_ids_0123456789"
OE_TOKEN = "tok_oe_postbacks_0123456789"
ACCESS_TOKEN = "tx-access-token-SECRET-42"
ANALYST = "analyst-key-postbacks-0123"
WECHAT_APP = "wx0123456789abcdef"
NOW = datetime.now(UTC).replace(microsecond=0)


def write_apps(path: Path) -> Path:
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": ["wk_shop_0123456789"], "analyst_keys": [ANALYST],
        "integrations": [
            {"id": "tx-pb", "platform": "tencent_ads", "token": TX_TOKEN, "channel": "tencent_ads",
             "postback": {"wechat_app_id": WECHAT_APP, "access_token_env": "TX_PB_TOKEN"}},
            {"id": "tx-ids", "platform": "tencent_ads", "token": IDS_TOKEN, "channel": "tencent_ads",
             "postback": {"mode": "click_id", "account_id": 25610001, "user_action_set_id": 1100,
                          "wechat_app_id": WECHAT_APP, "access_token_env": "TX_PB_TOKEN"}},
            {"id": "oe-pb", "platform": "ocean_engine", "token": OE_TOKEN, "channel": "ocean_engine",
             "postback": {"enabled": True}},
        ],
    }]}))
    return path


@dataclass
class Pipeline:
    client: httpx.AsyncClient  # the collector
    writer: ClickHouseWriter
    base: str  # the processor's HTTP side
    fake: FakePlatforms
    worker_env: dict[str, str]
    logs: Path

    def worker(self, name: str) -> Service:
        return Service("postbacks", self.worker_env, self.logs / f"{name}.log").start(ROOT)

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return await self.writer.query(sql)


@contextlib.asynccontextmanager
async def pipeline(kafka_bootstrap: str, topics: dict[str, str], clickhouse: Any, chdb_path: Path,
                   tmp_path: Path) -> AsyncIterator[Pipeline]:
    apps = write_apps(tmp_path / "apps.json")
    writer = ClickHouseWriter(clickhouse)
    taxonomy, config = default_taxonomy(), AttributionConfig()
    engines = JourneyFactory(lambda app: AppEngine(app, config, taxonomy), load_postbacks(apps))
    runner = StreamRunner(stream_settings(kafka_bootstrap, topics), writer, StreamMetrics(), engines)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    query_client = connect(f"chdb://{chdb_path}", clickhouse.test_database)
    app = create_query_app(query_client, 10_000, 30, CollectorRegistry(), analyst_keys={ANALYST: ("shop",)},
                           sql_key=TEST_SQL_KEY)
    try:
        with fake_platforms(tmp_path) as (fake, cert), serve_app(app) as base:
            env = {
                "STREAM_APPS_FILE": str(apps), "POSTBACK_PROCESSOR_URL": base, "TX_PB_TOKEN": ACCESS_TOKEN,
                "POSTBACK_ALLOWED_HOSTS": '["127.0.0.1"]', "POSTBACK_CA_FILE": str(cert),
                "POSTBACK_TENCENT_API": f"{fake.base}/v3.0/user_actions/add",
                "POSTBACK_OCEAN_ENGINE_API": f"{fake.base}/api/v2/conversion",
                "POSTBACK_TIMEOUT_S": "1", "POSTBACK_POLL_S": "0.2", "POSTBACK_RETRY_INITIAL_S": "0.2",
            }
            async with collector_client(kafka_bootstrap, topics, collector_apps_file=apps) as client:
                yield Pipeline(client, writer, base, fake, env, tmp_path)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 30)


async def until(probe: Callable[[], Any], what: str, timeout_s: float = 40, service: Service | None = None) -> Any:
    """Polls without blocking the event loop (the stream processor runs in it)."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if service is not None and not service.alive():
            raise AssertionError(f"the worker exited while waiting for {what}:\n{service.logs()}")
        await asyncio.sleep(0.1)
    detail = f"\n{service.logs()}" if service is not None else ""
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last {last!r}){detail}")


def ts(minutes: float) -> str:
    return format_timestamp(NOW - timedelta(hours=2) + timedelta(minutes=minutes))


async def tencent_journey(
    p: Pipeline, case: str, minutes: float, callback: str | None = None, integration: str = "tx-pb"
) -> None:
    """A Tencent click (webhook), the visit it brings, a first order of 19.99 yuan."""
    url = callback if callback is not None else f"{p.fake.base}/tx/{case}"
    click_time = int((NOW - timedelta(hours=2) + timedelta(minutes=minutes)).timestamp())
    token = TX_TOKEN if integration == "tx-pb" else IDS_TOKEN
    hook = (f"/v1/webhooks/{integration}/click?token={token}&click_id=ck-{case}&click_time={click_time}"
            f"&adgroup_id=77&callback={quote(url, safe='')}")
    assert (await p.client.get(hook)).status_code == 200
    await send(p.client, "shop", [
        {"event_id": f"v-{case}", "type": "enter", "timestamp": ts(minutes + 1), "anonymous_id": f"d-{case}",
         "openid": f"o-{case}", "context": {"scene": 1045, "query": {"gdt_vid": f"ck-{case}"}}},
        {"event_id": f"b-{case}", "type": "convert", "timestamp": ts(minutes + 5), "anonymous_id": f"d-{case}",
         "openid": f"o-{case}", "properties": {"order_id": f"A-{case}", "revenue": "19.99", "currency": "CNY"}},
    ])


async def ocean_journey(p: Pipeline, case: str, minutes: float) -> None:
    click_ms = int((NOW - timedelta(hours=2) + timedelta(minutes=minutes)).timestamp() * 1000)
    hook = f"/v1/webhooks/oe-pb/click?token={OE_TOKEN}&clickid=ck-{case}&ts={click_ms}&callback_param={case}"
    assert (await p.client.get(hook)).status_code == 200
    await send(p.client, "shop", [
        {"event_id": f"v-{case}", "type": "enter", "timestamp": ts(minutes + 1), "anonymous_id": f"d-{case}",
         "openid": f"o-{case}", "context": {"scene": 1045, "query": {"clickid": f"ck-{case}"}}},
        {"event_id": f"b-{case}", "type": "convert", "timestamp": ts(minutes + 5), "anonymous_id": f"d-{case}",
         "openid": f"o-{case}", "properties": {"order_id": f"A-{case}", "revenue": "5.50", "currency": "CNY"}},
    ])


def outer_ids(received: list[Any]) -> list[str]:
    return [a["outer_action_id"] for r in received for a in r.body["actions"]]


async def statuses(p: Pipeline) -> dict[str, str]:
    rows = await p.rows("SELECT conversion_id, status FROM postbacks_current WHERE app_id = 'shop'")
    return {conversion: status for conversion, status in rows}


TX_CASES = ("ok", "r500", "slow", "r429", "code", "redirect", "disallowed")
IDS_CASES = ("ids1", "ids2", "ids3")  # click-id mode: one batched request
FINAL = {"ok": "success", "r500": "success", "slow": "success", "r429": "success", "code": "failed",
         "redirect": "failed", "disallowed": "failed", "oe": "success", **dict.fromkeys(IDS_CASES, "success")}
CLICK_ID_API = "/v3.0/user_actions/add"


async def test_postbacks_arrive_once_through_every_fault(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, chdb_path, tmp_path
) -> None:
    async with pipeline(kafka_bootstrap, topics, clickhouse, chdb_path, tmp_path) as p:
        fake = p.fake
        fake.scripts = {
            "r500": [Reply(500, {"message": "busy"})],
            "slow": [Reply(delay_s=2.5)],  # past the worker's 1 s timeout: retried
            "r429": [Reply(429, {"code": 11019, "message": "too many"}, {"Retry-After": "1"})],
            "code": [Reply(200, {"code": 20002, "message": "CONV_ID_ILLEGAL"})],
            "redirect": [Reply(302, {}, {"Location": f"{fake.base}/tx/sink"})] * 2,
        }
        for i, case in enumerate(TX_CASES):
            callback = "https://blocked.example.test/tx/disallowed" if case == "disallowed" else None
            await tencent_journey(p, case, i * 10, callback)
        await ocean_journey(p, "oe", 90)
        for i, case in enumerate(IDS_CASES):
            await tencent_journey(p, case, 100 + i, integration="tx-ids")
        await until(lambda: _count_intents(p, 11), "11 intents")
        worker = p.worker("worker")
        try:
            await until(lambda: _settled(p, FINAL), "every case settled", 60, worker)
        finally:
            worker.stop()

        got = {case: fake.received(case) for case in (*TX_CASES, "oe", "/tx/sink", CLICK_ID_API)}
        assert {c: len(r) for c, r in got.items()} == {
            "ok": 1, "r500": 2, "slow": 2, "r429": 2, "code": 1, "redirect": 1, "disallowed": 0, "oe": 1,
            "/tx/sink": 0, CLICK_ID_API: 1,
        }
        assert len(fake.ledger) == 11  # nothing anywhere else (the blocked host was never resolved or called)
        [batch] = got[CLICK_ID_API]
        assert batch.query.startswith(f"access_token={ACCESS_TOKEN}&timestamp=")
        assert (batch.body["account_id"], batch.body["user_action_set_id"]) == (25610001, 1100)
        assert sorted(outer_ids([batch])) == sorted(
            intent_id_of("shop", "tx-ids", f"order:A-{c}", "COMPLETE_ORDER") for c in IDS_CASES)
        assert sorted(a["trace"]["click_id"] for a in batch.body["actions"]) == [f"ck-{c}" for c in IDS_CASES]
        for case in TX_CASES[:-1]:
            expected = intent_id_of("shop", "tx-pb", f"order:A-{case}", "COMPLETE_ORDER")
            assert outer_ids(got[case]) == [expected] * len(got[case])  # a retry is the same action for Tencent
        [ok] = got["ok"]
        assert ok.headers["access-token"] == ACCESS_TOKEN
        assert abs(int(ok.headers["timestamp"]) - time.time()) < 300 and len(ok.headers["nonce"]) == 32
        action = ok.body["actions"][0]
        conversion_at = NOW - timedelta(hours=2) + timedelta(minutes=5)
        assert action == {
            "outer_action_id": intent_id_of("shop", "tx-pb", "order:A-ok", "COMPLETE_ORDER"),
            "action_time": int(conversion_at.timestamp()), "action_type": "COMPLETE_ORDER",
            "user_id": {"wechat_openid": "o-ok", "wechat_app_id": WECHAT_APP}, "action_param": {"value": 1999},
        }
        [oe] = got["oe"]
        assert oe.body == {"event_type": "active_pay", "context": {"ad": {"callback": "oe"}},
                           "timestamp": int((conversion_at + timedelta(minutes=90)).timestamp() * 1000),
                           "properties": {"pay_amount": "5.5"}}
        assert got["r429"][1].at - got["r429"][0].at >= 1.0  # Retry-After honoured

        errors = dict(await p.rows(
            "SELECT c.conversion_id, a.message FROM postback_attempts a JOIN postbacks_current c "
            "ON a.intent_id = c.intent_id WHERE a.status = 'failed'"))
        assert errors["order:A-code"] == "CONV_ID_ILLEGAL"
        assert errors["order:A-redirect"].startswith(f"redirect to {fake.base}/tx/sink not followed")
        assert "not an allowed platform host" in errors["order:A-disallowed"]
        leaked = await p.rows(f"SELECT count() FROM postback_attempts WHERE position(message, '{ACCESS_TOKEN}') > 0")
        assert leaked == [(0,)]

        # A late share visit between the click and the order re-attributes it: no second postback, reported.
        await send(p.client, "shop", [{
            "event_id": "late-share", "type": "enter", "timestamp": ts(3), "anonymous_id": "d-ok", "openid": "o-ok",
            "context": {"scene": 1007, "share": {"from": "friend", "depth": 1}}}])
        await until(lambda: _reattributed(p), "the re-attribution mark")
        worker = p.worker("worker-2")
        try:
            # The operator fixes the `code` case and re-queues failures once; the worker resends them once.
            retry = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "touchstream.cli", "postbacks", "retry", "--failed", "--since",
                NOW.date().isoformat(), env={**os.environ, **p.worker_env, "STREAM_SQL_KEY": TEST_SQL_KEY},
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(retry.communicate(), 60)
            assert out.decode().strip() == "re-queued 3 postback(s)", out  # code, redirect, disallowed
            await until(lambda: _settled(p, {**FINAL, "code": "success"}), "the re-queued ones", 60, worker)
        finally:
            worker.stop()
        assert len(fake.received("ok")) == 1 and len(fake.received("code")) == 2
        assert len(fake.received("redirect")) == 2 and fake.received("/tx/sink") == []

        since = (NOW - timedelta(days=1)).date().isoformat()  # decisions are dated by event time, 2 h back
        report = httpx.get(f"{p.base}/v1/reports/postbacks", params={"app": "shop", "from": since},
                           headers={"Authorization": f"Bearer {ANALYST}"}, timeout=30).json()
        # Rows are per day of the decision: within ~2 h after midnight UTC the cases straddle two days.
        counted: Counter[tuple[str, str]] = Counter()
        for r in report["statuses"]:
            counted[(r["integration_id"], r["status"])] += r["intents"]
        assert counted == {("tx-pb", "success"): 5, ("tx-pb", "failed"): 2, ("oe-pb", "success"): 1,
                           ("tx-ids", "success"): 3}
        assert [r["conversion_id"] for r in report["reattributed"]] == ["order:A-ok"]
        assert {r["message"] for r in report["last_errors"]} >= {"busy", "timeout", "CONV_ID_ILLEGAL"}
        assert {r["integration_id"] for r in report["latency"]} == {"tx-pb", "oe-pb", "tx-ids"}
        metrics = httpx.get(f"{p.base}/metrics", timeout=30).text
        # Successes: ok, r500, slow, r429, code (after the retry) and the three click-id actions; Ocean Engine's one.
        assert 'touchstream_postback_outcomes_total{outcome="success",platform="tencent_ads"} 8.0' in metrics
        assert 'touchstream_postback_outcomes_total{outcome="success",platform="ocean_engine"} 1.0' in metrics
        assert 'touchstream_postback_outcomes_total{outcome="failed",platform="tencent_ads"} 5.0' in metrics


async def _count_intents(p: Pipeline, want: int) -> bool:
    return bool((await p.rows("SELECT uniqExact(intent_id) FROM postback_intents"))[0][0] == want)


async def _settled(p: Pipeline, want: dict[str, str]) -> bool:
    got = await statuses(p)
    return got == {f"order:A-{case}": status for case, status in want.items()}


async def _reattributed(p: Pipeline) -> bool:
    rows = await p.rows("SELECT conversion_id FROM postbacks_current WHERE reattributed = 1")
    return rows == [("order:A-ok",)]


async def test_a_worker_killed_between_send_and_record(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, chdb_path, tmp_path
) -> None:
    """kill -9 while the platform holds its answer: Tencent gets the intent at most twice (the same
    outer_action_id, its dedup key), Ocean Engine at most once (no dedup key: never resent)."""
    import threading

    async with pipeline(kafka_bootstrap, topics, clickhouse, chdb_path, tmp_path) as p:
        tx_hold, oe_hold = threading.Event(), threading.Event()
        p.fake.scripts = {"hold": [Reply(hold=tx_hold)], "oe-hold": [Reply(hold=oe_hold)]}
        await tencent_journey(p, "hold", 0)
        await until(lambda: _count_intents(p, 1), "the Tencent intent")
        await ocean_journey(p, "oe-hold", 30)  # decided later: sent after the Tencent one
        await until(lambda: _count_intents(p, 2), "the Ocean Engine intent")

        first = p.worker("w1")
        await until(lambda: len(p.fake.received("hold")) == 1, "Tencent's held request", 40, first)
        first.kill9()
        tx_hold.set()
        second = p.worker("w2")
        await until(lambda: len(p.fake.received("oe-hold")) == 1, "Ocean Engine's held request", 40, second)
        second.kill9()
        oe_hold.set()
        third = p.worker("w3")
        try:
            await until(lambda: _settled(p, {"hold": "success", "oe-hold": "unknown"}), "both settled", 40, third)
            await asyncio.sleep(1.0)  # a few more cycles of the worker: nothing else may go out
        finally:
            third.stop()
        tencent = p.fake.received("hold")
        assert outer_ids(tencent) == [intent_id_of("shop", "tx-pb", "order:A-hold", "COMPLETE_ORDER")] * 2
        assert len(p.fake.received("oe-hold")) == 1
        assert len(p.fake.ledger) == 3
        kinds = [s for (s,) in await p.rows(
            "SELECT status FROM postback_attempts WHERE platform = 'ocean_engine' ORDER BY seq")]
        assert kinds == ["sending", "unknown"]
