"""Loading the app registry (apps, write keys, CORS origins) from a JSON file and/or an inline list.

File format (see deploy/apps.example.json):
    {"apps": [{"app_id": "shop", "write_keys": ["wk_..."], "cors_origins": ["https://h5.example.com"]}]}
Removing a key from the file revokes it within `reload_interval_s`, without a restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from collector.auth import App, KeyRing

APP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class AppConfigError(ValueError):
    pass


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


def parse_file(data: bytes, source: str) -> dict[str, App]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        msg = f"{source}: not valid JSON: {exc}"
        raise AppConfigError(msg) from None
    keys: dict[str, App] = {}
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
        origins, write_keys = entry.get("cors_origins", []), entry.get("write_keys", [])
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            msg = f"{where}: cors_origins must be a list of origins"
            raise AppConfigError(msg)
        if not isinstance(write_keys, list):
            msg = f"{where}: write_keys must be a list"
            raise AppConfigError(msg)
        app = App(app_id, frozenset(origins))
        for key in write_keys:
            if not isinstance(key, str) or len(key) < 8:
                msg = f"{source}: apps[{i}] has a write key shorter than 8 characters"
                raise AppConfigError(msg)
            if key in keys and keys[key].app_id != app_id:
                msg = f"{source}: a write key is listed under two apps ({keys[key].app_id}, {app_id})"
                raise AppConfigError(msg)
            keys[key] = app
    return keys


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
        if self._path is not None:
            try:
                stat = self._path.stat()
                keys.update(parse_file(self._path.read_bytes(), str(self._path)))
            except FileNotFoundError:
                msg = f"COLLECTOR_APPS_FILE {self._path} does not exist"
                raise AppConfigError(msg) from None
            except OSError as exc:
                msg = f"COLLECTOR_APPS_FILE {self._path} cannot be read: {exc.strerror}"
                raise AppConfigError(msg) from None
            self._mtime = stat.st_mtime
        return KeyRing(keys)

    def current(self) -> KeyRing:
        now = self._monotonic()
        if self._path is not None and now - self._checked >= self._interval:
            self._checked = now
            try:
                if self._path.stat().st_mtime != self._mtime:
                    self._ring = self._load()
            except (OSError, AppConfigError, ValueError):
                pass  # keep serving the last good registry; a broken edit must not lock every app out
        return self._ring
