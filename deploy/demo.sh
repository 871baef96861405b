#!/usr/bin/env bash
# `make demo`: a month of the retail case (seed 000) through the real collector, Kafka and stream processor,
# then its channel table under every attribution model. Starts the pipeline (deploy/run-local.sh) in the
# background if the collector and the stream query server are not both up, and leaves it running.
# Arguments go to `python -m demo` (--days 30 --seed 7 --scale 1.0 --start YYYY-MM-DD).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p data
export COLLECTOR_APPS_FILE="${COLLECTOR_APPS_FILE:-data/apps.json}"
# The stream processor reads the analyst keys (report API, dashboard) from the same apps file.
export STREAM_APPS_FILE="${STREAM_APPS_FILE:-$COLLECTOR_APPS_FILE}"
collector="http://127.0.0.1:${COLLECTOR_PORT:-8000}"
query="http://127.0.0.1:${STREAM_QUERY_PORT:-8124}"
log=data/demo-pipeline.log
pid_file=data/demo-pipeline.pid
bin=.venv/bin

healthy() { curl -sf -m 2 "$1/healthz" >/dev/null 2>&1; }
ours() { [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

if healthy "$collector" && healthy "$query"; then
  echo "pipeline already up: collector $collector, stream query server $query"
else
  for url in "$collector" "$query"; do
    if healthy "$url"; then
      echo "demo: $url answers but its partner does not; is another pipeline or test using the port?" >&2
      echo "      stop it, or pick free ports with COLLECTOR_PORT, STREAM_QUERY_PORT and KAFKA_PORT" >&2
      exit 1
    fi
  done
  echo "starting the pipeline in the background (deploy/run-local.sh, log: $log)"
  rm -f "$pid_file"
  # Its own session, so that `kill -- -<pid>` stops run-local.sh and everything it started, and nothing else.
  setsid bash -c 'echo $$ >"$0"; exec deploy/run-local.sh' "$pid_file" >"$log" 2>&1 </dev/null &
  for _ in $(seq 1 360); do
    healthy "$collector" && healthy "$query" && break
    if [[ -f "$pid_file" ]] && ! ours; then
      tail -n 30 "$log" >&2
      echo "demo: the pipeline exited during start-up (full log: $log)" >&2
      exit 1
    fi
    sleep 0.5
  done
  if ! { healthy "$collector" && healthy "$query"; }; then
    tail -n 30 "$log" >&2
    echo "demo: the pipeline did not come up within 180 s (log: $log; pid $(cat "$pid_file" 2>/dev/null))" >&2
    exit 1
  fi
fi

status=0
$bin/python -m demo --collector-url "$collector" --query-url "$query" \
  --apps-file "$COLLECTOR_APPS_FILE" "$@" || status=$?

echo "SQL:         $bin/touchstream sql \"SELECT channel, count() FROM touchpoints_current GROUP BY channel\""
if ours; then
  echo "the pipeline keeps running (log: $log); to stop it:"
  echo "  kill -- -$(cat "$pid_file"); deploy/kafka/kafka.sh down"
else
  echo "the pipeline keeps running; stop it where it was started (Ctrl-C in the terminal of \`make run\`)"
fi
exit "$status"
