"""Where the processor meets the postback decision: pure glue, no I/O.

The stream's engine factory carries the postback sections of the apps file (`JourneyFactory`); a processor
built with one keeps a `PostbackBook` and asks it, after each event the engine folded, what to write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from schemas.postback_config import PostbackConfig
from stream.journeys.engine import AppEngine
from stream.journeys.outputs import EngineOutput
from stream.journeys.state import Touchpoint
from stream.postbacks.decide import PostbackBook, PostbackIntent


class JourneyFactory:
    """An engine per app, plus the apps' postback configs (app_id -> integration_id -> config)."""

    def __init__(
        self, make: Callable[[str], AppEngine], postbacks: Mapping[str, Mapping[str, PostbackConfig]]
    ) -> None:
        self._make = make
        self.postbacks = postbacks

    def __call__(self, app_id: str) -> AppEngine:
        return self._make(app_id)


def book_for(factory: object) -> PostbackBook | None:
    """A book when the factory names at least one enabled postback; None otherwise (nothing is decided)."""
    if isinstance(factory, JourneyFactory):
        book = PostbackBook(factory.postbacks)
        if any(book.wants(app_id) for app_id in factory.postbacks):
            return book
    return None


def after_fold(
    book: PostbackBook, engine: AppEngine, event: Mapping[str, Any], at: datetime, version: int,
    result: EngineOutput, conversions_mark: int, credits_mark: int,
) -> list[PostbackIntent]:
    """The intents of one folded event: the rows it added to `result` since the marks."""
    app_id = engine.app_id
    if not book.wants(app_id):
        return []
    if event.get("type") == "ad_click":
        book.note_click(event, at)
    book.maybe_evict(app_id, engine.horizon, at)
    conversions = result.conversions[conversions_mark:]
    if not conversions:
        return []

    def touch_of(user_key: str, touchpoint_id: str) -> Touchpoint | None:
        person = engine.persons.get(user_key)
        return person.touches.get(touchpoint_id) if person is not None else None

    # Judged by the app's clock (its newest event time), not the event's own: a click that arrives late and
    # re-attributes an old order is decided when it arrives. Both are in the records: a replay decides the same.
    now = max(at, engine.watermark or at)
    return book.decide(
        app_id, conversions, result.credits[credits_mark:], touch_of, engine.graph.members, now, version
    )
