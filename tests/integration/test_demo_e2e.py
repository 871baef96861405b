"""`make demo` in small: two days of the retail case through the real collector (webhooks, batches, spend),
the real broker and the stream processor on chDB, checked against what the generator put in."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from demo.apps import ensure_demo_app
from demo.generator import generate
from demo.scenario import RETAIL
from demo.send import (
    Landed,
    expected_landing,
    landed_sql,
    send_traffic,
    wait_landed,
    wait_until_authorised,
)
from stream.writer import ClickHouseWriter
from tests.integration.pipeline import collector_client, start_stream, stream_settings

pytestmark = pytest.mark.integration


async def test_two_days_of_the_retail_case_land_under_the_case_channels(  # type: ignore[no-untyped-def]
    kafka_bootstrap, topics, clickhouse, tmp_path: Path
) -> None:
    traffic = generate(7, date(2026, 10, 24), 2, 0.3)
    app = ensure_demo_app(tmp_path / "apps.json")
    quiet = Console(file=io.StringIO(), width=100)
    writer = ClickHouseWriter(clickhouse)
    stream = start_stream(stream_settings(kafka_bootstrap, topics), writer)
    try:
        async with collector_client(kafka_bootstrap, topics, collector_apps_file=tmp_path / "apps.json") as client:
            await wait_until_authorised(client, app)
            result = await send_traffic(client, app, traffic, batch_size=100, console=quiet)

        async def landed() -> Landed:
            return Landed(*(int(v) for v in (await writer.query(landed_sql(app.app_id, traffic.tag)))[0]))

        # Every SDK event and every click is accepted and stored once (spend rows go to ad_spend instead).
        sdk_events = sum(len(j.events) for j in traffic.journeys)
        assert (result.events_accepted, result.rejected) == (sdk_events, [])
        assert (result.clicks_accepted, result.clicks_refused) == (len(traffic.clicks), [])
        assert result.spend_rows == len(traffic.spend)
        conversions = sum(e["type"] in ("register", "activate", "convert", "repurchase")
                          for j in traffic.journeys for e in j.events)
        expected_landed = Landed(sdk_events + len(traffic.clicks), conversions, len(traffic.spend))
        assert expected_landing(traffic, result) == expected_landed
        assert await wait_landed(landed, expected_landed, timeout_s=40, console=quiet) == expected_landed

        # Last touch of a registration is the visit the person registered in, so per channel it must equal
        # the generator's count of people each channel brought (the Moments and Douyin visits named by their
        # matched ad clicks, not by the click ids' platforms).
        expected = {spec.channel: traffic.truth[spec.key].acquisitions
                    for spec in (*RETAIL.channels, RETAIL.organic) if traffic.truth[spec.key].acquisitions}
        rows = await writer.query(
            "SELECT channel, sum(credit) FROM attribution_credits_current WHERE app_id = 'retail-demo' "
            "AND model = 'last_touch' AND conversion_type = 'register' AND NOT deleted GROUP BY channel"
        )
        got = {channel: round(credit, 6) for channel, credit in rows}
        assert got == expected
        assert {"wechat_moments_ads", "douyin", "wechat", "qr_code"} <= set(got)

        # Spend per channel as uploaded, at the level each channel knows it.
        spend = await writer.query(
            "SELECT channel, sum(spend_reporting), countIf(campaign = ''), countIf(creative = '') "
            "FROM ad_spend_current WHERE app_id = 'retail-demo' GROUP BY channel"
        )
        by_channel = {channel: (total, no_campaign, no_creative) for channel, total, no_campaign, no_creative in spend}
        assert {c: v[0] for c, v in by_channel.items()} == {
            spec.channel: traffic.truth[spec.key].spend for spec in RETAIL.channels
        }
        assert by_channel["wechat"][1:] == (2, 2)  # one community operating cost per day, channel level only
        assert by_channel["qr_code"][1] == 0 and by_channel["qr_code"][2] > 0  # per store, no creative
        assert by_channel["douyin"][1:] == (0, 0)
        assert all(isinstance(v[0], Decimal) for v in by_channel.values())
    finally:
        await stream.close()
        writer.close()
