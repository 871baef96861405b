"""Literals for SQL built from request values. Every value that reaches a report query goes through here.

The report queries call parameterized views (`v(app='x', date_from='2026-11-01')`), whose arguments must be
literals; clickhouse-connect cannot bind them, so they are quoted here after the caller has validated them.
"""

from __future__ import annotations

from datetime import date

_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"})


def quote(value: str) -> str:
    """A ClickHouse string literal for any Python string."""
    return "'" + value.translate(_ESCAPES) + "'"


def date_literal(value: date) -> str:
    return f"'{value.isoformat()}'"


def uint(value: int) -> str:
    if value < 0:
        msg = f"expected a non-negative integer, got {value}"
        raise ValueError(msg)
    return str(int(value))


def view_call(view: str, **arguments: str | int | date) -> str:
    """`view(name=literal, ...)` for a parameterized view; names come from code, values are quoted here."""
    parts = []
    for name, value in arguments.items():
        if isinstance(value, bool):
            msg = f"{name}: booleans are not view arguments"
            raise TypeError(msg)
        if isinstance(value, int):
            parts.append(f"{name}={uint(value)}")
        elif isinstance(value, date):
            parts.append(f"{name}={date_literal(value)}")
        else:
            parts.append(f"{name}={quote(value)}")
    return f"{view}({', '.join(parts)})"
