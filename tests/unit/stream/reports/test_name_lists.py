"""Names that must also be written in SQL, JavaScript or the command line, held to their one Python source.

SQL views and the dashboard's plain JavaScript cannot import the Python lists, so each list they spell out is
read from the file and compared with the source it copies.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from schemas.events import CONVERSION_TYPES, LIFECYCLE_TYPES, PURCHASE_TYPES
from stream.attribution.models import STANDARD_KINDS
from stream.reports.names import ACQUISITIONS, REPORT_NAMES
from stream.reports.params import parse_params
from stream.reports.queries import USER_LAYERS
from stream.reports.service import REPORTS, ReportService
from touchstream.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[4]
DDL = sorted((ROOT / "schemas" / "ddl").glob("*.sql")) + sorted((ROOT / "schemas" / "views").glob("*.sql"))
STATIC = ROOT / "stream" / "dashboard" / "static"
# Two or more quoted names separated by commas: the body of an IN (...) list or of an array literal.
QUOTED_LIST = re.compile(r"'[a-z_]+'(?:\s*,\s*'[a-z_]+')+")


def sql_without_comments(path: Path) -> str:
    return "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                     if not line.lstrip().startswith("--"))


def quoted_lists(text: str) -> list[tuple[str, ...]]:
    return [tuple(re.findall(r"'([a-z_]+)'", found)) for found in QUOTED_LIST.findall(text)]


def test_quoted_list_reader_finds_in_lists_and_arrays() -> None:
    # The reader itself, on a hand-written line: without it the DDL checks below could pass on nothing.
    text = "WHERE t IN ('convert', 'repurchase') AND x = 'a' ORDER BY indexOf(['new', 'old'], layer)"
    assert quoted_lists(text) == [("convert", "repurchase"), ("new", "old")]


def test_every_conversion_type_list_in_the_ddl_is_a_python_list() -> None:
    """A list of conversion types in a view copies PURCHASE_TYPES, ACQUISITIONS or the lifecycle steps."""
    known = {
        PURCHASE_TYPES: "PURCHASE_TYPES",
        ACQUISITIONS: "ACQUISITIONS",
        LIFECYCLE_TYPES: "LIFECYCLE_TYPES (the funnel's step labels)",
        tuple(sorted(LIFECYCLE_TYPES)): "LIFECYCLE_TYPES sorted (the funnel's event filter)",
    }
    seen: dict[str, list[tuple[str, ...]]] = {}
    for path in DDL:
        for names in quoted_lists(sql_without_comments(path)):
            if set(names) & set(CONVERSION_TYPES):
                assert names in known, f"{path.name}: {names} copies none of the Python lists"
                seen.setdefault(path.name, []).append(names)
    # Where the lists are today: a view that stops using one is fine, but then this test should say so.
    assert seen == {
        "10_person_acquisition_channel.sql": [ACQUISITIONS],
        "12_user_rfm.sql": [PURCHASE_TYPES],
        "18_top_sharers.sql": [PURCHASE_TYPES],
        "19_channel_performance.sql": [PURCHASE_TYPES],
        "20_order_history.sql": [PURCHASE_TYPES, PURCHASE_TYPES],
        "22_funnel.sql": [PURCHASE_TYPES],
        "23_lifecycle_funnel.sql": [LIFECYCLE_TYPES],
        "24_exit_points.sql": [PURCHASE_TYPES],
        "25_behaviour_paths.sql": [PURCHASE_TYPES],
    }


def test_acquisitions_are_conversion_types() -> None:
    assert ACQUISITIONS == ("register", "convert")
    assert set(ACQUISITIONS) <= set(CONVERSION_TYPES)


def test_models_named_in_the_ddl_are_standard_models() -> None:
    named = {name for path in DDL for name in re.findall(r"model = '([a-z_]+)'", sql_without_comments(path))}
    assert named == {"linear", "first_touch"}  # paths read linear credits, RFM/layers label by first touch
    assert named <= set(STANDARD_KINDS)


def test_user_layers_are_the_views_layers_in_its_order() -> None:
    text = sql_without_comments(ROOT / "schemas" / "views" / "15_user_layer_counts.sql")
    orders = re.findall(r"indexOf\(\[([^\]]*)\], layer\)", text)
    assert [tuple(re.findall(r"'([a-z_]+)'", found)) for found in orders] == [USER_LAYERS]
    assert USER_LAYERS == ("new", "active", "dormant", "churned")


def test_the_report_api_serves_exactly_the_named_reports() -> None:
    assert list(REPORTS) == list(REPORT_NAMES)
    assert all(REPORTS[name] is getattr(ReportService, name) for name in REPORT_NAMES)
    assert set(REPORT_NAMES) == {"meta", "channels", "trend", "funnel", "retention", "paths", "rfm", "shares",
                                 "health", "postbacks"}


def test_the_dashboard_asks_only_for_reports_the_api_serves() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    asked = set(re.findall(r'fetchReport\("([a-z_]+)"', script))
    assert asked == {"meta", "channels", "trend", "funnel", "retention", "paths", "health", "postbacks"}
    assert asked <= set(REPORT_NAMES)


def test_the_dashboards_fallback_model_is_the_reports_default_and_a_standard_model() -> None:
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    fallback = re.findall(r'meta\.models : \["([a-z_]+)"\]', script)
    assert fallback == ["linear"]
    assert fallback[0] == parse_params({"app": "shop"}, date(2026, 11, 30)).model == "linear"
    assert fallback[0] in STANDARD_KINDS


def test_the_command_line_offers_exactly_the_named_reports(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli_main(["report", "no_such_report"])
    assert exited.value.code == 2
    choices = re.search(r"invalid choice: 'no_such_report' \(choose from (.*)\)", capsys.readouterr().err)
    assert choices is not None
    assert tuple(re.findall(r"'([a-z_]+)'", choices.group(1))) == REPORT_NAMES
