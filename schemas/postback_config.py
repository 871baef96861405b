"""The `postback` section of an integration in the apps file: pure parsing, one-line errors (docs/postbacks.md).

    "integrations": [{"id": "tx-main", "platform": "tencent_ads", ...,
      "postback": {"enabled": true, "mode": "callback", "wechat_app_id": "wx0123456789abcdef",
                   "access_token_env": "TX_MAIN_ACCESS_TOKEN",
                   "events": {"register": "REGISTER", "convert": "COMPLETE_ORDER", "repurchase": "PURCHASE"},
                   "rule": {"touch": "last_touch", "click_window_days": 7}, "window_days": 7}}]

Both the collector (which validates the apps file at start) and the stream processor (which decides) read it
through here, so the two never disagree on what a section means. An access token is never taken from the apps
file itself: only the name of an environment variable or of a secrets file that holds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, NoReturn

Mode = Literal["callback", "click_id", "conversion_api"]
POSTBACK_PLATFORMS = ("tencent_ads", "ocean_engine")
MODES: dict[str, tuple[Mode, ...]] = {"tencent_ads": ("callback", "click_id"), "ocean_engine": ("conversion_api",)}
DEFAULT_EVENTS: dict[str, dict[str, str]] = {
    "tencent_ads": {"register": "REGISTER", "convert": "COMPLETE_ORDER", "repurchase": "PURCHASE"},
    "ocean_engine": {"register": "active_register", "convert": "active_pay", "repurchase": "active_pay"},
}
# Below the platforms' limits: Tencent allows a token 4,000 calls a minute on user_actions/add; Ocean Engine
# documents none for the conversion API, so the default stays modest.
DEFAULT_RATE_PER_MINUTE = {"tencent_ads": 3_000.0, "ocean_engine": 600.0}
CONVERSION_KINDS = ("register", "activate", "convert", "repurchase")
_ACTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_WECHAT_APP_ID = re.compile(r"^wx[0-9a-f]{16}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_KEYS = {
    "enabled", "mode", "account_id", "user_action_set_id", "wechat_app_id", "access_token_env",
    "access_token_file", "events", "rule", "window_days", "rate_per_minute",
}


class PostbackConfigError(ValueError):
    """A `postback` section is wrong; the message is one line and says where."""


@dataclass(frozen=True, slots=True)
class PostbackConfig:
    integration_id: str
    app_id: str
    platform: str
    mode: Mode
    events: Mapping[str, str]  # conversion type -> the platform's action / event type
    click_window: timedelta = timedelta(days=7)  # the last-touch click must be at most this old at conversion
    window: timedelta = timedelta(days=7)  # a decision later than this after the conversion sends nothing
    enabled: bool = True
    account_id: int | None = None
    user_action_set_id: int | None = None
    wechat_app_id: str = ""
    access_token_env: str = ""
    access_token_file: str = ""
    rate_per_minute: float = 600.0
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_postback(item: Any, integration_id: str, app_id: str, platform: str, where: str) -> PostbackConfig:
    """One integration's `postback` object; raises PostbackConfigError with a one-line message."""
    where = f"{where}.postback"
    if not isinstance(item, dict):
        _fail(where, "must be an object")
    if "access_token" in item:
        _fail(where, "access_token must not be written in the apps file: name it with access_token_env "
                     "(an environment variable) or access_token_file (a secrets file)")
    unknown = sorted(set(item) - _KEYS)
    if unknown:
        _fail(where, f"unknown keys {unknown}")
    if platform not in POSTBACK_PLATFORMS:
        _fail(where, f"postbacks are only sent to {POSTBACK_PLATFORMS}, not {platform!r}")
    modes = MODES[platform]
    mode = item.get("mode", modes[0])
    if mode not in modes:
        _fail(where, f"mode must be one of {modes} for {platform}")
    enabled = item.get("enabled", True)
    if not isinstance(enabled, bool):
        _fail(where, "enabled must be true or false")
    events = _events(item.get("events", DEFAULT_EVENTS[platform]), where)
    rule = item.get("rule", {})
    if not isinstance(rule, dict) or set(rule) - {"touch", "click_window_days"}:
        _fail(where, 'rule must be {"touch": "last_touch", "click_window_days": N}')
    if rule.get("touch", "last_touch") != "last_touch":
        _fail(where, "rule.touch: only last_touch is supported (the platforms bill the last click)")
    click_days = _days(rule.get("click_window_days", 7), f"{where}.rule.click_window_days")
    window_days = _days(item.get("window_days", 7), f"{where}.window_days")
    rate = item.get("rate_per_minute", DEFAULT_RATE_PER_MINUTE[platform])
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 100_000:
        _fail(where, "rate_per_minute must be a number in (0, 100000]")
    token_env, token_file = item.get("access_token_env", ""), item.get("access_token_file", "")
    if not isinstance(token_env, str) or (token_env and not _ENV_NAME.match(token_env)):
        _fail(where, "access_token_env must be an environment variable name such as TX_MAIN_ACCESS_TOKEN")
    if not isinstance(token_file, str):
        _fail(where, "access_token_file must be a path")
    if token_env and token_file:
        _fail(where, "give access_token_env or access_token_file, not both")
    wechat_app_id = item.get("wechat_app_id", "")
    account_id, action_set = item.get("account_id"), item.get("user_action_set_id")
    if platform == "tencent_ads":
        if not isinstance(wechat_app_id, str) or not _WECHAT_APP_ID.match(wechat_app_id):
            _fail(where, "wechat_app_id (wx + 16 hex digits) is required: Tencent needs it with the openid")
        if not token_env and not token_file:
            _fail(where, "Tencent needs an access token: set access_token_env or access_token_file")
        if mode == "click_id":
            for name, value in (("account_id", account_id), ("user_action_set_id", action_set)):
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    _fail(where, f"{name} (a positive integer) is required in click_id mode")
    return PostbackConfig(
        integration_id, app_id, platform, mode, events, timedelta(days=click_days), timedelta(days=window_days),
        enabled, account_id if isinstance(account_id, int) else None,
        action_set if isinstance(action_set, int) else None, str(wechat_app_id), token_env, token_file, float(rate),
    )


