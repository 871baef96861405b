"""The engine's and the config's sets of names, derived from the event contract: golden values by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stream.attribution.models import DEFAULT_MODELS
from stream.journeys.config import AttributionConfig, ConfigError, parse_config
from stream.journeys.engine import FAMILIES, TOUCH_KIND_OF
from stream.journeys.restore import conversion_from_row
from stream.restore_state import _AD_TOUCHES, _CONVERSION_EVENTS, _PURCHASE_EVENTS
from stream.rows import AD_TOUCH_TYPES as ROW_AD_TOUCH_TYPES


def test_touch_kinds_and_families() -> None:
    assert TOUCH_KIND_OF == {"exposure": "view", "click": "click", "enter": "click"}
    assert FAMILIES == {"register": "register", "activate": "activate", "convert": "purchase", "repurchase": "purchase"}


def test_restored_conversions_get_the_engines_family() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    families = {t: conversion_from_row("c", "e", "uid:u", t, at, "", Decimal(0), "").family for t in FAMILIES}
    assert families == {"register": "register", "activate": "activate", "convert": "purchase", "repurchase": "purchase"}


def test_state_restore_reads_the_same_types_the_engine_folds() -> None:
    assert ROW_AD_TOUCH_TYPES == ("ad_click", "ad_impression")
    assert _AD_TOUCHES == "('ad_click', 'ad_impression')"
    assert _CONVERSION_EVENTS == "('register', 'activate', 'convert', 'repurchase')"
    assert _PURCHASE_EVENTS == "('convert', 'repurchase')"


def test_config_defaults_are_every_conversion_type_and_the_standard_models() -> None:
    config = AttributionConfig()
    assert config.conversion_types == {"register", "activate", "convert", "repurchase"}
    assert config.models == DEFAULT_MODELS
    assert parse_config({}).models == DEFAULT_MODELS
    assert [m.half_life_seconds for m in parse_config({"half_life_days": 2}).models if m.kind == "time_decay"] == [
        2 * 86_400.0
    ]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"conversion_types": ["purchase"]}, "conversion_types must be a non-empty subset of ('register', 'activate', "
                                             "'convert', 'repurchase'), got ['purchase']"),
        ({"windows": {"exposure": {"click_days": 1}}}, "windows: unknown conversion type 'exposure'"),
    ],
)
def test_config_rejects_names_outside_the_conversion_types(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(doc, "test.json")
    assert str(caught.value) == f"test.json: {message}"
