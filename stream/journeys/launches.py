"""Channel resolution of a visit's launch context, memoised: every event of a visit repeats the same launch."""

from __future__ import annotations

from typing import Any

from stream.channels.resolve import ChannelResolution, LaunchSignals, resolve_channel
from stream.channels.taxonomy import Taxonomy

RESOLUTION_CACHE = 10_000


class Resolver:
    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._cache: dict[Any, ChannelResolution] = {}

    def __call__(self, context: dict[str, Any], *, ignore_click: bool = False) -> ChannelResolution:
        """`ignore_click`: by the other signals (the visit carries a click id that is another person's)."""
        share = context.get("share") or {}
        query = context.get("query") or {}
        sdk_campaign = context.get("campaign") or {}
        campaign = {k: v for k, v in sdk_campaign.items() if isinstance(v, str)} if sdk_campaign else {}
        key: Any = (context.get("platform"), context.get("scene"), tuple(query.items()), tuple(campaign.items()),
                    share.get("from"), share.get("depth"), ignore_click)
        try:
            cached = self._cache.get(key)
        except TypeError:  # an unhashable value slipped into the query: resolve without the cache
            cached, key = None, None
        if cached is not None:
            return cached
        signals = LaunchSignals(
            scene=context.get("scene"), query=query, campaign=campaign,
            share_from=share.get("from"), share_depth=share.get("depth"),
            platform=context.get("platform") or "wechat",
        )
        resolution = resolve_channel(signals, self.taxonomy, ignore_click=ignore_click)
        if key is not None:
            if len(self._cache) >= RESOLUTION_CACHE:
                self._cache.clear()
            self._cache[key] = resolution
        return resolution
