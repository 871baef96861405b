"""The channel taxonomy: a versioned JSON document, validated once and compiled into read-only lookup tables.

The document (``stream.channels.document``) checks the shape, and its rules are what the compiled ``Taxonomy``
hands the resolver, keyed and normalised: each rule is modelled once. ``_compile`` checks what a schema cannot
(references between sections, duplicates after normalisation, the precedence list) and reports every problem
at once, so an operator fixes a bad config in one round trip.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, get_args

from pydantic import ValidationError

from schemas.context import PLATFORMS
from schemas.scenes import SceneError, check_scene
from stream.channels.document import (
    Channel,
    ChannelCode,
    ClickIdRule,
    PlatformSceneRule,
    PlatformSpec,
    SceneRule,
    TaxonomyDocument,
)

Signal = Literal["click_id", "explicit", "share", "scene", "direct"]
SIGNALS: tuple[Signal, ...] = get_args(Signal)
_SIGNAL_BY_NAME: Mapping[str, Signal] = {signal: signal for signal in SIGNALS}

SUPPORTED_VERSION = 1
DEFAULT_FILE = "taxonomy.json"
MAX_VALUE_LENGTH = 128

WECHAT = "wechat"  # the platform of the top-level `scenes` and `share`, and of events that name none
_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_SPACES = re.compile(r"\s+")
_V = TypeVar("_V")


class TaxonomyError(ValueError):
    """The taxonomy file is missing, unreadable or inconsistent."""


def normalise_token(value: str) -> str:
    """Lookup form of a UTM source/medium or a channel code.

    NFKC folds full-width input typed on Chinese keyboards (``ｄｏｕｙｉｎ``) onto the ASCII keys.
    """
    text = unicodedata.normalize("NFKC", value).casefold().strip()
    return _SPACES.sub("_", text)[:MAX_VALUE_LENGTH].strip("_")


def normalise_param(name: str) -> str:
    """Query-parameter names are matched case-insensitively (``UTM_Source`` is ``utm_source``)."""
    return name.strip().lower()[:MAX_VALUE_LENGTH]


# --- the compiled taxonomy: what the resolver reads -----------------------------------------------


# No slots: on a slotted frozen dataclass, setting a property raises TypeError instead of FrozenInstanceError.
@dataclass(frozen=True)
class Taxonomy:
    """The checked document and its lookup tables; keys of ``utm_sources``, ``utm_medium_types`` and ``codes``
    are normalised, as are the query-parameter names."""

    document: TaxonomyDocument
    channels: Mapping[str, Channel]
    scenes: Mapping[int, SceneRule]  # WeChat's
    # The other platforms' scene tables, keyed by the scene's text; a platform absent here has no scene table.
    platform_scenes: Mapping[str, Mapping[str, PlatformSceneRule]]
    platform_share_channels: Mapping[str, str]
    share_params: tuple[str, ...]
    utm_sources: Mapping[str, str]
    utm_medium_types: Mapping[str, str]
    code_params: tuple[str, ...]
    codes: Mapping[str, ChannelCode]
    click_ids: tuple[ClickIdRule, ...]
    ad_campaign_params: tuple[str, ...]
    ad_creative_params: tuple[str, ...]
    nested_query_params: tuple[str, ...]
    url_query_params: tuple[str, ...]
    precedence: tuple[Signal, ...]

    # The document's own values, read as they are.
    @property
    def version(self) -> int:
        return self.document.version

    @property
    def channel_types(self) -> tuple[str, ...]:
        return self.document.channel_types

    @property
    def direct_channel(self) -> str:
        return self.document.direct_channel

    @property
    def unknown_scene_channel(self) -> str | None:
        return self.document.unknown_scene_channel

    @property
    def share_channel(self) -> str:
        """WeChat's share channel (and every platform's that names none of its own)."""
        return self.document.share.channel

    @property
    def utm_default_type(self) -> str:
        return self.document.utm.default_type

    @property
    def unknown_code_channel(self) -> str | None:
        return self.document.channel_codes.unknown_code_channel

    @property
    def bare_scene_is_code(self) -> bool:
        return self.document.channel_codes.bare_scene_is_code

    def share_channel_of(self, platform: str) -> str:
        """A share card is the platform's own social channel: a Douyin share is not a WeChat share card."""
        return self.platform_share_channels.get(platform, self.document.share.channel)

    def channel_type(self, channel: str) -> str | None:
        found = self.channels.get(channel)
        return None if found is None else found.type

    def fallback_types(self) -> frozenset[str]:
        """The channel types an unknown UTM source can get (see the fallback rule in docs/channels.md)."""
        return frozenset({*self.utm_medium_types.values(), self.utm_default_type})


