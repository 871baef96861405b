"""A missing dependency at start is one clear line (what failed, what to check) and a non-zero exit, no trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from tests.conftest import ROOT, free_port, unique
from tests.integration.harness import Service, wait_for

pytestmark = pytest.mark.integration


def run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "touchstream.cli", command], env={**os.environ, "LOG_JSON": "false", **env},
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize("command", ["collector", "stream"])
def test_no_broker_is_one_line(command: str, tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    result = run(command, {
        "KAFKA_BOOTSTRAP_SERVERS": closed, "COLLECTOR_WRITE_KEYS": "shop:wk_shop_0123456789",
        "CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}",
    })
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1] == (
        f"{command}: cannot reach Kafka at {closed} (KafkaConnectionError): is the broker running "
        "(`make kafka-up`) and KAFKA_BOOTSTRAP_SERVERS right?"
    )
    assert "Traceback" not in result.stderr


def test_unreachable_clickhouse_server_is_one_line(kafka_bootstrap: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run("stream", {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "CLICKHOUSE_URL": url})
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"stream: cannot open ClickHouse at {url}:") and "check CLICKHOUSE_URL" in last
    assert "Traceback" not in result.stderr


def test_bad_settings_are_one_line() -> None:
    result = run("collector", {"COLLECTOR_WRITE_KEYS": "", "COLLECTOR_APPS_FILE": ""})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("collector: invalid configuration:")


async def test_a_topic_that_gained_partitions_stops_the_processor_and_is_refused_at_start(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    topic = unique("events")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_EVENTS_TOPIC": topic, "KAFKA_TOPIC_PARTITIONS": "2",
        "KAFKA_DEADLETTER_TOPIC": unique("dl"), "STREAM_GROUP_ID": unique("g"),
        "CLICKHOUSE_URL": f"chdb://{tmp_path / 'ch'}", "STREAM_QUERY_PORT": str(free_port()),
    }
    expected = (
        f"stream: {topic} has 3 partitions but the rows in ClickHouse were versioned with 2: versions are "
        "per-partition offsets, so a different count would let old rows win; replay into a new database or "
        "restore the partition count (docs/attribution.md, Partitions)"
    )
    running = Service("stream", env, tmp_path / "first.log").start()
    try:
        wait_for(lambda: "assigned" in running.logs(), 60, "the first start to consume", running)
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_partitions({topic: NewPartitions(total_count=3)})
        finally:
            await admin.close()
        # The running processor learns of the new partition at its next metadata refresh and rebalance.
        assert running.proc is not None
        assert running.proc.wait(60) == 2
        assert running.logs().strip().splitlines()[-1] == expected
    finally:
        running.stop()
    result = run("stream", env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == expected
