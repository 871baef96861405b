"""The stream processor's read-only HTTP side: the SQL endpoint (so analysts can query the embedded store it
owns), the JSON report API and the dashboard (stream/reports, stream/dashboard), `/metrics` and `/healthz`.

POST /v1/query {"sql": "SELECT ..."} → {"columns": [...], "types": [...], "rows": [[...], ...]}, with
`Authorization: Bearer <key>`: the deployment's SQL key (STREAM_SQL_KEY, every app) or an analyst key (its apps'
rows only). 401 without a known key, 403 with a one-line reason when the guard (stream/readonly.py) refuses the
query. Bound to loopback by default (STREAM_QUERY_HOST). With a ClickHouse server, `touchstream sql` goes to the
server directly (through the same guard, `run_query`) and this endpoint is merely a convenience.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
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
from stream.postbacks.routes import postback_routes
from stream.readonly import (
    OPERATOR,
    READ_ONLY_SETTINGS_BASE,
    Catalog,
    NotReadOnly,
    Scope,
    check_ast,
    check_canonical,
    check_read_only,
    read_only_settings,
    sql_string,
    table_filters,
)
from stream.reports.keys import AnalystKeys
from stream.reports.routes import KeySource, report_routes
from stream.reports.service import ReportService

MAX_REQUEST_BYTES = 200_000
# A page on another site can point a name at 127.0.0.1 (DNS rebinding) and read loopback servers from an
# operator's browser; answering only to the names we are reached by closes that.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content, default=str), status, media_type="application/json")


UNKNOWN_QUERY_PARAMETER = 456
_CATALOG_SQL = (
    "SELECT currentDatabase(), name, engine, name IN (SELECT table FROM system.columns "
    "WHERE database = currentDatabase() AND name = 'app_id') FROM system.tables WHERE database = currentDatabase()"
)


def load_catalog(client: Any, settings: dict[str, int | str]) -> Catalog:
    rows = client.query(_CATALOG_SQL, settings=settings).result_rows
    database = str(rows[0][0]) if rows else str(client.database)
    views = frozenset(str(r[1]) for r in rows if r[2] == "View")
    tables = frozenset(str(r[1]) for r in rows if r[2] != "View")
    return Catalog(database, tables, views, frozenset(str(r[1]) for r in rows if r[3] and r[2] != "View"))


def guard(client: Any, statement: str, scope: Scope, settings: dict[str, int | str]) -> Catalog:
    """Asks ClickHouse how it reads `statement` (canonical text, syntax tree) and lets the pure guard decide."""
    formatted = client.query(f"SELECT formatQuerySingleLine({sql_string(statement)})", settings=settings)
    check_canonical(str(formatted.result_rows[0][0]))
    try:
        # Parsing only: EXPLAIN AST reads no data and runs no function.
        ast_text = client.raw_query(f"EXPLAIN AST {statement}").decode("utf-8", "replace")
    except Exception as exc:
        if clickhouse_code(exc) == UNKNOWN_QUERY_PARAMETER:
            msg = "query parameters are not supported: write the values into the query"
            raise NotReadOnly(msg) from None
        raise
    catalog = load_catalog(client, settings)
    check_ast(ast_text, catalog, scope)
    return catalog


def run_query(client: Any, sql: str, max_rows: int, timeout_s: int, scope: Scope = OPERATOR) -> dict[str, Any]:
    """Runs one analyst query if the guard allows it for `scope`; raises NotReadOnly with the reason if not."""
    statement = check_read_only(sql)
    # The guard's own reads (catalogue, canonical text) are not the analyst's: no result-size cap of theirs.
    catalog = guard(client, statement, scope, {**READ_ONLY_SETTINGS_BASE, "max_execution_time": timeout_s})
    result = client.query(statement, settings=read_only_settings(max_rows, timeout_s, table_filters(catalog, scope)))
    return {
        "columns": list(result.column_names),
        "types": [t.name for t in result.column_types],
        "rows": [list(r) for r in result.result_rows],
    }


def _utc_today() -> date:
    return datetime.now(UTC).date()


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def create_query_app(
    client: Any,
    max_rows: int,
    timeout_s: int,
    registry: CollectorRegistry | None = None,
    analyst_keys: KeySource | Mapping[str, Collection[str]] | None = None,
    today: Callable[[], date] = _utc_today,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
    sql_key: str | None = None,
) -> Starlette:
    # One query thread: the embedded engine serves one query at a time, and a burst of reports must not
    # take CPU from the consumer.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-query")
    keys = AnalystKeys(analyst_keys) if isinstance(analyst_keys, Mapping) else analyst_keys
    operator_digest = _digest(sql_key) if sql_key else None

    def scope_for(key: str) -> Scope | None:
        if not key:
            return None
        if operator_digest is not None and hmac.compare_digest(_digest(key), operator_digest):
            return OPERATOR
        apps = keys.apps_for(key) if keys is not None else None
        return Scope(apps) if apps is not None else None

    async def query(request: Request) -> Response:
        scope = scope_for(_bearer(request))
        if scope is None:
            why = "send the SQL key (STREAM_SQL_KEY) or an analyst key as 'Authorization: Bearer <key>'"
            return Response(orjson.dumps({"error": why}), 401, headers={"WWW-Authenticate": "Bearer"},
                            media_type="application/json")
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
            payload = await loop.run_in_executor(executor, run_query, client, sql, max_rows, timeout_s, scope)
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
    postbacks = postback_routes(client, executor, lambda r: scope_for(_bearer(r)) is OPERATOR, registry)
    return Starlette(
        routes=[
            Route("/v1/query", query, methods=["POST"]), Route("/healthz", health), Route("/metrics", metrics),
            *reports, *postbacks, *dashboard_routes(),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))],
    )
