"""JSON Schema export: deterministic output, and `--check` names stale files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.events import EVENT_TYPES
from schemas.export import DEFAULT_OUT, main, render_all

EXPECTED_FILES = sorted(["event.json", "batch.json", *(f"event.{t}.json" for t in EVENT_TYPES)])


def files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.json"))}


def test_export_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(files(tmp_path)) == EXPECTED_FILES
    assert "wrote 14 of 14" in capsys.readouterr().out


def test_export_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["--out", str(first)]) == 0
    assert main(["--out", str(second)]) == 0
    assert files(first) == files(second)
    assert main(["--out", str(first)]) == 0  # a re-run rewrites nothing and changes nothing
    assert files(first) == files(second)


def test_export_format(tmp_path: Path) -> None:
    main(["--out", str(tmp_path)])
    for name, raw in files(tmp_path).items():
        text = raw.decode("utf-8")
        assert text.endswith("}\n") and not text.endswith("\n\n"), name
        document = json.loads(text)
        assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", name
        assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_union_schema_is_discriminated_on_type() -> None:
    union = json.loads(render_all()["event.json"])
    assert union["discriminator"]["propertyName"] == "type"
    assert sorted(union["discriminator"]["mapping"]) == sorted(EVENT_TYPES)
    enter = json.loads(render_all()["event.enter.json"])
    assert enter["additionalProperties"] is False
    assert enter["properties"]["type"]["const"] == "enter"
    assert set(enter["required"]) == {"event_id", "type", "timestamp", "anonymous_id"}
    assert enter["$defs"]["Context"]["additionalProperties"] is False


def test_check_passes_on_fresh_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path)])
    capsys.readouterr()
    assert main(["--check", "--out", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_names_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path)])
    stale = tmp_path / "event.convert.json"
    stale.write_text(stale.read_text(encoding="utf-8").replace("CNY", "USD"), encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "event.convert.json" in err
    assert "event.enter.json" not in err
    assert "python -m schemas.export" in err


def test_check_names_missing_and_unexpected_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--out", str(tmp_path)])
    (tmp_path / "batch.json").unlink()
    (tmp_path / "event.purchase.json").write_text("{}\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "batch.json" in err
    assert "event.purchase.json" in err
    assert main(["--out", str(tmp_path)]) == 0  # regenerating repairs both
    assert sorted(files(tmp_path)) == EXPECTED_FILES
    assert main(["--check", "--out", str(tmp_path)]) == 0


def test_check_on_a_missing_directory(tmp_path: Path) -> None:
    assert main(["--check", "--out", str(tmp_path / "nowhere")]) == 1


def test_checked_in_files_are_fresh(capsys: pytest.CaptureFixture[str]) -> None:
    # The same check CI runs: regenerate with `python -m schemas.export` after changing a model.
    assert main(["--check"]) == 0, capsys.readouterr().err
    assert DEFAULT_OUT.name == "json"
    assert DEFAULT_OUT.parent.name == "schemas"
