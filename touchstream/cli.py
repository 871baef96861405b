"""The `touchstream` command: one entry point for the services and the tools around them."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stream.reports.names import ACQUISITIONS, ALLOCATIONS, GRAINS, LEVELS, REPORT_NAMES


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
    sql.add_argument("--key", default=None, help="the SQL key or an analyst key for the query endpoint "
                     "(default: STREAM_SQL_KEY, else the dev key of `make run` in data/sql.key)")
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
    from touchstream.privacy_cli import add_parser as add_privacy_parser

    add_privacy_parser(sub)
    from touchstream.postbacks_cli import add_parser as add_postbacks_parser

    add_postbacks_parser(sub)
    history = sub.add_parser("import", help="send a history file (NDJSON events or a CSV of orders, .gz allowed) "
                             "through the collector's /v1/batch, resumably")
    history.add_argument("file", type=Path)
    history.add_argument("--format", choices=("ndjson", "csv"), help="default: csv for *.csv[.gz], else ndjson")
    history.add_argument("--collector", default=os.environ.get("TOUCHSTREAM_COLLECTOR_URL", "http://127.0.0.1:8000"))
    history.add_argument("--write-key", default=os.environ.get("TOUCHSTREAM_WRITE_KEY", ""),
                         help="the app's write key (default TOUCHSTREAM_WRITE_KEY); never printed")
    history.add_argument("--progress", help="progress file (default FILE.progress.json)")
    history.add_argument("--rejects", help="rejected lines, NDJSON (default FILE.rejects.ndjson)")
    history.add_argument("--batch-size", type=int, default=500, help="events per request (default 500)")
    history.add_argument("--max-batch-bytes", type=int, default=500_000,
                         help="request body bound, the collector's COLLECTOR_MAX_BODY_BYTES (default 500000)")
    history.add_argument("--max-batches", type=int, help="stop after this many requests (exit 3; re-run resumes)")

    report = sub.add_parser("report", help="print a report (channels, funnel, retention, ...) from the report API")
    report.add_argument("report", choices=REPORT_NAMES)
    report.add_argument("--app", default=os.environ.get("TOUCHSTREAM_APP", "dev"))
    report.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD (default: 30 days ago)")
    report.add_argument("--to", dest="date_to", help="last day, YYYY-MM-DD (default: today, UTC)")
    report.add_argument("--model", help="attribution model (default linear)")
    report.add_argument("--level", choices=LEVELS)
    report.add_argument("--acquisition", choices=ACQUISITIONS)
    report.add_argument("--allocation", choices=ALLOCATIONS)
    report.add_argument("--grain", choices=GRAINS)
    report.add_argument("--steps", help="funnel steps, e.g. enter,page_view:/pages/item,custom:add_to_cart,convert")
    report.add_argument("--window-hours", type=int)
    report.add_argument("--limit", type=int)
    report.add_argument("--conversion-types", help="paths, and the markov/shapley models: e.g. convert,repurchase")
    report.add_argument("--format", choices=("table", "json", "csv"), default="table")
    report.add_argument("--url", default=os.environ.get("TOUCHSTREAM_REPORT_URL", "http://127.0.0.1:8124"))
    report.add_argument("--key", default=os.environ.get("TOUCHSTREAM_ANALYST_KEY", ""))

    args = parser.parse_args(argv)
    if args.command == "collector":
        from collector.main import run as run_collector

        return run_collector()
    if args.command == "stream":
        from runtime.lean_imports import leave_out_dataframe_libraries

        leave_out_dataframe_libraries()  # before chDB and clickhouse-connect are imported (runtime/lean_imports.py)
        from stream.main import run as run_stream

        return run_stream()
    if args.command == "report":
        return _report(args)
    if args.command == "import":
        from touchstream.import_cli import main as import_main

        return import_main(args)
    if args.command == "sql":
        from touchstream.sqlclient import QueryError, default_endpoint, default_key, execute, render

        try:
            endpoint = args.endpoint or default_endpoint()
            key = args.key if args.key is not None else default_key()
            result = execute(args.query, url=args.url, database=args.database, endpoint=endpoint, key=key)
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
    if args.command == "privacy":
        from touchstream.privacy_cli import main as privacy_main

        return privacy_main(args)
    if args.command == "postbacks":
        from touchstream.postbacks_cli import main as postbacks_main

        return postbacks_main(args)
    parser.error(f"unknown command {args.command}")
    return 2


def _report(args: argparse.Namespace) -> int:
    from touchstream.report_cli import ReportError, fetch, render

    names = ("app", "model", "level", "acquisition", "allocation", "grain", "steps", "window_hours", "limit",
             "conversion_types")
    params = {name: str(getattr(args, name)) for name in names if getattr(args, name) is not None}
    params.update({k: v for k, v in (("from", args.date_from), ("to", args.date_to)) if v})
    try:
        payload = fetch(args.url, args.key, args.report, params)
    except ReportError as exc:
        sys.stderr.write(f"touchstream report: {exc}\n")
        return 1
    sys.stdout.write(render(args.report, payload, args.format) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
