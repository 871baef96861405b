"""The guard in front of analyst SQL: one read-only statement, run under ClickHouse's own read-only mode.

Two layers, because neither alone is enough: the statement must be a single SELECT-like query (checked
here, cheaply, to give a clear error), and it always runs with `readonly=1`, which makes ClickHouse itself
refuse writes, DDL, setting changes and table functions such as url(), file() and remote() (no way out to
other hosts or files), with execution time and result size capped.
"""

from __future__ import annotations

import re

READ_ONLY_SETTINGS_BASE = {"readonly": 1}
_ALLOWED_FIRST_WORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})
_LINE_COMMENT = re.compile(r"--[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")


class NotReadOnly(ValueError):
    """The statement is not one read-only query."""


def check_read_only(sql: str, max_chars: int = 100_000) -> str:
    """Returns the statement without a trailing ';', or raises NotReadOnly saying why."""
    if len(sql) > max_chars:
        msg = f"the query is longer than {max_chars} characters"
        raise NotReadOnly(msg)
    bare = _STRING.sub("''", _BLOCK_COMMENT.sub(" ", _LINE_COMMENT.sub(" ", sql))).strip()
    if not bare:
        msg = "the query is empty"
        raise NotReadOnly(msg)
    if ";" in bare.rstrip(";"):
        msg = "one statement at a time: the query contains ';'"
        raise NotReadOnly(msg)
    first = bare.split(None, 1)[0].upper()
    if first not in _ALLOWED_FIRST_WORDS:
        msg = f"only read-only queries are allowed (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), not {first}"
        raise NotReadOnly(msg)
    return sql.strip().rstrip(";").strip()


def read_only_settings(max_rows: int, timeout_s: int) -> dict[str, int | str]:
    return {
        **READ_ONLY_SETTINGS_BASE,
        "max_execution_time": timeout_s,
        "max_result_rows": max_rows,
        "result_overflow_mode": "throw",
    }
