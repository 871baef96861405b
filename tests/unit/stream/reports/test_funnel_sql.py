"""The custom-funnel SQL builder (stream/reports/funnel_sql.py): step parsing, literal quoting, and that the
`lifecycle_funnel` view in the DDL is exactly the builder's query for the lifecycle steps. What the SQL counts
is checked on the real engine in tests/integration/test_funnel_path_views.py."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from stream.reports.funnel_sql import (
    LIFECYCLE_STEPS,
    FunnelStep,
    funnel_sql,
    lifecycle_view_body,
    parse_steps,
)

DDL = Path(__file__).resolve().parents[4] / "schemas" / "ddl" / "005_funnels_paths.sql"
NOV_1 = date(2026, 11, 1)
NOV_30 = date(2026, 11, 30)


def ddl_statements() -> list[str]:
    """The statements as the migration runner sees them: comment lines dropped, split on ';'."""
    text = DDL.read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";") if s.strip()]


def test_parse_steps_reads_types_and_names() -> None:
    steps = parse_steps(" exposure,click , page_view:/pages/cart,custom:add_to_cart,custom:ns:event ")
    assert steps == (
        FunnelStep("exposure"),
        FunnelStep("click"),
        FunnelStep("page_view", "/pages/cart"),
        FunnelStep("custom", "add_to_cart"),
        FunnelStep("custom", "ns:event"),  # only the first ':' separates type and name
    )
    assert [s.label for s in steps] == [
        "exposure", "click", "page_view:/pages/cart", "custom:add_to_cart", "custom:ns:event",
    ]


def test_parse_steps_accepts_2_to_12_steps_and_repeats() -> None:
    assert len(parse_steps(",".join(["page_view"] * 12))) == 12
    assert parse_steps("share,share") == (FunnelStep("share"), FunnelStep("share"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no funnel steps given"),
        ("   ", "no funnel steps given"),
        ("exposure", "2 to 12 steps, got 1"),
        (",".join(["click"] * 13), "2 to 12 steps, got 13"),
        ("exposure,,click", "step 2 is empty"),
        ("exposure,click,", "step 3 is empty"),
        ("exposure,purchase", "step 2: unknown event type 'purchase'"),
        ("Exposure,click", "step 1: unknown event type 'Exposure'"),
        ("exposure,click:banner", "step 2: 'click' steps take no name"),
        ("page_view:,click", r"step 1 \('page_view:'\) has a ':' but no name"),
        ("custom:1st,click", "step 1: custom event name '1st' is not valid"),
        ("custom:add to cart,click", "step 1: custom event name 'add to cart' is not valid"),
        ("custom:" + "a" * 65 + ",click", "step 1: custom event name"),
        ("page_view:/" + "p" * 512 + ",click", "step 1: page path is longer than 512"),
    ],
)
def test_parse_steps_rejects_bad_input(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_steps(text)


def test_unknown_type_error_lists_the_event_types() -> None:
    with pytest.raises(ValueError) as raised:
        parse_steps("exposure,retain")
    assert "exposure, click, enter, register, activate, convert, repurchase, page_view, share, identify, custom" in str(
        raised.value
    )


def test_step_conditions_quote_names() -> None:
    assert FunnelStep("enter").condition() == "type = 'enter'"
    assert FunnelStep("custom", "add_to_cart").condition() == "type = 'custom' AND name = 'add_to_cart'"
    # A path is free text: a quote or a backslash in it stays inside the literal.
    assert FunnelStep("page_view", "/p'a\\th").condition() == "type = 'page_view' AND path = '/p\\'a\\\\th'"


def test_funnel_sql_quotes_app_dates_and_window() -> None:
    sql = funnel_sql(parse_steps("page_view:/a'b,custom:add_to_cart"), "sh'op", NOV_1, NOV_30, 1800)
    assert "app_id = 'sh\\'op'" in sql
    assert "sh'op" not in sql.replace("sh\\'op", "")  # never unescaped
    assert "day BETWEEN toDate('2026-11-01') AND toDate('2026-11-30')" in sql
    assert "windowFunnel(1800 * 1000, 'strict_once')" in sql
    assert "toIntervalSecond(1800)" in sql
    assert "(type = 'page_view' AND path = '/a\\'b') AND day BETWEEN" in sql
    assert "['page_view:/a\\'b', 'custom:add_to_cart'][i] AS step" in sql
    assert "{" not in sql  # no view parameter left over
    assert sql.startswith("WITH") and ";" not in sql


def test_funnel_sql_has_one_count_per_step() -> None:
    sql = funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_30, 60)
    assert re.findall(r"countIf\(level >= (\d+)\)", sql) == ["1", "2", "3", "4", "5", "6", "7"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"steps": (FunnelStep("click"),)}, "2 to 12 steps, got 1"),
        ({"steps": tuple(FunnelStep("click") for _ in range(13))}, "2 to 12 steps, got 13"),
        ({"date_from": NOV_30, "date_to": NOV_1}, "date_from 2026-11-30 is after date_to 2026-11-01"),
        ({"window_s": -1}, "window_s must be a whole number of seconds from 0 to 4294967295"),
        ({"window_s": 2**32}, "window_s must be"),
        ({"window_s": True}, "window_s must be"),
    ],
)
def test_funnel_sql_rejects_bad_arguments(arguments: dict[str, object], message: str) -> None:
    call: dict[str, object] = {
        "steps": LIFECYCLE_STEPS, "app": "shop", "date_from": NOV_1, "date_to": NOV_30, "window_s": 60,
    }
    call.update(arguments)
    with pytest.raises(ValueError, match=message):
        funnel_sql(**call)  # type: ignore[arg-type]


def test_funnel_step_validates_when_built_directly() -> None:
    with pytest.raises(ValueError, match="unknown event type 'order'"):
        FunnelStep("order")
    with pytest.raises(ValueError, match="'enter' steps take no name"):
        FunnelStep("enter", "x")


def test_window_zero_and_the_largest_window_are_accepted() -> None:
    assert "windowFunnel(0 * 1000" in funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_1, 0)
    assert "windowFunnel(4294967295 * 1000" in funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_1, 2**32 - 1)


def test_lifecycle_view_in_the_ddl_is_the_builders_query() -> None:
    statements = [s for s in ddl_statements() if s.startswith("CREATE VIEW IF NOT EXISTS lifecycle_funnel ")]
    assert len(statements) == 1
    assert statements[0] == "CREATE VIEW IF NOT EXISTS lifecycle_funnel AS\n" + lifecycle_view_body()


def test_lifecycle_view_body_uses_the_view_parameters() -> None:
    body = lifecycle_view_body()
    assert set(re.findall(r"\{[a-z_]+:[A-Za-z0-9]+\}", body)) == {
        "{app:String}", "{date_from:Date}", "{date_to:Date}", "{window_s:UInt32}",
    }
    # The DDL runner splits on ';' and drops lines starting with '--'.
    assert ";" not in body
    assert not any(line.lstrip().startswith("--") for line in body.splitlines())


def test_ddl_declares_each_view_once_with_its_parameters() -> None:
    heads = {}
    for statement in ddl_statements():
        match = re.match(r"CREATE VIEW IF NOT EXISTS (\w+) AS", statement)
        assert match, statement[:80]
        heads[match.group(1)] = set(re.findall(r"\{([a-z_]+):([A-Za-z0-9]+)\}", statement))
    dates = {("app", "String"), ("date_from", "Date"), ("date_to", "Date")}
    assert heads == {
        "lifecycle_funnel": dates | {("window_s", "UInt32")},
        "conversion_paths": dates,
        "exit_points": dates,
        "behaviour_paths": dates | {("max_steps", "UInt8")},
    }
