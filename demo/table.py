"""The demo's tables: what the generator put in, and what the report API says per attribution model.

Both fit a 100-column terminal. ROI is written as the case writes it, revenue : spend ("1:2.5" = roas 2.5).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from typing import Any

import httpx
from rich import box
from rich.console import Console
from rich.table import Table

from demo.scenario import Scenario
from demo.traffic import ChannelTruth
from touchstream.report_client import ReportError as ReportError  # the demo's runner catches the client's one error
from touchstream.report_client import fetch_async

CASE_MODEL = "position_based"  # the model the retail case chose (seed 000)


async def fetch_channel_reports(client: httpx.AsyncClient, query_url: str, app_id: str, analyst_key: str,
                                date_from: date, date_to: date, timeout_s: float = 20
                                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """/v1/reports/meta, then /v1/reports/channels for every model it lists."""
    common = {"app": app_id, "from": date_from.isoformat(), "to": date_to.isoformat()}
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            meta = await fetch_async(client, query_url, analyst_key, "meta", common, timeout=60)
            break
        except ReportError as exc:
            # The processor re-reads the apps file about once a second: a fresh analyst key may not be known yet.
            if exc.status != 401 or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.5)
    reports = [await fetch_async(client, query_url, analyst_key, "channels", {**common, "model": model})
               for model in meta.get("models") or []]
    return meta, reports


def _count(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if abs(value - round(value)) < 0.05 else f"{value:,.1f}"


def _money(value: float | None, places: int = 0) -> str:
    return "–" if value is None else f"{value:,.{places}f}"


def _roi(roas: float | None) -> str:
    return "–" if roas is None else f"1:{roas:.2f}"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def truth_table(truth: Mapping[str, ChannelTruth], scenario: Scenario) -> Table:
    """What was generated, each person counted under the channel that brought them, next to the case."""
    table = Table(title="Generated: each person under the channel that brought them (the case in brackets)",
                  box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for name, justify in (("channel", "left"), ("visitors", "right"), ("acq.", "right"), ("share", "right"),
                          ("spend", "right"), ("CAC", "right"), ("revenue", "right"), ("ROI", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    managed = sum(truth[s.key].acquisitions for s in scenario.channels)
    for spec in (*scenario.channels, scenario.organic):
        t = truth[spec.key]
        case = spec in scenario.channels
        table.add_row(
            spec.label, f"{t.visitors:,}", f"{t.acquisitions:,}",
            _share(t.acquisitions, managed) + (f" ({spec.acquisition_share:.0%})" if case else ""),
            _money(float(t.spend)) if t.spend else "–",
            (_money(t.cac, 1) + f" ({spec.cac:g})") if case and t.cac is not None else "–",
            _money(float(t.revenue)),
            (_roi(t.roi) + f" (1:{spec.roi:g})") if case else "–",
        )
    return table


def channel_table(report: Mapping[str, Any], scenario: Scenario) -> Table:
    model = str(report.get("model"))
    note = "  (the model the case chose)" if model == CASE_MODEL else ""
    labels = {s.channel: s.label for s in (*scenario.channels, scenario.organic)}
    table = Table(title=f"{model}{note}", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False,
                  show_footer=True)
    totals = report.get("totals") or {}
    whole = float(totals.get("acquisitions") or 0)
    columns = (("channel", "left", "total"), ("case", "left", ""),
               ("acq.", "right", _count(totals.get("acquisitions"))), ("share", "right", "100%" if whole else "–"),
               ("spend", "right", _money(totals.get("spend"))), ("CAC", "right", _money(totals.get("cac"), 1)),
               ("revenue", "right", _money(totals.get("revenue"))), ("ROI", "right", _roi(totals.get("roas"))))
    for name, justify, footer in columns:
        table.add_column(name, footer=footer, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in report.get("rows") or []:
        acquisitions = float(row.get("acquisitions") or 0)
        table.add_row(
            str(row.get("channel")), labels.get(str(row.get("channel")), ""), _count(acquisitions),
            _share(acquisitions, whole), _money(row.get("spend")) if row.get("spend") else "–",
            _money(row.get("cac"), 1), _money(row.get("revenue")), _roi(row.get("roas")),
        )
    return table


def print_reports(console: Console, meta: Mapping[str, Any], reports: list[dict[str, Any]],
                  scenario: Scenario) -> None:
    currency = meta.get("currency") or scenario.currency
    console.print(f"\n[bold]Report API[/], {meta.get('app')} {meta.get('date_from')} .. {meta.get('date_to')}: "
                  f"acquisitions = registrations, money in {currency}")
    for report in reports:
        console.print(channel_table(report, scenario))
