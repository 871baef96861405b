"""The mini-program SDK against the real collector: node drives the SDK (sdk/miniprogram) on the fake platform
with the real `fetch`-backed request, over loopback, to the collector and stream processes of the test
session's broker and chDB. Then ClickHouse must hold exactly what the collector acknowledged (nothing lost,
nothing doubled), with the launch signals the SDK captured and the channels they resolve to.

Expected channels are the taxonomy's definitions (stream/channels/taxonomy.json): a `gdt_vid` is a Tencent Ads
click, `clickid` an Ocean Engine click, the mini-program code `ch=poster_spring` the `qr_code` channel, a share
card visit (scene 1007 with a sharer) `wechat_share`.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import Service, pipeline_env, running_pipeline, scalar, sql, wait_for
from tests.unit.sdk.node_sdk import SDK_DIR, ensure_built, run_node

pytestmark = pytest.mark.integration

WRITE_KEY = "wk_test_sdk_collector_01"


@pytest.fixture
def pipeline(tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]) -> Iterator[tuple[str, str, Service]]:
    env, base, endpoint = pipeline_env(tmp_path, kafka_bootstrap, topics, WRITE_KEY)
    with running_pipeline(env, base, endpoint, tmp_path) as (_, stream):
        yield base, endpoint, stream


def rows_when(endpoint: str, query: str, count: int) -> Callable[[], list[list[Any]] | None]:
    def probe() -> list[list[Any]] | None:
        rows = sql(endpoint, query)
        return rows if len(rows) == count else None

    return probe


def test_sdk_events_reach_clickhouse_with_their_launch_signals(pipeline: tuple[str, str, Service]) -> None:
    base, endpoint, stream = pipeline
    tag = uuid.uuid4().hex[:10]
    run = orjson.loads(run_node("drive-collector", base, WRITE_KEY, tag, timeout=120))
    assert run["pending"] == 0, run
    assert set(run["statuses"]) == {200}, run["statuses"]
    sent = {e["event_id"]: e for e in run["acknowledged"]}
    a, b, d = run["devices"]["a"], run["devices"]["b"], run["devices"]["d"]
    # Device A: cold enter, page view, share, register, order, hot enter; B: enter, page view; D: enter.
    assert sorted(e["type"] for e in sent.values()) == sorted(
        ["enter", "page_view", "share", "register", "convert", "enter", "enter", "page_view", "enter"])

    # Nothing lost, nothing doubled: the raw table holds each acknowledged event exactly once.
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") >= len(sent), 60, "all events", stream)
    stored = sql(endpoint, "SELECT event_id, count() FROM events GROUP BY event_id")
    assert {row[0]: row[1] for row in stored} == dict.fromkeys(sent, 1)

    enters = {(r[0], r[1]): r[2:] for r in sql(endpoint, (
        "SELECT anonymous_id, JSONExtractString(properties, 'start'), event_id, platform, scene, query, share_from, "
        "share_depth, utm_source FROM events WHERE type = 'enter'"))}
    gdt = f"wx0{tag}"
    a_cold = enters[(a, "cold")]
    assert a_cold[1:] == ["wechat", "1045", {"gdt_vid": gdt, "weixinadinfo": f"4242.{gdt}.0.1",
                                             "utm_source": "moments"}, "", None, "moments"]
    a_hot = enters[(a, "hot")]
    assert a_hot[1:5] == ["wechat", "1047", {"scene": "ch=poster_spring"}, ""]
    b_enter = enters[(b, "cold")]
    share_event = next(e for e in sent.values() if e["type"] == "share")
    assert b_enter[1:3] == ["wechat", "1007"]
    assert b_enter[3]["share_from"] == a
    assert b_enter[3]["share_id"] == share_event["share_id"]
    assert b_enter[4:6] == [a, 1]
    d_enter = enters[(d, "cold")]
    assert d_enter[1:4] == ["douyin", "021001", {"clickid": f"oe{tag}"}]

    # The visits resolve to their channels; the gdt_vid visit is a Tencent Ads click with that click id.
    touches = dict(wait_for(rows_when(endpoint, (
        "SELECT touchpoint_id, (channel, click_id) FROM touchpoints_current"), 4), 60, "4 touchpoints", stream))
    assert touches == {
        a_cold[0]: ["tencent_ads", gdt],
        a_hot[0]: ["qr_code", ""],
        b_enter[0]: ["wechat_share", ""],
        d_enter[0]: ["ocean_engine", f"oe{tag}"],
    }

    # The order of A is a conversion, and its person is the one who came from the ad.
    conversions = wait_for(rows_when(endpoint, "SELECT conversion_id FROM conversions_current", 2), 60,
                           "2 conversions", stream)
    assert sorted(r[0] for r in conversions) == sorted([f"order:{tag}-o1", next(
        f"register:{i}" for i, e in sent.items() if e["type"] == "register")])


def test_sdk_keeps_its_events_until_a_late_collector_answers(
    tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]
) -> None:
    """The devices start while nothing listens on the collector's port (connection refused: back-off), then the
    collector comes up: every event is delivered, once."""
    env, base, endpoint = pipeline_env(tmp_path, kafka_bootstrap, topics, WRITE_KEY)
    target = ensure_built("drive-collector")
    tag = uuid.uuid4().hex[:10]
    out = tmp_path / "driver.json"
    with out.open("wb") as sink, (tmp_path / "driver.log").open("wb") as log:
        driver = subprocess.Popen(["node", str(target), base, WRITE_KEY, tag, "150"], cwd=SDK_DIR, stdout=sink,
                                  stderr=log)
    stream = Service("stream", env, tmp_path / "stream.log").start()
    collector: Service | None = None
    try:
        # Until the driver's first attempts have failed, the collector is kept down.
        wait_for(lambda: "request:fail" in (tmp_path / "driver.log").read_text(), 30, "a refused request")
        collector = Service("collector", env, tmp_path / "collector.log").start()
        assert driver.wait(170) == 0, (tmp_path / "driver.log").read_text()[-3000:]
        run = orjson.loads(out.read_bytes())
        assert run["pending"] == 0, run
        assert run["failures"] >= 1
        sent = {e["event_id"] for e in run["acknowledged"]}
        assert len(sent) == 9
        wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") >= len(sent), 60, "all events", stream)
        stored = sql(endpoint, "SELECT event_id, count() FROM events GROUP BY event_id")
        assert {row[0]: row[1] for row in stored} == dict.fromkeys(sent, 1)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(10)
        if collector is not None:
            collector.stop()
        stream.stop()
