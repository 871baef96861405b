"""The pure parts of the A/B benchmarks: the floor collector's answer, the ceiling worker's imports, the catch-up
stream's app per person, the baseline record form of scenes, the report's ratios and where a run keeps its data."""

from __future__ import annotations

import asyncio
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

import loadtests.common as common
from loadtests.ceiling import WORKER, make_bodies
from loadtests.collector_report import ratio, verdict
from loadtests.floor_collector import FloorApp
from loadtests.stream_extras import _app_of
from loadtests.stream_throughput import legacy_scenes
from tests.histories import random_history, time_order
from tests.integration.harness import ROOT


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes) -> Any:
        self.sent.append((topic, value, key))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_floor_collector_sends_the_body_as_one_record_and_answers_all_accepted() -> None:
    app = FloorApp("127.0.0.1:1", "t.events")
    producer = FakeProducer()
    app.producer = producer
    body = orjson.dumps({"sent_at": 1, "events": [{"event_id": "a"}, {"event_id": "b"}, {"event_id": "c"}]})
    chunks = [{"type": "http.request", "body": body[:10], "more_body": True},
              {"type": "http.request", "body": body[10:], "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return chunks.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "path": "/v1/batch"}, receive, send)
    assert producer.sent == [("t.events", body, b"floor")]
    answer = b'{"accepted":3,"rejected":[]}'
    assert sent == [
        {"type": "http.response.start", "status": 200,
         "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]},
        {"type": "http.response.body", "body": answer},
    ]


def run_worker(tmp_path: Path, mode: str) -> dict[str, Any]:
    bodies = tmp_path / "bodies.jsonl"
    bodies.write_bytes(b"\n".join(make_bodies(n=6, size=10)))
    spec = {"root": str(ROOT), "mode": mode, "bodies": str(bodies), "iterations": 4, "cpu": 0}
    out = subprocess.run([sys.executable, str(WORKER), orjson.dumps(spec).decode()], capture_output=True, text=True,
                         timeout=120, check=True, cwd=ROOT)
    result: dict[str, Any] = orjson.loads(out.stdout)
    return result


def test_the_ceiling_worker_imports_the_collector_of_the_root_it_is_given_and_counts_every_event(
    tmp_path: Path,
) -> None:
    product = run_worker(tmp_path, "product")
    assert product["collector_file"] == str(ROOT / "collector" / "__init__.py")
    assert (product["events"], product["mode"], product["root"]) == (40, "product", str(ROOT))
    floor = run_worker(tmp_path, "floor")
    assert (floor["events"], floor["collector_file"]) == (40, "")


def test_each_person_of_a_history_stays_on_one_app_and_every_app_gets_people() -> None:
    apps = ["a0", "a1", "a2"]
    history = random_history(3, people=30, days=5)
    for person in history:
        assert len({_app_of(step, apps) for step in person}) == 1
    assert {_app_of(step, apps) for step in time_order(history)} == set(apps)


def test_legacy_scenes_turns_wechat_scene_text_back_into_integers_only() -> None:
    events: list[dict[str, Any]] = [
        {"context": {"platform": "wechat", "scene": "1045"}},
        {"context": {"scene": "1007"}},
        {"context": {"platform": "douyin", "scene": "021001"}},
        {"context": {"platform": "baidu", "scene": "NA"}},
        {"context": {}},
        {},
    ]
    assert legacy_scenes(events) == [
        {"context": {"platform": "wechat", "scene": 1045}},
        {"context": {"scene": 1007}},
        {"context": {"platform": "douyin", "scene": "021001"}},
        {"context": {"platform": "baidu", "scene": "NA"}},
        {"context": {}},
        {},
    ]


def test_ratio_and_verdict_say_met_or_missed_and_leave_missing_numbers_out() -> None:
    assert ratio(30.0, 10.0) == 3.0
    assert ratio(1.0, 0.0) != ratio(1.0, 0.0)  # NaN: no baseline number
    assert verdict(3.0, 3.0) == "3.00× (meets ≥ 3×)"
    assert verdict(2.49, 2.5) == "2.49× (misses ≥ 2.5×)"
    assert verdict(float("nan"), 2.0) == "–"


def test_a_run_keeps_its_data_where_it_is_told_else_on_tmpfs_with_room_else_in_the_temp_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(common.SCRATCH_ENV, str(tmp_path))
    assert common.scratch_root() == tmp_path
    with common.temp_dir("ts-test-") as made:
        assert made.parent == tmp_path
    assert not made.exists()
    monkeypatch.delenv(common.SCRATCH_ENV)
    monkeypatch.setattr(common, "TMPFS", tmp_path)
    monkeypatch.setattr(common, "MIN_TMPFS_FREE", 0)
    assert common.scratch_root() == tmp_path
    monkeypatch.setattr(common, "MIN_TMPFS_FREE", 1 << 60)  # no filesystem has an exbibyte free
    monkeypatch.setattr("tempfile.gettempdir", lambda: "/elsewhere")
    assert common.scratch_root() == Path("/elsewhere")
    assert common.filesystem_of(Path("/proc/self")) == "proc"


def test_the_processing_benchmark_runs_a_tree_over_the_live_records_split_as_kafka_splits_them(tmp_path: Path) -> None:
    from loadtests.bench_processing import PARTITIONS, compare_rows, live_records, run

    records = live_records(300, legacy=False)
    assert sorted(records) == list(range(PARTITIONS))
    assert all(records[p] for p in records)  # the benchmark's apps cover every partition
    apps = {p: {key for _, key, _ in items} for p, items in records.items()}
    assert all(not apps[p] & apps[q] for p in apps for q in apps if p < q)  # an app's records share a partition
    (tmp_path / "records.pickle").write_bytes(pickle.dumps(records))
    result = run(ROOT, tmp_path / "records.pickle")
    assert result["events"] == 300  # every event is new and valid: one events row each
    assert result["rows"] > result["events"]  # identities, touchpoints, conversions and credits too
    assert result["cpu_s"] > 0 and result["us_per_event"] == 1e6 * result["cpu_s"] / 300
    again = run(ROOT, tmp_path / "records.pickle")
    assert again["digests"] == result["digests"] and set(result["digests"]) >= {"events", "attribution_credits"}
    assert compare_rows(result, again) == f"identical rows in all {len(result['digests'])} tables"
    changed = {**again, "digests": {**again["digests"], "events": "0" * 16}}
    assert compare_rows(result, changed).startswith("rows differ in events (")
