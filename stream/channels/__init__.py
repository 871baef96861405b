"""Channel resolution: which channel, campaign and creative brought a mini-program launch.

Pure functions over data; the taxonomy (``taxonomy.json``) is the only configuration.
"""

from stream.channels.document import Channel, ChannelCode, ClickIdRule, SceneRule, TaxonomyDocument
from stream.channels.resolve import (
    MAX_CLICK_ID_LENGTH,
    ChannelResolution,
    LaunchSignals,
    clean_value,
    resolve_channel,
)
from stream.channels.taxonomy import (
    MAX_VALUE_LENGTH,
    SIGNALS,
    Signal,
    Taxonomy,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
    normalise_token,
    parse_taxonomy,
    parse_taxonomy_json,
)

__all__ = [
    "MAX_CLICK_ID_LENGTH",
    "MAX_VALUE_LENGTH",
    "SIGNALS",
    "Channel",
    "ChannelCode",
    "ChannelResolution",
    "ClickIdRule",
    "LaunchSignals",
    "SceneRule",
    "Signal",
    "Taxonomy",
    "TaxonomyDocument",
    "TaxonomyError",
    "clean_value",
    "default_taxonomy",
    "load_taxonomy",
    "normalise_token",
    "parse_taxonomy",
    "parse_taxonomy_json",
    "resolve_channel",
]
