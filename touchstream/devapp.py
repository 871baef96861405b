"""A development app for `make run`, kept in ./data/apps.json (git-ignored) and made once: a write key, an
admin key for spend uploads, an analyst key for the reports and dashboard, and a Tencent Ads webhook
integration with a random token."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import orjson

DEV_APP_ID = "dev"


def ensure_dev_app(path: Path) -> dict[str, Any]:
    """The dev app's entry, creating the apps file (or the entry) with fresh random keys if missing."""
    doc: dict[str, Any] = orjson.loads(path.read_bytes()) if path.exists() else {"apps": []}
    for app in doc.get("apps", []):
        if app.get("app_id") == DEV_APP_ID and app.get("write_keys") and app.get("admin_keys"):
            if app.get("analyst_keys"):
                return dict(app)
            # Made before the reports existed: add an analyst key, keep the keys already handed out.
            app["analyst_keys"] = ["rk_dev_" + secrets.token_urlsafe(24)]
            _save(path, doc)
            return dict(app)
    doc["apps"] = [a for a in doc.get("apps", []) if a.get("app_id") != DEV_APP_ID]
    app = {
        "app_id": DEV_APP_ID,
        "write_keys": ["wk_dev_" + secrets.token_urlsafe(18)],
        "admin_keys": ["ak_dev_" + secrets.token_urlsafe(24)],
        "analyst_keys": ["rk_dev_" + secrets.token_urlsafe(24)],
        "cors_origins": ["http://localhost:8000", "http://127.0.0.1:8000"],
        "reporting_currency": "CNY",
        "integrations": [
            {"id": "dev-tencent", "platform": "tencent_ads", "token": secrets.token_urlsafe(24),
             "channel": "tencent_ads"},
        ],
    }
    doc["apps"].append(app)
    _save(path, doc)
    return app


def _save(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    path.chmod(0o600)
