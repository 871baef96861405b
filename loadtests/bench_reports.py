"""Report latencies on the demo month: every report of the API, run in-process on the embedded store.

Run `make demo` first (it leaves a month of the retail case in ./data/clickhouse), stop the pipeline (chDB
allows one process per data folder), then `make bench-reports`. Prints the median of several runs per report.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from stream.reports.params import parse_params
from stream.reports.service import REPORTS, ReportService
from stream.store import connect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="chdb://./data/clickhouse")
    parser.add_argument("--database", default="touchstream")
    parser.add_argument("--app", default="retail-demo")
    parser.add_argument("--model", default="first_touch")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    client = connect(args.url, args.database)
    days = client.query(
        f"SELECT count(), toDate(min(event_time)), toDate(max(event_time)) FROM events WHERE app_id = '{args.app}'"
    ).result_rows[0]
    if days[0] == 0:
        sys.stderr.write(f"no events for app {args.app!r} in {args.url}: run `make demo` first\n")
        return 1
    params = parse_params({"app": args.app, "from": days[1].isoformat(), "to": days[2].isoformat(),
                           "model": args.model}, days[2] + timedelta(days=1))
    service = ReportService(client, 100_000, 60)
    sys.stdout.write(f"{days[0]:,} events of {args.app}, {days[1]} .. {days[2]}, model {args.model}, "
                     f"median of {args.runs} runs, {datetime.now(UTC).date().isoformat()}\n")
    for name, run in REPORTS.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            run(service, params)
            times.append(time.perf_counter() - start)
        sys.stdout.write(f"  {name:<10} {statistics.median(times) * 1000:7.0f} ms\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
