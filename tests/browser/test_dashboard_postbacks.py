"""The dashboard's postbacks card (on the attribution health page), in a real headless Chromium.

Rows written by hand: three Tencent intents decided on 2026-11-02 (one sent, then its conversion re-attributed;
one failed; one never tried) and one Ocean Engine intent sent the same day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser

from stream.postbacks.store import ATTEMPT_COLUMNS
from stream.rows import POSTBACK_INTENT_COLUMNS
from tests.browser.conftest import serve
from tests.browser.test_dashboard import Watched, query_app

pytestmark = [pytest.mark.integration, pytest.mark.browser]

KEY = "test-analyst-key"
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def intent(intent_id: str, integration: str, platform: str, version: int, reattributed: int = 0) -> list[Any]:
    values = {
        "app_id": "shop", "intent_id": intent_id, "integration_id": integration, "platform": platform,
        "mode": "callback", "action_type": "COMPLETE_ORDER", "conversion_id": f"order:{intent_id}",
        "event_id": intent_id, "conversion_type": "convert", "conversion_time": AT, "click_id": "c",
        "click_time": AT, "callback": "", "openid": "o", "unionid": "", "revenue": Decimal(1), "currency": "CNY",
        "value_fen": 100, "state": "open", "reattributed": reattributed, "version": version, "decided_at": AT,
        "_partition": 0, "_offset": version,
    }
    return [values[c] for c in POSTBACK_INTENT_COLUMNS]


def attempt(intent_id: str, seq: int, status: str, platform: str, latency_ms: float) -> list[Any]:
    values = {
        "app_id": "shop", "intent_id": intent_id, "seq": seq, "attempt": 1, "integration_id":
        "tx" if platform == "tencent_ads" else "oe", "platform": platform, "status": status,
        "http_status": 200, "code": 0, "message": "" if status == "success" else "CONV_ID_ILLEGAL",
        "latency_ms": latency_ms, "at": AT, "next_attempt_at": None,
    }
    return [values[c] for c in ATTEMPT_COLUMNS]


@pytest.fixture
def server(clickhouse: Any) -> Iterator[str]:
    clickhouse.insert("postback_intents", [
        intent("i1", "tx", "tencent_ads", 1), intent("i1", "tx", "tencent_ads", 2, reattributed=1),
        intent("i2", "tx", "tencent_ads", 3), intent("i3", "tx", "tencent_ads", 4),
        intent("i4", "oe", "ocean_engine", 5),
    ], column_names=list(POSTBACK_INTENT_COLUMNS))
    clickhouse.insert("postback_attempts", [
        attempt("i1", 1, "sending", "tencent_ads", 0), attempt("i1", 2, "success", "tencent_ads", 40.0),
        attempt("i2", 1, "sending", "tencent_ads", 0), attempt("i2", 2, "failed", "tencent_ads", 60.0),
        attempt("i4", 1, "sending", "ocean_engine", 0), attempt("i4", 2, "success", "ocean_engine", 80.0),
    ], column_names=list(ATTEMPT_COLUMNS))
    yield from serve(query_app(clickhouse))


def test_the_postbacks_card(browser: Browser, server: str) -> None:
    view = Watched(browser)
    try:
        view.page.goto(f"{server}/dashboard#app=shop&from=2026-11-01&to=2026-11-03&page=health&key={KEY}")
        view.page.wait_for_selector('[data-testid="dashboard"][data-state="ready"][data-page="health"]',
                                    state="attached", timeout=20_000)
        # Day, integration, platform, status, intents, re-attributed, withdrawn; ordered by day, integration, status.
        assert view.table("postbacks-table") == [
            ["2026-11-02", "oe", "ocean_engine", "success", "1", "0", "0"],
            ["2026-11-02", "tx", "tencent_ads", "failed", "1", "0", "0"],
            ["2026-11-02", "tx", "tencent_ads", "pending", "1", "0", "0"],
            ["2026-11-02", "tx", "tencent_ads", "success", "1", "1", "0"],
        ]
        # One answered attempt each for oe (80 ms); tx 40 and 60 ms: the median of two is their mean.
        assert view.text("postbacks-latency") == (
            "oe: p50 80 ms, p95 80 ms over 1 attempts; tx: p50 50 ms, p95 59 ms over 2 attempts")
        assert view.errors == []
    finally:
        view.close()
