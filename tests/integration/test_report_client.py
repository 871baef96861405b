"""The one report client (runtime/report_client.py) and its callers, against the real report API on real chDB,
over the hand-checked credits and spend of test_channel_performance.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from demo.table import fetch_channel_reports
from tests.integration.harness import free_port
from tests.integration.report_server import ANALYST_KEY, serve_reports
from tests.integration.test_channel_performance import seed
from touchstream import report_cli
from touchstream.report_client import ReportError, fetch, fetch_async

pytestmark = pytest.mark.integration

NOVEMBER = {"app": "shop", "from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def base(clickhouse: Any) -> Iterator[str]:
    seed(clickhouse)
    with serve_reports(clickhouse, date(2026, 11, 30)) as url:
        yield url


def test_a_report_comes_back_as_its_json_object(base: str) -> None:
    body = fetch(base, ANALYST_KEY, "channels", {**NOVEMBER, "model": "first_touch"})
    douyin = next(r for r in body["rows"] if r["channel"] == "douyin")
    # first_touch: acquisitions R1-R4 = 4, conversions those 4 plus O1 = 5, revenue ¥100 (O1), spend 170 + 30.
    assert (douyin["acquisitions"], douyin["conversions"], douyin["revenue"], douyin["spend"]) == (4.0, 5.0, 100.0,
                                                                                                   200.0)
    assert fetch(base + "/", ANALYST_KEY, "meta", NOVEMBER)["models"] == ["first_touch", "linear"]


def test_refusals_keep_the_status_and_the_api_s_reason(base: str) -> None:
    with pytest.raises(ReportError) as forbidden:
        fetch(base, ANALYST_KEY, "meta", {"app": "other"})
    assert forbidden.value.status == 403
    assert str(forbidden.value) == "403: this analyst key does not cover app 'other'"
    with pytest.raises(ReportError) as typo:
        fetch(base, ANALYST_KEY, "channels", {"app": "shop", "model": "linaer"})
    assert typo.value.status == 400
    assert str(typo.value) == "400: model 'linaer' has no credits for app 'shop'; models: first_touch, linear"
    wrong_key = "not-a-key-at-all-000"
    with pytest.raises(ReportError) as unknown:
        fetch(base, wrong_key, "meta", NOVEMBER)
    assert unknown.value.status == 401
    assert wrong_key not in str(unknown.value)


def test_no_key_and_no_server_are_one_line_without_a_status() -> None:
    with pytest.raises(ReportError) as no_key:
        fetch("http://127.0.0.1:1", "", "meta", NOVEMBER)
    assert (str(no_key.value), no_key.value.status) == ("an analyst key is needed", None)
    port = free_port()  # nothing listens on a port just freed
    with pytest.raises(ReportError) as closed:
        fetch(f"http://127.0.0.1:{port}", ANALYST_KEY, "meta", NOVEMBER, timeout=5)
    message = str(closed.value)
    assert closed.value.status is None
    assert message.startswith(f"cannot reach the report API at http://127.0.0.1:{port}/v1/reports/meta: ")
    assert message.endswith("(is the stream processor running?)")
    assert ANALYST_KEY not in message
    assert "\n" not in message


def test_the_command_line_names_its_own_ways_to_give_a_key() -> None:
    with pytest.raises(ReportError) as caught:
        report_cli.fetch("http://127.0.0.1:1", "", "meta", NOVEMBER)
    assert str(caught.value) == (
        "an analyst key is needed: --key or TOUCHSTREAM_ANALYST_KEY (make run prints the dev app's)"
    )


async def test_the_async_client_gives_the_same_answers(base: str) -> None:
    async with httpx.AsyncClient() as client:
        meta = await fetch_async(client, base, ANALYST_KEY, "meta", NOVEMBER)
        assert meta == await asyncio.to_thread(fetch, base, ANALYST_KEY, "meta", NOVEMBER)
        with pytest.raises(ReportError) as forbidden:
            await fetch_async(client, base, ANALYST_KEY, "meta", {"app": "other"})
    assert forbidden.value.status == 403


async def test_the_demo_fetches_meta_then_channels_per_model(base: str) -> None:
    async with httpx.AsyncClient() as client:
        meta, reports = await fetch_channel_reports(client, base, "shop", ANALYST_KEY, date(2026, 11, 1),
                                                    date(2026, 11, 30))
        assert meta["models"] == ["first_touch", "linear"]
        assert [r["model"] for r in reports] == ["first_touch", "linear"]
        linear = {r["channel"]: r for r in reports[1]["rows"]}
        # linear: wechat_share gets half of R1 and half of O1's ¥100.
        assert (linear["wechat_share"]["acquisitions"], linear["wechat_share"]["revenue"]) == (0.5, 50.0)
        # A key the processor never heard of is refused once the short grace for a fresh key has passed.
        with pytest.raises(ReportError) as unknown:
            await fetch_channel_reports(client, base, "shop", "not-a-key-at-all-000", date(2026, 11, 1),
                                        date(2026, 11, 30), timeout_s=1)
    assert unknown.value.status == 401

