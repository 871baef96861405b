#!/usr/bin/env bash
# `make run`: Kafka, the collector, the stream processor and the postback worker on embedded defaults; Ctrl-C stops
# all of it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p data
export COLLECTOR_APPS_FILE="${COLLECTOR_APPS_FILE:-data/apps.json}"
export STREAM_APPS_FILE="${STREAM_APPS_FILE:-$COLLECTOR_APPS_FILE}"
export CLICKHOUSE_URL="${CLICKHOUSE_URL:-chdb://./data/clickhouse}"
export KAFKA_PORT="${KAFKA_PORT:-9092}"
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
export LOG_JSON="${LOG_JSON:-false}"
bin=.venv/bin
# The dev deployment's SQL key for POST /v1/query (all apps): made once per checkout, kept out of git in data/.
if [[ -z "${STREAM_SQL_KEY:-}" ]]; then
  if [[ ! -s data/sql.key ]]; then
    (umask 077; $bin/python -c "import secrets; print(secrets.token_urlsafe(24))" >data/sql.key)
  fi
  STREAM_SQL_KEY="$(cat data/sql.key)"
fi
export STREAM_SQL_KEY

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo; echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  deploy/kafka/kafka.sh down
}
trap cleanup INT TERM EXIT

deploy/kafka/kafka.sh up
key="$($bin/touchstream dev-app --apps-file "$COLLECTOR_APPS_FILE")"
dev_json="$($bin/touchstream dev-app --all --apps-file "$COLLECTOR_APPS_FILE")"
admin_key="$(printf "%s" "$dev_json" | $bin/python -c "import json,sys; print(json.load(sys.stdin)[\"admin_keys\"][0])")"
analyst_key="$(printf "%s" "$dev_json" | $bin/python -c "import json,sys; print(json.load(sys.stdin)[\"analyst_keys\"][0])")"
hook_token="$(printf "%s" "$dev_json" | $bin/python -c "import json,sys; print(json.load(sys.stdin)[\"integrations\"][0][\"token\"])")"
$bin/touchstream stream 2> >(sed 's/^/[stream] /' >&2) &
pids+=($!)
$bin/touchstream collector 2> >(sed 's/^/[collector] /' >&2) &
pids+=($!)
# Conversion postbacks (docs/postbacks.md): idle until an integration of the apps file has a `postback` section.
POSTBACK_PROCESSOR_URL="http://127.0.0.1:${STREAM_QUERY_PORT:-8124}" \
  $bin/touchstream postbacks 2> >(sed 's/^/[postbacks] /' >&2) &
pids+=($!)

port="${COLLECTOR_PORT:-8000}"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
cat <<MSG

touchstream is running
  collector      http://127.0.0.1:$port   (POST /v1/batch, /docs, /metrics, /readyz)
  kafka          $KAFKA_BOOTSTRAP_SERVERS  (data in data/kafka)
  clickhouse     $CLICKHOUSE_URL
  sql            .venv/bin/touchstream sql "SELECT ..."  (SQL key: data/sql.key, all apps)
  dashboard      http://127.0.0.1:${STREAM_QUERY_PORT:-8124}/dashboard#app=dev&key=$analyst_key
  reports        .venv/bin/touchstream report channels --app dev --key $analyst_key
  dev app        app_id=dev  write key: $key
                 admin key (spend uploads): $admin_key
                 Tencent Ads click URL: http://127.0.0.1:$port/v1/webhooks/dev-tencent/click?token=$hook_token&click_id=__CLICK_ID__

Ctrl-C stops everything.
MSG
wait -n "${pids[@]}"
