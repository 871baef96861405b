"""Analyst keys from the apps file: scoping, validation, and reloading on change."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.reports.keys import AnalystKeyError, FileAnalystKeys, parse_analyst_keys

OLD, NEW, AGENCY = "rk_old_0123456789abc", "rk_new_0123456789abc", "rk_agency_0123456789"


def write(path: Path, apps: list[dict[str, Any]], mtime_ns: int) -> None:
    path.write_bytes(orjson.dumps({"apps": apps}))
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_a_key_reads_the_apps_it_is_listed_under_only() -> None:
    keys = parse_analyst_keys({"apps": [
        {"app_id": "shop", "analyst_keys": [OLD, AGENCY]},
        {"app_id": "coupons", "analyst_keys": [AGENCY]},
        {"app_id": "quiet"},
    ]}, "apps.json")
    assert keys.apps_for(OLD) == frozenset({"shop"})
    assert keys.apps_for(AGENCY) == frozenset({"shop", "coupons"})
    assert keys.apps_for("rk_unknown_0123456789") is None


@pytest.mark.parametrize(("apps", "words"), [
    ([{"app_id": "shop", "analyst_keys": ["short"]}], "shorter than 16"),
    ([{"app_id": "shop", "analyst_keys": "rk_not_a_list_0123456"}], "must be a list of strings"),
    ([{"app_id": "shop", "write_keys": [OLD], "analyst_keys": [OLD]}], "both a write key and an analyst key"),
    ([{"analyst_keys": [OLD]}], "with an app_id"),
])
def test_unusable_keys_are_refused_with_where(apps: list[dict[str, Any]], words: str) -> None:
    with pytest.raises(AnalystKeyError, match=words):
        parse_analyst_keys({"apps": apps}, "apps.json")


def test_the_file_is_re_read_when_it_changes_and_a_broken_edit_keeps_the_last_keys(tmp_path: Path) -> None:
    path = tmp_path / "apps.json"
    write(path, [{"app_id": "shop", "analyst_keys": [OLD]}], 1_000_000_000)
    now = [0.0]
    keys = FileAnalystKeys(path, monotonic=lambda: now[0])
    write(path, [{"app_id": "shop", "analyst_keys": [NEW]}], 2_000_000_000)
    assert keys.apps_for(OLD) == frozenset({"shop"})  # checked at most once a second
    now[0] = 1.5
    assert keys.apps_for(OLD) is None  # revoked
    assert keys.apps_for(NEW) == frozenset({"shop"})
    path.write_bytes(b"{ not json")
    os.utime(path, ns=(3_000_000_000, 3_000_000_000))
    now[0] = 3.0
    assert keys.apps_for(NEW) == frozenset({"shop"})


def test_a_missing_file_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(AnalystKeyError, match=r"apps file .* cannot be read"):
        FileAnalystKeys(tmp_path / "absent.json")
