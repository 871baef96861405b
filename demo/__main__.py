"""`python -m demo`: a month of the retail case through the running collector and stream processor.

Generates the traffic, makes sure the apps file has the `retail-demo` app, sends everything in time order,
waits until the processor has stored it, and prints the channel table of the report API for every model.
Running it again with the same seed, start, days and scale sends nothing and prints the tables again.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console

from demo.apps import DemoApp, ensure_demo_app
from demo.generator import generate
from demo.scenario import RETAIL
from demo.send import (
    Landed,
    SendError,
    expected_landing,
    landed_sql,
    query_row,
    run_events_sql,
    send_traffic,
    wait_landed,
    wait_until_authorised,
)
from demo.table import ReportError, fetch_channel_reports, print_reports, truth_table
from demo.traffic import Traffic


def _parser() -> argparse.ArgumentParser:
    collector = f"http://127.0.0.1:{os.environ.get('COLLECTOR_PORT', '8000')}"
    query = f"http://127.0.0.1:{os.environ.get('STREAM_QUERY_PORT', '8124')}"
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days of traffic, ending yesterday (default 30)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same traffic (default 7)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = about 2,000 registrations a month")
    parser.add_argument("--start", type=date.fromisoformat, default=None,
                        help="first day YYYY-MM-DD (default: DAYS days before today, UTC)")
    parser.add_argument("--collector-url", default=collector)
    parser.add_argument("--query-url", default=query, help="the stream processor's query server")
    parser.add_argument("--apps-file", type=Path, default=Path(os.environ.get("COLLECTOR_APPS_FILE", "data/apps.json")))
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the processor")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.days < 1 or args.scale <= 0:
        _parser().error("--days must be at least 1 and --scale above 0")
    start = args.start or datetime.now(UTC).date() - timedelta(days=args.days)
    console = Console()
    if not console.is_terminal:
        console = Console(width=100)  # piped or logged: the tables are laid out for 100 columns
    with console.status("generating the month"):
        traffic = generate(args.seed, start, args.days, args.scale)
    app = ensure_demo_app(args.apps_file)
    console.print(truth_table(traffic.truth, RETAIL))
    try:
        status = asyncio.run(_run(args, app, traffic, console))
    except (SendError, ReportError, httpx.HTTPError) as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        status = 1
    last_day = traffic.start + timedelta(days=traffic.days - 1)
    console.print(f"\ndashboard: {args.query_url}/dashboard#app={app.app_id}&key={app.analyst_key}"
                  f"&from={traffic.start}&to={last_day}", soft_wrap=True)
    return status


async def _run(args: argparse.Namespace, app: DemoApp, traffic: Traffic, console: Console) -> int:
    last_day = traffic.start + timedelta(days=traffic.days - 1)
    sdk_events = sum(len(j.events) for j in traffic.journeys)
    expected = sdk_events + len(traffic.clicks)
    async with httpx.AsyncClient(base_url=args.collector_url, timeout=30) as client:
        await wait_until_authorised(client, app)
        key = app.analyst_key
        present = int((await query_row(client, args.query_url, run_events_sql(app.app_id), key))[0])
        mine = int((await query_row(client, args.query_url, run_events_sql(app.app_id, traffic.tag), key))[0])
        if present > mine:
            console.print(
                f"[yellow]{app.app_id} already holds {present - mine:,} events of another demo run[/] (another seed, "
                f"start, days or scale); its report would mix both. Stop the pipeline and `make clean` to start over."
            )
            return 1
        if mine >= expected:
            console.print(f"{app.app_id} already holds this run ({mine:,} events): nothing to send.")
        else:
            console.print(f"sending {sdk_events:,} SDK events, {len(traffic.clicks):,} ad clicks and "
                          f"{len(traffic.spend):,} spend rows of {traffic.start} .. {last_day} to {args.collector_url}")
            result = await send_traffic(client, app, traffic, console=console)
            console.print(f"accepted {result.events_accepted:,} events, {result.clicks_accepted:,} clicks, "
                          f"{result.spend_rows:,} spend rows ({result.retries} retries)")
            if result.rejected or result.clicks_refused:
                shown = [str(r) for r in result.rejected[:3]] + result.clicks_refused[:3]
                console.print(f"[red]{len(result.rejected)} events and {len(result.clicks_refused)} clicks refused:[/] "
                              + "; ".join(shown))
                return 1

            async def landed() -> Landed:
                row = await query_row(client, args.query_url, landed_sql(app.app_id, traffic.tag), app.analyst_key)
                return Landed(*(int(v) for v in row))

            await wait_landed(landed, expected_landing(traffic, result), timeout_s=args.timeout, console=console)
        meta, reports = await fetch_channel_reports(client, args.query_url, app.app_id, app.analyst_key,
                                                    traffic.start, last_day)
    print_reports(console, meta, reports, RETAIL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
