"""`touchstream postbacks`: sends the decided intents, one worker per deployment (docs/postbacks.md).

A cycle: record what a failed cycle could not, ask the processor which intents are due, and for each one (or a
batch of up to 50 in Tencent's click-id mode) record `sending`, send, record the outcome. Nothing is sent
unless its `sending` row was recorded first, and nothing is asked for again until every outcome is recorded:
a `sending` row that is an intent's newest is therefore always a crash between send and record (plan.py).
Requests: HTTPS only, to allowed hosts, no redirects followed, a short timeout, no proxy from the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from runtime.errors import StartupError
from schemas.postback_config import PostbackConfig
from stream.postbacks.outcome import Outcome, judge, next_delay, no_answer
from stream.postbacks.plan import (
    Due,
    TokenBucket,
    action_for,
    not_sent,
    outcome_row,
    refused,
    sending,
    without_send,
)
from stream.postbacks.requests import (
    TENCENT_BATCH,
    Account,
    Refused,
    Request,
    Target,
    ocean_engine,
    tencent_callback,
    tencent_click_ids,
)
from stream.postbacks.settings import PostbackSettings

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class StoreUnavailable(RuntimeError):
    """The processor did not take the call; the cycle stops and is tried again."""


def accounts_of(configs: dict[str, dict[str, PostbackConfig]], environ: dict[str, str]) -> dict[str, Account]:
    """Each enabled integration's sending facts and token; a missing token stops the start (named, not shown)."""
    accounts = {}
    for app in configs.values():
        for c in app.values():
            token = ""
            if c.access_token_env:
                token = environ.get(c.access_token_env, "").strip()
                if not token and c.enabled:
                    msg = f"integration {c.integration_id}: environment variable {c.access_token_env} is not set"
                    raise StartupError(msg)
            elif c.access_token_file:
                try:
                    token = Path(c.access_token_file).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    msg = f"integration {c.integration_id}: access_token_file cannot be read: {exc.strerror}"
                    raise StartupError(msg) from None
            accounts[c.integration_id] = Account(c.wechat_app_id, c.account_id, c.user_action_set_id, token)
    return accounts


