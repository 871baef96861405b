"""`touchstream sql --format csv`: strings a spreadsheet would evaluate are written as text; numbers as numbers."""

from __future__ import annotations

from touchstream.sqlclient import render


def test_formula_like_strings_are_text_and_negative_numbers_stay_numbers() -> None:
    result = {
        "columns": ["query", "revenue"],
        "rows": [["=cmd|' /C calc'!A0", -5], ["+1", 2.5], ["@A1", None], ["-x", 0], ["plain", 1]],
    }
    assert render(result, "csv").splitlines() == [
        "query,revenue", "'=cmd|' /C calc'!A0,-5", "'+1,2.5", "'@A1,NULL", "'-x,0", "plain,1",
    ]
