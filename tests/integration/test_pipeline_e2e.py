"""The foundation's acceptance: real collector and stream processes, the real broker, the real ClickHouse engine."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.integration.harness import (
    SQL_AUTH,
    TEST_SQL_KEY,
    pipeline_env,
    running_pipeline,
    scalar,
    sql,
    wait_for,
)

pytestmark = pytest.mark.integration

WRITE_KEY = "wk_test_e2e_0123456789"


def _batch(prefix: str, n: int) -> dict[str, object]:
    types = ["exposure", "click", "enter", "page_view", "register"]
    events = [
        {
            "event_id": f"{prefix}-{i}",
            "type": types[i % len(types)],
            "timestamp": "2026-11-20T10:00:00.000Z",
            "anonymous_id": f"anon-{i % 7}",
            "context": {"scene": 1007, "query": {"utm_source": "douyin"}},
        }
        for i in range(n)
    ]
    return {"sent_at": "2026-11-20T10:00:01.000Z", "events": events}


@pytest.fixture
def pipeline(tmp_path: Path, kafka_bootstrap: str, topics: dict[str, str]):  # type: ignore[no-untyped-def]
    env, base, endpoint = pipeline_env(tmp_path, kafka_bootstrap, topics, WRITE_KEY)
    with running_pipeline(env, base, endpoint, tmp_path) as (collector, stream):
        yield base, endpoint, collector, stream


def test_a_batch_sent_over_http_lands_in_clickhouse_once(pipeline) -> None:  # type: ignore[no-untyped-def]
    base, endpoint, _, stream = pipeline
    prefix = uuid.uuid4().hex[:8]
    body = _batch(prefix, 40)
    body["events"].append({"event_id": "bad", "type": "teleport", "timestamp": 0, "anonymous_id": "x"})  # type: ignore[attr-defined]
    # No proxy is trusted (COLLECTOR_TRUSTED_PROXIES is empty), so a client's own X-Forwarded-For is not its
    # address, even from loopback: the collector decides, not the HTTP server in front of it.
    headers = {"X-Write-Key": WRITE_KEY, "X-Forwarded-For": "203.0.113.9"}
    response = httpx.post(f"{base}/v1/batch", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 40
    assert [r["index"] for r in response.json()["rejected"]] == [40]

    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") == 40, 30, "40 events", stream)
    rows = sql(endpoint, "SELECT event_id, app_id, type FROM events ORDER BY event_id")
    assert sorted(r[0] for r in rows) == sorted(f"{prefix}-{i}" for i in range(40))
    assert {r[1] for r in rows} == {"shop"}  # the key's app, whatever the body says
    assert sql(endpoint, "SELECT DISTINCT ip FROM events") == [["127.0.0.1"]]
    bad = wait_for(lambda: sql(endpoint, "SELECT app_id, code, reason FROM bad_events"), 30, "the dead letter")
    assert bad[0][0] == "shop" and bad[0][1] == "invalid" and "teleport" in bad[0][2]

    # The SDK retries the same batch (say the 200 got lost): still once downstream.
    assert httpx.post(f"{base}/v1/batch", json=body, headers={"X-Write-Key": WRITE_KEY}).status_code == 200
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM bad_events") == 2, 30, "second dead letter", stream)
    assert scalar(endpoint, "SELECT count() FROM events") == 40

    # Having inserted and answered queries, the processor still holds none of the dataframe libraries that chDB
    # and clickhouse-connect would load (runtime/lean_imports.py): ~78 MiB of resident memory.
    assert _loaded_libraries(stream.pid, ("pyarrow", "pandas", "numpy")) == []


def _loaded_libraries(pid: int, packages: tuple[str, ...]) -> list[str]:
    """The packages of `packages` with a file mapped into process `pid` (their compiled modules and libraries)."""
    mapped = {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines() if "/" in line}
    return sorted({p for p in packages for path in mapped if f"/site-packages/{p}" in path})


def test_killing_the_processor_does_not_duplicate_or_lose_events(pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base, endpoint, _, stream = pipeline
    first = _batch("k1", 30)
    assert httpx.post(f"{base}/v1/batch", json=first, headers={"X-Write-Key": WRITE_KEY}).status_code == 200
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") == 30, 30, "first batch", stream)

    stream.kill9()
    second = _batch("k2", 25)
    assert httpx.post(f"{base}/v1/batch", json=second, headers={"X-Write-Key": WRITE_KEY}).status_code == 200
    assert httpx.post(f"{base}/v1/batch", json=first, headers={"X-Write-Key": WRITE_KEY}).status_code == 200

    stream.start()
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") >= 55, 60, "after restart", stream)
    # All of an app's records share one partition and are processed in order: once a sentinel sent after
    # everything else has landed, any replay of the earlier records has been written too (or dropped).
    sentinel = _batch("k3", 1)
    assert httpx.post(f"{base}/v1/batch", json=sentinel, headers={"X-Write-Key": WRITE_KEY}).status_code == 200
    landed = "SELECT count() FROM events WHERE event_id = 'k3-0'"
    wait_for(lambda: scalar(endpoint, landed) == 1, 60, "the sentinel", stream)
    assert scalar(endpoint, "SELECT count() FROM events") == 56
    assert scalar(endpoint, "SELECT uniqExact(event_id) FROM events") == 56


def test_read_only_sql_refuses_writes_and_table_functions(pipeline) -> None:  # type: ignore[no-untyped-def]
    _, endpoint, _, _ = pipeline
    for statement in (
        "DROP TABLE events",
        "INSERT INTO events (event_id) VALUES ('x')",
        "SELECT 1; DROP TABLE events",
    ):
        response = httpx.post(endpoint, json={"sql": statement}, headers=SQL_AUTH)
        assert response.status_code == 403, (statement, response.text)
    url = "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')"
    response = httpx.post(endpoint, json={"sql": url}, headers=SQL_AUTH)
    assert response.status_code == 403 and "table function url()" in response.json()["error"]
    response = httpx.post(endpoint, json={"sql": "SELECT * FROM file('/etc/passwd', 'LineAsString')"}, headers=SQL_AUTH)
    assert response.status_code == 403
    assert httpx.post(endpoint, json={"sql": "SELECT 1"}).status_code == 401
    tables = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
    assert scalar(endpoint, tables) == 1


def test_touchstream_sql_prints_what_the_processor_wrote(pipeline, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    base, endpoint, _, stream = pipeline
    assert httpx.post(f"{base}/v1/batch", json=_batch("sql", 3), headers={"X-Write-Key": WRITE_KEY}).status_code == 200
    wait_for(lambda: scalar(endpoint, "SELECT count() FROM events") == 3, 30, "3 events", stream)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "touchstream.cli", "sql", *args, "--endpoint", endpoint,
             "--url", f"chdb://{tmp_path / 'clickhouse'}", "--key", TEST_SQL_KEY],
            capture_output=True, text=True, timeout=60, check=False,
        )

    table = cli("SELECT event_id FROM events ORDER BY event_id")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1:-1] == [
        "| event_id |", "+----------+", "| sql-0    |", "| sql-1    |", "| sql-2    |", "+----------+",
    ]
    assert table.stdout.splitlines()[-1] == "3 rows"
    as_csv = cli("SELECT event_id, type FROM events ORDER BY event_id", "--format", "csv")
    assert as_csv.stdout.splitlines() == ["event_id,type", "sql-0,exposure", "sql-1,click", "sql-2,enter"]
    as_json = cli("SELECT count() AS n FROM events", "--format", "json")
    assert as_json.stdout.strip() == '[{"n":3}]'
    refused = cli("DROP TABLE events")
    assert refused.returncode == 1 and "only SELECT and DESCRIBE queries are allowed, not DROP" in refused.stderr
