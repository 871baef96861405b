"""The worker's way into the store: POST /v1/postbacks/{due,attempts,retry} on the processor's HTTP side.

Operator-only (the deployment's SQL key, STREAM_SQL_KEY): analyst keys read reports, never write. The calls run
on the query thread like every other read of the embedded store. Recorded outcomes are also counted for
Prometheus (`touchstream_postback_outcomes_total{platform, outcome}` on the processor's /metrics).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, date, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from stream.postbacks import store

log = logging.getLogger(__name__)
MAX_BODY = 2_000_000
MAX_DUE = 1_000


def _json(content: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json", headers={"Cache-Control": "no-store"})


def postback_routes(
    client: Any, executor: Executor, is_operator: Callable[[Request], bool], registry: CollectorRegistry | None,
) -> list[BaseRoute]:
    outcomes = Counter(
        "touchstream_postback_outcomes", "Postback attempt records by platform and outcome (sending included)",
        ["platform", "outcome"], registry=registry,
    ) if registry is not None else None

    async def call(request: Request, run: Callable[[dict[str, Any]], Any]) -> Response:
        if not is_operator(request):
            return _json({"error": "send the SQL key (STREAM_SQL_KEY) as 'Authorization: Bearer <key>'"}, 401)
        body = await request.body()
        if len(body) > MAX_BODY:
            return _json({"error": "request too large"}, 413)
        try:
            doc = orjson.loads(body or b"{}")
            if not isinstance(doc, dict):
                raise TypeError
        except (orjson.JSONDecodeError, TypeError):
            return _json({"error": "send a JSON object"}, 400)
        loop = asyncio.get_running_loop()
        try:
            return _json(await loop.run_in_executor(executor, run, doc))
        except (KeyError, TypeError, ValueError) as exc:
            return _json({"error": f"bad request: {type(exc).__name__}: {str(exc)[:200]}"}, 400)
        except Exception:  # every store failure becomes one answer; the worker retries
            log.exception("postback store call failed")
            return _json({"error": "the store call failed; the processor's log has the details"}, 503)

    def due(doc: dict[str, Any]) -> dict[str, Any]:
        now = datetime.fromisoformat(str(doc.get("now") or datetime.now(UTC).isoformat()))
        limit = min(int(doc.get("limit", 100)), MAX_DUE)
        return {"rows": [store.jsonable(r) for r in store.due(client, now, limit)]}

    def attempts(doc: dict[str, Any]) -> dict[str, Any]:
        rows = doc["rows"]
        if not isinstance(rows, list):
            msg = "rows must be a list"
            raise TypeError(msg)
        written = store.record(client, rows)
        if outcomes is not None:
            for r in rows:
                outcomes.labels(str(r["platform"]), str(r["status"])).inc()
        return {"written": written}

    def retry(doc: dict[str, Any]) -> dict[str, Any]:
        statuses = tuple(str(s) for s in doc.get("statuses", ["failed"]))
        since = date.fromisoformat(str(doc["since"]))
        return {"requeued": store.requeue(client, statuses, since, datetime.now(UTC))}

    async def due_route(request: Request) -> Response:
        return await call(request, due)

    async def attempts_route(request: Request) -> Response:
        return await call(request, attempts)

    async def retry_route(request: Request) -> Response:
        return await call(request, retry)

    return [
        Route("/v1/postbacks/due", due_route, methods=["POST"]),
        Route("/v1/postbacks/attempts", attempts_route, methods=["POST"]),
        Route("/v1/postbacks/retry", retry_route, methods=["POST"]),
    ]
