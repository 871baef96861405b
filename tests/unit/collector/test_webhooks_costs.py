"""Component tests of the webhook and spend routes that need no broker: rate limits, auth, the costs CLI."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import uvicorn

from collector.sinks import InMemorySink
from tests.conftest import free_port
from tests.unit.collector.conftest import asgi_client, build_app, make_settings
from touchstream.costs_client import import_csv

TOKEN = "tok_rate_limited_0123"
ADMIN = "ak_shop_admin_0123456789"


@pytest.fixture
def apps_file(tmp_path: Path) -> Path:
    path = tmp_path / "apps.json"
    path.write_bytes(orjson.dumps({"apps": [{
        "app_id": "shop", "write_keys": ["wk_shop_0123456789"], "admin_keys": [ADMIN],
        "integrations": [{"id": "slow-01", "platform": "generic", "token": TOKEN, "channel": "partner",
                          "rate_limit_per_s": 2}],
    }]}))
    return path


async def test_an_integration_over_its_rate_gets_429_until_tokens_refill(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    now = [100.0]
    app.state.collector.monotonic = lambda: now[0]
    url = f"/v1/webhooks/slow-01/click?token={TOKEN}&click_id="
    async with asgi_client(app) as client:
        # Burst capacity = the rate (2/s): two pass, the third in the same instant is refused.
        assert [(await client.get(url + str(i))).status_code for i in range(3)] == [200, 200, 429]
        limited = await client.get(url + "x")
        assert limited.headers["Retry-After"] == "1" and limited.json()["error"] == "rate_limited"
        now[0] += 0.5  # half a second refills one token at 2/s
        assert (await client.get(url + "y")).status_code == 200
        assert (await client.get(url + "z")).status_code == 429
    assert len(sink.records) == 3  # refused calls record nothing


async def test_spend_needs_an_admin_key_not_a_write_key(apps_file: Path) -> None:
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    rows = {"rows": [{"date": "2024-04-30", "channel": "douyin", "spend": "10"}]}
    async with asgi_client(app) as client:
        assert (await client.post("/v1/costs", json=rows)).status_code == 401
        as_writer = await client.post("/v1/costs", json=rows, headers={"X-Admin-Key": "wk_shop_0123456789"})
        assert as_writer.status_code == 401
        ok = await client.post("/v1/costs", json=rows, headers={"Authorization": f"Bearer {ADMIN}"})
        assert ok.status_code == 200 and ok.json() == {"accepted": 1}
    (record,) = sink.records
    (event,) = orjson.loads(record.value)
    assert event["type"] == "ad_spend" and event["app_id"] == "shop"
    assert event["properties"]["spend"] == "10.0000" and event["properties"]["spend_reporting"] == "10.0000"


@pytest.fixture
def served(apps_file: Path) -> Iterator[tuple[str, InMemorySink]]:
    """The collector on a real loopback port (uvicorn in a thread), for the command-line client."""
    sink = InMemorySink()
    app = build_app(make_settings(collector_apps_file=apps_file, collector_write_keys=""), sink)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        threading.Event().wait(0.05)
    yield f"http://127.0.0.1:{port}", sink
    server.should_exit = True
    thread.join(10)


def test_costs_import_uploads_a_csv_and_reports_problems_by_row(
    served: tuple[str, InMemorySink], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, sink = served
    good = tmp_path / "spend.csv"
    good.write_text("date,channel,campaign,spend\n2024-04-29,douyin,spring,120.5\n2024-04-30,douyin,spring,99\n")
    assert import_csv(good, url, ADMIN) == 0
    assert "2 spend rows accepted" in capsys.readouterr().out
    assert [e["properties"]["source"] for r in sink.records for e in orjson.loads(r.value)] == ["csv", "csv"]

    bad = tmp_path / "bad.csv"
    bad.write_text("date,channel,spend\n2024-04-29,douyin,-3\n")
    assert import_csv(bad, url, ADMIN) == 1
    err = capsys.readouterr().err
    assert "row 1, spend" in err
    assert import_csv(good, url, "") == 2  # no admin key: refused before any request


def test_costs_import_sends_a_large_file_as_one_upload(
    served: tuple[str, InMemorySink], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A month of daily spend for 667 campaigns: 20,010 rows, ~11 MB once they are events in Kafka.
    url, sink = served
    lines = [f"2024-04-{day:02d},douyin,campaign-{c},1.5" for day in range(1, 31) for c in range(667)]
    big = tmp_path / "month.csv"
    big.write_text("date,channel,campaign,spend\n" + "\n".join(lines) + "\n")
    assert import_csv(big, url, ADMIN) == 0
    # One answer accounts for every row: the client sent the file in one request.
    assert capsys.readouterr().out == f"20010 spend rows accepted from {big}\n"
    assert len(sink.records) > 1 and sum(r.event_count for r in sink.records) == 20_010
