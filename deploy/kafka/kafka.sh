#!/usr/bin/env bash
# Runs a real single-node Apache Kafka (KRaft) from Maven Central jars, without Docker.
#
#   deploy/kafka/kafka.sh fetch   resolve the pinned jars into deploy/kafka/lib (cached)
#   deploy/kafka/kafka.sh up      fetch, format storage once, start, wait until it accepts connections
#   deploy/kafka/kafka.sh down    stop it cleanly (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s)
#   deploy/kafka/kafka.sh status  exit 0 if running
#
# Settings (environment): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT+1),
# KAFKA_DATA_DIR (./data/kafka), KAFKA_HEAP (512m), KAFKA_PARTITIONS (4), KAFKA_START_TIMEOUT (90),
# KAFKA_STOP_TIMEOUT (30).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
lib="$here/lib"
port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-$((port + 1))}"
data_dir="$(mkdir -p "${KAFKA_DATA_DIR:-./data/kafka}" && cd "${KAFKA_DATA_DIR:-./data/kafka}" && pwd)"
heap="${KAFKA_HEAP:-512m}"
partitions="${KAFKA_PARTITIONS:-4}"
pid_file="$data_dir/kafka.pid"

die() { echo "kafka: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

running() { [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; }

fetch() {
  command -v java >/dev/null || die "java not found: install a Java 17+ runtime (Debian: openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found: install Maven (Debian: maven) to fetch the Kafka jars"
  local want have=""
  want="$(sha256sum "$here/pom.xml" | cut -c1-16)"
  [[ -f "$here/.pom-hash" ]] && have="$(cat "$here/.pom-hash")"
  if [[ "$want" == "$have" && -n "$(ls "$lib"/kafka_2.13-*.jar 2>/dev/null)" ]]; then
    return 0
  fi
  echo "kafka: fetching the broker jars from Maven Central (once; cached in deploy/kafka/lib)" >&2
  rm -rf "$lib"
  if ! mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
       -DincludeScope=runtime -DoutputDirectory="$lib" >"$here/.mvn.log" 2>&1; then
    tail -n 20 "$here/.mvn.log" >&2
    die "could not resolve the Kafka jars with Maven (see above; is Maven Central reachable?)"
  fi
  echo "$want" >"$here/.pom-hash"
}

format_storage() {
  sed -e "s#@PORT@#$port#g" -e "s#@CONTROLLER_PORT@#$controller_port#g" \
      -e "s#@DATA_DIR@#$data_dir#g" -e "s#@PARTITIONS@#$partitions#g" \
      "$here/server.properties.in" >"$data_dir/server.properties"
  if [[ ! -f "$data_dir/log/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)"
    java -cp "$lib/*" kafka.tools.StorageTool format --standalone -t "$cluster_id" \
      -c "$data_dir/server.properties" >"$data_dir/format.log" 2>&1 \
      || { cat "$data_dir/format.log" >&2; die "formatting the storage in $data_dir/log failed"; }
  fi
}

up() {
  if running; then echo "kafka: already running (pid $(cat "$pid_file")) on 127.0.0.1:$port" >&2; return 0; fi
  port_open "$port" && die "port $port is already in use by another process: set KAFKA_PORT"
  fetch
  format_storage
  mkdir -p "$data_dir/logs"
  # setsid: the broker gets its own session so a Ctrl-C aimed at `make run` reaches it only via `down`.
  setsid java "-Xms$heap" "-Xmx$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    "-Dkafka.logs.dir=$data_dir/logs" "-Dlog4j2.configurationFile=$here/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$data_dir/server.properties" >"$data_dir/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  until port_open "$port"; do
    if ! running; then
      tail -n 20 "$data_dir/logs/stdout.log" "$data_dir/logs/server.log" 2>/dev/null >&2 || true
      rm -f "$pid_file"
      die "the broker exited during start-up (logs above, full logs in $data_dir/logs)"
    fi
    (( SECONDS < deadline )) || { down; die "the broker did not accept connections within ${KAFKA_START_TIMEOUT:-90}s"; }
    sleep 0.5
  done
  echo "kafka: running on 127.0.0.1:$port (pid $(cat "$pid_file"), data $data_dir)" >&2
}

down() {
  running || { rm -f "$pid_file"; echo "kafka: not running" >&2; return 0; }
  local pid; pid="$(cat "$pid_file")"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + ${KAFKA_STOP_TIMEOUT:-30}))
  while kill -0 "$pid" 2>/dev/null; do
    if (( SECONDS >= deadline )); then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.3
  done
  rm -f "$pid_file"
  echo "kafka: stopped" >&2
}

case "${1:-}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) running ;;
  *) echo "usage: $0 fetch|up|down|status" >&2; exit 2 ;;
esac
