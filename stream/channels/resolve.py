"""Which channel brought a launch: one pure function of the launch signals and the taxonomy.

The rules are tried in the taxonomy's ``precedence`` order and the first that recognises something decides, so
one launch always gets exactly one channel. See docs/channels.md for the rules and worked examples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import unquote

from schemas.macros import clean_text
from schemas.scenes import SceneError, check_scene
from stream.channels.document import PlatformSceneRule, SceneRule
from stream.channels.taxonomy import (
    MAX_VALUE_LENGTH,
    WECHAT,
    Signal,
    Taxonomy,
    normalise_param,
    normalise_token,
)

# A truncated click id can never match the platform's click, so long ones are dropped, not cut.
MAX_CLICK_ID_LENGTH = 256
_MAX_RAW_LENGTH = 2048  # bounds the work on one value before decoding (a QR `q` URL is the longest)
_MAX_PARAMS = 256
_MAX_NESTED_PAIRS = 32
_MAX_DECODE_ROUNDS = 3
_UTM_FIELDS: Mapping[str, tuple[str, str]] = {
    "source": ("utm_source", "source"),
    "medium": ("utm_medium", "medium"),
    "campaign": ("utm_campaign", "name"),
    "content": ("utm_content", "content"),
    "term": ("utm_term", "term"),
}


@dataclass(frozen=True, slots=True)
class LaunchSignals:
    """What an ``enter`` event knows about how the mini-program was opened (cold or hot start alike).

    ``scene`` is read by the rule of ``platform`` (schemas/scenes.py): WeChat's may be the integer.
    """

    scene: int | str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    campaign: Mapping[str, str] = field(default_factory=dict)
    share_from: str | None = None
    share_depth: int | None = None
    platform: str = WECHAT


@dataclass(frozen=True, slots=True)
class ChannelResolution:
    channel_type: str
    channel: str
    campaign: str
    creative: str
    signal: Signal
    click_id: str
    click_platform: str
    scene: str  # the scene's text as its platform sends it ("1007", "021001"); "" when absent or invalid
    share_from: str


def resolve_channel(signals: LaunchSignals, taxonomy: Taxonomy, *, ignore_click: bool = False) -> ChannelResolution:
    """`ignore_click`: decide by the other signals (a visit carrying a click id that is another person's)."""
    launch = _read_launch(signals, taxonomy)
    decision = _direct(launch, taxonomy)
    for signal in taxonomy.precedence:
        if ignore_click and signal == "click_id":
            continue
        found = _RULES[signal](launch, taxonomy)
        if found is not None:
            decision = found
            break
    campaign, creative = _campaign_and_creative(decision, launch, taxonomy)
    return ChannelResolution(
        channel_type=decision.channel_type,
        channel=decision.channel,
        campaign=campaign,
        creative=creative,
        signal=decision.signal,
        # Reported whichever rule decided: a postback to the ad platform needs the click id even when a custom
        # precedence let another signal name the channel.
        click_id=launch.click.click_id if launch.click else "",
        click_platform=launch.click.platform if launch.click else "",
        scene=launch.scene,
        share_from=launch.share_from,
    )


# --- reading the signals --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Click:
    click_id: str
    platform: str
    channel: str


@dataclass(frozen=True, slots=True)
class _Launch:
    platform: str
    scene: str
    params: Mapping[str, str]
    codes: tuple[str, ...]
    utm: Mapping[str, str]
    share_from: str
    click: _Click | None
    ad_id: str


@dataclass(frozen=True, slots=True)
class _Decision:
    channel: str
    channel_type: str
    signal: Signal
    campaign: str = ""
    creative: str = ""


def clean_value(value: object, limit: int = MAX_VALUE_LENGTH) -> str:
    """Trimmed, without control/format characters, bounded; ``""`` for non-strings, unfilled macros and stringified
    nulls (schemas/macros.py, the rule the collector's webhooks use too)."""
    if not isinstance(value, str):
        return ""
    return clean_text(value, _MAX_RAW_LENGTH)[:limit].strip()


def _read_launch(signals: LaunchSignals, taxonomy: Taxonomy) -> _Launch:
    params, bare = _read_query(signals.query, taxonomy)
    sdk_campaign = _clean_map(signals.campaign)
    utm = {
        name: params.get(query_key) or sdk_campaign.get(sdk_key, "")
        for name, (query_key, sdk_key) in _UTM_FIELDS.items()
    }
    codes = [params[name] for name in taxonomy.code_params if name in params]
    if taxonomy.bare_scene_is_code:
        codes.extend(bare)
    share_from = clean_value(signals.share_from) or _first(params, taxonomy.share_params)
    platform = signals.platform if isinstance(signals.platform, str) and signals.platform else WECHAT
    scene = _scene_text(platform, signals.scene)
    click, ad_id = _find_click(params, taxonomy)
    return _Launch(platform, scene, params, tuple(codes), utm, share_from, click, ad_id)


def _scene_text(platform: str, value: object) -> str:
    # The collector has checked the scene already; a value that still breaks its platform's rule is ignored.
    if value is None:
        return ""
    try:
        return check_scene(platform, value)
    except SceneError:
        return ""


def _read_query(query: Mapping[str, str], taxonomy: Taxonomy) -> tuple[dict[str, str], list[str]]:
    """Cleaned launch parameters, with the pairs hidden in QR-code parameters merged in.

    A mini-program code carries ``scene=<url-encoded k=v&k=v>`` and a plain QR code ``q=<url-encoded URL>``.
    Top-level parameters win over nested ones: they are what the mini-program was actually opened with.
    """
    top: dict[str, str] = {}
    nested: dict[str, str] = {}
    bare: list[str] = []
    for key, value in _str_items(query):
        name = normalise_param(key)
        if not name:
            continue
        pairs: list[tuple[str, str]] = []
        if name in taxonomy.nested_query_params:
            pairs, leftover = _split_pairs(_percent_decode(value[:_MAX_RAW_LENGTH]))
            if cleaned := clean_value(leftover):
                bare.append(cleaned)
        elif name in taxonomy.url_query_params:
            url = _percent_decode(value[:_MAX_RAW_LENGTH])
            pairs, _ = _split_pairs(url.partition("?")[2].partition("#")[0])
        for pair_key, pair_value in pairs:
            _put(nested, normalise_param(pair_key), pair_value)
        _put(top, name, value)
    return {**nested, **top}, bare


def _str_items(mapping: Mapping[str, str]) -> Iterable[tuple[str, str]]:
    # Signals come from untrusted JSON; a wrong type is dropped rather than allowed to raise.
    if not isinstance(mapping, Mapping):
        return ()
    items = islice(mapping.items(), _MAX_PARAMS)
    return [(key, value) for key, value in items if isinstance(key, str) and isinstance(value, str)]


def _put(params: dict[str, str], name: str, raw: str) -> None:
    value = clean_value(raw, _MAX_RAW_LENGTH)
    if name and value and name not in params:
        params[name] = value


def _clean_map(mapping: Mapping[str, str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in _str_items(mapping):
        _put(result, normalise_param(key), value)
    return result


def _percent_decode(text: str) -> str:
    # WeChat hands the `scene` of a mini-program code over still encoded, and some generators encode twice.
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    return text


def _split_pairs(text: str) -> tuple[list[tuple[str, str]], str]:
    """``k=v&k=v`` pairs, or no pairs and the bare text (a code printed without a key)."""
    if "=" not in text:
        return [], text
    pairs: list[tuple[str, str]] = []
    for chunk in text.split("&", _MAX_NESTED_PAIRS)[:_MAX_NESTED_PAIRS]:
        key, sep, value = chunk.partition("=")
        if sep:
            pairs.append((unquote(key), unquote(value)))
    return pairs, ""


def _first(params: Mapping[str, str], names: Iterable[str]) -> str:
    for name in names:
        value = params.get(name, "")
        if value:
            return value[:MAX_VALUE_LENGTH].strip()
    return ""


def _find_click(params: Mapping[str, str], taxonomy: Taxonomy) -> tuple[_Click | None, str]:
    """The first recognised click id, and the first ad id carried by a segmented click parameter.

    The ad id is looked for independently: Tencent sends ``gdt_vid`` and ``weixinadinfo`` together, and only
    the latter names the ad.
    """
    click: _Click | None = None
    ad_id = ""
    for rule in taxonomy.click_ids:
        raw = params.get(rule.param, "")
        if not raw:
            continue
        click_id = raw
        if rule.separator is not None:
            parts = raw.split(rule.separator)
            click_id = parts[rule.click_id_segment] if rule.click_id_segment < len(parts) else ""
            if not ad_id and rule.ad_id_segment is not None and rule.ad_id_segment < len(parts):
                ad_id = clean_value(parts[rule.ad_id_segment])
        click_id = clean_value(click_id, _MAX_RAW_LENGTH)
        if click is None and click_id and len(click_id) <= MAX_CLICK_ID_LENGTH:
            click = _Click(click_id, rule.platform, rule.channel)
    return click, ad_id


# --- the rules ------------------------------------------------------------------------------------


def _known(
    channel: str, taxonomy: Taxonomy, signal: Signal, campaign: str = "", creative: str = ""
) -> _Decision:
    return _Decision(channel, taxonomy.channels[channel].type, signal, campaign, creative)


def _click_id(launch: _Launch, taxonomy: Taxonomy) -> _Decision | None:
    if launch.click is None:
        return None
    return _known(launch.click.channel, taxonomy, "click_id")


def _explicit(launch: _Launch, taxonomy: Taxonomy) -> _Decision | None:
    # Table codes first: they are curated by the operator; a code missing from the table falls through to UTM.
    for code in launch.codes:
        entry = taxonomy.codes.get(normalise_token(code))
        if entry is not None:
            return _known(entry.channel, taxonomy, "explicit", entry.campaign, entry.creative)
    source = normalise_token(launch.utm["source"])
    if source:
        channel = taxonomy.utm_sources.get(source) or (source if source in taxonomy.channels else None)
        if channel is not None:
            return _known(channel, taxonomy, "explicit")
        # Unknown source: the source itself becomes the channel, typed by its medium.
        medium = normalise_token(launch.utm["medium"])
        return _Decision(source, taxonomy.utm_medium_types.get(medium, taxonomy.utm_default_type), "explicit")
    if launch.codes and taxonomy.unknown_code_channel is not None:
        campaign = launch.codes[0][:MAX_VALUE_LENGTH].strip()
        return _known(taxonomy.unknown_code_channel, taxonomy, "explicit", campaign)
    return None


def _share(launch: _Launch, taxonomy: Taxonomy) -> _Decision | None:
    return _known(taxonomy.share_channel_of(launch.platform), taxonomy, "share") if launch.share_from else None


def _scene(launch: _Launch, taxonomy: Taxonomy) -> _Decision | None:
    if not launch.scene:
        return None
    # Each platform numbers its entries itself: Alipay's 1007 is looked up in Alipay's table, never WeChat's.
    rule: SceneRule | PlatformSceneRule | None
    if launch.platform == WECHAT:
        rule = taxonomy.scenes.get(int(launch.scene))
    else:
        rule = taxonomy.platform_scenes.get(launch.platform, {}).get(launch.scene)
    if rule is None:
        unknown = taxonomy.unknown_scene_channel
        return None if unknown is None else _known(unknown, taxonomy, "scene")
    # Direct-like scenes (recent list, desktop icon) carry no channel information: they decline, so that a
    # lower-precedence signal of a custom precedence can still decide, and otherwise the direct rule does.
    if rule.channel == taxonomy.direct_channel:
        return None
    return _known(rule.channel, taxonomy, "scene")


def _direct(launch: _Launch, taxonomy: Taxonomy) -> _Decision:
    return _known(taxonomy.direct_channel, taxonomy, "direct")


_RULES: Mapping[Signal, Callable[[_Launch, Taxonomy], _Decision | None]] = {
    "click_id": _click_id,
    "explicit": _explicit,
    "share": _share,
    "scene": _scene,
    "direct": _direct,
}


def _campaign_and_creative(decision: _Decision, launch: _Launch, taxonomy: Taxonomy) -> tuple[str, str]:
    """The rule's own campaign first, then the other campaign-bearing parameters of the launch."""
    if decision.signal == "direct":
        return "", ""
    utm_campaign, utm_content = launch.utm["campaign"], launch.utm["content"]
    ad_campaign = _first(launch.params, taxonomy.ad_campaign_params) or launch.ad_id
    ad_creative = _first(launch.params, taxonomy.ad_creative_params)
    if decision.signal == "click_id":
        campaigns, creatives = [ad_campaign, utm_campaign], [ad_creative, utm_content]
    else:
        campaigns, creatives = (
            [decision.campaign, utm_campaign, ad_campaign],
            [decision.creative, utm_content, ad_creative],
        )
    return _pick(campaigns), _pick(creatives)


def _pick(values: Iterable[str]) -> str:
    return next((value[:MAX_VALUE_LENGTH].strip() for value in values if value), "")
