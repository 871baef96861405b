"""The report routes' error classes and back-pressure, with the report functions replaced (no store)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from stream.reports import routes
from stream.reports.keys import AnalystKeys
from stream.reports.params import ReportParams, parse_params
from stream.reports.service import REPORTS

KEY = "analyst-key-0123456789"


def app(executor: ThreadPoolExecutor) -> Starlette:
    keys = AnalystKeys({KEY: ["shop"]})
    return Starlette(routes=routes.report_routes(None, keys, executor, lambda: date(2026, 11, 30)))  # type: ignore[arg-type]


def client(starlette: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=starlette), base_url="http://test",
                             headers={"Authorization": f"Bearer {KEY}"})


@pytest.mark.parametrize(("error", "status", "words"), [
    (RuntimeError("Code: 159. DB::Exception: Timeout exceeded: elapsed 31 s"), 504, "time budget"),
    (RuntimeError("Code: 60. DB::Exception: Unknown table secret_internal_name"), 500, "the report failed"),
])
async def test_store_failures_are_classified_and_not_echoed(
    monkeypatch: pytest.MonkeyPatch, error: Exception, status: int, words: str
) -> None:
    def failing(_service: Any, _p: ReportParams) -> dict[str, Any]:
        raise error

    monkeypatch.setitem(REPORTS, "meta", failing)
    with ThreadPoolExecutor(1) as executor:
        async with client(app(executor)) as http:
            response = await http.get("/v1/reports/meta", params={"app": "shop"})
    assert response.status_code == status
    assert words in response.json()["error"]
    assert "secret_internal_name" not in response.text


async def test_beyond_sixteen_waiting_reports_the_caller_is_told_to_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def slow(_service: Any, p: ReportParams) -> dict[str, Any]:
        release.wait(10)
        return {"app": p.app}

    monkeypatch.setitem(REPORTS, "meta", slow)
    parsed = 0

    def counting_parse(query: Any, today: date) -> ReportParams:
        # Between parsing and its first await a request counts itself as waiting, in the same loop step:
        # once 16 have parsed, 16 are waiting.
        nonlocal parsed
        parsed += 1
        return parse_params(query, today)

    monkeypatch.setattr(routes, "parse_params", counting_parse)
    with ThreadPoolExecutor(1) as executor:
        async with client(app(executor)) as http:
            waiting = [asyncio.create_task(http.get("/v1/reports/meta", params={"app": "shop"}))
                       for _ in range(routes.MAX_WAITING_REPORTS)]
            for _ in range(10_000):  # a bound, so a broken handler fails the test instead of hanging it
                if parsed >= routes.MAX_WAITING_REPORTS:
                    break
                await asyncio.sleep(0)
            refused = await http.get("/v1/reports/meta", params={"app": "shop"})
            release.set()
            answered = await asyncio.gather(*waiting)
            again = await http.get("/v1/reports/meta", params={"app": "shop"})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    assert [r.status_code for r in answered] == [200] * routes.MAX_WAITING_REPORTS
    assert again.status_code == 200  # the count came back down
