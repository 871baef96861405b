"""Serves the dashboard page and its static files from the stream processor's query server.

The page is plain HTML, CSS and ES modules with Chart.js vendored (no build step, no CDN), so it works offline
and under a strict Content-Security-Policy: every script and style comes from this server, no inline code runs,
and the page may talk to nothing but this origin (the report API at /v1/reports/*). The analyst key lives in the
page's sessionStorage and travels only in the Authorization header; the server side here never sees it.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The key is never in a URL, but a fragment-less Referer still tells other sites which dashboard linked them.
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate on every load (ETag/Last-Modified make that cheap) so an upgraded server never mixes old modules
    # with a new page.
    "Cache-Control": "no-cache",
}


class _DashboardStatic(StaticFiles):
    """StaticFiles with the page's security headers, so a file opened directly gets the same protection."""

    def file_response(
        self, full_path: str | os.PathLike[str], stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


def dashboard_routes() -> list[BaseRoute]:
    """GET /dashboard (the page) and /dashboard/static/* (its scripts, styles and vendored Chart.js)."""
    index_path = STATIC_DIR / "index.html"
    if not index_path.is_file():
        msg = f"dashboard files missing: {index_path} (is stream/dashboard/static packaged?)"
        raise RuntimeError(msg)
    page_bytes = index_path.read_bytes()

    async def page(_: Request) -> Response:
        return Response(page_bytes, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    return [
        Route("/dashboard", page, methods=["GET"], name="dashboard"),
        Mount("/dashboard/static", app=_DashboardStatic(directory=STATIC_DIR), name="dashboard-static"),
    ]
