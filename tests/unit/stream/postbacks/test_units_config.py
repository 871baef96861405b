"""Fen conversion and the `postback` section of the apps file: golden values by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from schemas.postback_config import PostbackConfigError, parse_postback, postbacks_of
from stream.postbacks.units import AmountError, to_fen

TX: dict[str, Any] = {"enabled": True, "wechat_app_id": "wx0123456789abcdef", "access_token_env": "TX_TOKEN"}


@pytest.mark.parametrize(
    ("amount", "fen"),
    [("40", 4000), ("19.99", 1999), ("0.01", 1), ("0.1", 10), ("1234567.89", 123456789), ("0.005", 1),
     ("0.0049", 0), ("12.3450", 1235), (Decimal("0.29"), 29), (7, 700), ("0", 0)],
)
def test_yuan_to_fen_is_exact(amount: Any, fen: int) -> None:
    # 0.29 * 100 is 28.999999999999996 in binary floating point: Decimal keeps it 29.
    assert to_fen(amount) == fen


@pytest.mark.parametrize("amount", ["-1", "NaN", "Infinity", "abc", "1e20"])
def test_amounts_that_cannot_be_reported(amount: str) -> None:
    with pytest.raises(AmountError):
        to_fen(amount)


def test_tencent_defaults() -> None:
    c = parse_postback(TX, "tx-main", "shop", "tencent_ads", "apps[0].integrations[0]")
    assert (c.mode, c.enabled, c.access_token_env) == ("callback", True, "TX_TOKEN")
    assert c.wechat_app_id == "wx0123456789abcdef"
    assert dict(c.events) == {"register": "REGISTER", "convert": "COMPLETE_ORDER", "repurchase": "PURCHASE"}
    assert c.click_window == timedelta(days=7)
    assert c.window == timedelta(days=7)
    assert c.rate_per_minute == 3000.0  # below Tencent's 4,000 calls a minute per token


def test_ocean_engine_defaults_need_no_token() -> None:
    c = parse_postback({"rule": {"click_window_days": 1}, "window_days": 2}, "oe-1", "shop", "ocean_engine", "x")
    assert c.mode == "conversion_api"
    assert dict(c.events) == {"register": "active_register", "convert": "active_pay", "repurchase": "active_pay"}
    assert (c.click_window, c.window) == (timedelta(days=1), timedelta(days=2))


@pytest.mark.parametrize(
    ("section", "platform", "message"),
    [
        ({**TX, "access_token": "secret-in-clear"}, "tencent_ads", "access_token must not be written"),
        ({"wechat_app_id": "wx0123456789abcdef"}, "tencent_ads", "needs an access token"),
        ({**TX, "wechat_app_id": "nope"}, "tencent_ads", "wechat_app_id"),
        ({**TX, "mode": "click_id"}, "tencent_ads", "account_id (a positive integer) is required"),
        ({**TX, "mode": "click_id", "account_id": 1}, "tencent_ads", "user_action_set_id"),
        ({**TX, "mode": "conversion_api"}, "tencent_ads", "mode must be one of"),
        ({**TX, "events": {"signup": "REGISTER"}}, "tencent_ads", "'signup' is not a conversion type"),
        ({**TX, "events": {"register": "RE GISTER"}}, "tencent_ads", "is not an action type"),
        ({**TX, "rule": {"touch": "first_touch"}}, "tencent_ads", "only last_touch"),
        ({**TX, "window_days": 0}, "tencent_ads", "window_days: must be a number of days"),
        ({**TX, "access_token_file": "/run/secrets/tx"}, "tencent_ads", "not both"),
        ({**TX, "colour": "red"}, "tencent_ads", "unknown keys ['colour']"),
        ({}, "generic", "only sent to"),
        ("yes", "ocean_engine", "must be an object"),
    ],
)
def test_bad_sections_give_one_line_errors(section: Any, platform: str, message: str) -> None:
    with pytest.raises(PostbackConfigError) as info:
        parse_postback(section, "tx-main", "shop", platform, "apps[0].integrations[1]")
    text = str(info.value)
    assert message in text
    assert text.startswith("apps[0].integrations[1].postback")
    assert "\n" not in text
    assert "secret-in-clear" not in text


def test_postbacks_of_an_apps_document() -> None:
    doc = {"apps": [{"app_id": "shop", "integrations": [
        {"id": "tx-main", "platform": "tencent_ads", "postback": TX},
        {"id": "plain", "platform": "tencent_ads"},
        {"id": "oe-1", "platform": "ocean_engine", "postback": {"enabled": False}},
    ]}]}
    found = postbacks_of(doc)
    assert sorted(found["shop"]) == ["oe-1", "tx-main"]
    assert found["shop"]["oe-1"].enabled is False
