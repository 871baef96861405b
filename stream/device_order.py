"""One device's events kept in the device's own order across requests, where its clock was corrected.

The collector corrects a device clock per request (schemas/enrich.py), with the offset measured on that
request, transit time included. Two requests of one device measured with different transit times get
different corrections, so the last event of one batch can land after the first event of the next. Where the
SDK sends `context.device_seq`, that order is the device's own and outranks the corrected times: an event whose
time was corrected (`clock_corrected`) is never placed before an earlier-seq event of its device, nor after a
later-seq one, already seen by this processor. Times the device clock gave uncorrected are left alone: within
the skew threshold they are the best estimate there is, and they are only compared against, never moved.

Limits (docs/attribution.md, "Late data and versions"): the rule compares with the device's highest
`device_seq` seen, held in memory per partition for at most `max_devices` devices (least recently seen
forgotten first) and not restored after a restart; an event is only moved, never its predecessors.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_MAX_DEVICES = 100_000  # 265 B per device measured, ~0.4 KB with its id and time text: ~40 MB at the bound


@dataclass(frozen=True, slots=True)
class Highest:
    """The device's highest-seq event seen, and the time (as placed) and text it was written with."""

    seq: int
    time: datetime
    text: str


def placed_time(highest: Highest | None, seq: int, at: datetime, corrected: bool) -> datetime:
    """Where an event of `device_seq` `seq` with event time `at` belongs, given its device's highest seen.

    Corrected times move to the highest's time when they would cross it (later seq before it, earlier seq after
    it); an equal seq is a re-install or a reset counter and proves no order.
    """
    if highest is None or not corrected:
        return at
    if (seq > highest.seq and at < highest.time) or (seq < highest.seq and at > highest.time):
        return highest.time
    return at


class DeviceOrder:
    """The bounded state of `placed_time` for one partition, keyed by (app_id, anonymous_id)."""

    def __init__(self, max_devices: int = DEFAULT_MAX_DEVICES) -> None:
        if max_devices < 1:
            msg = f"max_devices must be at least 1, got {max_devices}"
            raise ValueError(msg)
        self.max_devices = max_devices
        self._highest: OrderedDict[tuple[str, str], Highest] = OrderedDict()

    def __len__(self) -> int:
        return len(self._highest)

    def place(self, event: dict[str, Any]) -> bool:
        """Applies the rule to an enriched event in place (its `event_time`); True if the event was moved."""
        context = event.get("context")
        seq = context.get("device_seq") if isinstance(context, dict) else None
        anonymous_id = event.get("anonymous_id")
        # bool is an int to Python; the collector never lets one through as device_seq, a hand-made record might.
        if not isinstance(seq, int) or isinstance(seq, bool) or not anonymous_id:
            return False
        key = (str(event.get("app_id") or ""), str(anonymous_id))
        highest = self._highest.get(key)
        text = event["event_time"]
        at = datetime.fromisoformat(text)
        placed = placed_time(highest, seq, at, bool(event.get("clock_corrected")))
        moved = highest is not None and placed != at
        if moved and highest is not None:
            text = event["event_time"] = highest.text
        if highest is None or seq > highest.seq:
            self._highest[key] = Highest(seq, placed, text)
        if highest is not None:
            self._highest.move_to_end(key)
        while len(self._highest) > self.max_devices:
            self._highest.popitem(last=False)
        return moved
