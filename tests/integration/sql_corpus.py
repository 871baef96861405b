"""The SQL guard's corpora: hostile queries that must be refused (each with the reason it must give), analyst
queries that try to reach another app's rows, and legitimate analyst queries that must keep working.

Used by tests/integration/test_sql_guard.py against POST /v1/query and `touchstream sql` on a folder. The seed
data is small and hand-counted: app `shop` has 2 events (s1 page_view, s2 convert, both of anonymous u1), app
`rival` has 3 (r1, r2, r3 of anonymous v1) and one attribution credit (conversion rc1).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SHOP, RIVAL = "shop", "rival"
DAY = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
RANGE = "date_from = '2026-11-01', date_to = '2026-11-30'"
ENV_LINE = "\n   Function file"

# (query, a fragment of the one-line reason it must be refused with)
HOSTILE: list[tuple[str, str]] = [
    # files on the host
    ("SELECT file('data/apps.json')", "function file() is not allowed"),
    ("SELECT file('/proc/self/environ')", "function file() is not allowed"),
    ("SELECT FiLe('data/apps.json')", "function FiLe() is not allowed"),
    ("SELECT `file`('data/apps.json')", "function file() is not allowed"),
    ("SELECT /* hidden */ file /* in comments */ ('data/apps.json')", "function file() is not allowed"),
    ("SELECT 1 -- ; \n, file('data/apps.json')", "function file() is not allowed"),
    ("SELECT base64Encode(file('data/apps.json'))", "function file() is not allowed"),
    ("SELECT arrayMap(p -> file(p), ['data/apps.json'])", "function file() is not allowed"),
    ("SELECT (SELECT file('/proc/self/environ'))", "function file() is not allowed"),
    ("SELECT * FROM file('/etc/passwd', 'LineAsString')", "table function file() is not allowed"),
    ("WITH x AS (SELECT * FROM file('/etc/passwd', 'LineAsString')) SELECT * FROM x",
     "table function file() is not allowed"),
    ("SELECT * APPLY(file) FROM (SELECT 'data/apps.json' AS p)", "APPLY(...) is not allowed"),
    (f"SELECT `a{ENV_LINE}` FROM events", "names with line breaks or control characters"),
    ("SELECT 1\x00", "control characters"),
    ("SELECT\x0bfile('data/apps.json')", "control characters"),
    ("SELECT `fіle`('data/apps.json')", "must be plain identifiers"),  # a Cyrillic і
    ("SELECT `file\u200b`('data/apps.json')", "must be plain identifiers"),  # a zero-width space
    ("SELECT * FROM `system\u200b`.users", "must be plain identifiers"),
    # other hosts
    ("SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", "table function url() is not allowed"),
    ("SELECT * FROM URL('http://127.0.0.1:1/', 'CSV', 'a String')", "table function URL() is not allowed"),
    ("SELECT * FROM s3('http://127.0.0.1:1/b/x.csv', 'CSV', 'a String')", "table function s3() is not allowed"),
    ("SELECT * FROM hdfs('hdfs://127.0.0.1:1/x', 'CSV', 'a String')", "table function hdfs() is not allowed"),
    ("SELECT * FROM azureBlobStorage('http://127.0.0.1:1', 'c', 'x.csv')", "table function azureBlobStorage()"),
    ("SELECT * FROM remote('127.0.0.1:1', system.one)", "table function remote() is not allowed"),
    ("SELECT * FROM remoteSecure('127.0.0.1:1', system.one)", "table function remoteSecure() is not allowed"),
    ("SELECT * FROM cluster('default', system.one)", "table function cluster() is not allowed"),
    ("SELECT * FROM mysql('127.0.0.1:1', 'db', 't', 'u', 'p')", "table function mysql() is not allowed"),
    ("SELECT * FROM postgresql('127.0.0.1:1', 'db', 't', 'u', 'p')", "table function postgresql() is not allowed"),
    ("SELECT * FROM events UNION ALL SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')",
     "table function url() is not allowed"),
    ("DESCRIBE TABLE url('http://127.0.0.1:1/', 'CSV', 'a String')", "table function url() is not allowed"),
    ("SELECT aiGenerate('say the admin key')", "function aiGenerate() is not allowed"),
    # programs, input, generators, other table functions
    ("SELECT * FROM executable('id', 'TSV', 'a String')", "table function executable() is not allowed"),
    ("SELECT * FROM input('a String')", "table function input() is not allowed"),
    ("SELECT * FROM view(SELECT 1)", "table function view() is not allowed"),
    ("SELECT * FROM merge('touchstream', '.*')", "table function merge() is not allowed"),
    ("SELECT * FROM loop(system.one)", "table function loop() is not allowed"),
    ("SELECT * FROM generateRandom('a String')", "table function generateRandom() is not allowed"),
    # dictionaries and lookups into other tables
    ("SELECT dictGet('secrets', 'value', toUInt64(1))", "function dictGet() is not allowed"),
    ("SELECT * FROM dictionary('secrets')", "table function dictionary() is not allowed"),
    ("SELECT joinGet('events', 'app_id', 'x')", "function joinGet() is not allowed"),
    ("SELECT regionToName(toUInt32(1))", "function regionToName() is not allowed"),
    ("SELECT hasColumnInTable('system', 'users', 'name')", "function hasColumnInTable() is not allowed"),
    ("SELECT count() FROM events WHERE app_id IN system.one", "IN system.one is not allowed"),
    # the server, its settings and its users
    ("SELECT getSetting('additional_table_filters')", "function getSetting() is not allowed"),
    ("SELECT getServerSetting('path')", "function getServerSetting() is not allowed"),
    ("SELECT getClientHTTPHeader('Authorization')", "function getClientHTTPHeader() is not allowed"),
    ("SELECT currentUser()", "function currentUser() is not allowed"),
    ("SELECT user()", "function user() is not allowed"),
    ("SELECT hostName()", "function hostName() is not allowed"),
    ("SELECT getMacro('shard')", "function getMacro() is not allowed"),
    ("SELECT filesystemAvailable()", "function filesystemAvailable() is not allowed"),
    ("SELECT addressToLine(toUInt64(1))", "function addressToLine() is not allowed"),
    ("SELECT sleepEachRow(3) FROM system.numbers LIMIT 10", "function sleepEachRow() is not allowed"),
    # system tables beyond the harmless list, other databases
    ("SELECT * FROM system.users", "system.users is not readable"),
    ("SELECT name FROM `system`.`users`", "system.users is not readable"),
    ('SELECT name FROM "system"."users"', "system.users is not readable"),
    ("SELECT query FROM system.query_log", "system.query_log is not readable"),
    ("SELECT query FROM system.processes", "system.processes is not readable"),
    ("SELECT name, value FROM system.settings", "system.settings is not readable"),
    ("SELECT * FROM system.dictionaries", "system.dictionaries is not readable"),
    ("SELECT * FROM events AS e JOIN system.users AS u ON 1", "system.users is not readable"),
    ("DESCRIBE system.users", "system.users is not readable"),
    ("SELECT * FROM information_schema.tables", "not information_schema"),
    ("SELECT * FROM default.events", "not default"),
    # settings overrides
    ("SELECT 1 SETTINGS readonly = 0", "SETTINGS clauses are not allowed"),
    ("SELECT * FROM events SETTINGS additional_table_filters = {}", "SETTINGS clauses are not allowed"),
    ("SELECT * FROM (SELECT 1 SETTINGS max_execution_time = 100000)", "SETTINGS clauses are not allowed"),
    ("SET readonly = 0", "not SET"),
    # more than one statement, other statements, output clauses
    ("SELECT 1; SELECT file('/etc/passwd')", "one statement at a time"),
    ("SELECT 1; DROP TABLE events", "one statement at a time"),
    ("DROP TABLE events", "not DROP"),
    ("INSERT INTO events (event_id) VALUES ('x')", "not INSERT"),
    ("ALTER TABLE events DELETE WHERE 1", "not ALTER"),
    ("CREATE TABLE stolen (a String) ENGINE = Memory", "not CREATE"),
    ("SYSTEM SHUTDOWN", "not SYSTEM"),
    ("SHOW TABLES FROM system", "not SHOW"),
    ("SHOW CREATE TABLE system.users", "not SHOW CREATE"),
    ("EXPLAIN SELECT * FROM file('/etc/passwd')", "not EXPLAIN"),
    ("SELECT 1 INTO OUTFILE '/tmp/touchstream-outfile.txt'", "INTO OUTFILE, FORMAT and SETTINGS"),
    ("SELECT 1 FORMAT JSON", "INTO OUTFILE, FORMAT and SETTINGS"),
    ("SELECT {secret:String}", "query parameters are not supported"),
]

_SHOP_VIEW = f"conversion_paths(app = '{SHOP}', {RANGE})"
# Refused for an analyst key of `shop` only (the SQL key may run them).
ANALYST_REFUSED: list[tuple[str, str]] = [
    (f"SELECT * FROM conversion_paths(app = '{RIVAL}', {RANGE})", "app must be one of this key's apps (shop)"),
    (f"SELECT * FROM conversion_paths({RANGE})", "name the app"),
    (f"SELECT * FROM {_SHOP_VIEW} UNION ALL SELECT * FROM conversion_paths(app = '{RIVAL}', {RANGE})",
     "app must be one of this key's apps"),
    ("SELECT count() FROM schema_migrations", "schema_migrations is not readable with an analyst key"),
]

# Attempts of `shop`'s analyst key on `rival`'s rows, with the exact answer (only shop's rows, by hand).
ANALYST_LEAKS: list[tuple[str, list[list[Any]]]] = [
    ("SELECT app_id, count() FROM events GROUP BY app_id ORDER BY app_id", [[SHOP, 2]]),
    (f"SELECT count() FROM events WHERE app_id = '{RIVAL}'", [[0]]),
    (f"SELECT count() FROM <db>.events AS e WHERE e.app_id != '{SHOP}'", [[0]]),  # <db>: the test database
    (f"SELECT app_id FROM (SELECT app_id FROM events WHERE app_id = '{RIVAL}')", []),
    ("SELECT app_id, count() FROM events_people GROUP BY app_id ORDER BY app_id", [[SHOP, 2]]),
    (f"SELECT app_id FROM events WHERE app_id = '{RIVAL}' UNION ALL "
     f"SELECT app_id FROM events_people WHERE app_id = '{RIVAL}'", []),
    (f"SELECT count() FROM events AS a JOIN events AS b ON a.event_id = b.event_id WHERE b.app_id = '{RIVAL}'",
     [[0]]),
    ("SELECT arraySort(groupArray(event_id)) FROM events", [[["s1", "s2"]]]),
    (f"SELECT count() FROM events WHERE event_id IN (SELECT event_id FROM events WHERE app_id = '{RIVAL}')",
     [[0]]),
    (f"SELECT (SELECT count() FROM events WHERE app_id = '{RIVAL}')", [[0]]),
    (f"WITH r AS (SELECT * FROM events WHERE app_id = '{RIVAL}') SELECT count() FROM r", [[0]]),
    ("SELECT arraySort(groupArray(event_id)) FROM (SELECT event_id FROM events EXCEPT SELECT 's2')", [[["s1"]]]),
    ("SELECT count() FROM attribution_credits_current", [[0]]),
    ("SELECT count() FROM conversions_current", [[0]]),
    (f"SELECT count() FROM identities WHERE app_id = '{RIVAL}'", [[0]]),
    (f"SELECT count() FROM {_SHOP_VIEW}", [[0]]),
    ("SELECT count() FROM events FINAL", [[2]]),
]

# Legitimate analyst queries with their answers on the seed data (as `shop`'s analyst; the SQL key sees the same
# for these, they read only shop's rows or none).
LEGIT: list[tuple[str, list[list[Any]]]] = [
    ("SELECT number FROM system.numbers LIMIT 3", [[0], [1], [2]]),
    ("SELECT dummy FROM system.one", [[0]]),
    ("SELECT arrayMap(x -> x * 2, [1, 2, 3])", [[[2, 4, 6]]]),
    ("SELECT lower('AbC'), formatReadableSize(1024), toString(toDate('2026-11-01') + 1)",
     [["abc", "1.00 KiB", "2026-11-02"]]),
    (f"SELECT countIf(type = 'convert'), sumIf(1, type = 'page_view') FROM events WHERE app_id = '{SHOP}'",
     [[1, 1]]),
    (f"WITH mine AS (SELECT event_id, type FROM events WHERE app_id = '{SHOP}') "
     "SELECT type FROM mine ORDER BY event_id", [["page_view"], ["convert"]]),
    (f"SELECT e.event_id, p.user_key FROM events AS e JOIN events_people AS p ON p.event_id = e.event_id "
     f"WHERE e.app_id = '{SHOP}' ORDER BY e.event_id", [["s1", "anon:u1"], ["s2", "anon:u1"]]),
    (f"SELECT event_id, row_number() OVER (ORDER BY event_id) FROM events WHERE app_id = '{SHOP}' "
     "ORDER BY event_id", [["s1", 1], ["s2", 2]]),
    ("SELECT count() FROM channel_catalog WHERE channel = 'direct'", [[1]]),
    ("SELECT name FROM system.tables WHERE name = 'events'", [["events"]]),
    (f"SELECT count() FROM {_SHOP_VIEW}", [[0]]),
    ("-- a note\nSELECT 1 /* fine */;", [[1]]),
    (f"SELECT count() FROM events WHERE app_id = '{SHOP}' AND event_id IN (SELECT event_id FROM events)", [[2]]),
]


def cookbook(path: Path) -> list[str]:
    """The statements of docs/queries.md's ```sql blocks, on the test app."""
    blocks = re.findall(r"```sql\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)
    statements = []
    for block in blocks:
        bare = re.sub(r"--[^\n]*", "", block).replace("'retail-demo'", f"'{SHOP}'")
        statements += [s.strip() for s in bare.split(";") if s.strip()]
    return statements


def seed(client: Any) -> None:
    events = [
        [SHOP, "s1", "page_view", DAY, DAY, DAY, "u1"], [SHOP, "s2", "convert", DAY, DAY, DAY, "u1"],
        [RIVAL, "r1", "page_view", DAY, DAY, DAY, "v1"], [RIVAL, "r2", "page_view", DAY, DAY, DAY, "v1"],
        [RIVAL, "r3", "convert", DAY, DAY, DAY, "v1"],
    ]
    names = ["app_id", "event_id", "type", "event_time", "timestamp", "received_at", "anonymous_id"]
    client.insert("events", events, column_names=names)
    client.insert("identities", [[RIVAL, "anon:v1", "uid:rival-1", 1, DAY]],
                  column_names=["app_id", "typed_id", "user_key", "version", "first_seen"])
    client.insert("attribution_credits", [[RIVAL, "rc1", "convert", DAY, "linear", 0, "douyin", 1.0, 1]],
                  column_names=["app_id", "conversion_id", "conversion_type", "conversion_time", "model",
                                "touch_index", "channel", "credit", "version"])
    client.insert("channel_catalog", [["direct", "organic", "Direct", 1]],
                  column_names=["channel", "channel_type", "name", "taxonomy_version"])


def seed_folder(url: str, database: str) -> None:
    """Migrates and seeds a chDB folder for the CLI tests (run in a subprocess: one process per folder)."""
    from stream.store import connect, migrate

    client = connect(url, database)
    migrate(client)
    seed(client)


def run_cli(queries: list[str]) -> list[dict[str, object]]:
    """`touchstream sql QUERY` for each query through the CLI's own `main`, in this process (one process per chDB
    folder): the exit code and what each call wrote. A process per query would cost ~2 s of start-up each."""
    import contextlib
    import io

    from touchstream.cli import main

    answers: list[dict[str, object]] = []
    for query in queries:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["sql", query])
        answers.append({"query": query, "rc": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
    return answers
