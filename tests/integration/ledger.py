"""A load driver for fault tests that keeps its own ledger of what the collector acknowledged.

Each client sends batches of fresh events in a loop until told to stop; a batch that gets a 2xx has all its
event ids written to the ledger, a batch that does not is retried (same ids, as the SDK does) until it is
acknowledged or the driver stops. The ledger is then compared with what ClickHouse stored: every acknowledged
id present exactly once, and nothing that was never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

MAX_BATCHES_PER_CLIENT = 20_000  # a bound on every loop, whatever the stop event says


def page_views(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {"event_id": f"{prefix}-{i}", "type": "page_view", "timestamp": "2026-11-20T10:00:00Z",
         "anonymous_id": f"dev-{prefix.split('-')[0]}"}
        for i in range(n)
    ]


@dataclass
class Ledger:
    acked: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    # (monotonic time, status) of every answer; status 0 = no answer (connection refused, timeout)
    answers: list[tuple[float, int]] = field(default_factory=list)

    def statuses(self) -> Counter[int]:
        return Counter(status for _, status in self.answers)

    def first_ok_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 2xx answered after it, or None if none came."""
        for at, status in self.answers:
            if at >= moment and 200 <= status < 300:
                return at - moment
        return None

    def non_ok_window(self, since: float) -> tuple[float, float] | None:
        """(first, last) time of non-2xx answers after `since`, or None if every answer was a 2xx."""
        bad = [at for at, status in self.answers if at >= since and not 200 <= status < 300]
        return (bad[0], bad[-1]) if bad else None


@dataclass
class Driver:
    base_url: str
    write_key: str
    clients: int = 8
    batch_size: int = 10
    pause_s: float = 0.02
    make_events: Callable[[str, int], list[dict[str, Any]]] = page_views
    ledger: Ledger = field(default_factory=Ledger)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> Driver:
        self._tasks = [asyncio.create_task(self._client(i)) for i in range(self.clients)]
        return self

    async def finish(self, timeout: float = 60) -> Ledger:
        """Stop sending new batches; wait until every client's last batch was acknowledged (or gave up)."""
        self.stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout)
        return self.ledger

    async def _client(self, index: int) -> None:
        headers = {"X-Write-Key": self.write_key}
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            for n in range(MAX_BATCHES_PER_CLIENT):
                if self.stop.is_set():
                    return
                events = self.make_events(f"c{index}-b{n}", self.batch_size)
                self.ledger.sent.update(e["event_id"] for e in events)
                await self._deliver(http, headers, events)

    async def _deliver(self, http: httpx.AsyncClient, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
        """Retry one batch until a 2xx; once stopping, at most 30 s more (then it stays unacknowledged)."""
        give_up: float | None = None
        while True:
            try:
                response = await http.post("/v1/batch", json={"events": events}, headers=headers)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            self.ledger.answers.append((time.monotonic(), status))
            if 200 <= status < 300:
                self.ledger.acked.update(e["event_id"] for e in events)
                await asyncio.sleep(self.pause_s)
                return
            if self.stop.is_set():
                give_up = give_up or time.monotonic() + 30
                if time.monotonic() > give_up:
                    return
            await asyncio.sleep(0.2)


def check_stored(ledger: Ledger, rows: list[tuple[str, int]]) -> None:
    """`rows`: (event_id, count of rows) as stored. Every acked id once; nothing stored that was not sent."""
    stored = dict(rows)
    missing = sorted(ledger.acked - stored.keys())
    doubled = sorted(i for i, n in stored.items() if n > 1)
    unknown = sorted(stored.keys() - ledger.sent)
    assert not missing, f"{len(missing)} acknowledged events are not stored, e.g. {missing[:5]}"
    assert not doubled, f"{len(doubled)} events are stored more than once, e.g. {doubled[:5]}"
    assert not unknown, f"{len(unknown)} stored events were never sent, e.g. {unknown[:5]}"
