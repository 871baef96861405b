"""stream/store.py without an engine: which URLs are embedded, the DDL loader, and connect's one-line errors.

Applying migrations to a real engine is in tests/integration/test_store.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runtime.errors import StartupError
from stream.store import Migration, connect, is_embedded, load_migrations, load_views, table_aliases
from tests.integration.harness import free_port


@pytest.mark.parametrize(("url", "embedded"), [
    ("chdb://./data/clickhouse", True),
    ("chdb:///var/lib/touchstream", True),
    ("chdb://", True),
    ("http://127.0.0.1:8123", False),
    ("https://user:pw@clickhouse.internal:8443/?secure=1", False),
    ("clickhouse://chdb://x", False),
])
def test_is_embedded(url: str, embedded: bool) -> None:
    assert is_embedded(url) is embedded


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_migrations_are_ordered_by_version_and_other_files_ignored(tmp_path: Path) -> None:
    folder = write(tmp_path / "ddl", {
        "010_tenth.sql": "CREATE TABLE j (x UInt8) ENGINE = Memory",
        "002_second.sql": "CREATE TABLE b (x UInt8) ENGINE = Memory",
        "001_first.sql": "CREATE TABLE a (x UInt8) ENGINE = Memory",
        "README.md": "not a migration; CREATE TABLE nope",
        "4_short.sql": "CREATE TABLE nope (x UInt8) ENGINE = Memory",
        "003_Upper.sql": "CREATE TABLE nope (x UInt8) ENGINE = Memory",
        "005_draft.sql.bak": "CREATE TABLE nope (x UInt8) ENGINE = Memory",
    })
    assert load_migrations(folder) == [
        Migration(1, "001_first.sql", ("CREATE TABLE a (x UInt8) ENGINE = Memory",)),
        Migration(2, "002_second.sql", ("CREATE TABLE b (x UInt8) ENGINE = Memory",)),
        Migration(10, "010_tenth.sql", ("CREATE TABLE j (x UInt8) ENGINE = Memory",)),
    ]


def test_statements_split_on_semicolons_outside_comments(tmp_path: Path) -> None:
    folder = write(tmp_path / "ddl", {"001_views.sql": (
        "-- Two statements; the comment's semicolon must not split anything.\n"
        "CREATE TABLE t (x UInt8) ENGINE = Memory;\n"
        "\n"
        "    -- an indented comment; also ignored\n"
        "CREATE VIEW v AS\n"
        "SELECT x\n"
        "FROM t;\n"
        ";\n"
    )})
    [migration] = load_migrations(folder)
    assert migration.statements == (
        "CREATE TABLE t (x UInt8) ENGINE = Memory",
        "CREATE VIEW v AS\nSELECT x\nFROM t",
    )


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    folder = write(tmp_path / "ddl", {
        "001_a.sql": "SELECT 1", "002_b.sql": "SELECT 1", "002_c.sql": "SELECT 1",
    })
    with pytest.raises(StartupError, match=r"two DDL files share a version number: \[1, 2, 2\]"):
        load_migrations(folder)


def test_the_packaged_ddl_is_found_in_version_order() -> None:
    migrations = load_migrations()
    assert [m.name for m in migrations][:8] == [
        "001_events.sql", "002_attribution.sql", "003_ad_spend.sql", "004_people.sql", "005_funnels_paths.sql",
        "006_users_retention.sql", "007_channel_performance.sql", "008_stream_topology.sql",
    ]
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert not any(s.lstrip().startswith("--") for m in migrations for s in m.statements)
    # Migrations make tables; views are not migrated but created again at every start (schemas/views/).
    assert not [s for m in migrations for s in m.statements if re.match(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW", s)]


def test_the_packaged_views_are_one_a_file_in_order_each_after_the_views_it_reads() -> None:
    views = load_views()
    names = [re.sub(r"^\d\d_|\.sql$", "", v.name) for v in views]
    assert len(views) > 20 and [v.version for v in views] == list(range(1, len(views) + 1))
    for n, view in enumerate(views):
        [statement] = view.statements
        assert statement.startswith(f"CREATE OR REPLACE VIEW {names[n]} AS\n"), view.name
        body = statement.split(" AS\n", 1)[1]
        reads = {other for other in names[:n] + names[n + 1:] if re.search(rf"\b{other}\b", body)}
        assert reads <= set(names[:n]), (view.name, reads - set(names[:n]))


def test_an_invalid_database_name_is_refused_before_connecting() -> None:
    with pytest.raises(StartupError) as caught:
        connect("http://127.0.0.1:1", "touch-stream; DROP")
    assert str(caught.value) == "CLICKHOUSE_DATABASE 'touch-stream; DROP' is not a valid database name"


def test_table_aliases_are_the_names_of_tables_subqueries_and_table_functions_after_from_or_join() -> None:
    statements = [
        "CREATE OR REPLACE VIEW v AS SELECT t.a AS col, count() AS n FROM (SELECT a FROM events) AS t "
        "LEFT JOIN identities_current AS i ON i.app_id = t.app_id "
        "INNER JOIN db.conversions AS `quoted` USING (app_id) "
        "LEFT JOIN first_touch_channels(app={app:String}, day=toDate('2026-01-01')) AS f ON f.k = t.a "
        "WHERE t.a IN (SELECT x AS inner_column FROM spend) AND t.a != 'FROM s AS literal' GROUP BY t.a",
        "SELECT max(v) AS newest FROM (SELECT 1 AS v) AS sub",
        "SELECT * FROM plain",
    ]
    assert table_aliases(statements) == {"t", "i", "quoted", "f", "sub"}


def test_a_database_named_like_a_views_table_alias_is_refused_in_one_line() -> None:
    # 04_touchpoints_current joins `(…) AS t` with identities_current, which ClickHouse writes as
    # t.identities_current when the database is t: the view would fail to be created.
    shipped = table_aliases(s for view in load_views() for s in view.statements)
    assert {"t", "e", "latest", "i", "f"} <= shipped
    assert not {"touchstream", "users", "revenue", "day", "first"} & shipped  # column aliases are not at risk
    for name in ("t", "latest"):
        with pytest.raises(StartupError) as caught:
            connect("http://127.0.0.1:1", name)
        assert str(caught.value) == (
            f"CLICKHOUSE_DATABASE {name!r} is a table alias in schemas/views/, which it would shadow; pick another"
        )


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StartupError) as caught:
        connect("clickhouse://127.0.0.1:9000", "touchstream")
    assert str(caught.value) == "CLICKHOUSE_URL 'clickhouse://127.0.0.1:9000' must start with chdb://, http:// or https://"


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = f"http://analyst:s3cret-pw@127.0.0.1:{free_port()}"  # nothing listens on a port just freed
    with pytest.raises(StartupError) as caught:
        connect(url, "touchstream")
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret-pw" not in message
    assert message.startswith(f"cannot open ClickHouse at http://analyst:***@127.0.0.1:{url.rsplit(':', 1)[1]}: ")
    assert message.endswith("(check CLICKHOUSE_URL; a chdb:// folder is owned by one process)")


def test_an_embedded_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    # mkdir fails before chDB is touched, so this opens no engine in the test process.
    occupied = tmp_path / "not-a-folder"
    occupied.write_text("x")
    with pytest.raises(StartupError) as caught:
        connect(f"chdb://{occupied}", "touchstream")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot open ClickHouse at chdb://{occupied}: ")
