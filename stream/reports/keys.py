"""Analyst keys: read-only access to the reports of the apps a key is listed under.

They live in the apps file next to the write and admin keys (`"analyst_keys": ["..."]` per app), which the
processor re-reads when it changes. A key may be listed under several apps (an agency reading for many
brands); it never reaches data of an app it is not listed under. Presented keys are compared by their SHA-256,
so lookups do not depend on how much of a secret matches.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from runtime.apps_file import read_apps_file
from runtime.errors import StartupError

log = logging.getLogger(__name__)
MIN_KEY_LENGTH = 16
RELOAD_CHECK_S = 1.0


class AnalystKeyError(ValueError):
    """The apps file's analyst keys are unusable; the message says where."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class AnalystKeys:
    def __init__(self, keys: Mapping[str, Collection[str]]) -> None:
        self._apps = {_digest(key): frozenset(apps) for key, apps in keys.items()}

    def __len__(self) -> int:
        return len(self._apps)

    def apps_for(self, key: str) -> frozenset[str] | None:
        """The apps `key` may read, or None when it is not an analyst key."""
        return self._apps.get(_digest(key))


def parse_analyst_keys(doc: Any, source: str) -> AnalystKeys:
    apps = doc.get("apps") if isinstance(doc, dict) else None
    if not isinstance(apps, list):
        msg = f'{source}: expected {{"apps": [...]}}'
        raise AnalystKeyError(msg)
    keys: dict[str, set[str]] = {}
    public: set[str] = set()
    for i, entry in enumerate(apps):
        if not isinstance(entry, dict) or not isinstance(entry.get("app_id"), str):
            msg = f"{source}: apps[{i}] must be an object with an app_id"
            raise AnalystKeyError(msg)
        listed = entry.get("analyst_keys", [])
        if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
            msg = f"{source}: apps[{i}].analyst_keys must be a list of strings"
            raise AnalystKeyError(msg)
        for key in listed:
            if len(key) < MIN_KEY_LENGTH:
                msg = f"{source}: apps[{i}] has an analyst key shorter than {MIN_KEY_LENGTH} characters"
                raise AnalystKeyError(msg)
            keys.setdefault(key, set()).add(entry["app_id"])
        write_keys = entry.get("write_keys", [])
        if isinstance(write_keys, list):
            public.update(k for k in write_keys if isinstance(k, str))
    if public & set(keys):
        msg = f"{source}: a key is both a write key and an analyst key; write keys are public, analyst keys secret"
        raise AnalystKeyError(msg)
    return AnalystKeys(keys)


def load_analyst_keys(path: Path) -> AnalystKeys:
    try:
        doc = read_apps_file(path)
    except StartupError as exc:  # keys are re-read while running: a broken edit keeps the last good keys
        raise AnalystKeyError(str(exc)) from None
    return parse_analyst_keys(doc, str(path))


class FileAnalystKeys:
    """Analyst keys of an apps file, re-read when the file changes; a broken edit keeps the last good keys."""

    def __init__(self, path: Path, monotonic: Any = time.monotonic) -> None:
        self._path = path
        self._monotonic = monotonic
        self._keys = load_analyst_keys(path)
        self._mtime = path.stat().st_mtime_ns
        self._checked = monotonic()

    def apps_for(self, key: str) -> frozenset[str] | None:
        self._maybe_reload()
        return self._keys.apps_for(key)

    def _maybe_reload(self) -> None:
        now = self._monotonic()
        if now - self._checked < RELOAD_CHECK_S:
            return
        self._checked = now
        try:
            mtime = self._path.stat().st_mtime_ns
            if mtime != self._mtime:
                self._mtime = mtime  # a broken edit is reported once, not every second
                self._keys = load_analyst_keys(self._path)
                log.info("analyst keys reloaded from %s", self._path)
        except (OSError, AnalystKeyError) as exc:
            log.warning("analyst keys not reloaded, keeping the previous ones: %s", exc)
