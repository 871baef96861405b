"""The collector refuses an apps file whose postback section is wrong, at start, in one line."""

from __future__ import annotations

import orjson
import pytest

from collector.apps import AppConfigError, parse_document


def doc(postback: object) -> bytes:
    return orjson.dumps({"apps": [{"app_id": "shop", "write_keys": ["wk_shop_0123456789"], "integrations": [
        {"id": "tx-main", "platform": "tencent_ads", "token": "t" * 20, "channel": "tencent_ads",
         "postback": postback}]}]})


def test_a_valid_section_loads() -> None:
    registry = parse_document(doc({"wechat_app_id": "wx0123456789abcdef", "access_token_env": "TX"}), "apps.json")
    assert list(registry.integrations) == ["tx-main"]


def test_a_token_in_clear_stops_the_start_without_echoing_it() -> None:
    with pytest.raises(AppConfigError) as info:
        parse_document(doc({"wechat_app_id": "wx0123456789abcdef", "access_token": "tok-SECRET-1"}), "apps.json")
    text = str(info.value)
    assert text.startswith("apps.json: apps[0].integrations[0].postback: access_token must not be written")
    assert "tok-SECRET-1" not in text and "\n" not in text
