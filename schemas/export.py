"""Writes the JSON Schema of the event contract into `schemas/json/`, or checks the checked-in files.

    python -m schemas.export            # regenerate schemas/json/*.json
    python -m schemas.export --check    # CI: exit 1 and name the stale files if they differ
    python -m schemas.export --out DIR  # another directory (tests)

Files: `event.json` (the union of all types), `event.<type>.json` (one per type) and `batch.json` (the request
body). The output is deterministic: sorted keys, two-space indent, UTF-8, one trailing newline. The schemas
describe what a client may send (pydantic's validation mode).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from schemas.batch import BatchEnvelope
from schemas.events import EVENT_MODELS, Event

DEFAULT_OUT = Path(__file__).resolve().parent / "json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _render(schema: dict[str, Any], title: str) -> str:
    document = {"$schema": _DIALECT, **schema, "title": title}
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """File name → file content, for every schema file."""
    files = {
        "event.json": _render(TypeAdapter(Event).json_schema(mode="validation"), "Event"),
        "batch.json": _render(BatchEnvelope.model_json_schema(mode="validation"), "BatchEnvelope"),
    }
    for type_name, model in EVENT_MODELS.items():
        files[f"event.{type_name}.json"] = _render(model.model_json_schema(mode="validation"), model.__name__)
    return dict(sorted(files.items()))


def stale_files(out: Path, expected: dict[str, str]) -> list[str]:
    """Names of files in `out` that are missing, differ from `expected`, or are not generated at all."""
    stale = []
    for name, text in expected.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    if out.is_dir():
        stale.extend(path.name for path in out.glob("*.json") if path.name not in expected)
    return sorted(stale)


def write_all(out: Path, expected: dict[str, str]) -> list[str]:
    """Writes every file whose content changed and deletes `*.json` files no longer generated."""
    out.mkdir(parents=True, exist_ok=True)
    changed = stale_files(out, expected)
    for name in changed:
        path = out / name
        if name in expected:
            with path.open("w", encoding="utf-8", newline="\n") as fh:
                fh.write(expected[name])
        else:
            path.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory (default: schemas/json)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files in --out are stale")
    args = parser.parse_args(argv)
    out: Path = args.out
    expected = render_all()
    if args.check:
        stale = stale_files(out, expected)
        if stale:
            sys.stderr.write(
                f"stale JSON Schema files in {out}: {', '.join(stale)}\n"
                "run `python -m schemas.export` and commit the result\n"
            )
            return 1
        sys.stdout.write(f"{len(expected)} JSON Schema files in {out} are up to date\n")
        return 0
    changed = write_all(out, expected)
    sys.stdout.write(f"wrote {len(changed)} of {len(expected)} JSON Schema files to {out}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
