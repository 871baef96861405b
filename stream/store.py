"""Reaching ClickHouse: one URL picks the embedded engine (chdb://path) or a server (http(s)://host:8123).

Both go through clickhouse-connect, so every other module is indifferent to which one it is. The schema is
created and migrated at start: the tables from the versioned DDL files in `schemas/ddl/` (NNN_name.sql,
applied in order, each once, recorded in `schema_migrations`), then every view from `schemas/views/` (NN_name.sql,
one view a file, in order), created again at every start, so a view is defined in one place whatever the
database's history and a migration never repeats a view's body to change it. chDB allows one data folder
per process and one process per folder: the stream processor owns it, and everyone else reads through its
query endpoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from runtime.errors import StartupError
from stream.channels.taxonomy import Taxonomy

log = logging.getLogger(__name__)

_DDL_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
_VIEW_NAME = re.compile(r"^(\d{2})_[a-z0-9_]+\.sql$")
_DATABASE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# A string literal, a quoted or bare identifier, or any other single character; whitespace is skipped.
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|`[^`]*`|\"[^\"]*\"|[A-Za-z_][A-Za-z0-9_]*|\S")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def is_embedded(url: str) -> bool:
    return url.startswith("chdb://")


def connect(url: str, database: str) -> Any:
    """A clickhouse-connect client on `database`, created if missing. Raises StartupError with one line."""
    if not _DATABASE_NAME.match(database):
        msg = f"CLICKHOUSE_DATABASE {database!r} is not a valid database name"
        raise StartupError(msg)
    if database in table_aliases(s for view in load_views() for s in view.statements):
        msg = (
            f"CLICKHOUSE_DATABASE {database!r} is a table alias in schemas/views/, which it would shadow; pick another"
        )
        raise StartupError(msg)
    try:
        if is_embedded(url):
            # chdb://./data/clickhouse (relative) or chdb:///abs/path: always handed over as an absolute path.
            path = Path(url.removeprefix("chdb://") or "./data/clickhouse").resolve()
            path.mkdir(parents=True, exist_ok=True)
            client = clickhouse_connect.get_client(interface="chdb", path=str(path))
        else:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https"):
                msg = f"CLICKHOUSE_URL {url!r} must start with chdb://, http:// or https://"
                raise StartupError(msg)
            client = clickhouse_connect.get_client(dsn=url, connect_timeout=5, send_receive_timeout=60)
        client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
        client.database = database
    except StartupError:
        raise
    except (ClickHouseError, OSError) as exc:
        where = _redact(url)
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        hint = "check CLICKHOUSE_URL; a chdb:// folder is owned by one process"
        msg = f"cannot open ClickHouse at {where}: {first} ({hint})"
        raise StartupError(msg) from None
    return client


def table_aliases(statements: Iterable[str]) -> frozenset[str]:
    """The names given with AS to a table or a subquery after FROM or JOIN.

    ClickHouse qualifies a view's tables with the database when it creates the view (`db.identities_current`),
    and where a table expression in the same scope is aliased `db`, that name is read as the alias: the view
    cannot be created.
    """
    aliases: set[str] = set()
    for statement in statements:
        words = _TOKEN.findall(statement)
        upper = [w.upper() for w in words] + ["", "", ""]  # padded: a lookahead past the end finds nothing
        tables: set[int] = set()  # where a parenthesis opens a table expression: a subquery or a table function
        opened: list[int] = []
        for n, word in enumerate(words):
            alias_at = None
            if word == "(":
                opened.append(n)
                if upper[n - 1] in ("FROM", "JOIN"):
                    tables.add(n)
            elif word == ")":
                if opened and opened.pop() in tables:
                    alias_at = n + 2
            elif upper[n - 1] in ("FROM", "JOIN") and word.isidentifier():
                end = n + 1
                while upper[end] == ".":
                    end += 2  # database.table
                if upper[end] == "(":
                    tables.add(end)  # a table function or a parameterized view: its `)` is followed by the alias
                else:
                    alias_at = end + 1
            if alias_at is not None and upper[alias_at - 1] == "AS" and alias_at < len(words):
                aliases.add(words[alias_at].strip("`\""))
    return frozenset(aliases)


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def load_migrations(directory: Path | None = None) -> list[Migration]:
    migrations = []
    for name, text in _sql_files("ddl", directory):
        match = _DDL_NAME.match(name)
        if match:
            migrations.append(Migration(int(match.group(1)), name, _statements(text)))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        msg = f"two DDL files share a version number: {sorted(versions)}"
        raise StartupError(msg)
    return migrations


def load_views(directory: Path | None = None) -> list[Migration]:
    """The views, in file order (a view comes after the views it reads); each file one CREATE OR REPLACE VIEW."""
    views = []
    for name, text in _sql_files("views", directory):
        match = _VIEW_NAME.match(name)
        if match:
            views.append(Migration(int(match.group(1)), name, _statements(text)))
    return views


def _sql_files(folder: str, directory: Path | None) -> list[tuple[str, str]]:
    if directory is None:
        files = [(f.name, f.read_text(encoding="utf-8")) for f in resources.files("schemas").joinpath(folder).iterdir()]
    else:
        files = [(f.name, f.read_text(encoding="utf-8")) for f in directory.iterdir()]
    return sorted(files)


def _statements(text: str) -> tuple[str, ...]:
    # Comments go first so a ';' inside one never splits a statement.
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return tuple(s.strip() for s in body.split(";") if s.strip())


def migrate(
    client: Any, migrations: list[Migration] | None = None, views: list[Migration] | None = None
) -> list[str]:
    """Apply the migrations not yet recorded, then create every view again; idempotent. Returns the names of
    the migrations applied now. `views` defaults to the shipped ones with the shipped migrations, and to none
    when `migrations` is given (a test building an older database)."""
    client.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY version"
    )
    done = {row[0] for row in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for migration in migrations if migrations is not None else load_migrations():
        if migration.version in done:
            continue
        _apply(client, migration, "migration")
        client.insert("schema_migrations", [[migration.version, migration.name]], column_names=["version", "name"])
        applied.append(migration.name)
        log.info("applied migration %s", migration.name)
    if views is None:
        views = load_views() if migrations is None else []
    for view in views:
        _apply(client, view, "view")
    return applied


def _apply(client: Any, item: Migration, kind: str) -> None:
    try:
        for statement in item.statements:
            client.command(statement)
    except ClickHouseError as exc:
        first = str(exc).strip().splitlines()[0][:300]
        msg = f"{kind} {item.name} failed: {first}"
        raise StartupError(msg) from None


def write_channel_catalog(client: Any, taxonomy: Taxonomy) -> None:
    """Records the taxonomy's channels so the analytics views know the type of a channel that only had spend.

    Rewritten at every start (ReplacingMergeTree by taxonomy version: rerunning the same taxonomy adds nothing
    that a merge or argMax does not fold away).
    """
    rows = [[key, c.type, c.name, taxonomy.version] for key, c in taxonomy.channels.items()]
    client.insert("channel_catalog", rows, column_names=["channel", "channel_type", "name", "taxonomy_version"])
