"""`touchstream privacy delete|suppress|unsuppress|status|cancel`: the privacy API from the terminal.

    touchstream privacy delete phone=13800138000 openid=o_abc --client-request-id ticket-42
    touchstream privacy suppress user_id=u1 [--and-delete]
    touchstream privacy status pr_0123...        touchstream privacy cancel pr_0123...

The admin key comes from --admin-key or TOUCHSTREAM_ADMIN_KEY and is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx
import orjson

ID_TYPES = ("user_id", "anonymous_id", "openid", "unionid", "phone")


def add_parser(sub: Any) -> None:
    privacy = sub.add_parser("privacy", help="privacy requests: delete, suppress, unsuppress, status, cancel")
    privacy.add_argument("action", choices=("delete", "suppress", "unsuppress", "status", "cancel"))
    privacy.add_argument("items", nargs="+", help="id_type=value subjects (delete/suppress), or a request id")
    privacy.add_argument("--and-delete", action="store_true", help="suppress: delete the person's data as well")
    privacy.add_argument("--client-request-id", default=None, help="repeat it to get the same request back")
    privacy.add_argument("--collector", default=os.environ.get("TOUCHSTREAM_COLLECTOR_URL", "http://127.0.0.1:8000"))
    privacy.add_argument("--admin-key", default=os.environ.get("TOUCHSTREAM_ADMIN_KEY", ""))


def subjects_of(items: list[str]) -> list[dict[str, str]]:
    """`phone=138…` → {"id_type": "phone", "value": "138…"}; raises ValueError naming the bad item."""
    subjects = []
    for item in items:
        id_type, sep, value = item.partition("=")
        if not sep or id_type not in ID_TYPES or not value:
            msg = f"{item.split('=')[0]!r}: a subject is id_type=value with id_type one of {', '.join(ID_TYPES)}"
            raise ValueError(msg)
        subjects.append({"id_type": id_type, "value": value})
    return subjects


def request_of(args: argparse.Namespace) -> tuple[str, str, bytes | None]:
    """(method, path, body) of the call `args` asks for."""
    if args.action in ("status", "cancel"):
        if len(args.items) != 1:
            msg = f"{args.action} takes one request id"
            raise ValueError(msg)
        return ("GET" if args.action == "status" else "DELETE"), f"/v1/privacy/requests/{args.items[0]}", None
    kind = "suppress_and_delete" if args.action == "suppress" and args.and_delete else args.action
    body: dict[str, Any] = {"type": kind, "subjects": subjects_of(args.items)}
    if args.client_request_id:
        body["client_request_id"] = args.client_request_id
    return "POST", "/v1/privacy/requests", orjson.dumps(body)


def main(args: argparse.Namespace) -> int:
    if not args.admin_key:
        sys.stderr.write("touchstream privacy: set --admin-key or TOUCHSTREAM_ADMIN_KEY (an app's admin key)\n")
        return 2
    try:
        method, path, body = request_of(args)
    except ValueError as exc:
        sys.stderr.write(f"touchstream privacy: {exc}\n")
        return 2
    try:
        response = httpx.request(
            method, f"{args.collector.rstrip('/')}{path}", content=body, timeout=30,
            headers={"Content-Type": "application/json", "X-Admin-Key": args.admin_key},
        )
    except httpx.HTTPError as exc:
        sys.stderr.write(f"touchstream privacy: cannot reach the collector at {args.collector}: {type(exc).__name__}\n")
        return 1
    sys.stdout.write(orjson.dumps(response.json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if response.status_code < 400 else 1
