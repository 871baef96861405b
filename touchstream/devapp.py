"""A development app and write key for `make run`, kept in ./data/apps.json (git-ignored), made once."""

from __future__ import annotations

import secrets
from pathlib import Path

import orjson

DEV_APP_ID = "dev"


def ensure_dev_app(path: Path) -> str:
    """Returns the dev app's write key, creating the apps file with a fresh random key if there is none."""
    if path.exists():
        doc = orjson.loads(path.read_bytes())
        for app in doc.get("apps", []):
            if app.get("app_id") == DEV_APP_ID and app.get("write_keys"):
                return str(app["write_keys"][0])
    else:
        doc = {"apps": []}
    key = "wk_dev_" + secrets.token_urlsafe(18)
    doc["apps"].append({"app_id": DEV_APP_ID, "write_keys": [key], "cors_origins": ["http://localhost:8000"]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return key
