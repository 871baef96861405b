"""GET /v1/reports/{report}: the read-only JSON report API (contract in docs/reports.md).

Thin shell: authenticate the analyst key, parse parameters, run the report on the query thread, map errors to
statuses once: bad parameter 400, no or unknown key 401, app not covered by the key 403, query over its time
budget 504, anything else from ClickHouse 500 (logged, not echoed: it may name internals).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import date
from typing import Any, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from stream.errors import clickhouse_code
from stream.reports.params import ReportParamError, parse_params
from stream.reports.service import REPORTS, ReportService

log = logging.getLogger(__name__)
TIMEOUT_CODES = (159, 160)  # TIMEOUT_EXCEEDED, TOO_SLOW
# Reports run one at a time on the query thread; beyond this many waiting, a caller is told to come back
# rather than queueing minutes of work (a few reloads of a dashboard send dozens of queries).
MAX_WAITING_REPORTS = 16


class KeySource(Protocol):
    def apps_for(self, key: str) -> frozenset[str] | None: ...


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status, headers={"Cache-Control": "no-store", **(headers or {})},
        media_type="application/json",
    )


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def report_routes(
    service: ReportService, keys: KeySource | None, executor: Executor, today: Callable[[], date]
) -> list[BaseRoute]:
    waiting = 0

    async def report(request: Request) -> Response:
        nonlocal waiting
        name = request.path_params["report"]
        run = REPORTS.get(name)
        if run is None:
            return _json({"error": f"no report {name!r}; reports: {', '.join(REPORTS)}"}, 404)
        key = _bearer(request)
        apps = keys.apps_for(key) if keys is not None and key else None
        if apps is None:
            why = "send an analyst key as 'Authorization: Bearer <key>'" if keys is not None else (
                "reports are off: no analyst keys are configured (STREAM_APPS_FILE)")
            return _json({"error": why}, 401, {"WWW-Authenticate": "Bearer"})
        try:
            params = parse_params(request.query_params, today())
        except ReportParamError as exc:
            return _json({"error": str(exc)}, 400)
        if params.app not in apps:
            return _json({"error": f"this analyst key does not cover app {params.app!r}"}, 403)
        if waiting >= MAX_WAITING_REPORTS:
            return _json({"error": "too many reports in progress; try again shortly"}, 503, {"Retry-After": "2"})
        loop = asyncio.get_running_loop()
        waiting += 1
        try:
            payload = await loop.run_in_executor(executor, run, service, params)
        except ReportParamError as exc:  # a step list, judged when the report is built
            return _json({"error": str(exc)}, 400)
        except Exception as exc:  # every store failure becomes one classified answer
            if clickhouse_code(exc) in TIMEOUT_CODES:
                return _json({"error": "the report took longer than its time budget; narrow the date range"}, 504)
            log.exception("report %s failed for app %s", name, params.app)
            return _json({"error": "the report failed; the processor's log has the details"}, 500)
        finally:
            waiting -= 1
        return _json(payload)

    return [Route("/v1/reports/{report}", report, methods=["GET"])]
