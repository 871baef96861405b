"""The guard in front of analyst SQL: decides, from ClickHouse's own parse of a query, whether it may run.

Pure: the shell (stream/query_server.py) hands it three texts ClickHouse produced for the query (its
`formatQuerySingleLine`, its `EXPLAIN AST`, the database's tables) and runs the query only if `check_ast`
passes, under `read_only_settings`. The decision is an allow-list, not a list of bad words:

- statements: one SELECT (with WITH, UNION, subqueries, joins...) or DESCRIBE; no SET, SHOW, EXPLAIN, no
  SETTINGS, FORMAT or INTO OUTFILE clause, no query parameters;
- tables: the tables and views of our database, and HARMLESS_SYSTEM_TABLES; a call with arguments in FROM
  must be one of our parameterized views (no table function: file, url, s3, remote, executable, input, ...);
- functions: the allow-list of stream/sql_functions.py (derived from system.functions, see there);
- AST node kinds: the ones a SELECT is made of (an unknown construct is refused, not guessed at).

An analyst key (Scope.apps) may also read only its apps' rows: every table with an `app_id` column is read
through ClickHouse's `additional_table_filters` (`app_id IN (<apps>)`), which the engine applies to each read of
the table wherever it happens (views, subqueries, joins, UNION, IN); the query cannot override it because it
cannot carry settings. A parameterized view call must name one of the key's apps.

The query always runs with `readonly=1` too (no writes, no DDL, no setting changes), capped in time and rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NoReturn

from stream.sql_functions import FunctionAllowList, allowed_functions

READ_ONLY_SETTINGS_BASE = {"readonly": 1}
# Harmless system tables: constants, number generators, and the catalogue of our own database only
# (`system.tables`/`system.columns` are filtered to it by SYSTEM_TABLE_FILTERS).
HARMLESS_SYSTEM_TABLES = frozenset({"one", "numbers", "numbers_mt", "tables", "columns"})
SYSTEM_FILTERED = ("tables", "columns")
# Tables without an app_id that hold no per-app data: analysts may read them whole.
SHARED_TABLES = frozenset({"channel_catalog"})
_NODE_KINDS = frozenset({
    "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList", "Function",
    "Identifier", "Literal", "Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
    "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher", "ColumnsTransformerList",
    "ColumnsExceptTransformer", "ColumnsReplaceTransformer", "ColumnsReplaceTransformer::Replacement",
    "TablesInSelectQuery", "TablesInSelectQueryElement", "TableExpression", "TableIdentifier", "TableJoin",
    "ArrayJoin", "Subquery", "WithElement", "OrderByElement", "WindowDefinition", "WindowListElement",
    "InterpolateElement", "SampleRatio", "DescribeQuery",
})
_STATEMENT_WORDS = {
    "Set": "SET", "ShowTables": "SHOW", "Explain": "EXPLAIN", "InsertQuery": "INSERT", "DropQuery": "DROP",
    "AlterQuery": "ALTER", "CreateQuery": "CREATE", "ExistsTableQuery": "EXISTS", "SystemQuery": "SYSTEM",
    "ShowCreateTableQuery": "SHOW CREATE", "UseQuery": "USE", "KillQueryQuery": "KILL",
}
_IN_FUNCTIONS = frozenset({
    "in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn",
})
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_QUALIFIED = re.compile(rf"^(?:({_NAME})\.)?({_NAME})(?: \(alias .*\))?$")
_CHILDREN = re.compile(r" \(children (\d+)\)$")
_LINE = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_:]*)(.*)$")
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TSV_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "f": "\f", "\\": "\\", "'": "'"}


class NotReadOnly(ValueError):
    """The query is refused; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class Catalog:
    """What our database holds, as the shell read it from system.tables / system.columns."""

    database: str
    tables: frozenset[str]  # base tables
    views: frozenset[str]  # plain and parameterized views
    app_tables: frozenset[str]  # base tables with an app_id column

    @property
    def readable(self) -> frozenset[str]:
        return self.tables | self.views


@dataclass(frozen=True, slots=True)
class Scope:
    """Who asks: the deployment's SQL key (apps=None: every app) or an analyst key (only these apps)."""

    apps: frozenset[str] | None = None

    @property
    def is_analyst(self) -> bool:
        return self.apps is not None


OPERATOR = Scope()


@dataclass(slots=True)
class Node:
    kind: str
    text: str  # what follows the kind on its line, without the children count
    depth: int
    declared: int
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None


