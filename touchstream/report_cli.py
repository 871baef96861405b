"""`touchstream report channels|trend|funnel|retention|paths|rfm|shares|health|meta`: the report API in a terminal.

Talks to the stream processor's report API with an analyst key (docs/reports.md) and prints its tables with
rich, or the JSON as it came, or CSV for a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from touchstream import report_client
from touchstream.csvtext import csv_cell
from touchstream.report_client import ReportError as ReportError  # the command line catches the client's one error

Tables = list[tuple[str, list[dict[str, Any]]]]


def fetch(base_url: str, key: str, report: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The report from the shared client, with what the terminal user can do about a missing key."""
    if not key:
        msg = "an analyst key is needed: --key or TOUCHSTREAM_ANALYST_KEY (make run prints the dev app's)"
        raise ReportError(msg)
    return report_client.fetch(base_url, key, report, params)


def tables_of(report: str, payload: Mapping[str, Any]) -> Tables:
    """The payload as titled flat tables (one per list in the report)."""
    if report == "channels":
        totals = {**dict.fromkeys(_dims(payload["rows"]), ""), **payload["totals"]}
        first = next(iter(totals))
        totals[first] = "total"
        title = f"Channels by {payload['level']} under {payload['model']} ({payload['currency']})"
        tables: Tables = [(title, [*payload["rows"], totals])]
        if "population" in payload:  # a data-driven model: what it modelled and what its caps left out
            tables.append(("Population", [_population(payload["population"])]))
        return tables
    if report == "funnel":
        rows = [{"channel": entry["channel"], **step} for entry in payload["rows"] for step in entry["steps"]]
        return [(f"Funnel (window {payload['window_hours']} h)", rows)]
    if report == "meta":
        return [("Meta", [{k: ", ".join(v) if isinstance(v, list) else v for k, v in payload.items()}])]
    titles = {
        "trend": ("rows",),
        "retention": ("rows",),
        "paths": ("conversion_paths", "behaviour_paths", "exit_points"),
        "rfm": ("segments", "layers"),
        "shares": ("depths", "top_sharers"),
        "health": ("rows",),
        "postbacks": ("statuses", "latency", "last_errors", "reattributed"),
    }
    return [(name.replace("_", " ").capitalize() if name != "rows" else report.capitalize(), payload[name])
            for name in titles[report]]


def _population(summary: Mapping[str, Any]) -> dict[str, Any]:
    effects = summary.get("removal_effects") or {}
    return {
        "conversion_types": "; ".join(summary["conversion_types"]),
        "conversion_probability": summary.get("conversion_probability"),
        "removal_effects": "; ".join(f"{channel} {effect:g}" for channel, effect in effects.items()) or None,
        "folded_channels": "; ".join(summary["folded_channels"]) or None,
        **{f"left_out_{name}": value for name, value in summary["left_out"].items()},
    }


def _dims(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    dims = ("channel_type", "channel", "campaign", "creative")
    return [d for d in dims if rows and d in rows[0]] or ["channel"]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return " > ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 100 or value == int(value) else f"{value:,.4g}"
    return str(value)


def render(report: str, payload: Mapping[str, Any], fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
    tables = tables_of(report, payload)
    if fmt == "csv":
        out = io.StringIO()
        for title, rows in tables:
            if len(tables) > 1:
                out.write(f"# {title}\n")
            if rows:
                writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
        return out.getvalue().rstrip("\n")
    width = width or max(120, shutil.get_terminal_size((120, 40)).columns)
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    for title, rows in tables:
        table = Table(title=title, title_justify="left")
        columns = list(rows[0]) if rows else ["(no rows)"]
        for name in columns:
            numeric = any(isinstance(row.get(name), int | float) for row in rows)
            # Names (channels, campaigns, paths) wrap rather than lose their ends to an ellipsis.
            table.add_column(name, justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(name)) for name in columns))
        console.print(table)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return str(output).rstrip("\n")


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return csv_cell(" > ".join(str(v) for v in value))
    return "" if value is None else csv_cell(value)
