"""The read-only SQL path against the real engine: POST /v1/query (the real query app on chDB) and
`touchstream sql` opening a chDB folder itself (a subprocess, no processor running).

The corpora are in tests/integration/sql_corpus.py: every hostile query is refused with its own one-line reason,
an analyst key never gets another app's rows back (the SQL key, as the negative control, does), and the
legitimate analyst queries and the docs/queries.md cookbook still run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from stream.query_server import create_query_app
from stream.sql_functions import FUNCTIONS_QUERY, allowed_functions, derive, render, rows_from
from stream.store import connect, migrate
from tests.conftest import free_port, unique
from tests.integration.harness import ROOT, TEST_SQL_KEY
from tests.integration.report_server import serve_app
from tests.integration.sql_corpus import (
    ANALYST_LEAKS,
    ANALYST_REFUSED,
    HOSTILE,
    LEGIT,
    RIVAL,
    SHOP,
    cookbook,
    seed,
)

pytestmark = pytest.mark.integration
SHOP_KEY = "shop-analyst-key-0123456789"
KEYS = {"sql key": TEST_SQL_KEY, "analyst key": SHOP_KEY}


def _short(query: str) -> str:
    return query.encode("unicode_escape").decode()[:70]


@pytest.fixture(scope="module")
def store(chdb_path: Path) -> Iterator[Any]:
    client = connect(f"chdb://{chdb_path}", unique("guard"))
    migrate(client)
    seed(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")


@pytest.fixture(scope="module")
def endpoint(store: Any) -> Iterator[str]:
    app = create_query_app(store, 1_000, 30, analyst_keys={SHOP_KEY: [SHOP]}, sql_key=TEST_SQL_KEY)
    with serve_app(app) as base:
        yield f"{base}/v1/query"


def post(endpoint: str, query: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.post(endpoint, json={"sql": query}, headers=headers, timeout=30)


def rows(endpoint: str, query: str, key: str) -> list[list[Any]]:
    response = post(endpoint, query, key)
    assert response.status_code == 200, (query, response.text)
    return list(response.json()["rows"])


@pytest.mark.parametrize(("query", "reason"), HOSTILE, ids=[_short(q) for q, _ in HOSTILE])
def test_hostile_queries_are_refused_by_the_endpoint(endpoint: str, query: str, reason: str) -> None:
    for who, key in KEYS.items():
        response = post(endpoint, query, key)
        assert response.status_code == 403, (who, response.text)
        error = response.json()["error"]
        assert reason in error, (who, error)
        assert "\n" not in error and len(error) < 300
        assert key not in error


def test_the_endpoint_wants_a_known_key_and_never_echoes_one(endpoint: str) -> None:
    wrong = "not-a-key-of-this-deployment-42"
    for key in (None, wrong, f"{TEST_SQL_KEY}x", SHOP_KEY.upper()):
        response = post(endpoint, "SELECT 1", key)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json() == {
            "error": "send the SQL key (STREAM_SQL_KEY) or an analyst key as 'Authorization: Bearer <key>'"
        }
    basic = httpx.post(endpoint, json={"sql": "SELECT 1"}, headers={"Authorization": f"Basic {TEST_SQL_KEY}"})
    assert basic.status_code == 401
    assert rows(endpoint, "SELECT 1", TEST_SQL_KEY) == [[1]]
    assert rows(endpoint, "SELECT 1", SHOP_KEY) == [[1]]


def test_an_analyst_key_reads_only_its_apps_rows(endpoint: str, store: Any) -> None:
    for query, expected in ANALYST_LEAKS:
        assert rows(endpoint, query.replace("<db>", store.database), SHOP_KEY) == expected, query
    # Negative control: the same reads with the SQL key do see the other app, so the filter is what hides it.
    assert rows(endpoint, ANALYST_LEAKS[0][0], TEST_SQL_KEY) == [[RIVAL, 3], [SHOP, 2]]
    assert rows(endpoint, "SELECT count() FROM attribution_credits_current", TEST_SQL_KEY) == [[1]]
    assert rows(endpoint, "SELECT arraySort(groupArray(event_id)) FROM events", TEST_SQL_KEY) == [
        [["r1", "r2", "r3", "s1", "s2"]]
    ]
    assert rows(endpoint, "SELECT app_id, count() FROM events_people GROUP BY app_id ORDER BY app_id",
                TEST_SQL_KEY) == [[RIVAL, 3], [SHOP, 2]]


def test_analyst_only_refusals(endpoint: str) -> None:
    for query, reason in ANALYST_REFUSED:
        response = post(endpoint, query, SHOP_KEY)
        assert response.status_code == 403, (query, response.text)
        assert reason in response.json()["error"]
    # The SQL key reads every app: the other app's view call and the migrations table are open to it.
    assert rows(endpoint, ANALYST_REFUSED[0][0], TEST_SQL_KEY) == []
    assert rows(endpoint, "SELECT count() > 0 FROM schema_migrations", TEST_SQL_KEY) == [[1]]


def test_only_our_catalogue_shows_in_system_tables(endpoint: str, store: Any) -> None:
    query = "SELECT DISTINCT database FROM system.tables"
    for key in KEYS.values():
        assert rows(endpoint, query, key) == [[store.database]]


@pytest.mark.parametrize("who", list(KEYS))
def test_legitimate_analyst_queries_still_run(endpoint: str, who: str) -> None:
    for query, expected in LEGIT:
        assert rows(endpoint, query, KEYS[who]) == expected, query
    described = rows(endpoint, "DESCRIBE events", KEYS[who])
    assert [r[0] for r in described[:3]] == ["app_id", "event_id", "type"]


def test_the_cookbook_runs_for_an_analyst(endpoint: str) -> None:
    statements = cookbook(ROOT / "docs" / "queries.md")
    assert len(statements) >= 20
    for statement in statements:
        rows(endpoint, statement, SHOP_KEY)


def test_the_function_allow_list_is_the_derivation_of_this_engine(store: Any) -> None:
    engine = rows_from(store.query(FUNCTIONS_QUERY).result_rows)
    derived = derive(engine)
    target = ROOT / "stream" / "sql_functions.txt"
    if os.environ.get("TOUCHSTREAM_WRITE_SQL_FUNCTIONS") == "1":
        target.write_text(render(derived), encoding="utf-8")
    assert allowed_functions() == derived
    # Names are compared lower-cased: no function outside the list shares a lower-cased name with one inside.
    allowed = derived.scalar | derived.aggregate
    outside = {r.name.lower() for r in engine if r.name.lower() not in allowed}
    assert not outside & allowed
    # A table function can only be reached through an allowed scalar name if both share it: only format(),
    # which parses the literal it is given.
    table_functions = {str(r[0]).lower() for r in store.query("SELECT name FROM system.table_functions").result_rows}
    assert table_functions & allowed == {"format"}
    for name in ("file", "url", "s3", "remote", "getsetting", "currentuser", "dictget", "joinget", "sleep"):
        assert not derived.allows(name), name


# ---- `touchstream sql` opening the folder itself -----------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A seeded chDB folder of its own (one process per folder) and the CLI's environment, no processor."""
    url = f"chdb://{tmp_path_factory.mktemp('guard-cli') / 'clickhouse'}"
    database = unique("cli")
    seeding = "import sys; from tests.integration.sql_corpus import seed_folder; seed_folder(sys.argv[1], sys.argv[2])"
    subprocess.run([sys.executable, "-c", seeding, url, database], cwd=ROOT, check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k != "STREAM_SQL_KEY"}
    # Nothing listens on this port: the CLI finds no processor and opens the folder.
    env.update(CLICKHOUSE_URL=url, CLICKHOUSE_DATABASE=database,
               TOUCHSTREAM_QUERY_URL=f"http://127.0.0.1:{free_port()}/v1/query")
    return env