class PostbackWorker:
    def __init__(
        self, settings: PostbackSettings, configs: dict[str, dict[str, PostbackConfig]], accounts: dict[str, Account],
        clock: Clock = lambda: datetime.now(UTC), rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.configs = {c.integration_id: c for app in configs.values() for c in app.values()}
        self.accounts = accounts
        self.target = Target(tuple(h.lower() for h in settings.postback_allowed_hosts),
                             settings.postback_tencent_api, settings.postback_ocean_engine_api)
        self.clock = clock
        self.rng = rng or random.Random()
        self.buckets: dict[str, TokenBucket] = {}
        self.unrecorded: list[dict[str, Any]] = []
        key = settings.stream_sql_key.get_secret_value() if settings.stream_sql_key else ""
        self.store = httpx.AsyncClient(base_url=settings.postback_processor_url, timeout=30, trust_env=False,
                                       headers={"Authorization": f"Bearer {key}"})
        verify: ssl.SSLContext | bool = True
        if settings.postback_ca_file is not None:
            verify = ssl.create_default_context(cafile=str(settings.postback_ca_file))
        self.http = httpx.AsyncClient(follow_redirects=False, timeout=settings.postback_timeout_s, verify=verify,
                                      trust_env=False)

    async def close(self) -> None:
        await self.http.aclose()
        await self.store.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                worked = await self.cycle()
                failures = 0
            except StoreUnavailable as exc:
                failures += 1
                log.warning("postback store call failed (%s), trying again", exc)
                worked = False
            if not worked:
                delay = self.settings.postback_poll_s * min(2 ** min(failures, 5), 30)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def cycle(self) -> bool:
        """One pass over the due intents; True if there was something to do."""
        if self.unrecorded:
            await self._record(self.unrecorded)
            self.unrecorded = []
        rows = (await self._call("/v1/postbacks/due", {"now": self.clock().isoformat(),
                                                        "limit": self.settings.postback_batch}))["rows"]
        if not rows:
            return False
        dues = [Due.of(r) for r in rows]
        batches: dict[str, list[Due]] = {}
        for due in dues:
            now = self.clock()
            action = action_for(due, now)
            if action != "send":
                await self._record([without_send(due, action, now)])
            elif due.pending.platform == "tencent_ads" and due.pending.mode == "click_id":
                batches.setdefault(due.pending.integration_id, []).append(due)
            else:
                await self._send([due])
        for batch in batches.values():
            for start in range(0, len(batch), TENCENT_BATCH):
                await self._send(batch[start:start + TENCENT_BATCH])
        return True

    async def _send(self, dues: list[Due]) -> None:
        now = self.clock()
        first = dues[0].pending
        try:
            request = self._request(dues, now)
        except Refused as exc:
            await self._record([refused(d, now, str(exc)) for d in dues])
            return
        await self._wait_for_token(first.integration_id)
        try:
            await self._record([sending(d, now) for d in dues])  # nothing is sent unless this is on record
        except StoreUnavailable:
            # Maybe recorded, maybe not: nothing was sent, and the next cycle must not take it for a crash.
            self.unrecorded.extend(not_sent(d, now) for d in dues)
            raise
        started = time.perf_counter()
        outcome = await self._post(request)
        latency_ms = (time.perf_counter() - started) * 1000
        done = self.clock()
        rows = []
        for d in dues:
            retry_in = None
            if outcome.kind == "retriable":
                retry_in = next_delay(d.sends + 1, timedelta(seconds=self.settings.postback_retry_initial_s),
                                      self.rng, outcome.retry_after)
            rows.append(outcome_row(d, outcome, latency_ms, done, retry_in))
        log.info("postback %s to %s: %s (HTTP %s, code %s)", ",".join(request.intent_ids)[:200], request.host,
                 outcome.kind, outcome.http_status, outcome.code)
        try:
            await self._record(rows)
        except StoreUnavailable:
            self.unrecorded.extend(rows)  # recorded before anything else is asked for (see the module docstring)
            raise

    def _request(self, dues: list[Due], now: datetime) -> Request:
        p = dues[0].pending
        config = self.configs.get(p.integration_id)
        if config is None or not config.enabled:
            msg = f"refused: integration {p.integration_id!r} has no enabled postback in the apps file"
            raise Refused(msg)
        account = self.accounts.get(p.integration_id, Account())
        if p.platform == "ocean_engine":
            return ocean_engine(p, self.target)
        if p.mode == "click_id":
            return tencent_click_ids([d.pending for d in dues], account, self.target, now)
        return tencent_callback(p, account, self.target, now)

    async def _post(self, request: Request) -> Outcome:
        try:
            response = await self.http.post(request.url, content=request.body, headers=request.headers)
        except httpx.TimeoutException:
            return no_answer("timeout")
        except httpx.HTTPError as exc:
            # The exception text may quote the URL (click-id mode carries the token in it): the type only.
            return no_answer(f"network error: {type(exc).__name__}")
        headers = {k.lower(): v for k, v in response.headers.items()}
        return judge(response.status_code, response.content[:65_536], headers, self.clock())

    async def _wait_for_token(self, integration_id: str) -> None:
        config = self.configs.get(integration_id)
        bucket = self.buckets.get(integration_id)
        if bucket is None:
            rate = config.rate_per_minute if config is not None else 600.0
            bucket = self.buckets[integration_id] = TokenBucket(rate, time.monotonic())
        while (wait := bucket.wait(time.monotonic())) > 0:
            await asyncio.sleep(wait)

    async def _record(self, rows: list[dict[str, Any]]) -> None:
        await self._call("/v1/postbacks/attempts", {"rows": rows})

    async def _call(self, path: str, doc: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.store.post(path, json=doc)
        except httpx.HTTPError as exc:
            msg = f"{path}: {type(exc).__name__}"
            raise StoreUnavailable(msg) from None
        if response.status_code != 200:
            msg = f"{path}: HTTP {response.status_code} {response.text[:200]}"
            raise StoreUnavailable(msg)
        result: dict[str, Any] = response.json()
        return result


async def retry_failed(settings: PostbackSettings, statuses: tuple[str, ...], since: str) -> int:
    key = settings.stream_sql_key.get_secret_value() if settings.stream_sql_key else ""
    async with httpx.AsyncClient(base_url=settings.postback_processor_url, timeout=60, trust_env=False,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        response = await client.post("/v1/postbacks/retry", json={"since": since, "statuses": list(statuses)})
    if response.status_code != 200:
        msg = f"retry refused: HTTP {response.status_code} {response.text[:200]}"
        raise StartupError(msg)
    return int(response.json()["requeued"])


def environ() -> dict[str, str]:
    return dict(os.environ)
