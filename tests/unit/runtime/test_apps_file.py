"""The apps file is read in one place, with one-line errors for each service that needs a part of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.apps_file import read_apps_file
from runtime.errors import StartupError
from stream.postbacks.load import load_postbacks
from stream.privacy_retention import load_retention
from stream.reports.keys import AnalystKeyError, load_analyst_keys


def test_a_missing_or_broken_file_is_one_line_for_every_reader(tmp_path: Path) -> None:
    missing, broken = tmp_path / "missing.json", tmp_path / "broken.json"
    broken.write_text('{"apps": [', encoding="utf-8")
    for path, says in ((missing, "cannot be read: No such file or directory"), (broken, "not valid JSON")):
        for read in (read_apps_file, load_postbacks, load_retention):
            with pytest.raises(StartupError) as caught:
                read(path)
            assert str(caught.value).startswith(f"apps file {path}") and says in str(caught.value)
            assert "\n" not in str(caught.value)
        with pytest.raises(AnalystKeyError, match=says):
            load_analyst_keys(path)


def test_the_document_comes_back_parsed(tmp_path: Path) -> None:
    path = tmp_path / "apps.json"
    path.write_text('{"apps": [{"app_id": "shop", "retention": {"events_days": 30}}]}', encoding="utf-8")
    assert read_apps_file(path) == {"apps": [{"app_id": "shop", "retention": {"events_days": 30}}]}
    assert load_retention(path).of("events", "shop") == 30
