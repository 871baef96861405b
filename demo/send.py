"""Sending the generated traffic through the real front door, in time order, and waiting for the processor.

Simulated hour by hour: first the spend of the day that just ended (POST /v1/costs, admin key), then the ad
platforms' clicks (GET /v1/webhooks/{id}/click, token), then the SDK events (POST /v1/batch, write key, batches
of up to `batch_size`). Clicks go before the visits they open, as on a phone. `sent_at` is the real send time,
so the collector keeps the historic timestamps as they are. 429 and 503 are retried after their Retry-After.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo.apps import DemoApp
from demo.traffic import AdClick, SpendRow, Traffic
from schemas.events import CONVERSION_TYPES, format_timestamp

RETRY_STATUSES = frozenset({429, 503})
MAX_ATTEMPTS = 10
WEBHOOK_CONCURRENCY = 8


class SendError(RuntimeError):
    """The collector refused something a retry cannot fix; the message says what."""


@dataclass(slots=True)
class Step:
    hour: datetime
    spend: list[SpendRow] = field(default_factory=list)
    clicks: list[AdClick] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class SendResult:
    events_accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)  # per-event rejections, as the collector said
    clicks_accepted: int = 0
    clicks_refused: list[str] = field(default_factory=list)
    spend_rows: int = 0
    retries: int = 0

    @property
    def stored(self) -> int:
        """Rows this run puts in `events`: accepted SDK events and accepted clicks (spend goes to ad_spend)."""
        return self.events_accepted + self.clicks_accepted


def schedule(traffic: Traffic) -> list[Step]:
    """The traffic in hourly steps; a day's spend goes at midnight after it, as a daily cost sync would."""
    steps: dict[datetime, Step] = {}

    def step(at: datetime) -> Step:
        hour = at.replace(minute=0, second=0, microsecond=0)
        return steps.setdefault(hour, Step(hour))

    for click in traffic.clicks:
        step(click.at).clicks.append(click)
    for event in traffic.events():
        step(datetime.fromisoformat(event["timestamp"])).events.append(event)
    for row in traffic.spend:
        step(datetime.combine(row.day + timedelta(days=1), datetime.min.time(), UTC)).spend.append(row)
    return [steps[hour] for hour in sorted(steps)]


async def request(client: httpx.AsyncClient, method: str, url: str, result: SendResult,
                  body: Callable[[], Any] | None = None, **kwargs: Any) -> httpx.Response:
    """One call, retried on 429/503 (after Retry-After) and on connection errors; `body()` is rebuilt per try."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            extra = {"json": body()} if body is not None else {}
            response = await client.request(method, url, **kwargs, **extra)
        except httpx.TransportError as exc:
            if attempt == MAX_ATTEMPTS:
                msg = f"{method} {url}: {exc!r} after {attempt} attempts"
                raise SendError(msg) from exc
            await asyncio.sleep(min(0.5 * 2**attempt, 10))
        else:
            if response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
                return response
            await asyncio.sleep(_retry_after(response, attempt))
        result.retries += 1
    msg = "unreachable"
    raise AssertionError(msg)


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return float(min(0.5 * 2**attempt, 10))
    return max(0.0, min(seconds, 30.0))


async def wait_until_authorised(client: httpx.AsyncClient, app: DemoApp, timeout_s: float = 20) -> None:
    """The collector re-reads the apps file every few seconds: wait until it knows the demo app's keys."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        response = await client.post("/v1/costs", json={"rows": []}, headers={"X-Admin-Key": app.admin_key})
        if response.status_code == 200:
            return
        if response.status_code != 401 or asyncio.get_running_loop().time() > deadline:
            msg = f"the collector does not accept the demo app's keys ({response.status_code}: {response.text})"
            raise SendError(msg)
        await asyncio.sleep(0.5)


async def send_traffic(client: httpx.AsyncClient, app: DemoApp, traffic: Traffic, *, batch_size: int = 250,
                       console: Console | None = None) -> SendResult:
    """Sends everything, in time order; `client` has the collector as its base URL."""
    steps = schedule(traffic)
    result = SendResult()
    total = sum(len(s.events) + len(s.clicks) + len(s.spend) for s in steps)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("sending", total=total)
        for step in steps:
            day = (step.hour.date() - traffic.start).days + 1
            progress.update(task, description=f"day {min(day, traffic.days):>2}/{traffic.days} {step.hour:%m-%d %H}h")
            if step.spend:
                await _send_spend(client, app, step.spend, result)
                progress.advance(task, len(step.spend))
            if step.clicks:
                await _send_clicks(client, app, step.clicks, result)
                progress.advance(task, len(step.clicks))
            for batch in _chunks(step.events, batch_size):
                await _send_batch(client, app, batch, result)
                progress.advance(task, len(batch))
    return result


