"""Loading the app registry (apps, keys, CORS origins, ad-platform integrations) from a JSON file and/or an
inline list of write keys.

File format (see deploy/apps.example.json):
    {"apps": [{"app_id": "shop", "write_keys": ["wk_..."], "cors_origins": ["https://h5.example.com"],
               "admin_keys": ["ak_..."], "reporting_currency": "CNY",
               "integrations": [{"id": "tx-main", "platform": "tencent_ads", "token": "<secret>",
                                 "channel": "tencent_ads", "signing_secrets": [], "rate_limit_per_s": 200}]}]}
Removing a key from the file revokes it within `reload_interval_s`, without a restart.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from collector.auth import App, Integration, KeyRing
from collector.webhooks.macros import PLATFORMS
from schemas.postback_config import PostbackConfigError, parse_postback

log = logging.getLogger(__name__)
APP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
INTEGRATION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class AppConfigError(ValueError):
    """The apps file or COLLECTOR_WRITE_KEYS is wrong; the message says where."""


def parse_inline(spec: str) -> dict[str, App]:
    keys: dict[str, App] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        app_id, sep, key = item.partition(":")
        if not sep or not key:
            msg = f"COLLECTOR_WRITE_KEYS entry {item!r} is not app_id:write_key"
            raise AppConfigError(msg)
        _check_app_id(app_id)
        keys[key] = App(app_id)
    return keys


@dataclass(frozen=True)
class Registry:
    keys: dict[str, App] = field(default_factory=dict)
    admin_keys: dict[str, App] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)


def parse_file(data: bytes, source: str) -> dict[str, App]:
    """The write keys of an apps file (see parse_document for everything in it)."""
    return parse_document(data, source).keys


def parse_document(data: bytes, source: str) -> Registry:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = f"{source}: not valid JSON: {exc}"
        raise AppConfigError(msg) from None
    registry = Registry()
    apps = doc.get("apps") if isinstance(doc, dict) else None
    if not isinstance(apps, list):
        msg = f'{source}: expected {{"apps": [...]}}'
        raise AppConfigError(msg)
    for i, entry in enumerate(apps):
        where = f"{source}: apps[{i}]"
        if not isinstance(entry, dict):
            msg = f"{where} must be an object"
            raise AppConfigError(msg)
        app_id = entry.get("app_id", "")
        _check_app_id(app_id, where)
        origins = _str_list(entry, "cors_origins", where)
        currency = entry.get("reporting_currency", "CNY")
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            msg = f"{where}: reporting_currency must be an ISO-4217 code such as CNY"
            raise AppConfigError(msg)
        app = App(app_id, frozenset(origins), currency)
        for name, target in (("write_keys", registry.keys), ("admin_keys", registry.admin_keys)):
            for key in _str_list(entry, name, where):
                if len(key) < 8:
                    msg = f"{where} has a key in {name} shorter than 8 characters"
                    raise AppConfigError(msg)
                if key in target and target[key].app_id != app_id:
                    msg = f"{where}: a key is listed under two apps ({target[key].app_id}, {app_id})"
                    raise AppConfigError(msg)
                target[key] = app
        for j, item in enumerate(entry.get("integrations", []) or []):
            integration = _integration(item, app_id, f"{where}.integrations[{j}]")
            if integration.integration_id in registry.integrations:
                msg = f"{where}: integration id {integration.integration_id!r} is used twice"
                raise AppConfigError(msg)
            registry.integrations[integration.integration_id] = integration
    if set(registry.keys) & set(registry.admin_keys):
        msg = f"{source}: a key is both a write key and an admin key; write keys are public, admin keys secret"
        raise AppConfigError(msg)
    return registry


def _str_list(entry: dict[str, Any], name: str, where: str) -> list[str]:
    value = entry.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{where}: {name} must be a list of strings"
        raise AppConfigError(msg)
    return value


def _integration(item: Any, app_id: str, where: str) -> Integration:
    if not isinstance(item, dict):
        msg = f"{where} must be an object"
        raise AppConfigError(msg)
    try:
        integration = Integration(
            integration_id=str(item["id"]),
            app_id=app_id,
            platform=str(item["platform"]),
            token=str(item["token"]),
            channel=str(item["channel"]),
            channel_type=str(item.get("channel_type", "paid")),
            signing_secrets=tuple(str(s) for s in item.get("signing_secrets", [])),
            require_signature=bool(item.get("require_signature", False)),
            rate_limit_per_s=float(item.get("rate_limit_per_s", 200)),
        )
    except KeyError as exc:
        msg = f"{where}: missing {exc.args[0]!r}"
        raise AppConfigError(msg) from None
    except (TypeError, ValueError) as exc:
        msg = f"{where}: {exc}"
        raise AppConfigError(msg) from None
    if not INTEGRATION_ID.match(integration.integration_id):
        msg = f"{where}: id must match {INTEGRATION_ID.pattern}"
        raise AppConfigError(msg)
    if integration.platform not in PLATFORMS:
        msg = f"{where}: platform must be one of {PLATFORMS}"
        raise AppConfigError(msg)
    if len(integration.token) < 16:
        msg = f"{where}: token must be at least 16 characters (it is the integration's secret)"
        raise AppConfigError(msg)
    if integration.require_signature and not integration.signing_secrets:
        msg = f"{where}: require_signature needs signing_secrets"
        raise AppConfigError(msg)
    if "postback" in item:  # sent by `touchstream postbacks`; checked here too, so a bad file fails at start
        try:
            parse_postback(item["postback"], integration.integration_id, app_id, integration.platform, where)
        except PostbackConfigError as exc:
            raise AppConfigError(str(exc)) from None
    return integration


def _check_app_id(app_id: object, where: str = "app id") -> None:
    if not isinstance(app_id, str) or not APP_ID_PATTERN.match(app_id):
        msg = f"{where}: app_id {app_id!r} must match {APP_ID_PATTERN.pattern}"
        raise AppConfigError(msg)


class KeyRingSource:
    """Serves the current KeyRing, re-reading the apps file when its modification time changes."""

    def __init__(
        self, inline: str, path: Path | None, reload_interval_s: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inline = parse_inline(inline)
        self._path = path
        self._interval = reload_interval_s
        self._monotonic = monotonic
        self._mtime: float | None = None
        self._checked = float("-inf")
        self._ring = self._load()

    def _load(self) -> KeyRing:
        keys = dict(self._inline)
        registry = Registry()
        if self._path is not None:
            try:
                stat = self._path.stat()
                registry = parse_document(self._path.read_bytes(), str(self._path))
                keys.update(registry.keys)
            except FileNotFoundError:
                msg = f"COLLECTOR_APPS_FILE {self._path} does not exist"
                raise AppConfigError(msg) from None
            except OSError as exc:
                msg = f"COLLECTOR_APPS_FILE {self._path} cannot be read: {exc.strerror}"
                raise AppConfigError(msg) from None
            self._mtime = stat.st_mtime
        return KeyRing(keys, registry.admin_keys, registry.integrations)

    def current(self) -> KeyRing:
        now = self._monotonic()
        if self._path is not None and now - self._checked >= self._interval:
            self._checked = now
            try:
                if self._path.stat().st_mtime != self._mtime:
                    self._ring = self._load()
            except (OSError, AppConfigError, ValueError) as exc:
                # Keep serving the last good registry: a broken edit must not lock every app out.
                log.warning("apps file not reloaded, keeping the previous one: %s", exc)
        return self._ring