def _refuse(reason: str) -> NoReturn:
    raise NotReadOnly(reason)


def check_read_only(sql: str, max_chars: int = 100_000) -> str:
    """The cheap textual pre-check (clear errors before asking ClickHouse); returns the statement to run."""
    if len(sql) > max_chars:
        _refuse(f"the query is longer than {max_chars} characters")
    if _CONTROL.search(sql):
        _refuse("the query contains control characters")
    bare = _STRING.sub("''", _BLOCK_COMMENT.sub(" ", _LINE_COMMENT.sub(" ", sql))).strip()
    if not bare:
        _refuse("the query is empty")
    if ";" in bare.rstrip(";"):
        _refuse("one statement at a time: the query contains ';'")
    return sql.strip().rstrip(";").strip()


def sql_string(value: str) -> str:
    """A ClickHouse string literal holding `value` exactly."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def unescape_tsv(line: str) -> str:
    return re.sub(r"\\(.)", lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), line)


def check_canonical(formatted: str) -> None:
    """Refuses names with line breaks or control characters, read from ClickHouse's own single-line format.

    EXPLAIN AST prints identifiers unescaped, so a backquoted name holding a newline could print lines that
    look like AST nodes; in the canonical text every name is quoted and escaped, so one scan finds them.
    """
    quote = ""
    escaped = False
    for ch in formatted:
        if ch == "\n" or (quote and _CONTROL.match(ch)):
            _refuse("names with line breaks or control characters are not allowed")
        if not quote:
            if ch in "'`\"":
                quote = ch
            continue
        if escaped:
            if quote != "'" and ch in "nrt0bfxv":
                _refuse("names with line breaks or control characters are not allowed")
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == quote:
            quote = ""


def parse_ast(text: str) -> Node:
    """The tree of an EXPLAIN AST text (TabSeparated rows); refuses anything that is not its exact shape."""
    lines = [unescape_tsv(line) for line in text.split("\n") if line.strip()]
    if not lines:
        _refuse("ClickHouse returned no syntax tree for the query")
    stack: list[Node] = []
    root: Node | None = None
    for line in lines:
        match = _LINE.match(line)
        if match is None:
            _refuse("the query's syntax tree has an unexpected shape")
        indent, kind, rest = match.groups()
        count = _CHILDREN.search(rest)
        node = Node(kind, (rest[: count.start()] if count else rest).strip(), len(indent),
                    int(count.group(1)) if count else 0)
        while stack and stack[-1].depth >= node.depth:
            stack.pop()
        if not stack:
            if root is not None or node.depth != 0:
                _refuse("the query's syntax tree has an unexpected shape")
            root = node
        elif node.depth != stack[-1].depth + 1:
            _refuse("the query's syntax tree has an unexpected shape")
        else:
            node.parent = stack[-1]
            stack[-1].children.append(node)
        stack.append(node)
    if root is None:
        _refuse("ClickHouse returned no syntax tree for the query")
    _check_counts(root)
    return root


def _check_counts(node: Node) -> None:
    pending = [node]
    while pending:
        current = pending.pop()
        if len(current.children) != current.declared:
            _refuse("the query's syntax tree has an unexpected shape")
        pending.extend(current.children)


def _walk(root: Node) -> list[Node]:
    out: list[Node] = []
    pending = [root]
    while pending:
        current = pending.pop()
        out.append(current)
        pending.extend(reversed(current.children))
    return out


def _name(node: Node) -> tuple[str | None, str]:
    match = _QUALIFIED.match(node.text)
    if match is None:
        _refuse(f"names of tables and functions must be plain identifiers, not {node.text[:60]!r}")
    return match.group(1), match.group(2)


def check_ast(
    ast_text: str, catalog: Catalog, scope: Scope = OPERATOR, functions: FunctionAllowList | None = None
) -> None:
    """Raises NotReadOnly with a one-line reason unless the query may run for `scope`."""
    allow = functions or allowed_functions()
    root = parse_ast(ast_text)
    if root.kind not in ("SelectWithUnionQuery", "DescribeQuery"):
        word = _STATEMENT_WORDS.get(root.kind, root.kind)
        _refuse(f"only SELECT and DESCRIBE queries are allowed, not {word}")
    if len(root.children) != 1:
        _refuse("INTO OUTFILE, FORMAT and SETTINGS clauses are not allowed")
    for node in _walk(root):
        if node.kind == "Set":
            _refuse("SETTINGS clauses are not allowed: the query runs with the server's limits")
        if node.kind == "QueryParameter":
            _refuse("query parameters are not supported: write the values into the query")
        if node.kind == "ColumnsApplyTransformer":
            _refuse("* APPLY(...) is not allowed: name the functions you call")
        if node.kind not in _NODE_KINDS:
            _refuse(f"unsupported construct in the query: {node.kind}")
        if node.kind == "TableIdentifier":
            _check_table(node, catalog, scope)
        elif node.kind == "Function":
            _check_function(node, catalog, scope, allow)


def _check_table(node: Node, catalog: Catalog, scope: Scope) -> None:
    database, table = _name(node)
    if database == "system":
        if table not in HARMLESS_SYSTEM_TABLES:
            allowed = ", ".join(f"system.{t}" for t in sorted(HARMLESS_SYSTEM_TABLES))
            _refuse(f"system.{table} is not readable (system tables allowed: {allowed})")
        return
    if database is not None and database != catalog.database:
        _refuse(f"only the {catalog.database} database is readable, not {database}")
    if table not in catalog.readable:
        if database is None:
            return  # a CTE name, or an unknown table ClickHouse will name in its error
        _refuse(f"{database}.{table} is not a table of {catalog.database}")
    if scope.is_analyst and table in catalog.tables and table not in catalog.app_tables | SHARED_TABLES:
        _refuse(f"{table} is not readable with an analyst key")


def _check_function(node: Node, catalog: Catalog, scope: Scope, allow: FunctionAllowList) -> None:
    database, name = _name(node)
    if node.parent is not None and node.parent.kind == "TableExpression":
        if database not in (None, catalog.database) or name not in catalog.views:
            _refuse(f"table function {name}() is not allowed; only the views of {catalog.database} take "
                        "arguments")
        if scope.apps is not None:
            _check_view_app(node, name, scope.apps)
        return
    if database is not None or not allow.allows(name):
        _refuse(f"function {node.text.split(' ')[0]}() is not allowed")
    if name in _IN_FUNCTIONS:
        args = node.children[0].children if node.children else []
        if len(args) == 2 and args[1].kind == "Identifier":
            _refuse(f"IN {args[1].text.split(' ')[0]} is not allowed; write IN (SELECT ...)")


def _check_view_app(node: Node, view: str, apps: frozenset[str]) -> None:
    args = node.children[0].children if node.children else []
    for arg in args:
        pair = arg.children[0].children if arg.kind == "Function" and arg.text.startswith("equals") and \
            arg.children else []
        if len(pair) == 2 and pair[0].kind == "Identifier" and pair[0].text == "app":
            literal = pair[1]
            if literal.kind == "Literal" and literal.text.startswith("'") and literal.text.endswith("'") and \
                    literal.text[1:-1] in apps:
                return
            _refuse(f"{view}(): app must be one of this key's apps ({', '.join(sorted(apps))})")
    _refuse(f"{view}(): name the app, e.g. app = '{min(apps)}'")


def table_filters(catalog: Catalog, scope: Scope) -> str:
    """The additional_table_filters value: our catalogue only in system.tables/columns; an analyst's apps."""
    filters: dict[str, str] = {
        f"system.{t}": f"database = {sql_string(catalog.database)}" for t in SYSTEM_FILTERED
    }
    if scope.apps is not None:
        apps = ", ".join(sql_string(app) for app in sorted(scope.apps)) or "''"
        for table in sorted(catalog.app_tables):
            filters[f"{catalog.database}.{table}"] = f"app_id IN ({apps})"
    return "{" + ", ".join(f"{sql_string(k)}: {sql_string(v)}" for k, v in filters.items()) + "}"


MAX_QUERY_MEMORY_BYTES = 2_000_000_000


def read_only_settings(max_rows: int, timeout_s: int, filters: str | None = None) -> dict[str, int | str]:
    settings: dict[str, int | str] = {
        **READ_ONLY_SETTINGS_BASE,
        "max_execution_time": timeout_s,
        "max_result_rows": max_rows,
        "result_overflow_mode": "throw",
        # On the embedded store a query runs inside the processor: bounded so one analyst cannot starve inserts.
        "max_memory_usage": MAX_QUERY_MEMORY_BYTES,
    }
    if filters is not None:
        settings["additional_table_filters"] = filters
    return settings