def _chunks(items: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


async def _send_spend(client: httpx.AsyncClient, app: DemoApp, rows: list[SpendRow], result: SendResult) -> None:
    response = await request(client, "POST", "/v1/costs", result, body=lambda: {"rows": [r.as_json() for r in rows]},
                             headers={"X-Admin-Key": app.admin_key})
    if response.status_code != 200:
        msg = f"spend upload refused ({response.status_code}): {response.text[:500]}"
        raise SendError(msg)
    result.spend_rows += int(response.json()["accepted"])


async def _send_clicks(client: httpx.AsyncClient, app: DemoApp, clicks: list[AdClick], result: SendResult) -> None:
    limit = asyncio.Semaphore(WEBHOOK_CONCURRENCY)

    async def one(click: AdClick) -> None:
        hook = app.webhooks[click.channel_key]
        async with limit:
            response = await request(client, "GET", f"/v1/webhooks/{hook.integration_id}/click", result,
                                     params={**click.params, "token": hook.token})
        if response.status_code == 404:
            msg = f"webhook {hook.integration_id} unknown or its token is wrong: is the apps file the collector's?"
            raise SendError(msg)
        if response.status_code == 200:
            result.clicks_accepted += 1
        else:
            result.clicks_refused.append(f"{click.click_id}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(one(c) for c in clicks))


async def _send_batch(client: httpx.AsyncClient, app: DemoApp, events: list[dict[str, Any]],
                      result: SendResult) -> None:
    response = await request(
        client, "POST", "/v1/batch", result, headers={"X-Write-Key": app.write_key},
        body=lambda: {"sent_at": format_timestamp(datetime.now(UTC)), "events": events},
    )
    if response.status_code != 200:
        msg = f"batch refused ({response.status_code}): {response.text[:500]}"
        raise SendError(msg)
    body = response.json()
    result.events_accepted += int(body["accepted"])
    result.rejected.extend(body.get("rejected") or [])


# -- catching up ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Landed:
    """What the processor has stored of a run: distinct events, conversions with credits, spend rows."""

    events: int
    conversions: int
    spend_rows: int


def expected_landing(traffic: Traffic, result: SendResult) -> Landed:
    conversions = sum(e["type"] in CONVERSION_TYPES for j in traffic.journeys for e in j.events)
    return Landed(result.stored, conversions, result.spend_rows)


def run_events_sql(app_id: str, tag: str | None = None) -> str:
    """Distinct events of the app in ClickHouse, or only those of one run (its SDK events and its clicks).

    Distinct ids, not rows: a re-sent event may sit twice in `events` until ReplacingMergeTree merges it."""
    where = f"app_id = '{app_id}'"
    if tag is not None:
        where += (f" AND (startsWith(event_id, 'rd{tag}-') OR event_id LIKE '%:click:wx0{tag}%'"
                  f" OR event_id LIKE '%:click:B.{tag}%')")
    return f"SELECT uniqExact(event_id) FROM events WHERE {where}"


def landed_sql(app_id: str, tag: str) -> str:
    """One row: `Landed` of the run. The processor writes a flush's events first and its credits after, so
    events alone may be counted before the last credits are in; every conversion has credits (one row per model
    at least, `direct` when nothing else), hence conversions are counted in the credits table."""
    return (
        f"SELECT ({run_events_sql(app_id, tag)}), "
        f"(SELECT uniqExact(conversion_id) FROM attribution_credits WHERE app_id = '{app_id}'), "
        f"(SELECT uniqExact(date, channel, campaign, creative, source) FROM ad_spend WHERE app_id = '{app_id}')"
    )


async def query_row(client: httpx.AsyncClient, query_url: str, sql: str, key: str) -> list[Any]:
    """The first row from the stream processor's read-only SQL endpoint, read with the app's analyst key."""
    response = await client.post(f"{query_url.rstrip('/')}/v1/query", json={"sql": sql}, timeout=60,
                                 headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 200:
        msg = f"query refused ({response.status_code}): {response.text[:300]}"
        raise SendError(msg)
    return list(response.json()["rows"][0])


async def wait_landed(fetch: Callable[[], Awaitable[Landed]], expected: Landed, *, timeout_s: float = 300,
                      console: Console | None = None) -> Landed:
    """Polls `fetch()` until every count reaches `expected`; raises SendError if not after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    columns = (TextColumn("stream processor"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("processing", total=expected.events)
        while True:
            got = await fetch()
            progress.update(task, completed=min(got.events, expected.events))
            if (got.events >= expected.events and got.conversions >= expected.conversions
                    and got.spend_rows >= expected.spend_rows):
                return got
            if loop.time() > deadline:
                msg = f"after {timeout_s:.0f}s the stream processor has stored {got}, expected {expected}"
                raise SendError(msg)
            await asyncio.sleep(0.5)