# --- loading --------------------------------------------------------------------------------------


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; ``None`` loads the default shipped with the package."""
    if path is None:
        origin = f"stream.channels/{DEFAULT_FILE}"
        resource = resources.files("stream.channels").joinpath(DEFAULT_FILE)
        try:
            text = resource.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            msg = f"cannot read the default taxonomy {origin}: {exc}"
            raise TaxonomyError(msg) from exc
    else:
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            msg = f"cannot read taxonomy file {origin}: {exc}"
            raise TaxonomyError(msg) from exc
    return parse_taxonomy_json(text, origin=origin)


@cache
def default_taxonomy() -> Taxonomy:
    """The default taxonomy, loaded once per process (it is immutable, so sharing it is safe)."""
    return load_taxonomy()


def parse_taxonomy_json(text: str, *, origin: str = "<string>") -> Taxonomy:
    try:
        data = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as exc:
        msg = f"{origin}: not valid JSON: {exc}"
        raise TaxonomyError(msg) from exc
    except TaxonomyError as exc:
        msg = f"{origin}: {exc}"
        raise TaxonomyError(msg) from exc
    if not isinstance(data, dict):
        msg = f"{origin}: the taxonomy must be a JSON object"
        raise TaxonomyError(msg)
    return parse_taxonomy(data, origin=origin)


def parse_taxonomy(data: Mapping[str, Any], *, origin: str = "<mapping>") -> Taxonomy:
    """Validate an already-parsed document (tests and tools build variants of the default this way)."""
    version = data.get("version")
    # Checked before the shape, so that a newer file gets "wrong version" rather than a page of field errors.
    if type(version) is not int or version != SUPPORTED_VERSION:
        msg = f"{origin}: unsupported taxonomy version {version!r} (this build reads {SUPPORTED_VERSION})"
        raise TaxonomyError(msg)
    try:
        document = TaxonomyDocument.model_validate(data)
    except ValidationError as exc:
        msg = f"{origin}: invalid taxonomy: {exc}"
        raise TaxonomyError(msg) from exc
    return _compile(document, origin)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; in a config that hides an operator's mistake.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            msg = f"duplicate key {key!r} in a JSON object"
            raise TaxonomyError(msg)
        result[key] = value
    return result


# --- cross-reference checks -----------------------------------------------------------------------


class _Problems:
    def __init__(self, channels: Mapping[str, Channel], types: Iterable[str]) -> None:
        self.items: list[str] = []
        self._channels = channels
        self._types = frozenset(types)
        self._params: dict[str, str] = {}

    def add(self, problem: str) -> None:
        self.items.append(problem)

    def channel(self, channel: str | None, where: str) -> None:
        if channel is not None and channel not in self._channels:
            self.add(f"{where} refers to unknown channel {channel!r}")

    def channel_type(self, channel_type: str, where: str) -> None:
        if channel_type not in self._types:
            known = ", ".join(sorted(self._types))
            self.add(f"{where} has unknown channel type {channel_type!r} (known: {known})")

    def params(self, names: Iterable[str], role: str) -> tuple[str, ...]:
        # One query parameter with two meanings would make the outcome depend on the order of the rules.
        result: list[str] = []
        for raw in names:
            name = normalise_param(raw)
            if not name:
                self.add(f"{role}: empty query parameter name")
            elif name in self._params:
                self.add(f"duplicate query parameter {name!r} ({self._params[name]} and {role})")
            else:
                self._params[name] = role
                result.append(name)
        return tuple(result)


def _compile(doc: TaxonomyDocument, origin: str) -> Taxonomy:
    problems = _Problems(doc.channels, doc.channel_types)
    _check_ids("channel type", doc.channel_types, problems)
    _check_ids("channel", doc.channels, problems)
    for key, channel in doc.channels.items():
        problems.channel_type(channel.type, f"channel {key!r}")
    problems.channel(doc.direct_channel, "direct_channel")
    problems.channel(doc.unknown_scene_channel, "unknown_scene_channel")
    problems.channel(doc.share.channel, "share.channel")
    problems.channel(doc.channel_codes.unknown_code_channel, "channel_codes.unknown_code_channel")

    scenes: dict[int, SceneRule] = {}
    for scene in doc.scenes:
        problems.channel(scene.channel, f"scene {scene.scene}")
        if scene.scene in scenes:
            problems.add(f"duplicate scene {scene.scene}")
        scenes[scene.scene] = scene

    platform_scenes, platform_shares = _platform_rules(doc.platforms, problems)

    sources = _normalised_table("utm.sources", doc.utm.sources, problems)
    for key, channel_id in sources.items():
        problems.channel(channel_id, f"utm.sources[{key!r}]")
    mediums = _normalised_table("utm.medium_types", doc.utm.medium_types, problems)
    for key, channel_type in mediums.items():
        problems.channel_type(channel_type, f"utm.medium_types[{key!r}]")
    problems.channel_type(doc.utm.default_type, "utm.default_type")

    codes = _normalised_table("channel_codes.codes", doc.channel_codes.codes, problems)
    for key, code in codes.items():
        problems.channel(code.channel, f"channel code {key!r}")

    click_ids = _click_id_rules(doc.click_ids, problems)
    taxonomy = Taxonomy(
        document=doc,
        channels=MappingProxyType(dict(doc.channels)),
        scenes=MappingProxyType(scenes),
        platform_scenes=MappingProxyType(platform_scenes),
        platform_share_channels=MappingProxyType(platform_shares),
        share_params=problems.params(doc.share.query_params, "share.query_params"),
        utm_sources=MappingProxyType(sources),
        utm_medium_types=MappingProxyType(mediums),
        code_params=problems.params(doc.channel_codes.query_params, "channel_codes.query_params"),
        codes=MappingProxyType(codes),
        click_ids=click_ids,
        ad_campaign_params=problems.params(doc.ad_params.campaign, "ad_params.campaign"),
        ad_creative_params=problems.params(doc.ad_params.creative, "ad_params.creative"),
        nested_query_params=problems.params(doc.launch.nested_query_params, "launch.nested_query_params"),
        url_query_params=problems.params(doc.launch.url_query_params, "launch.url_query_params"),
        precedence=_precedence(doc.precedence, problems),
    )
    if problems.items:
        details = "\n".join(f"  - {problem}" for problem in problems.items)
        msg = f"{origin}: invalid taxonomy ({len(problems.items)} problem(s)):\n{details}"
        raise TaxonomyError(msg)
    return taxonomy


def _platform_rules(
    platforms: Mapping[str, PlatformSpec], problems: _Problems
) -> tuple[dict[str, Mapping[str, PlatformSceneRule]], dict[str, str]]:
    # Each platform's scenes are checked by the rule the collector applies to its events: a table entry no
    # event could ever carry (a Douyin scene written without its leading zero) is a mistake.
    tables: dict[str, Mapping[str, PlatformSceneRule]] = {}
    shares: dict[str, str] = {}
    allowed = [p for p in PLATFORMS if p != WECHAT]
    for platform, spec in platforms.items():
        if platform not in allowed:
            problems.add(f"platforms: unknown platform {platform!r} (known: {', '.join(allowed)}; "
                         f"WeChat's scenes are the top-level 'scenes')")
            continue
        table: dict[str, PlatformSceneRule] = {}
        for rule in spec.scenes:
            where = f"platforms.{platform} scene {rule.scene!r}"
            problems.channel(rule.channel, where)
            try:
                check_scene(platform, rule.scene)
            except SceneError as exc:
                problems.add(f"{where}: {exc}")
            if rule.scene in table:
                problems.add(f"duplicate scene {rule.scene!r} of platform {platform}")
            table[rule.scene] = rule
        tables[platform] = MappingProxyType(table)
        if spec.share_channel is not None:
            problems.channel(spec.share_channel, f"platforms.{platform}.share_channel")
            shares[platform] = spec.share_channel
    return tables, shares


def _check_ids(kind: str, ids: Iterable[str], problems: _Problems) -> None:
    seen: set[str] = set()
    for key in ids:
        if not _ID.fullmatch(key):
            problems.add(
                f"{kind} id {key!r} must be lower-case letters, digits, '_', '.' or '-' (≤ 64 chars)"
            )
        if key in seen:
            problems.add(f"duplicate {kind} {key!r}")
        seen.add(key)


def _normalised_table(where: str, table: Mapping[str, _V], problems: _Problems) -> dict[str, _V]:
    result: dict[str, _V] = {}
    for raw, value in table.items():
        key = normalise_token(raw)
        if not key:
            problems.add(f"{where}: empty key {raw!r}")
        elif key in result:
            problems.add(f"{where}: duplicate entry {key!r} (keys are compared after normalisation)")
        else:
            result[key] = value
    return result


def _click_id_rules(rules: Iterable[ClickIdRule], problems: _Problems) -> tuple[ClickIdRule, ...]:
    compiled: list[ClickIdRule] = []
    for rule in rules:
        where = f"click id parameter {rule.param!r}"
        problems.channel(rule.channel, where)
        if not rule.platform:
            problems.add(f"{where} has an empty platform")
        if rule.separator == "":
            problems.add(f"{where} has an empty separator")
        segments = [rule.click_id_segment] + ([] if rule.ad_id_segment is None else [rule.ad_id_segment])
        if any(segment < 0 for segment in segments):
            problems.add(f"{where} has a negative segment index")
        params = problems.params([rule.param], "click_ids")
        compiled.extend(rule.model_copy(update={"param": param}) for param in params)
    return tuple(compiled)


def _precedence(names: Iterable[str], problems: _Problems) -> tuple[Signal, ...]:
    result: list[Signal] = []
    for name in names:
        signal = _SIGNAL_BY_NAME.get(name)
        if signal is None:
            problems.add(f"precedence: unknown signal {name!r} (known: {', '.join(SIGNALS)})")
        elif signal in result:
            problems.add(f"precedence: duplicate signal {name!r}")
        else:
            result.append(signal)
    # "direct" is the catch-all: anything listed after it could never decide, which is surely a mistake.
    if not result or result[-1] != "direct":
        problems.add("precedence: must end with 'direct', the catch-all rule")
    return tuple(result)
