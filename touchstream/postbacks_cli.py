"""`touchstream postbacks`: run the postback worker; `touchstream postbacks retry --failed --since DAY`."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("postbacks", help="send conversion postbacks to the ad platforms (docs/postbacks.md)")
    parser.add_argument("action", nargs="?", choices=("run", "retry"), default="run")
    parser.add_argument("--failed", action="store_true", help="retry: re-queue intents whose last status is failed")
    parser.add_argument("--dead", action="store_true", help="retry: also those that retried for 24 h (dead)")
    parser.add_argument("--since", help="retry: only those whose status was set on or after this day (YYYY-MM-DD)")


def main(args: argparse.Namespace) -> int:
    from stream.postbacks.main import retry, run

    if args.action == "run":
        return run()
    statuses = tuple(s for s, wanted in (("failed", args.failed), ("dead", args.dead)) if wanted)
    if not statuses or not args.since or not _DAY.match(args.since):
        sys.stderr.write("touchstream postbacks retry: give --failed and/or --dead, and --since YYYY-MM-DD\n")
        return 2
    return retry(statuses, args.since)