def cli(env: dict[str, str], query: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("touchstream")
    return subprocess.run([str(command), "sql", query, *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)


def cli_in_one_process(env: dict[str, str], queries: list[str]) -> list[dict[str, Any]]:
    driver = ("import sys, orjson; from tests.integration.sql_corpus import run_cli; "
              "sys.stdout.buffer.write(orjson.dumps(run_cli(orjson.loads(sys.stdin.buffer.read()))))")
    done = subprocess.run([sys.executable, "-c", driver], input=orjson.dumps(queries), env=env, cwd=ROOT,
                          capture_output=True, timeout=300, check=True)
    answers: list[dict[str, Any]] = orjson.loads(done.stdout)
    return answers


def _refused(query: str, reason: str, rc: int, stdout: str, stderr: str) -> str | None:
    line = stderr.strip()
    if rc == 1 and not stdout and reason in line and "\n" not in line and line.startswith("touchstream sql: "):
        return None
    return f"{_short(query)}: rc={rc} stdout={stdout[-100:]!r} stderr={stderr[-300:]!r}"


# argv cannot carry a NUL byte: that one entry is covered by the endpoint test only.
CLI_HOSTILE = [(q, r) for q, r in HOSTILE if "\x00" not in q]


def test_touchstream_sql_refuses_the_hostile_corpus_on_a_folder(folder: dict[str, str]) -> None:
    answers = cli_in_one_process(folder, [q for q, _ in CLI_HOSTILE])
    assert [a["query"] for a in answers] == [q for q, _ in CLI_HOSTILE]
    pairs = zip(CLI_HOSTILE, answers, strict=True)
    verdicts = [_refused(q, r, a["rc"], a["stdout"], a["stderr"]) for (q, r), a in pairs]
    failures = [f for f in verdicts if f]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("query", ["SELECT file('data/apps.json')", "SELECT * FROM file('/etc/passwd', 'LineAsString')",
                                   "SELECT * FROM system.users", "DROP TABLE events"])
def test_touchstream_sql_as_a_process_refuses_with_one_line_and_exit_code_1(folder: dict[str, str], query: str) -> None:
    # The in-process run above skips the process itself: exit code, stdout and stderr as a shell sees them,
    # on a function, a table function, a system table (the guard's catalogue) and a statement-level refusal.
    reason = dict(CLI_HOSTILE)[query]
    done = cli(folder, query)
    assert _refused(query, reason, done.returncode, done.stdout, done.stderr) is None


def test_touchstream_sql_on_a_folder_still_answers(folder: dict[str, str]) -> None:
    both = cli(folder, "SELECT app_id, count() FROM events GROUP BY app_id ORDER BY app_id", "--format", "csv")
    assert both.returncode == 0, both.stderr
    assert both.stdout.splitlines() == ["app_id,count()", f"{RIVAL},3", f"{SHOP},2"]
    numbers = cli(folder, "SELECT number FROM system.numbers LIMIT 2", "--format", "json")
    assert numbers.stdout.strip() == '[{"number":0},{"number":1}]', numbers.stderr
    credits = cli(folder, "SELECT app_id, conversion_id FROM attribution_credits_current", "--format", "csv")
    assert credits.stdout.splitlines() == ["app_id,conversion_id", f"{RIVAL},rc1"], credits.stderr


def test_the_row_cap_applies_to_the_answer_not_to_the_guard(store: Any) -> None:
    # STREAM_QUERY_MAX_ROWS=1: the guard still reads the whole catalogue, and the analyst's answer is capped.
    app = create_query_app(store, 1, 30, analyst_keys={SHOP_KEY: [SHOP]}, sql_key=TEST_SQL_KEY)
    with serve_app(app) as base:
        assert rows(f"{base}/v1/query", "SELECT count() FROM events", SHOP_KEY) == [[2]]
        over = post(f"{base}/v1/query", "SELECT event_id FROM events", SHOP_KEY)
        assert over.status_code == 400 and "TOO_MANY_ROWS_OR_BYTES" in over.json()["error"]
