"""The stream processor's read-only HTTP side: the SQL endpoint (so analysts can query the embedded store it
owns), the JSON report API and the dashboard (stream/reports, stream/dashboard), `/metrics` and `/healthz`.

POST /v1/query {"sql": "SELECT ..."} → {"columns": [...], "types": [...], "rows": [[...], ...]}.
Bound to loopback by default (STREAM_QUERY_HOST). With a ClickHouse server, `touchstream sql` goes to the
server directly and this endpoint is merely a convenience.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stream.dashboard.routes import dashboard_routes
from stream.errors import clickhouse_code
from stream.readonly import NotReadOnly, check_read_only, read_only_settings
from stream.reports.keys import AnalystKeys
from stream.reports.routes import KeySource, report_routes
from stream.reports.service import ReportService

MAX_REQUEST_BYTES = 200_000
# A page on another site can point a name at 127.0.0.1 (DNS rebinding) and read loopback servers from an
# operator's browser; answering only to the names we are reached by closes that.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content, default=str), status, media_type="application/json")


def run_query(client: Any, sql: str, max_rows: int, timeout_s: int) -> dict[str, Any]:
    statement = check_read_only(sql)
    result = client.query(statement, settings=read_only_settings(max_rows, timeout_s))
    return {
        "columns": list(result.column_names),
        "types": [t.name for t in result.column_types],
        "rows": [list(r) for r in result.result_rows],
    }


def _utc_today() -> date:
    return datetime.now(UTC).date()


def create_query_app(
    client: Any,
    max_rows: int,
    timeout_s: int,
    registry: CollectorRegistry | None = None,
    analyst_keys: KeySource | Mapping[str, Collection[str]] | None = None,
    today: Callable[[], date] = _utc_today,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> Starlette:
    # One query thread: the embedded engine serves one query at a time, and a burst of reports must not
    # take CPU from the consumer.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-query")
    keys = AnalystKeys(analyst_keys) if isinstance(analyst_keys, Mapping) else analyst_keys

    async def query(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return _json({"error": "request too large"}, 413)
        try:
            doc = orjson.loads(body)
            sql = doc["sql"]
            if not isinstance(sql, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _json({"error": 'send {"sql": "SELECT ..."}'}, 400)
        loop = asyncio.get_running_loop()
        try:
            payload = await loop.run_in_executor(executor, run_query, client, sql, max_rows, timeout_s)
        except NotReadOnly as exc:
            return _json({"error": str(exc)}, 403)
        except Exception as exc:  # noqa: BLE001 - ClickHouse errors go back to the analyst as text
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]
            status = 403 if clickhouse_code(exc) in (164, 497) else 400
            return _json({"error": first}, status)
        return _json(payload)

    async def health(_: Request) -> Response:
        return _json({"status": "ok"})

    async def metrics(_: Request) -> Response:
        body = generate_latest(registry) if registry is not None else b""
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    reports = report_routes(ReportService(client, max_rows, timeout_s), keys, executor, today)
    return Starlette(
        routes=[
            Route("/v1/query", query, methods=["POST"]), Route("/healthz", health), Route("/metrics", metrics),
            *reports, *dashboard_routes(),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))],
    )
