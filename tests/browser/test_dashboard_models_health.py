"""The dashboard's data-driven models and its attribution health page, in a real headless Chromium.

Data: reference dataset D01 as current rows (tests/integration/test_attribution_health.py, without the
registration): four first orders and one journey without a conversion, spend google ¥50, mail ¥20, qr_code ¥5;
then the health rows of that file for 1..3 Nov 2026. Every figure is worked out in the comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import serve
from tests.browser.test_dashboard import Watched, query_app
from tests.integration.test_attribution_health import health_data, reference_d01

pytestmark = [pytest.mark.integration, pytest.mark.browser]

KEY = "test-analyst-key"
SCOPE = "app=shop&from=2026-11-01&to=2026-11-03"

# Markov (reference D01): removal effects google 0.75, mail 0.5 -> orders 2.4 / 1.6, revenue 108 / 72. Nothing
# modelled is a registration, so acquisitions are 0 and CAC has nothing to divide by. ROI = revenue / spend:
# google 108/50 = 2.16, mail 72/20 = 3.6, qr_code 0/5, total 180/75 = 2.4. qr_code has spend only.
MARKOV = [
    ["google", "paid", "0", "2.4", "108.00 CNY", "50.00 CNY", "—", "1:2.16"],
    ["mail", "owned", "0", "1.6", "72.00 CNY", "20.00 CNY", "—", "1:3.60"],
    ["qr_code", "unknown", "0", "0", "0.00 CNY", "5.00 CNY", "—", "1:0.00"],
    ["Total", "", "0", "4", "180.00 CNY", "75.00 CNY", "—", "1:2.40"],
]
# Shapley (Zhao, reference D01): google 1 + 1 + 1/2 = 2.5 orders, revenue 10 + 10 + 30 = 50; mail 1 + 1/2, 100 + 30.
SHAPLEY = [
    ["google", "paid", "0", "2.5", "50.00 CNY", "50.00 CNY", "—", "1:1.00"],
    ["mail", "owned", "0", "1.5", "130.00 CNY", "20.00 CNY", "—", "1:6.50"],
    ["qr_code", "unknown", "0", "0", "0.00 CNY", "5.00 CNY", "—", "1:0.00"],
    ["Total", "", "0", "4", "180.00 CNY", "75.00 CNY", "—", "1:2.40"],
]
# Health (see health_data): 11-01 six events, 2 corrected, 1 clamped, 1 late, 2 duplicates, ad clicks K1 K2 (K2
# unmatched), visit t2 without webhook, t3 shared (one reused id), conversions v1 v2 v3 with v1 direct; 11-02
# three events, one duplicate, ad click K3, D01's four first orders (none direct); 11-03 only a visit.
HEALTH = [
    ["2026-11-01", "6", "2 (33.3%)", "1 (16.7%)", "1 (16.7%)", "2", "2", "1", "1", "1", "1", "3", "1 (33.3%)"],
    ["2026-11-02", "3", "0 (0.0%)", "0 (0.0%)", "0 (0.0%)", "1", "1", "0", "0", "0", "0", "4", "0 (0.0%)"],
    ["2026-11-03", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"],
]


@pytest.fixture
def d01_server(clickhouse: Any) -> Iterator[tuple[str, Any]]:
    reference_d01(clickhouse, registration=False)
    for base in serve(query_app(clickhouse)):
        yield base, clickhouse


def headings(view: Watched, testid: str) -> list[str]:
    found: list[str] = view.page.eval_on_selector_all(
        f'[data-testid="{testid}"] thead th', "cells => cells.map(c => c.textContent.trim())")
    return found


def test_data_driven_models_and_the_health_page(browser: Browser, d01_server: tuple[str, Any]) -> None:
    base, clickhouse = d01_server
    view = Watched(browser)
    try:
        view.page.goto(f"{base}/dashboard#{SCOPE}&key={KEY}")
        view.wait_state("ready", "linear")
        options = view.page.eval_on_selector_all('[data-testid="model-select"] option', "os => os.map(o => o.value)")
        assert options == ["linear", "markov", "shapley"]  # the credited model, then the population models
        assert headings(view, "channels-table") == [
            "Channel", "Type", "Acquisitions", "Orders", "Revenue", "Spend", "CAC", "ROI"]
        assert view.page.locator('[data-testid="channels-population"]').is_hidden()

        view.page.select_option('[data-testid="model-select"]', "markov")
        view.wait_state("ready", "markov")
        assert view.table("channels-table") == MARKOV
        assert view.text("channels-population") == (
            "Markov credits over every path in the range to register, convert, repurchase · "
            "conversion probability 80.0%.")
        assert view.text("trend-model") == "· Linear"  # a population model has no per-day split
        channels_calls = [r.url for r in view.requests if "/v1/reports/channels" in r.url]
        assert "conversion_types=register%2Cconvert%2Crepurchase" in channels_calls[-1]

        view.page.select_option('[data-testid="model-select"]', "shapley")
        view.wait_state("ready", "shapley")
        assert view.table("channels-table") == SHAPLEY
        assert "model=shapley" in view.page.url

        health_data(clickhouse)
        view.page.click('[data-testid="show-health"]')
        view.page.wait_for_selector('[data-testid="dashboard"][data-state="ready"][data-page="health"]',
                                    state="attached", timeout=20_000)
        assert view.page.locator('[data-testid="reports"]').is_hidden()
        assert view.page.locator('[data-testid="model-select"]').is_hidden()
        assert headings(view, "health-table")[:3] == ["Day", "Events", "Clock corrected"]
        assert view.table("health-table") == HEALTH
        assert "page=health" in view.page.url

        # Back to the reports: drawn for this scope already, so nothing is fetched again.
        before = len(view.requests)
        view.page.click('[data-testid="show-reports"]')
        view.page.wait_for_selector('[data-testid="dashboard"][data-page="reports"]', state="attached")
        assert view.page.locator('[data-testid="channels-table"]').is_visible()
        assert [r for r in view.requests[before:] if "/v1/reports/" in r.url] == []

        # A link to the health page opens on it.
        fresh = Watched(browser)
        try:
            fresh.page.goto(f"{base}/dashboard#{SCOPE}&page=health&key={KEY}")
            fresh.page.wait_for_selector('[data-testid="dashboard"][data-state="ready"][data-page="health"]',
                                         state="attached", timeout=20_000)
            assert fresh.table("health-table") == HEALTH
            assert fresh.errors == []
        finally:
            fresh.close()
        assert view.errors == []
    finally:
        view.close()
