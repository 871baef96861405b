"""Funnel queries for any list of steps: validated steps, and the call of the `funnel` view with quoted literals.

The SQL that counts is written once, in the `funnel` view (schemas/views/22_funnel.sql); this module only
checks the steps and the arguments and calls it. The `lifecycle_funnel` view is that call for the seven
lifecycle steps with the view's parameters in place of literals (`lifecycle_view_body`), and a unit test holds
the DDL to it, so a custom funnel and the lifecycle view always count the same way. Pure: returns text.

Counting rules (docs/queries.md, "Funnels and paths"): ClickHouse `windowFunnel` over each person's events,
timestamps in milliseconds; step 1 must fall on a day in [date_from, date_to], later steps may run past
date_to as long as they are within the window of step 1 (bound inclusive). `strict_once` stops one event from
filling two steps (`page_view, page_view:/pages/cart` needs two page views); events with the same millisecond
are taken in step order. `convert` and `repurchase` steps are the order history's first and later orders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from schemas.events import CUSTOM_NAME_PATTERN, EVENT_TYPES, LIFECYCLE_TYPES
from stream.reports.sqltext import date_literal, quote, uint

MIN_STEPS: Final = 2
MAX_STEPS: Final = 12
MAX_WINDOW_S: Final = 2**32 - 1  # the view's window_s is a UInt32
MAX_PATH_LENGTH: Final = 512  # the longest page path the event contract accepts

# Only these types carry the name a step can match on: the page path, the custom event's name (the `funnel`
# view matches a named step on the event's label, `page_view:<path>` or `custom:<name>`).
NAMED_TYPES: Final = {"page_view": "path", "custom": "name"}
_CUSTOM_NAME = re.compile(CUSTOM_NAME_PATTERN)
_CUSTOM_NAME_MAX = 64

VIEW_PARAMETERS: Final = {
    "app": "{app:String}",
    "date_from": "{date_from:Date}",
    "date_to": "{date_to:Date}",
    "window_s": "{window_s:UInt32}",
}


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """One funnel step: an event type, and for page views / custom events optionally the path / name."""

    type: str
    name: str = ""

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            msg = f"unknown event type {self.type!r}: expected one of {', '.join(EVENT_TYPES)}"
            raise ValueError(msg)
        if not self.name:
            return
        if self.type not in NAMED_TYPES:
            msg = (
                f"{self.type!r} steps take no name: only page_view:<path> and custom:<name> do "
                f"(got {self.label!r})"
            )
            raise ValueError(msg)
        if self.type == "custom" and (len(self.name) > _CUSTOM_NAME_MAX or not _CUSTOM_NAME.match(self.name)):
            msg = (
                f"custom event name {self.name!r} is not valid: a letter, then letters, digits, "
                f"'_', '.', ':' or '-', at most {_CUSTOM_NAME_MAX} characters"
            )
            raise ValueError(msg)
        if self.type == "page_view" and len(self.name) > MAX_PATH_LENGTH:
            msg = f"page path is longer than {MAX_PATH_LENGTH} characters"
            raise ValueError(msg)

    @property
    def label(self) -> str:
        """How the step is written and shown: `type` or `type:name`."""
        return f"{self.type}:{self.name}" if self.name else self.type


LIFECYCLE_STEPS: Final = tuple(FunnelStep(t) for t in LIFECYCLE_TYPES)


def parse_steps(text: str) -> tuple[FunnelStep, ...]:
    """`exposure,click,page_view:/pages/cart,custom:add_to_cart` → steps. ValueError says what is wrong."""
    items = [item.strip() for item in text.split(",")]
    if items == [""]:
        msg = f"no funnel steps given: list {MIN_STEPS} to {MAX_STEPS} steps separated by commas"
        raise ValueError(msg)
    steps = []
    for number, item in enumerate(items, start=1):
        if not item:
            msg = f"step {number} is empty (two commas in a row, or a comma at an end?)"
            raise ValueError(msg)
        # A custom name may itself contain ':' (`custom:ns:event`): only the first one separates.
        type_, colon, name = item.partition(":")
        type_ = type_.strip()
        name = name.strip()
        if colon and not name:
            msg = f"step {number} ({item!r}) has a ':' but no name after it"
            raise ValueError(msg)
        try:
            steps.append(FunnelStep(type_, name))
        except ValueError as exc:
            msg = f"step {number}: {exc}"
            raise ValueError(msg) from None
    _check_count(len(steps))
    return tuple(steps)


def funnel_sql(steps: Sequence[FunnelStep], app: str, date_from: date, date_to: date, window_s: int) -> str:
    """One SELECT with the columns of the `lifecycle_funnel` view, for `steps`, with quoted literals."""
    _check_count(len(steps))
    if date_from > date_to:
        msg = f"date_from {date_from.isoformat()} is after date_to {date_to.isoformat()}"
        raise ValueError(msg)
    if isinstance(window_s, bool) or not 0 <= window_s <= MAX_WINDOW_S:
        msg = f"window_s must be a whole number of seconds from 0 to {MAX_WINDOW_S}, got {window_s!r}"
        raise ValueError(msg)
    return _funnel_call(
        steps, app=quote(app), date_from=date_literal(date_from), date_to=date_literal(date_to), window_s=uint(window_s)
    )


def lifecycle_view_body() -> str:
    """The body of the `lifecycle_funnel` view: the lifecycle steps with the view's parameters."""
    return _funnel_call(LIFECYCLE_STEPS, **VIEW_PARAMETERS)


def _check_count(count: int) -> None:
    if not MIN_STEPS <= count <= MAX_STEPS:
        msg = f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps, got {count}"
        raise ValueError(msg)


def _funnel_call(steps: Sequence[FunnelStep], *, app: str, date_from: str, date_to: str, window_s: str) -> str:
    """The call of the `funnel` view with SQL expressions (literals or view parameters) for its arguments.

    Kept free of ';' and of lines starting with '--': the DDL runner splits on the first and drops the second.
    """
    labels = ", ".join(quote(step.label) for step in steps)
    return f"""SELECT * FROM funnel(
    app={app}, date_from={date_from}, date_to={date_to}, window_s={window_s},
    steps=[{labels}]
)"""
