"""CSV cells that a spreadsheet shows as text: launch queries, channel and campaign names come from outside."""

from __future__ import annotations

from typing import Any

# What Excel, LibreOffice and Google Sheets read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A string that a spreadsheet would evaluate gets a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
