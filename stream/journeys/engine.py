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
leave the state; touchpoints leave once no open conversion can reach them. See docs/attribution.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.events import CONVERSION_TYPES, PURCHASE_TYPES, TOUCH_TYPES
from schemas.records import AD_TOUCH_TYPES
from stream.attribution.credits import DIRECT_CHANNEL, ConversionFacts, attribute_journey
from stream.attribution.eligibility import TouchKind
from stream.channels.resolve import ChannelResolution, LaunchSignals, resolve_channel
from stream.channels.taxonomy import Taxonomy
from stream.journeys.config import AttributionConfig
from stream.journeys.identity import IdentityGraph, ids_of
from stream.journeys.outputs import ConversionRow, CreditRow, EngineOutput, IdentityRow, TouchpointRow
from stream.journeys.state import AdClick, Conversion, Person, Touchpoint

# Exposures are view-type touches (shown, not acted on); clicks and launches are click-type.
TOUCH_KIND_OF: dict[str, TouchKind] = {t: "view" if t == "exposure" else "click" for t in TOUCH_TYPES}
# The conversion family: a person registers and activates once, purchases are one family of first and later.
FAMILIES = {t: "purchase" if t in PURCHASE_TYPES else t for t in CONVERSION_TYPES}
EVICT_EVERY = timedelta(hours=1)
RESOLUTION_CACHE = 10_000


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
        self.conversion_ids: dict[str, datetime] = {}
        self.ad_clicks: dict[str, AdClick] = {}
        self.waiting: dict[str, list[str]] = {}  # click_id -> visits waiting for their ad click
        self._watermark: datetime | None = None
        # Derived from the watermark when it moves, not on every question: asked several times per event.
        self._final_before: datetime | None = None  # conversions before this are final
        self._touch_before: datetime | None = None  # touches before this reach no open conversion
        self._last_eviction: datetime | None = None
        self._resolutions: dict[Any, ChannelResolution] = {}

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
    ) -> None:
        """`apply`, appending to `out`. If it raises, the rows it appended belong to no consistent state."""
        at = parse_time(event["event_time"]) if event_time is None else event_time
        self._advance(at)
        event_type = event["type"]
        if event_type in AD_TOUCH_TYPES:
            self._ad_touch(event, at, version, out)
            return
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
        if person.last_seen is None or at > person.last_seen:
            person.last_seen = at
        dirty: set[str] = set()
        for absorbed in seen.absorbed:
            other = self.persons.pop(absorbed, None)
            if other is not None:
                person.absorb(other)
                dirty.update(cid for cid, c in person.conversions.items() if not self._final(c.time))
        kind = TOUCH_KIND_OF.get(event_type)
        if kind is not None and not self._too_late_to_touch(at):
            touch = self._visit(event, at, ids[0], kind)
            if touch is not None and touch.touchpoint_id not in person.touches:
                person.touches[touch.touchpoint_id] = touch
                self.touch_identity[touch.touchpoint_id] = touch.identity
                if touch.click_id and not touch.matched_click:
                    self.waiting.setdefault(touch.click_id, []).append(touch.touchpoint_id)
                out.touchpoints.append(self._touch_row(touch, user_key, version))
                dirty.update(self._reachable(person, touch))
        elif event_type in FAMILIES:
            dirty.update(self._conversion(person, event, at, ids[0]))
        if not dirty:
            return
        for conversion_id in sorted(dirty):
            conversion = person.conversions.get(conversion_id)
            # A final conversion is written once (if it arrived late) and never re-attributed.
            if conversion is not None and (conversion.signature is None or not self._final(conversion.time)):
                self._emit(person, conversion, user_key, version, out)

    def _resolve(self, context: dict[str, Any]) -> ChannelResolution:
        """Channel resolution, memoised: every event of a visit repeats the same scene and launch query."""
        share = context.get("share") or {}
        query = context.get("query") or {}
        sdk_campaign = context.get("campaign") or {}
        campaign = {k: v for k, v in sdk_campaign.items() if isinstance(v, str)} if sdk_campaign else {}
        key: Any = (context.get("scene"), tuple(query.items()), tuple(campaign.items()), share.get("from"),
                    share.get("depth"))
        try:
            cached = self._resolutions.get(key)
        except TypeError:  # an unhashable value slipped into the query: resolve without the cache
            cached, key = None, None
        if cached is not None:
            return cached
        signals = LaunchSignals(
            scene=context.get("scene"), query=query, campaign=campaign,
            share_from=share.get("from"), share_depth=share.get("depth"),
        )
        resolution = resolve_channel(signals, self.taxonomy)
        if key is not None:
            if len(self._resolutions) >= RESOLUTION_CACHE:
                self._resolutions.clear()
            self._resolutions[key] = resolution
        return resolution

    def _visit(self, event: dict[str, Any], at: datetime, identity: str, kind: str) -> Touchpoint | None:
        r = self._resolve(event.get("context") or {})
        if r.signal == "direct" or r.channel_type == "direct":
            return None
        touch = Touchpoint(
            event["event_id"], identity, event.get("anonymous_id") or "", at, kind, event["type"],
            r.channel_type, r.channel, r.campaign, r.creative, r.click_id, r.click_platform, r.signal,
            r.scene or 0,
        )
        if r.click_id:
            click = self._live_click(r.click_id)
            if click is not None:
                touch.enrich(click)
        return touch

    def _ad_touch(self, event: dict[str, Any], at: datetime, version: int, out: EngineOutput) -> None:
        click_id = event.get("click_id") or ""
        if not click_id or self._live_click(click_id) is not None:
            return  # the same click id twice counts once
        click = AdClick(
            click_id, at, event.get("platform") or "", event.get("channel_type") or "paid",
            event.get("channel") or "", event.get("campaign") or "", event.get("creative") or "",
        )
        self.ad_clicks[click_id] = click
        # Every waiting visit is enriched first and each affected conversion emitted once: a conversion's
        # credits are one complete set per version, and two visits from one click must not write two.
        affected: dict[tuple[str, str], Person] = {}
        for touchpoint_id in self.waiting.pop(click_id, []):
            identity = self.touch_identity.get(touchpoint_id)
            user_key = self.graph.key_of(identity) if identity else None
            person = self.persons.get(user_key) if user_key else None
            touch = person.touches.get(touchpoint_id) if person else None
            # A visit no open conversion can reach is as good as evicted (eviction runs hourly): leave it be.
            if person is None or touch is None or user_key is None or self._too_late_to_touch(touch.time):
                continue
            touch.enrich(click)
            out.touchpoints.append(self._touch_row(touch, user_key, version))
            for conversion_id in self._reachable(person, touch):
                affected[(user_key, conversion_id)] = person
        for (user_key, conversion_id), person in sorted(affected.items(), key=lambda item: item[0]):
            self._emit(person, person.conversions[conversion_id], user_key, version, out)

    def _conversion(self, person: Person, event: dict[str, Any], at: datetime, identity: str) -> set[str]:
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
            conversion_id, event["event_id"], identity, family, at, order_id, revenue, currency
        )
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
                out.conversions.append(self._conversion_row(c, "", user_key, 0, version, deleted=True))
                out.credits.append(self._tombstone(c, user_key, version))
            return
        touches = [t.as_touch() for t in person.touches.values()]
        facts = ConversionFacts(c.conversion_id, c.time, c.revenue, c.currency or "CNY")
        journey, per_model = attribute_journey(facts, touches, self.config.models, self.config.windows_for(kind))
        # A 64-bit hash of what would be written, not the rows themselves: change detection for ~100x less memory.
        # The journey and each model's shares and parts say exactly what the credit rows would (position = index).
        signature = hash((kind, user_key, tuple(journey), tuple(
            (model, tuple(shares), tuple(parts)) for model, shares, parts in per_model
        )))
        if signature == c.signature:
            return
        c.signature = signature
        n = len(journey)
        touch_count = n if per_model else 0
        out.conversions.append(self._conversion_row(c, kind, user_key, touch_count, version, deleted=False))
        credits, app_id, conversion_id, at, currency = out.credits, self.app_id, c.conversion_id, c.time, c.currency
        for model, shares, parts in per_model:
            if not journey:
                credits.append(CreditRow(
                    app_id, conversion_id, kind, at, user_key, model, "", None, 0, 0, DIRECT_CHANNEL,
                    DIRECT_CHANNEL, "", "", shares[0], parts[0], currency, version, False,
                ))
                continue
            for i, (t, share, part) in enumerate(zip(journey, shares, parts, strict=True)):
                if share == 0.0:
                    continue  # a model that gives a touch nothing writes no row for it (touch_count tells the path)
                credits.append(CreditRow(
                    app_id, conversion_id, kind, at, user_key, model, t.touchpoint_id, t.time, i, n,
                    t.channel_type, t.channel, t.campaign, t.creative, share, part, currency, version, False,
                ))

    def _reachable(self, person: Person, touch: Touchpoint) -> set[str]:
        if not person.conversions:
            return set()
        start = touch.time
        end = start + self.config.longest_window
        final_before = self._final_before
        return {
            cid for cid, c in person.conversions.items()
            if start <= c.time <= end and (final_before is None or not c.time < final_before)
        }

    def _live_click(self, click_id: str) -> AdClick | None:
        """A stored ad click, unless it is past the horizon (then it is as good as evicted, evicted yet or not)."""
        click = self.ad_clicks.get(click_id)
        return None if click is None or self._too_late_to_touch(click.time) else click

    def _final(self, conversion_time: datetime) -> bool:
        """Past the allowed lateness a conversion's credits never change again, evicted yet or not."""
        return self._final_before is not None and conversion_time < self._final_before

    def _too_late_to_touch(self, at: datetime) -> bool:
        """A touch no open conversion can reach is dropped on arrival, as eviction would drop it."""
        return self._touch_before is not None and at < self._touch_before

    def _touch_row(self, t: Touchpoint, user_key: str, version: int) -> TouchpointRow:
        return TouchpointRow(
            self.app_id, t.touchpoint_id, t.identity, t.anonymous_id, user_key, t.time, t.kind, t.source,
            t.channel_type, t.channel, t.campaign, t.creative, t.click_id, t.click_platform, t.signal, t.scene,
            t.matched_click, version,
        )

    def _conversion_row(
        self, c: Conversion, kind: str, user_key: str, touch_count: int, version: int, *, deleted: bool
    ) -> ConversionRow:
        return ConversionRow(
            self.app_id, c.conversion_id, c.event_id, c.identity, user_key, kind, c.time, c.order_id, c.revenue,
            c.currency, touch_count, version, deleted,
        )

    def _tombstone(self, c: Conversion, user_key: str, version: int) -> CreditRow:
        return CreditRow(
            self.app_id, c.conversion_id, "", c.time, user_key, "", "", None, 0, 0, "", "", "", "", 0.0,
            Decimal(0), c.currency, version, True,
        )

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
        """Forget what can no longer change: final conversions, unreachable touches, idle people."""
        lateness, window = self.config.allowed_lateness, self.config.longest_window
        conversions_before = watermark - lateness
        touches_before = watermark - lateness - window
        people_before = watermark - self.config.identity_retention
        for user_key, person in list(self.persons.items()):
            for conversion_id in [k for k, c in person.conversions.items() if c.time < conversions_before]:
                del person.conversions[conversion_id]
            for touch_id in [k for k, t in person.touches.items() if t.time < touches_before]:
                del person.touches[touch_id]
                self.touch_identity.pop(touch_id, None)
            if person.last_seen is not None and person.last_seen < people_before:
                del self.persons[user_key]
                self.graph.forget(user_key)
        self.ad_clicks = {k: c for k, c in self.ad_clicks.items() if c.time >= touches_before}
        self.conversion_ids = {k: t for k, t in self.conversion_ids.items() if t >= people_before}
        waiting = {k: [t for t in v if t in self.touch_identity] for k, v in self.waiting.items()}
        self.waiting = {k: v for k, v in waiting.items() if v}
