"""The one client of the stream processor's report API (docs/reports.md), for the command line and the demo.

`GET /v1/reports/<report>` with an analyst key; every way it can fail is a ReportError with one line for a
terminal, the HTTP status kept when there was one (the demo waits out a 401 while a fresh key propagates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


class ReportError(RuntimeError):
    """A report could not be fetched; the message is one line and holds no key."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def report_url(base_url: str, report: str) -> str:
    return f"{base_url.rstrip('/')}/v1/reports/{report}"


def fetch(base_url: str, key: str, report: str, params: Mapping[str, str], timeout: float = 120) -> dict[str, Any]:
    url = report_url(base_url, report)
    try:
        response = httpx.get(url, params=dict(params), headers=_auth(key), timeout=timeout)
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from None
    return payload(response)


async def fetch_async(client: httpx.AsyncClient, base_url: str, key: str, report: str, params: Mapping[str, str],
                      timeout: float = 120) -> dict[str, Any]:
    url = report_url(base_url, report)
    try:
        response = await client.get(url, params=dict(params), headers=_auth(key), timeout=timeout)
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from None
    return payload(response)


def payload(response: httpx.Response) -> dict[str, Any]:
    """The report's JSON object, or a ReportError with the API's own `error` (or the start of its body)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200:
        detail = body.get("error", body) if isinstance(body, dict) else response.text[:200]
        msg = f"{response.status_code}: {detail}"
        raise ReportError(msg, response.status_code)
    if not isinstance(body, dict):
        msg = f"the report API answered 200 without a JSON object: {response.text[:200]!r}"
        raise ReportError(msg, response.status_code)
    return body


def _auth(key: str) -> dict[str, str]:
    if not key:
        msg = "an analyst key is needed"
        raise ReportError(msg)
    return {"Authorization": f"Bearer {key}"}


def _unreachable(url: str, exc: httpx.HTTPError) -> ReportError:
    # The exception's text names the URL at most, never the headers, so the key stays out of the message.
    return ReportError(f"cannot reach the report API at {url}: {exc} (is the stream processor running?)")
