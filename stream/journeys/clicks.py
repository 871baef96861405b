"""The ad clicks (and impressions) of one app, the visits waiting for theirs, and whose each click id is.

Pure state, no I/O. The engine asks three questions of it:
- which stored click a visit's click id names (`find`): a click is held until no open conversion can reach
  it (the app's horizon, allowed lateness + longest window); a click that arrives already past that horizon
  (a history import) is held in a bounded first-in-first-out store instead and matches a visit within the
  same span of the visit's own time, so the import of a whole person matches as a live run does;
- which visits wait for a click that has not come yet (`waiting`);
- whose a click id is (`owner`): the first person whose visit carries it, or the person the ad platform's
  click names (a webhook with an openid). Copied into a share link, the same landing query reaches friends;
  their visits are that person's click, not theirs (docs/attribution.md, "One ad click is one person's").
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from stream.journeys.state import AdClick

# Clicks that arrived past the horizon (imports): at most this many per app, the oldest arrival leaves first.
LATE_CLICKS = 50_000


@dataclass(frozen=True, slots=True)
class ClickOwner:
    identity: str  # the typed id of the first visit carrying the click id (or of the webhook's openid)
    time: datetime  # that visit's event time (or the click's)


class ClickBook:
    def __init__(self, late_limit: int = LATE_CLICKS) -> None:
        self.live: dict[str, AdClick] = {}
        self.late: OrderedDict[str, AdClick] = OrderedDict()
        self.late_limit = late_limit
        self.waiting: dict[str, list[str]] = {}  # click_id -> touchpoint ids of visits waiting for their click
        self.owners: dict[str, ClickOwner] = {}
        self.late_owners: OrderedDict[str, ClickOwner] = OrderedDict()  # bounded like late clicks

    def find(self, click_id: str, at: datetime, horizon: datetime | None, reach: timedelta) -> AdClick | None:
        """The stored click of `click_id` for a visit at `at`, unless it is past what can still be attributed.

        `horizon`: the app's oldest reachable touch time (None before the first event); `reach`: allowed
        lateness + longest window. Judged here, not by eviction, so when eviction runs never changes a result.
        """
        click = self.live.get(click_id)
        if click is not None and (horizon is None or click.time >= horizon):
            return click
        click = self.late.get(click_id)
        if click is not None and click.time >= at - reach:
            return click
        return None

    def add(self, click: AdClick, *, arrived_late: bool) -> None:
        if not arrived_late:
            self.live[click.click_id] = click
            return
        self.late[click.click_id] = click
        self.late.move_to_end(click.click_id)
        while len(self.late) > self.late_limit:
            self.late.popitem(last=False)

    def owner(self, click_id: str, at: datetime, horizon: datetime | None, reach: timedelta) -> ClickOwner | None:
        """The owner of `click_id` for a visit at `at`, if the claim can still reach it (judged as in `find`)."""
        owner = self.owners.get(click_id)
        if owner is not None and (horizon is None or owner.time >= horizon):
            return owner
        owner = self.late_owners.get(click_id)
        if owner is not None and owner.time >= at - reach:
            return owner
        return None

    def claim(self, click_id: str, identity: str, at: datetime, *, arrived_late: bool) -> None:
        if not arrived_late:
            self.owners[click_id] = ClickOwner(identity, at)
            return
        self.late_owners[click_id] = ClickOwner(identity, at)
        self.late_owners.move_to_end(click_id)
        while len(self.late_owners) > self.late_limit:
            self.late_owners.popitem(last=False)

    def evict(self, horizon: datetime, kept_touches: set[str] | dict[str, str]) -> None:
        """Drop live clicks and claims past the app's horizon, and waiting visits no longer in state.

        Late clicks and claims stay, bounded by count at insertion and judged by the asking visit's time.
        """
        self.live = {k: c for k, c in self.live.items() if c.time >= horizon}
        self.owners = {k: o for k, o in self.owners.items() if o.time >= horizon}
        waiting = {k: [t for t in v if t in kept_touches] for k, v in self.waiting.items()}
        self.waiting = {k: v for k, v in waiting.items() if v}
