"""`touchstream costs import FILE.csv`: upload a spend CSV to the collector and print what it said."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx


def import_csv(path: Path, collector: str, admin_key: str) -> int:
    if not admin_key:
        sys.stderr.write("touchstream costs: set --admin-key or TOUCHSTREAM_ADMIN_KEY (an app's admin key)\n")
        return 2
    try:
        body = path.read_bytes()
    except OSError as exc:
        sys.stderr.write(f"touchstream costs: cannot read {path}: {exc.strerror}\n")
        return 2
    try:
        response = httpx.post(
            f"{collector.rstrip('/')}/v1/costs", content=body, timeout=60,
            headers={"Content-Type": "text/csv", "X-Admin-Key": admin_key},
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"touchstream costs: cannot reach the collector at {collector}: {exc}\n")
        return 1
    doc = response.json()
    if response.status_code == 200:
        sys.stdout.write(f"{doc['accepted']} spend rows accepted from {path}\n")
        return 0
    sys.stderr.write(f"touchstream costs: {doc.get('message', response.text)}\n")
    for problem in doc.get("problems", []):
        sys.stderr.write(f"  row {problem['row']}, {problem['field']}: {problem['message']}\n")
    return 1