def _events(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        _fail(where, "events must map conversion types to the platform's action types")
    for kind, action in value.items():
        if kind not in CONVERSION_KINDS:
            _fail(where, f"events: {kind!r} is not a conversion type {CONVERSION_KINDS}")
        if not isinstance(action, str) or not _ACTION.match(action):
            _fail(where, f"events.{kind}: {action!r} is not an action type")
    return dict(value)


def _days(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 365:
        _fail(where, "must be a number of days in (0, 365]")
    return float(value)


def _fail(where: str, problem: str) -> NoReturn:
    msg = f"{where}: {problem}"
    raise PostbackConfigError(msg)


def postbacks_of(doc: Any) -> dict[str, dict[str, PostbackConfig]]:
    """Every `postback` section of an apps document: app_id -> integration_id -> config (malformed
    surroundings are the apps-file parser's business: skipped here, reported there)."""
    found: dict[str, dict[str, PostbackConfig]] = {}
    apps = doc.get("apps") if isinstance(doc, dict) else None
    for i, entry in enumerate(apps if isinstance(apps, list) else []):
        if not isinstance(entry, dict):
            continue
        app_id = str(entry.get("app_id", ""))
        for j, item in enumerate(entry.get("integrations", []) or []):
            if isinstance(item, dict) and "postback" in item:
                where = f"apps[{i}].integrations[{j}]"
                config = parse_postback(item["postback"], str(item.get("id", "")), app_id,
                                        str(item.get("platform", "")), where)
                found.setdefault(app_id, {})[config.integration_id] = config
    return found
