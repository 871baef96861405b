"""The channel taxonomy: a versioned JSON document, validated once and compiled into read-only lookup tables.

The document (``TaxonomyDocument``) checks the shape; ``_compile`` checks what a schema cannot (references
between sections, duplicates after normalisation, the precedence list) and reports every problem at once, so
an operator fixes a bad config in one round trip.
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

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, ValidationError

Signal = Literal["click_id", "explicit", "share", "scene", "direct"]
SIGNALS: tuple[Signal, ...] = get_args(Signal)
_SIGNAL_BY_NAME: Mapping[str, Signal] = {signal: signal for signal in SIGNALS}

SUPPORTED_VERSION = 1
DEFAULT_FILE = "taxonomy.json"
MAX_VALUE_LENGTH = 128

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


# --- the document: the JSON shape -----------------------------------------------------------------


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChannelSpec(_Doc):
    type: str
    name: str


class SceneSpec(_Doc):
    scene: StrictInt
    channel: str
    label: str = ""


class ShareSpec(_Doc):
    channel: str
    query_params: tuple[str, ...] = ("share_from",)


class UtmSpec(_Doc):
    sources: dict[str, str]
    medium_types: dict[str, str]
    default_type: str


class CodeSpec(_Doc):
    channel: str
    campaign: str = ""
    creative: str = ""


class ChannelCodesSpec(_Doc):
    query_params: tuple[str, ...]
    codes: dict[str, CodeSpec]
    unknown_code_channel: str | None = None
    bare_scene_is_code: StrictBool = True


class ClickIdSpec(_Doc):
    param: str
    platform: str
    channel: str
    separator: str | None = None
    click_id_segment: StrictInt = 0
    ad_id_segment: StrictInt | None = None


class AdParamsSpec(_Doc):
    campaign: tuple[str, ...] = ()
    creative: tuple[str, ...] = ()


class LaunchSpec(_Doc):
    nested_query_params: tuple[str, ...] = ("scene",)
    url_query_params: tuple[str, ...] = ("q",)


class TaxonomyDocument(_Doc):
    version: StrictInt
    description: str = ""
    channel_types: tuple[str, ...]
    channels: dict[str, ChannelSpec]
    direct_channel: str
    scenes: tuple[SceneSpec, ...]
    unknown_scene_channel: str | None = None
    share: ShareSpec
    utm: UtmSpec
    channel_codes: ChannelCodesSpec
    click_ids: tuple[ClickIdSpec, ...]
    ad_params: AdParamsSpec = AdParamsSpec()
    launch: LaunchSpec = LaunchSpec()
    precedence: tuple[str, ...]


# --- the compiled taxonomy: what the resolver reads -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    type: str
    name: str


@dataclass(frozen=True, slots=True)
class SceneRule:
    scene: int
    channel: str
    label: str


@dataclass(frozen=True, slots=True)
class ChannelCode:
    code: str
    channel: str
    campaign: str
    creative: str


@dataclass(frozen=True, slots=True)
class ClickIdRule:
    param: str
    platform: str
    channel: str
    separator: str | None
    click_id_segment: int
    ad_id_segment: int | None


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Read-only lookup tables; keys of ``utm_sources``, ``utm_medium_types`` and ``codes`` are normalised."""

    version: int
    channel_types: tuple[str, ...]
    channels: Mapping[str, Channel]
    direct_channel: str
    scenes: Mapping[int, SceneRule]
    unknown_scene_channel: str | None
    share_channel: str
    share_params: tuple[str, ...]
    utm_sources: Mapping[str, str]
    utm_medium_types: Mapping[str, str]
    utm_default_type: str
    code_params: tuple[str, ...]
    codes: Mapping[str, ChannelCode]
    unknown_code_channel: str | None
    bare_scene_is_code: bool
    click_ids: tuple[ClickIdRule, ...]
    ad_campaign_params: tuple[str, ...]
    ad_creative_params: tuple[str, ...]
    nested_query_params: tuple[str, ...]
    url_query_params: tuple[str, ...]
    precedence: tuple[Signal, ...]

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
    def __init__(self, channels: Mapping[str, ChannelSpec], types: Iterable[str]) -> None:
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
    channels = {key: Channel(key, spec.type, spec.name) for key, spec in doc.channels.items()}
    for key, spec in doc.channels.items():
        problems.channel_type(spec.type, f"channel {key!r}")
    problems.channel(doc.direct_channel, "direct_channel")
    problems.channel(doc.unknown_scene_channel, "unknown_scene_channel")
    problems.channel(doc.share.channel, "share.channel")
    problems.channel(doc.channel_codes.unknown_code_channel, "channel_codes.unknown_code_channel")

    scenes: dict[int, SceneRule] = {}
    for scene in doc.scenes:
        problems.channel(scene.channel, f"scene {scene.scene}")
        if scene.scene in scenes:
            problems.add(f"duplicate scene {scene.scene}")
        scenes[scene.scene] = SceneRule(scene.scene, scene.channel, scene.label)

    sources = _normalised_table("utm.sources", doc.utm.sources, problems)
    for key, channel in sources.items():
        problems.channel(channel, f"utm.sources[{key!r}]")
    mediums = _normalised_table("utm.medium_types", doc.utm.medium_types, problems)
    for key, channel_type in mediums.items():
        problems.channel_type(channel_type, f"utm.medium_types[{key!r}]")
    problems.channel_type(doc.utm.default_type, "utm.default_type")

    code_specs = _normalised_table("channel_codes.codes", doc.channel_codes.codes, problems)
    codes = {
        key: ChannelCode(key, spec.channel, spec.campaign.strip(), spec.creative.strip())
        for key, spec in code_specs.items()
    }
    for key, code in code_specs.items():
        problems.channel(code.channel, f"channel code {key!r}")

    click_ids = _click_id_rules(doc.click_ids, problems)
    taxonomy = Taxonomy(
        version=doc.version,
        channel_types=doc.channel_types,
        channels=MappingProxyType(channels),
        direct_channel=doc.direct_channel,
        scenes=MappingProxyType(scenes),
        unknown_scene_channel=doc.unknown_scene_channel,
        share_channel=doc.share.channel,
        share_params=problems.params(doc.share.query_params, "share.query_params"),
        utm_sources=MappingProxyType(sources),
        utm_medium_types=MappingProxyType(mediums),
        utm_default_type=doc.utm.default_type,
        code_params=problems.params(doc.channel_codes.query_params, "channel_codes.query_params"),
        codes=MappingProxyType(codes),
        unknown_code_channel=doc.channel_codes.unknown_code_channel,
        bare_scene_is_code=doc.channel_codes.bare_scene_is_code,
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


def _click_id_rules(specs: Iterable[ClickIdSpec], problems: _Problems) -> tuple[ClickIdRule, ...]:
    rules: list[ClickIdRule] = []
    for spec in specs:
        where = f"click id parameter {spec.param!r}"
        problems.channel(spec.channel, where)
        if not spec.platform.strip():
            problems.add(f"{where} has an empty platform")
        if spec.separator == "":
            problems.add(f"{where} has an empty separator")
        segments = [spec.click_id_segment] + ([] if spec.ad_id_segment is None else [spec.ad_id_segment])
        if any(segment < 0 for segment in segments):
            problems.add(f"{where} has a negative segment index")
        for param in problems.params([spec.param], "click_ids"):
            rules.append(
                ClickIdRule(
                    param=param,
                    platform=spec.platform.strip(),
                    channel=spec.channel,
                    separator=spec.separator,
                    click_id_segment=spec.click_id_segment,
                    ad_id_segment=spec.ad_id_segment,
                )
            )
    return tuple(rules)


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
