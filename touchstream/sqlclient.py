"""`touchstream sql`: run one read-only query and print it as a table, CSV or JSON.

Where the query goes: with a ClickHouse server (CLICKHOUSE_URL=http(s)://...) straight to the server; with the
embedded store, to the stream processor's query endpoint (the process that owns the chDB folder, which wants the
SQL key or an analyst key: `--key`, default STREAM_SQL_KEY), or, when no processor is running, to the folder
itself. Wherever it goes, the same guard (stream/readonly.py) decides first and the query runs under readonly=1.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import httpx
import orjson

from touchstream.csvtext import csv_cell


class QueryError(RuntimeError):
    """The query was refused or failed; the message is one line for the analyst."""


def execute(
    sql: str, *, url: str, database: str, endpoint: str, max_rows: int = 100_000, key: str = ""
) -> dict[str, Any]:
    # Imported here: the guard and the store live with the processor, and `touchstream --help` stays fast.
    from stream.query_server import run_query
    from stream.readonly import NotReadOnly, check_read_only
    from stream.store import connect, is_embedded

    try:
        check_read_only(sql)
    except NotReadOnly as exc:
        raise QueryError(str(exc)) from None
    if is_embedded(url):
        try:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            response = httpx.post(endpoint, content=orjson.dumps({"sql": sql}), headers=headers, timeout=60)
        except httpx.ConnectError:
            response = None
        if response is not None:
            body = response.json()
            if response.status_code != 200:
                raise QueryError(body.get("error", response.text))
            return dict(body)
    try:
        client = connect(url, database)
        return run_query(client, sql, max_rows, 30)
    except NotReadOnly as exc:
        raise QueryError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - any store failure is reported to the analyst as one line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
        raise QueryError(first) from None


DEV_KEY_FILE = Path("data/sql.key")


def default_key() -> str:
    """STREAM_SQL_KEY, or the dev key `make run` keeps in data/sql.key, so a second shell needs no export."""
    key = os.environ.get("STREAM_SQL_KEY", "")
    if not key and DEV_KEY_FILE.is_file():
        key = DEV_KEY_FILE.read_text(encoding="utf-8").strip()
    return key


def default_endpoint() -> str:
    port = os.environ.get("STREAM_QUERY_PORT", "8124")
    host = os.environ.get("STREAM_QUERY_HOST", "127.0.0.1")
    return os.environ.get("TOUCHSTREAM_QUERY_URL", f"http://{host}:{port}/v1/query")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict | list):
        return orjson.dumps(value, default=str).decode()
    return str(value)


def render(result: dict[str, Any], fmt: str) -> str:
    columns: list[str] = result["columns"]
    rows: list[list[Any]] = result["rows"]
    if fmt == "json":
        return orjson.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str).decode()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[csv_cell(_cell(v)) if isinstance(v, str) else _cell(v) for v in r] for r in rows])
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |", line]
    out += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in cells]
    out.append(line)
    out.append(f"{len(rows)} row{'s' if len(rows) != 1 else ''}")
    return "\n".join(out)
