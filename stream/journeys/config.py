"""Attribution settings: which events are conversions, the models, the windows, how late data may arrive.

Loaded from a JSON file (STREAM_ATTRIBUTION_CONFIG); every key is optional, see docs/attribution.md:
    {"conversion_types": ["register", "activate", "convert", "repurchase"],
     "half_life_days": 7,
     "windows": {"default": {"click_days": 7, "view_days": 1}, "register": {"click_days": 3, "view_days": 1}},
     "custom_models": [{"name": "first_last_50", "first": 0.5, "middle": 0, "last": 0.5,
                        "channel_multipliers": {"wechat_share": 1.5}}],
     "allowed_lateness_days": 7, "identity_retention_days": 180}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import orjson

from schemas.events import CONVERSION_TYPES
from stream.attribution.compiled import JourneyAttribution
from stream.attribution.eligibility import Windows
from stream.attribution.models import DEFAULT_MODELS, ModelSpec, standard_models

DAY = 86_400.0


class ConfigError(ValueError):
    """The attribution config file is wrong; the message says where."""


@dataclass(frozen=True)
class AttributionConfig:
    conversion_types: frozenset[str] = frozenset(CONVERSION_TYPES)
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    default_windows: Windows = field(default_factory=Windows)
    windows_by_type: Mapping[str, Windows] = field(default_factory=dict)
    allowed_lateness: timedelta = timedelta(days=7)
    identity_retention: timedelta = timedelta(days=180)

    def windows_for(self, conversion_type: str) -> Windows:
        return self.windows_by_type.get(conversion_type, self.default_windows)

    @cached_property
    def attribution(self) -> JourneyAttribution:
        """`attribute_journey` over these models, compiled once (stream/attribution/compiled.py)."""
        return JourneyAttribution(self.models)

    @cached_property
    def longest_window(self) -> timedelta:
        # Cached: read for every touch and conversion on the hot path (profiled at 2-5% of the processor).
        spans = [self.default_windows, *self.windows_by_type.values()]
        seconds = max(max(w.click_seconds, w.view_seconds) for w in spans)
        return timedelta(seconds=seconds if math.isfinite(seconds) else 365 * DAY)


def load_config(path: Path | None) -> AttributionConfig:
    if path is None:
        return AttributionConfig()
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        msg = f"attribution config {path}: {exc}"
        raise ConfigError(msg) from None
    return parse_config(doc, str(path))


def parse_config(doc: Any, source: str = "attribution config") -> AttributionConfig:
    if not isinstance(doc, dict):
        msg = f"{source}: must be a JSON object"
        raise ConfigError(msg)
    unknown = set(doc) - {"conversion_types", "half_life_days", "windows", "custom_models",
                          "allowed_lateness_days", "identity_retention_days"}
    if unknown:
        msg = f"{source}: unknown keys {sorted(unknown)}"
        raise ConfigError(msg)
    try:
        types = frozenset(doc.get("conversion_types", CONVERSION_TYPES))
        bad = types - set(CONVERSION_TYPES)
        if bad or not types:
            msg = f"conversion_types must be a non-empty subset of {CONVERSION_TYPES}, got {sorted(types)}"
            raise ConfigError(msg)
        models = standard_models(float(doc.get("half_life_days", 7)) * DAY)
        custom = tuple(
            ModelSpec(
                str(m["name"]), "custom", first=float(m.get("first", 0.4)), middle=float(m.get("middle", 0.2)),
                last=float(m.get("last", 0.4)), channel_multipliers=dict(m.get("channel_multipliers", {})),
            )
            for m in doc.get("custom_models", [])
        )
        names = [m.name for m in models + custom]
        if len(set(names)) != len(names):
            msg = f"model names must be unique, got {names}"
            raise ConfigError(msg)
        windows = {k: _windows(v) for k, v in doc.get("windows", {}).items()}
        for key in windows:
            if key != "default" and key not in CONVERSION_TYPES:
                msg = f"windows: unknown conversion type {key!r}"
                raise ConfigError(msg)
        default = windows.pop("default", Windows())
        return AttributionConfig(
            conversion_types=types,
            models=models + custom,
            default_windows=default,
            windows_by_type=windows,
            allowed_lateness=timedelta(days=float(doc.get("allowed_lateness_days", 7))),
            identity_retention=timedelta(days=float(doc.get("identity_retention_days", 180))),
        )
    except ConfigError as exc:
        msg = f"{source}: {exc}"
        raise ConfigError(msg) from None
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"{source}: {type(exc).__name__}: {exc}"
        raise ConfigError(msg) from None


def _windows(value: Any) -> Windows:
    return Windows(
        click_seconds=float(value.get("click_days", 7)) * DAY,
        view_seconds=float(value.get("view_days", 1)) * DAY,
    )
