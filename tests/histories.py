"""Random histories of whole people, for the history-import tests: the same events in time order and in
person order (one person's whole history after another, as an export from another system has them).

A person has one to three devices, joined by logins (`identify` with the person's user id), visits from paid
(a click id, with the ad platform's click 30 s before the visit, or never), UTM, share-card and direct
launches, registrations, activations and orders. Gaps between a person's events average a day and reach
weeks, so one history spans more than the allowed lateness. Click ids and order ids are each one person's
(a shared click id or an order id sent by two people is decided by arrival: see docs/attribution.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 6, 1, tzinfo=UTC)

# (context of the launch, whether it carries a click id); the click id is added per visit.
LAUNCHES: tuple[tuple[dict[str, Any], bool], ...] = (
    ({"query": {"utm_source": "douyin", "utm_medium": "cpc", "utm_campaign": "spring"}}, False),
    ({"query": {"utm_source": "weibo", "utm_medium": "social"}}, False),
    ({"scene": 1007, "share": {"from": "friend-1", "depth": 1}}, False),  # a share card
    ({"scene": 1011}, False),  # a QR code
    ({"scene": 1089}, False),  # the recent list: direct
    ({"scene": 1001}, False),  # direct
    ({"scene": 1045}, True),  # a Moments ad with its click id
)
KINDS = ("enter",) * 7 + ("exposure", "click", "identify", "identify", "page_view", "register", "activate") + (
    "convert",) * 3 + ("repurchase",)


@dataclass(frozen=True)
class Step:
    """One event of a history, in the SDK's contract shape (or an ad platform's click when `ad_click`)."""

    event_id: str
    type: str
    at: datetime
    device: str
    context: dict[str, Any] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    user_id: str | None = None
    click_id: str = ""  # for ad clicks: the click the platform reports
    campaign: str = ""


def random_history(seed: int, people: int, days: float = 40, prefix: str = "h") -> list[list[Step]]:
    """`people` histories, each in time order."""
    rng = random.Random(seed)
    history = []
    for p in range(people):
        who = f"{prefix}{seed}p{p}"
        devices = [f"{who}d{k}" for k in range(rng.randint(1, 3))]
        at = START + timedelta(days=rng.uniform(0, days))
        steps: list[Step] = []
        for i in range(rng.randint(2, 14)):
            at += timedelta(minutes=rng.expovariate(1 / (24 * 60)))  # a day on average, sometimes weeks
            device = rng.choice(devices)
            kind = rng.choice(KINDS)
            event_id = f"{who}e{i}"
            if kind in ("enter", "exposure", "click"):
                launch, paid = rng.choice(LAUNCHES)
                context = {k: (dict(v) if isinstance(v, dict) else v) for k, v in launch.items()}
                if paid:
                    click_id = f"{who}k{i}"
                    context["query"] = {"gdt_vid": click_id}
                    if rng.random() < 0.7:
                        steps.append(Step(f"{who}w{i}", "ad_click", at - timedelta(seconds=30), "", click_id=click_id,
                                          campaign=rng.choice(("camp-1", "camp-2"))))
                steps.append(Step(event_id, kind, at, device, context=context))
            elif kind == "identify":
                steps.append(Step(event_id, kind, at, device, user_id=f"{who}u"))
            elif kind in ("convert", "repurchase"):
                revenue = f"{rng.randint(1, 99_999) / 100:.2f}"
                steps.append(Step(event_id, kind, at, device, properties={
                    "order_id": f"{who}o{i}", "revenue": revenue, "currency": "CNY",
                }))
            elif kind == "page_view":
                steps.append(Step(event_id, kind, at, device, context={"path": "/pages/item"}))
            else:
                steps.append(Step(event_id, kind, at, device))
        history.append(sorted(steps, key=lambda s: (s.at, s.event_id)))
    return history


def time_order(history: list[list[Step]]) -> list[Step]:
    return sorted((s for person in history for s in person), key=lambda s: (s.at, s.event_id))


def person_order(history: list[list[Step]], seed: int) -> list[Step]:
    people = list(history)
    random.Random(seed).shuffle(people)
    return [s for person in people for s in person]


def sdk_event(step: Step) -> dict[str, Any]:
    """The event as a client (or `touchstream import`) sends it to /v1/batch."""
    event: dict[str, Any] = {
        "event_id": step.event_id, "type": step.type, "anonymous_id": step.device,
        "timestamp": step.at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if step.context:
        event["context"] = step.context
    if step.properties:
        event["properties"] = step.properties
    if step.user_id:
        event["user_id"] = step.user_id
    return event


def webhook_click(step: Step, app_id: str) -> dict[str, Any]:
    """An ad click as the collector's webhook route writes it to the events topic."""
    at = step.at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "event_id": step.event_id, "type": "ad_click", "app_id": app_id, "anonymous_id": "",
        "timestamp": at, "event_time": at, "received_at": at, "sent_at": None, "click_id": step.click_id,
        "platform": "tencent_ads", "channel": "tencent_ads", "channel_type": "paid", "campaign": step.campaign,
        "creative": "", "clock_corrected": False, "clock_clamped": False, "ip": "", "user_agent": "",
        "context": {}, "properties": {},
    }
