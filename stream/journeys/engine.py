"""The journey engine of one app: a pure fold of enriched events into identities, touchpoints and credits.

For each event, in partition order:
1. its ids join the identity graph; a merge moves the absorbed person's touchpoints and conversions over and
   re-attributes every conversion of the merged person that is still within the allowed lateness;
2. `exposure`, `click` and `enter` events whose channel resolves to something other than direct become
   touchpoints (exposures are view-type, the rest click-type). An ad click id in the launch query is looked up
   among the ad platform's clicks: matched, the visit and the ad click are ONE touchpoint, enriched with the
   campaign and creative; unmatched, the touchpoint waits for the click, whenever it comes;
3. `register`, `activate`, `convert` and `repurchase` events are conversions. A person registers and activates
   once (the earliest counts); a purchase is `convert` if it is the person's earliest order and `repurchase`
   otherwise, whatever the client said, and the same order id counts once;
4. every conversion whose credits may have changed is attributed again under every model; if the result
   differs from what was last emitted, new rows are emitted with a higher version (a tombstone when a
   conversion stops counting, e.g. a second registration after a merge).

Conversions older than the watermark (the newest event time seen) minus the allowed lateness are final and
leave the state; touchpoints leave once no open conversion can reach them. What arrives already past that
(a history import sent person by person) is judged by its person's own newest event instead, so a whole
person sent late is credited as if sent live. A click id is one person's: a visit carrying another person's
is resolved by its other signals (stream/journeys/clicks.py). See docs/attribution.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.events import CONVERSION_TYPES, PURCHASE_TYPES, TOUCH_TYPES
from schemas.records import AD_TOUCH_TYPES
from stream.attribution.eligibility import TouchKind
from stream.channels.taxonomy import Taxonomy
from stream.journeys.clicks import ClickBook
from stream.journeys.config import AttributionConfig
from stream.journeys.emitted import conversion_row, credit_rows, tombstone, touch_row
from stream.journeys.eviction import ExpiringIds, HourQueue, evict_people
from stream.journeys.identity import IdentityGraph, ids_of
from stream.journeys.launches import Resolver
from stream.journeys.outputs import EngineOutput, IdentityRow
from stream.journeys.refunds import REFUND_TYPE, RefundBook, expire_pending, fold_refund, settle_pending
from stream.journeys.state import AdClick, Conversion, Person, Touchpoint

# Exposures are view-type touches (shown, not acted on); clicks and launches are click-type.
TOUCH_KIND_OF: dict[str, TouchKind] = {t: "view" if t == "exposure" else "click" for t in TOUCH_TYPES}
# The conversion family: a person registers and activates once, purchases are one family of first and later.
FAMILIES = {t: "purchase" if t in PURCHASE_TYPES else t for t in CONVERSION_TYPES}
EVICT_EVERY = timedelta(hours=1)
SWEEP_EVERY = timedelta(days=1)
# Touches and conversions that arrived past the allowed lateness, per person: the oldest leave beyond this.
LATE_PER_PERSON = 512


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def conversion_id_of(event: dict[str, Any]) -> str:
    """The id a conversion event counts under: its order id for purchases that have one, else the event."""
    if FAMILIES[event["type"]] == "purchase":
        order_id = str((event.get("properties") or {}).get("order_id") or "")
        if order_id:
            return f"order:{order_id}"
    return f"{event['type']}:{event['event_id']}"


class AppEngine:
    def __init__(self, app_id: str, config: AttributionConfig, taxonomy: Taxonomy) -> None:
        self.app_id = app_id
        self.config = config
        self.taxonomy = taxonomy
        self.graph = IdentityGraph(app_id)
        self.persons: dict[str, Person] = {}
        self.touch_identity: dict[str, str] = {}  # touchpoint_id -> the id that owns it
        # Every conversion id of the app, open or final (final ones until identity_retention): an order counts
        # once however late it is re-sent.
        self.conversion_ids = ExpiringIds()
        self.evictions = HourQueue()  # who to look at when (stream/journeys/eviction.py)
        self.clicks = ClickBook()  # ad clicks, visits waiting for theirs, whose each click id is
        self.reach = config.allowed_lateness + config.longest_window  # how far back a touch can be credited
        self._watermark: datetime | None = None
        # Derived from the watermark when it moves, not on every question: asked several times per event.
        self._final_before: datetime | None = None  # conversions before this are final
        self._touch_before: datetime | None = None  # touches before this reach no open conversion
        self._last_eviction: datetime | None = None
        self._last_sweep: datetime | None = None  # clicks are judged by their own times: swept daily
        self._resolve = Resolver(taxonomy)
        self.refunds = RefundBook()  # refunds waiting for their order, stored orders looked up (journeys.refunds)

    @property
    def ad_clicks(self) -> dict[str, AdClick]:
        return self.clicks.live

    @property
    def waiting(self) -> dict[str, list[str]]:
        return self.clicks.waiting

    @property
    def horizon(self) -> datetime | None:
        """The oldest touch time an open conversion of the app can still credit (None before any event)."""
        return self._touch_before

    @property
    def watermark(self) -> datetime | None:
        """The newest event time seen."""
        return self._watermark

    @watermark.setter
    def watermark(self, value: datetime | None) -> None:
        self._watermark = value
        if value is None:
            self._final_before = self._touch_before = None
        else:
            self._final_before = value - self.config.allowed_lateness
            self._touch_before = self._final_before - self.config.longest_window

    # -- the fold --------------------------------------------------------------------------------------------

    def apply(self, event: dict[str, Any], version: int, event_time: datetime | None = None) -> EngineOutput:
        """Fold one event in; `event_time` is `event["event_time"]` already parsed, if the caller has it."""
        out = EngineOutput()
        self.fold(event, version, out, event_time)
        return out

    def fold(
        self, event: dict[str, Any], version: int, out: EngineOutput, event_time: datetime | None = None
    ) -> bool:
        """`apply`, appending to `out`; True if the event arrived past the allowed lateness (`arrived_late`).

        If it raises, the rows it appended belong to no consistent state.
        """
        at = parse_time(event["event_time"]) if event_time is None else event_time
        self._advance(at)
        late = self._final_before is not None and at < self._final_before
        if self.refunds.pending:
            expire_pending(self, out)
        event_type = event["type"]
        if event_type in AD_TOUCH_TYPES:
            self._ad_touch(event, at, version, out)
            # An ad touch is late once past the horizon: it is then held apart (see ClickBook), and a restore
            # must know which were.
            return self._touch_before is not None and at < self._touch_before
        if event_type == REFUND_TYPE:  # an order's fact, not a person's activity: no identity, no touch
            fold_refund(self, event, at, version, out)
            return late
        ids = ids_of(event)
        graph = self.graph
        seen = graph.observe(ids, at)
        user_key = seen.user_key
        for typed_id in seen.changed_ids:
            key = graph.key_of(typed_id) or user_key
            out.identities.append(IdentityRow(self.app_id, typed_id, key, graph.first_seen(key), version))
        person = self.persons.get(user_key)
        if person is None:
            person = self.persons[user_key] = Person()
            self.evictions.at(at + self.config.identity_retention, user_key)
        if person.last_seen is None or at > person.last_seen:
            person.last_seen = at
        dirty: set[str] = set()
        for absorbed in seen.absorbed:
            other = self.persons.pop(absorbed, None)
            if other is not None:
                person.absorb(other)
                self.evictions.at(self._watermark or at, user_key)  # what it took over is due as it was
                dirty.update(cid for cid, c in person.conversions.items() if not self.final(c, person))
        kind = TOUCH_KIND_OF.get(event_type)
        # A touch older than its person's own newest event by more than the reach can be credited to nothing.
        if kind is not None and not at < person.last_seen - self.reach:
            touch = self._visit(event, at, ids[0], kind, user_key, late)
            if touch is not None and touch.touchpoint_id not in person.touches:
                person.touches[touch.touchpoint_id] = touch
                self.touch_identity[touch.touchpoint_id] = touch.identity
                if touch.click_id and not touch.matched_click and not touch.shared_click:
                    self.clicks.waiting.setdefault(touch.click_id, []).append(touch.touchpoint_id)
                out.touchpoints.append(touch_row(self.app_id, touch, user_key, version))
                dirty.update(self._reachable(person, touch))
                if late:
                    self._bound_late(person)
                else:
                    self.evictions.at(at + self.reach, user_key)
        elif event_type in FAMILIES:
            dirty.update(self._conversion(person, event, at, ids[0], late))
            settle_pending(self, person, event, out)
        if not dirty:
            return late
        for conversion_id in sorted(dirty):
            conversion = person.conversions.get(conversion_id)
            # A final conversion is written once (if it arrived late) and never re-attributed.
            if conversion is not None and (conversion.signature is None or not self.final(conversion, person)):
                self._emit(person, conversion, user_key, version, out)
        return late

    def _visit(
        self, event: dict[str, Any], at: datetime, identity: str, kind: str, user_key: str, late: bool
    ) -> Touchpoint | None:
        context = event.get("context") or {}
        r = self._resolve(context)
        shared = False
        if r.click_id:
            shared = self._shared(r.click_id, at, identity, user_key, late)
            if shared:
                r = self._resolve(context, ignore_click=True)
        if r.signal == "direct" or r.channel_type == "direct":
            return None
        touch = Touchpoint(
            event["event_id"], identity, event.get("anonymous_id") or "", at, kind, event["type"],
            r.channel_type, r.channel, r.campaign, r.creative, r.click_id, r.click_platform, r.signal,
            r.scene, shared_click=shared, arrived_late=late,
        )
        if r.click_id and not shared:
            click = self.clicks.find(r.click_id, at, self._touch_before, self.reach)
            if click is not None:
                touch = touch.enriched(click)
        return touch

    def _shared(self, click_id: str, at: datetime, identity: str, user_key: str, late: bool) -> bool:
        """Whether the click id of this visit is another person's; the first visit to carry one claims it."""
        owner = self.clicks.owner(click_id, at, self._touch_before, self.reach)
        owner_key = self.graph.key_of(owner.identity) if owner is not None else None
        if owner_key is None:
            # Unclaimed, or claimed by the platform for an openid not seen yet: this visit is taken as its person's.
            self.clicks.claim(click_id, identity, at, arrived_late=late)
            return False
        return owner_key != user_key

    def _ad_touch(self, event: dict[str, Any], at: datetime, version: int, out: EngineOutput) -> None:
        click_id = event.get("click_id") or ""
        horizon = self._touch_before
        if not click_id or self.clicks.find(click_id, at, horizon, self.reach) is not None:
            return  # the same click id twice counts once
        click = AdClick(
            click_id, at, event.get("platform") or "", event.get("channel_type") or "paid",
            event.get("channel") or "", event.get("campaign") or "", event.get("creative") or "",
        )
        past_horizon = horizon is not None and at < horizon
        self.clicks.add(click, arrived_late=past_horizon)
        openid = event.get("openid")
        if openid and self.clicks.owner(click_id, at, horizon, self.reach) is None:
            # The platform names whose click it is: their visits are its visits, other people's are shares.
            self.clicks.claim(click_id, f"openid:{openid}", at, arrived_late=past_horizon)
        # Every waiting visit is enriched first and each affected conversion emitted once: a conversion's
        # credits are one complete set per version, and two visits from one click must not write two.
        affected: dict[tuple[str, str], Person] = {}
        for touchpoint_id in self.clicks.waiting.pop(click_id, []):
            identity = self.touch_identity.get(touchpoint_id)
            user_key = self.graph.key_of(identity) if identity else None
            person = self.persons.get(user_key) if user_key else None
            touch = person.touches.get(touchpoint_id) if person else None
            # A visit no open conversion can reach is as good as evicted (eviction runs hourly): leave it be.
            if person is None or touch is None or user_key is None or not self.alive(touch, person):
                continue
            touch = person.touches[touchpoint_id] = touch.enriched(click)
            out.touchpoints.append(touch_row(self.app_id, touch, user_key, version))
            for conversion_id in self._reachable(person, touch):
                affected[(user_key, conversion_id)] = person
        for (user_key, conversion_id), person in sorted(affected.items(), key=lambda item: item[0]):
            self._emit(person, person.conversions[conversion_id], user_key, version, out)

    def _conversion(
        self, person: Person, event: dict[str, Any], at: datetime, identity: str, late: bool
    ) -> set[str]:
        family = FAMILIES[event["type"]]
        properties = event.get("properties") or {}
        order_id = str(properties.get("order_id") or "") if family == "purchase" else ""
        conversion_id = conversion_id_of(event)
        first = person.firsts.get(family)
        if conversion_id in self.conversion_ids or (first is not None and first[1] == conversion_id):
            return set()  # the same order id (or event) twice counts once, whoever sent it
        revenue = Decimal(str(properties["revenue"])) if family == "purchase" else Decimal(0)
        currency = str(properties.get("currency") or "CNY") if family == "purchase" else ""
        person.conversions[conversion_id] = Conversion(
            conversion_id, event["event_id"], identity, family, at, order_id, revenue, currency, arrived_late=late
        )
        if late:
            self._bound_late(person)
        else:
            self.evictions.at(at + self.config.allowed_lateness, self.graph.key_of(identity) or identity)
        self.conversion_ids[conversion_id] = at
        dirty = {conversion_id}
        displaced = person.note_first(family, at, conversion_id)
        if displaced is not None:
            dirty.add(displaced)
        return dirty

    # -- attribution and rows ---------------------------------------------------------------------------------

    def kind_of(self, person: Person, conversion: Conversion) -> str | None:
        first = person.firsts.get(conversion.family)
        is_first = first is not None and first[1] == conversion.conversion_id
        kind: str | None
        if conversion.family == "purchase":
            kind = "convert" if is_first else "repurchase"
        else:
            kind = conversion.family if is_first else None
        return kind if kind in self.config.conversion_types else None

    def _emit(self, person: Person, c: Conversion, user_key: str, version: int, out: EngineOutput) -> None:
        kind = self.kind_of(person, c)
        if kind is None:
            if c.signature is not None:
                c.signature = None
                out.conversions.append(conversion_row(self.app_id, c, "", user_key, 0, version, deleted=True))
                out.credits.append(tombstone(self.app_id, c, user_key, version))
            return
        if self.final(c, person) or c.arrived_late:
            # Only touches still in reach: which unreachable ones eviction has dropped yet must not matter.
            touches = [t.as_touch() for t in person.touches.values() if self.alive(t, person)]
        else:
            touches = [t.as_touch() for t in person.touches.values()]
        journey, per_model = self.config.attribution(
            c.conversion_id, c.time, c.revenue - c.refunded, c.currency or "CNY", touches, self.config.windows_for(kind)
        )
        # A 64-bit hash of what would be written, not the rows themselves: change detection for ~100x less memory.
        # The journey and each model's shares and parts say exactly what the credit rows would (position = index).
        signature = hash((kind, user_key, tuple(journey), tuple(
            (model, tuple(shares), tuple(parts)) for model, shares, parts in per_model
        )))
        if signature == c.signature:
            return
        c.signature = signature
        touch_count = len(journey) if per_model else 0
        out.conversions.append(conversion_row(self.app_id, c, kind, user_key, touch_count, version, deleted=False))
        credit_rows(self.app_id, c, kind, user_key, journey, per_model, version, out.credits)

    def _reachable(self, person: Person, touch: Touchpoint) -> set[str]:
        if not person.conversions:
            return set()
        start = touch.time
        end = start + self.config.longest_window
        return {
            cid for cid, c in person.conversions.items() if start <= c.time <= end and not self.final(c, person)
        }

    def final(self, c: Conversion, person: Person) -> bool:
        """Past the allowed lateness a conversion's credits never change again, evicted yet or not.

        Measured against the app's newest event, or, for a conversion that arrived past it (a history import),
        against its person's newest event: a whole person sent late is then credited as if sent live.
        """
        if c.arrived_late:
            return person.last_seen is not None and c.time < person.last_seen - self.config.allowed_lateness
        return self._final_before is not None and c.time < self._final_before

    def alive(self, t: Touchpoint, person: Person) -> bool:
        """Whether a touch can still be credited: by the app's clock, or its person's if it arrived late."""
        if t.arrived_late:
            return person.last_seen is None or t.time >= person.last_seen - self.reach
        return self._touch_before is None or t.time >= self._touch_before

    def _bound_late(self, person: Person) -> None:
        """At most LATE_PER_PERSON late touches and late conversions per person: the oldest leave first."""
        for items in (person.touches, person.conversions):
            late = [(item.time, key) for key, item in items.items() if item.arrived_late]
            if len(late) > LATE_PER_PERSON:
                for _, key in sorted(late)[: len(late) - LATE_PER_PERSON]:
                    del items[key]
                    self.touch_identity.pop(key, None)

    # -- bounded state -------------------------------------------------------------------------------------

    def resume_at(self, watermark: datetime) -> None:
        """After a restore: continue from the stored watermark, with eviction on its hourly rhythm."""
        self.watermark = watermark
        self._last_eviction = watermark

    def _advance(self, at: datetime) -> None:
        watermark = self._watermark
        if watermark is None or at > watermark:
            self.watermark = watermark = at
        if self._last_eviction is None:
            self._last_eviction = at
        elif watermark - self._last_eviction >= EVICT_EVERY:
            self._last_eviction = watermark
            self.evict(watermark)

    def evict(self, watermark: datetime) -> None:
        """Forget what can no longer change: final conversions, unreachable touches, idle people, judged as of
        the engine's watermark (`watermark` is where the hourly rhythm stands); only the people due by then are
        looked at (stream/journeys/eviction.py)."""
        evict_people(self, watermark)
        self.conversion_ids.drop_before(watermark - self.config.identity_retention)
        if self._last_sweep is None or watermark - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = watermark
            self.clicks.evict(watermark - self.reach, self.touch_identity)

    def forget(self, user_key: str) -> None:
        """A deletion request (stream/privacy.py): the person's ids, touches and conversions leave state, so a
        later event of any of those ids starts a new person instead of reviving the deleted journey."""
        ids = set(self.graph.members(user_key))
        for book in (self.clicks.owners, self.clicks.late_owners):  # a claim names the person by a typed id
            for click_id in [c for c, owner in book.items() if owner.identity in ids]:
                del book[click_id]
        person = self.persons.pop(user_key, None)
        if person is not None:
            for touch_id in person.touches:
                self.touch_identity.pop(touch_id, None)
            for conversion_id in person.conversions:
                self.conversion_ids.pop(conversion_id, None)
        self.graph.forget(user_key)
