"""The apps file (`COLLECTOR_APPS_FILE` = `STREAM_APPS_FILE`) read as a JSON document, with one-line errors.

Each service reads its own parts of it (keys, postbacks, retention); reading and its errors are written once here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from runtime.errors import StartupError


def read_apps_file(path: Path) -> Any:
    """The parsed document; `StartupError` (one line) when the file cannot be read or is not JSON."""
    try:
        return orjson.loads(path.read_bytes())
    except OSError as exc:
        msg = f"apps file {path} cannot be read: {exc.strerror}"
        raise StartupError(msg) from None
    except orjson.JSONDecodeError as exc:
        msg = f"apps file {path}: not valid JSON: {exc}"
        raise StartupError(msg) from None
