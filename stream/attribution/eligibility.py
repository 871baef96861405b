"""Which touches of a user count for one conversion, and in which order.

Conventions (the same for every model):

- Age = conversion time - touch time. A touch after the conversion (age < 0) never counts; a touch at
  exactly the conversion time (age 0) counts.
- Windows are inclusive: a touch whose age equals the window counts. Click-type touches (clicks, enters,
  ad-platform clicks) use ``Windows.click_seconds``; view-type touches (exposures, impressions) use
  ``Windows.view_seconds``. ``math.inf`` means no lookback limit.
- As in the MMPs, view-type touches are credited only when no click-type touch is eligible: one eligible
  click removes every view from the journey.
- Order: oldest first; touches with the same time are ordered by ``touchpoint_id`` (then by the remaining
  fields, so that even duplicate ids give a total order). The order therefore depends only on the set of
  touches, never on arrival order, and a replay gives identical credits. Upstream assigns
  ``touchpoint_id`` deterministically (e.g. from the event id).
- Times are timezone-aware; they are normalised to UTC. Naive datetimes are rejected with ValueError.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, get_args

TouchKind = Literal["click", "view"]
TOUCH_KINDS: Final[tuple[TouchKind, ...]] = get_args(TouchKind)
DAY_SECONDS = 86400.0


def require_aware(value: datetime, what: str) -> datetime:
    """Return ``value`` in UTC; raise ValueError for a naive datetime."""
    if value.tzinfo is UTC:  # the usual case, and what astimezone(UTC) would return: the same object
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        msg = f"{what} must be a timezone-aware UTC datetime, got naive {value.isoformat()}"
        raise ValueError(msg)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Touch:
    touchpoint_id: str
    time: datetime
    channel: str
    kind: TouchKind
    channel_type: str = ""
    campaign: str = ""
    creative: str = ""

    def __post_init__(self) -> None:
        if not self.touchpoint_id:
            msg = "a touch needs a non-empty touchpoint_id (it is the tie-break key)"
            raise ValueError(msg)
        if self.kind not in TOUCH_KINDS:
            msg = f"touch {self.touchpoint_id!r}: kind must be 'click' or 'view', got {self.kind!r}"
            raise ValueError(msg)
        object.__setattr__(self, "time", require_aware(self.time, f"touch {self.touchpoint_id!r} time"))


@dataclass(frozen=True)
class Windows:
    """Lookback windows in seconds (inclusive); defaults 7 days click-through, 1 day view-through."""

    click_seconds: float = 7 * DAY_SECONDS
    view_seconds: float = DAY_SECONDS

    def __post_init__(self) -> None:
        for name, value in (("click_seconds", self.click_seconds), ("view_seconds", self.view_seconds)):
            if math.isnan(value) or value < 0:
                msg = f"window {name} must be >= 0 (math.inf for no limit), got {value!r}"
                raise ValueError(msg)


def touch_order_key(touch: Touch) -> tuple[datetime, str, str, str, str, str, str]:
    return (
        touch.time,
        touch.touchpoint_id,
        touch.kind,
        touch.channel,
        touch.channel_type,
        touch.campaign,
        touch.creative,
    )


def eligible_touches(
    touches: Iterable[Touch], conversion_time: datetime, windows: Windows | None = None
) -> list[Touch]:
    """The touches credited for a conversion at ``conversion_time``, in the deterministic order."""
    windows = windows if windows is not None else Windows()
    at = require_aware(conversion_time, "conversion time")
    click_seconds, view_seconds = windows.click_seconds, windows.view_seconds
    clicks: list[Touch] = []
    views: list[Touch] = []
    for touch in touches:
        age = at - touch.time
        if age < _NO_TIME:
            continue
        seconds = age.total_seconds()
        if touch.kind == "click":
            if seconds <= click_seconds:
                clicks.append(touch)
        elif seconds <= view_seconds:
            views.append(touch)
    return sorted(clicks or views, key=touch_order_key)


_NO_TIME = timedelta(0)
