"""The pure SQL guard (stream/readonly.py) on syntax trees as ClickHouse 26.9 prints them (`EXPLAIN AST`, TSV
rows), copied from the engine by hand, and the function allow-list's rules (stream/sql_functions.py)."""

from __future__ import annotations

import pytest

from stream.readonly import (
    OPERATOR,
    Catalog,
    NotReadOnly,
    Scope,
    check_ast,
    check_canonical,
    check_read_only,
    parse_ast,
    read_only_settings,
    sql_string,
    table_filters,
    unescape_tsv,
)
from stream.sql_functions import FunctionAllowList, FunctionRow, derive

CATALOG = Catalog(
    "touchstream",
    tables=frozenset({"events", "identities", "channel_catalog", "schema_migrations"}),
    views=frozenset({"events_people", "conversion_paths"}),
    app_tables=frozenset({"events", "identities"}),
)
FUNCTIONS = FunctionAllowList(
    scalar=frozenset({"lower", "equals", "tuple", "in"}), aggregate=frozenset({"count", "sum"})
)
SHOP = Scope(frozenset({"shop"}))


def tree(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def select(*expression: str, table: str | None = None) -> str:
    """SELECT <expression lines> [FROM <table lines>] as EXPLAIN AST prints it (depth of the expression: 4)."""
    body = [
        "SelectWithUnionQuery (children 1)",
        " ExpressionList (children 1)",
        f"  SelectQuery (children {2 if table else 1})",
        "   ExpressionList (children 1)",
        *expression,
    ]
    if table:
        body += [
            "   TablesInSelectQuery (children 1)",
            "    TablesInSelectQueryElement (children 1)",
            "     TableExpression (children 1)",
            table,
        ]
    return tree(*body)


def refused(ast: str, scope: Scope = OPERATOR) -> str:
    with pytest.raises(NotReadOnly) as info:
        check_ast(ast, CATALOG, scope, FUNCTIONS)
    return str(info.value)


FILE_CALL = ("    Function file (children 1)", "     ExpressionList (children 1)", "      Literal \\'data/apps.json\\'")


def test_a_plain_select_of_our_table_passes() -> None:
    check_ast(select("    Asterisk", table="      TableIdentifier events"), CATALOG, SHOP, FUNCTIONS)
    check_ast(select("    Asterisk", table="      TableIdentifier touchstream.events (alias e)"), CATALOG,
              OPERATOR, FUNCTIONS)


def test_functions_outside_the_allow_list_are_refused_whatever_their_case() -> None:
    assert refused(select(*FILE_CALL)) == "function file() is not allowed"
    shouting = ("    Function FiLe (children 1)", *FILE_CALL[1:])
    assert refused(select(*shouting)) == "function FiLe() is not allowed"
    check_ast(select("    Function LOWER (children 1)", "     ExpressionList (children 1)", "      Identifier a"),
              CATALOG, OPERATOR, FUNCTIONS)


def test_table_functions_are_refused_and_our_views_are_not() -> None:
    url = ("      Function url (children 1)", "       ExpressionList (children 1)", "        Literal \\'http://x\\'")
    ast = select("    Asterisk", table=url[0])
    ast = ast.replace(url[0] + "\n", "\n".join(url) + "\n")
    assert refused(ast) == "table function url() is not allowed; only the views of touchstream take arguments"
    view = "\n".join([
        "      Function conversion_paths (children 1)", "       ExpressionList (children 1)",
        "        Function equals (children 1)", "         ExpressionList (children 2)",
        "          Identifier app", "          Literal \\'{app}\\'",
    ])
    mine = select("    Asterisk", table="X").replace("X\n", view.format(app="shop") + "\n")
    check_ast(mine, CATALOG, SHOP, FUNCTIONS)
    theirs = select("    Asterisk", table="X").replace("X\n", view.format(app="rival") + "\n")
    check_ast(theirs, CATALOG, OPERATOR, FUNCTIONS)
    assert refused(theirs, SHOP) == "conversion_paths(): app must be one of this key's apps (shop)"


def test_system_tables_beyond_the_harmless_list_and_other_databases_are_refused() -> None:
    assert refused(select("    Asterisk", table="      TableIdentifier system.users")).startswith(
        "system.users is not readable (system tables allowed: system.columns, system.numbers")
    check_ast(select("    Asterisk", table="      TableIdentifier system.numbers (alias n)"), CATALOG, SHOP,
              FUNCTIONS)
    assert refused(select("    Asterisk", table="      TableIdentifier other.events")) == (
        "only the touchstream database is readable, not other")
    assert refused(select("    Asterisk", table="      TableIdentifier we ird")).startswith(
        "names of tables and functions must be plain identifiers")


def test_a_cte_name_passes_and_analysts_do_not_read_unscoped_tables() -> None:
    check_ast(select("    Asterisk", table="      TableIdentifier t"), CATALOG, SHOP, FUNCTIONS)
    check_ast(select("    Asterisk", table="      TableIdentifier channel_catalog"), CATALOG, SHOP, FUNCTIONS)
    ast = select("    Asterisk", table="      TableIdentifier schema_migrations")
    check_ast(ast, CATALOG, OPERATOR, FUNCTIONS)
    assert refused(ast, SHOP) == "schema_migrations is not readable with an analyst key"


def test_statements_and_clauses_other_than_a_bare_select_are_refused() -> None:
    assert refused(tree("Set")) == "only SELECT and DESCRIBE queries are allowed, not SET"
    assert refused(tree("ShowTables")) == "only SELECT and DESCRIBE queries are allowed, not SHOW"
    outfile = select("    Literal UInt64_1").rstrip("\n").replace("(children 1)", "(children 2)", 1) + \
        "\n Literal \\'x\\'\n"
    assert refused(outfile) == "INTO OUTFILE, FORMAT and SETTINGS clauses are not allowed"
    with_set = select("    Literal UInt64_1").replace("SelectQuery (children 1)", "SelectQuery (children 2)")
    settings = with_set + "   Set\n"
    assert refused(settings) == "SETTINGS clauses are not allowed: the query runs with the server's limits"
    apply = select("    Asterisk (children 1)", "     ColumnsTransformerList (children 1)",
                   "      ColumnsApplyTransformer")
    assert refused(apply) == "* APPLY(...) is not allowed: name the functions you call"


def test_in_a_table_name_is_refused() -> None:
    ast = select("    Function in (children 1)", "     ExpressionList (children 2)", "      Identifier x",
                 "      Identifier system.one")
    assert refused(ast) == "IN system.one is not allowed; write IN (SELECT ...)"


def test_a_tree_whose_shape_does_not_add_up_is_refused() -> None:
    # What a backquoted name holding a newline prints: a line that claims to be a node.
    injected = select("    Identifier a", "   Function file")
    assert refused(injected) == "the query's syntax tree has an unexpected shape"
    with pytest.raises(NotReadOnly, match="unexpected shape"):
        parse_ast(tree("SelectWithUnionQuery (children 1)", " ExpressionList", "Literal UInt64_1"))
    with pytest.raises(NotReadOnly, match="unexpected shape"):
        parse_ast(tree("SelectWithUnionQuery (children 1)", "   ExpressionList"))
    with pytest.raises(NotReadOnly, match="no syntax tree"):
        parse_ast("\n")


def test_the_canonical_text_betrays_names_with_line_breaks() -> None:
    check_canonical("SELECT 'a\\nb' AS `x y`, `it\\'s` FROM events")
    with pytest.raises(NotReadOnly, match="line breaks or control characters"):
        check_canonical("SELECT `a\\n   Function file` FROM events")
    with pytest.raises(NotReadOnly, match="line breaks or control characters"):
        check_canonical('SELECT "a\\rb"')
    with pytest.raises(NotReadOnly, match="line breaks or control characters"):
        check_canonical("SELECT 1\nSELECT 2")


def test_the_textual_pre_check() -> None:
    assert check_read_only("  SELECT 1;  ") == "SELECT 1"
    assert check_read_only("SELECT ';' -- ; \n") == "SELECT ';' --"
    for sql, reason in (("", "empty"), ("-- only a comment", "empty"), ("SELECT 1; SELECT 2", "one statement"),
                        ("SELECT 1\x00", "control characters"), ("SELECT " + "1" * 20, "longer than 10")):
        with pytest.raises(NotReadOnly, match=reason):
            check_read_only(sql, max_chars=10 if "1" * 20 in sql else 100_000)


def test_filters_name_every_app_table_and_the_catalogue() -> None:
    assert table_filters(CATALOG, OPERATOR) == (
        "{'system.tables': 'database = \\'touchstream\\'', 'system.columns': 'database = \\'touchstream\\''}")
    both = Scope(frozenset({"shop", "o'brien"}))
    assert table_filters(CATALOG, both) == (
        "{'system.tables': 'database = \\'touchstream\\'', 'system.columns': 'database = \\'touchstream\\'', "
        "'touchstream.events': 'app_id IN (\\'o\\\\\\'brien\\', \\'shop\\')', "
        "'touchstream.identities': 'app_id IN (\\'o\\\\\\'brien\\', \\'shop\\')'}")
    assert read_only_settings(10, 5, "{}") == {"readonly": 1, "max_execution_time": 5, "max_result_rows": 10,
                                               "result_overflow_mode": "throw", "max_memory_usage": 2_000_000_000,
                                               "additional_table_filters": "{}"}


def test_literal_and_tsv_escaping() -> None:
    assert sql_string("a'b\\c") == "'a\\'b\\\\c'"
    assert unescape_tsv("Literal \\'a\\\\nb\\'") == "Literal 'a\\nb'"


def test_the_allow_list_is_derived_from_categories_and_follows_aliases() -> None:
    rows = [
        FunctionRow("lower", False, "", "String", "System"),
        FunctionRow("LCASE", False, "lower", "", "System"),
        FunctionRow("file", False, "", "Other", "System"),
        FunctionRow("user", False, "currentUser", "", "System"),
        FunctionRow("currentUser", False, "", "Other", "System"),
        FunctionRow("toTypeName", False, "", "Other", "System"),
        FunctionRow("dictGet", False, "", "Dictionary", "System"),
        FunctionRow("sum", True, "", "Aggregate Functions", "System"),
        FunctionRow("flameGraph", True, "", "Aggregate Functions", "System"),
        FunctionRow("mine", False, "", "String", "SQLUserDefined"),
    ]
    allow = derive(rows)
    assert allow.scalar == {"lower", "lcase", "totypename"}
    assert allow.aggregate == {"sum"}
    assert allow.allows("sumIf") and allow.allows("sumStateIf") and allow.allows("SUM")
    assert not allow.allows("fileIf") and not allow.allows("If") and not allow.allows("user")
