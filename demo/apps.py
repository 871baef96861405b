"""The `retail-demo` app in the apps file (default data/apps.json, the file `make run` uses).

Made once with random keys and kept: a write key for the SDK traffic, an admin key for spend uploads, an
analyst key for the report API and the dashboard, reporting currency CNY, and one integration per ad platform
of the case (Tencent Ads for the Moments ads, Ocean Engine for Douyin), each naming the taxonomy channel its
clicks belong to. A later run repairs what is missing or different and leaves every other app as it is. The
collector and the stream processor re-read the file when it changes, so no restart is needed.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from demo.scenario import RETAIL, Scenario

# The demo sends a month of clicks in a minute; the collector's default of 200 calls/s per integration would
# throttle it (429). 5,000/s leaves the limit in force while the demo's bounded concurrency stays well below it.
WEBHOOK_RATE_LIMIT_PER_S = 5000.0
INTEGRATION_IDS = {"tencent_ads": "retail-demo-tencent", "ocean_engine": "retail-demo-ocean"}


@dataclass(frozen=True, slots=True)
class Webhook:
    integration_id: str
    token: str


@dataclass(frozen=True, slots=True)
class DemoApp:
    app_id: str
    write_key: str
    admin_key: str
    analyst_key: str
    webhooks: dict[str, Webhook]  # by scenario channel key (moments, douyin)


def ensure_demo_app(path: Path, scenario: Scenario = RETAIL) -> DemoApp:
    """The demo app's keys, creating or repairing its entry in `path` (written only when something changed)."""
    doc: dict[str, Any] = orjson.loads(path.read_bytes()) if path.exists() else {"apps": []}
    apps = doc.setdefault("apps", [])
    entry = next((a for a in apps if isinstance(a, dict) and a.get("app_id") == scenario.app_id), None)
    if entry is None:
        entry = {"app_id": scenario.app_id}
        apps.append(entry)
    before = orjson.dumps(entry)
    for field, prefix, size in (("write_keys", "wk_retail_", 18), ("admin_keys", "ak_retail_", 24),
                                ("analyst_keys", "an_retail_", 24)):
        if not entry.get(field):
            entry[field] = [prefix + secrets.token_urlsafe(size)]
    entry["reporting_currency"] = scenario.currency
    integrations: list[dict[str, Any]] = entry.setdefault("integrations", [])
    webhooks: dict[str, Webhook] = {}
    for spec in scenario.channels:
        integration_id = INTEGRATION_IDS.get(spec.entry)
        if integration_id is None:
            continue
        item = next((i for i in integrations if i.get("id") == integration_id), None)
        if item is None:
            item = {"id": integration_id, "token": secrets.token_urlsafe(24)}
            integrations.append(item)
        item.update(platform=spec.entry, channel=spec.channel, channel_type="paid",
                    rate_limit_per_s=WEBHOOK_RATE_LIMIT_PER_S)
        webhooks[spec.key] = Webhook(integration_id, str(item["token"]))
    if orjson.dumps(entry) != before:
        _write(path, doc)
    return DemoApp(scenario.app_id, entry["write_keys"][0], entry["admin_keys"][0], entry["analyst_keys"][0],
                   webhooks)


def _write(path: Path, doc: dict[str, Any]) -> None:
    """Replace the file in one step: the services poll it and must never read half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600  # the file holds secrets
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    tmp.chmod(mode)
    os.replace(tmp, path)
