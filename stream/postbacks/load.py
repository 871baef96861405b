"""Reading the postback sections of the apps file at start (the stream processor and the worker)."""

from __future__ import annotations

from pathlib import Path

from runtime.apps_file import read_apps_file
from runtime.errors import StartupError
from schemas.postback_config import PostbackConfig, PostbackConfigError, postbacks_of

Postbacks = dict[str, dict[str, PostbackConfig]]


def load_postbacks(path: Path | None) -> Postbacks:
    """app_id -> integration_id -> config; {} without an apps file. A bad section stops the start, in one line."""
    if path is None:
        return {}
    doc = read_apps_file(path)
    try:
        return postbacks_of(doc)
    except PostbackConfigError as exc:
        msg = f"{path}: {exc}"
        raise StartupError(msg) from None
