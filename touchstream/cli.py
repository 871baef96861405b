"""The `touchstream` command: one entry point for the services and the tools around them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["schemas"]:
        # The exporter owns its options (--check, --out); argparse would swallow them.
        from schemas.export import main as export_main

        return int(export_main(argv[1:]) or 0)
    parser = argparse.ArgumentParser(
        prog="touchstream",
        description="Event collection and multi-touch attribution for mini-programs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("collector", help="run the HTTP collector (settings from the environment, see README)")
    sub.add_parser("stream", help="run the stream processor: Kafka → ClickHouse, plus its read-only SQL endpoint")
    sql = sub.add_parser("sql", help="run one read-only SQL query against the store and print the result")
    sql.add_argument("query", help='e.g. "SELECT type, count() FROM events GROUP BY type"')
    sql.add_argument("--format", choices=("table", "csv", "json"), default="table")
    sql.add_argument("--url", default=os.environ.get("CLICKHOUSE_URL", "chdb://./data/clickhouse"))
    sql.add_argument("--database", default=os.environ.get("CLICKHOUSE_DATABASE", "touchstream"))
    sql.add_argument("--endpoint", default=None, help="the stream processor's query endpoint (embedded store)")
    schemas = sub.add_parser("schemas", help="export the event JSON Schemas (or --check that they are current)")
    schemas.add_argument("--check", action="store_true", help="exit 1 if schemas/json is stale")
    dev = sub.add_parser("dev-app", help="print the development app's write key, creating it if needed")
    dev.add_argument("--apps-file", default=os.environ.get("COLLECTOR_APPS_FILE", "data/apps.json"))
    dev.add_argument("--all", action="store_true", help="print the whole dev app entry (keys, webhook token) as JSON")
    costs = sub.add_parser("costs", help="spend: `touchstream costs import FILE.csv` uploads it to the collector")
    costs.add_argument("action", choices=("import",))
    costs.add_argument("file", type=Path)
    costs.add_argument("--collector", default=os.environ.get("TOUCHSTREAM_COLLECTOR_URL", "http://127.0.0.1:8000"))
    costs.add_argument("--admin-key", default=os.environ.get("TOUCHSTREAM_ADMIN_KEY", ""))

    args = parser.parse_args(argv)
    if args.command == "collector":
        from collector.main import run as run_collector

        return run_collector()
    if args.command == "stream":
        from stream.main import run as run_stream

        return run_stream()
    if args.command == "sql":
        from touchstream.sqlclient import QueryError, default_endpoint, execute, render

        try:
            endpoint = args.endpoint or default_endpoint()
            result = execute(args.query, url=args.url, database=args.database, endpoint=endpoint)
        except QueryError as exc:
            sys.stderr.write(f"touchstream sql: {exc}\n")
            return 1
        sys.stdout.write(render(result, args.format) + "\n")
        return 0
    if args.command == "dev-app":
        import orjson

        from touchstream.devapp import ensure_dev_app

        app = ensure_dev_app(Path(args.apps_file))
        out = orjson.dumps(app, option=orjson.OPT_INDENT_2).decode() if args.all else app["write_keys"][0]
        sys.stdout.write(out + "\n")
        return 0
    if args.command == "costs":
        from touchstream.costs_client import import_csv

        return import_csv(args.file, args.collector, args.admin_key)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
