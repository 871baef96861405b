"""The custom-funnel SQL builder (stream/reports/funnel_sql.py): step parsing, literal quoting of the call of
the `funnel` view, and that the `lifecycle_funnel` view in the DDL is exactly the builder's call for the
lifecycle steps. What the SQL counts is checked on the real engine in tests/integration/test_funnel_path_views.py
and test_funnel_order_history.py."""

from __future__ import annotations

import re
from datetime import date

import pytest

from stream.reports.funnel_sql import (
    LIFECYCLE_STEPS,
    MAX_STEPS,
    FunnelStep,
    funnel_sql,
    lifecycle_view_body,
    parse_steps,
)
from stream.store import load_views

VIEW_HEAD = re.compile(r"CREATE OR REPLACE VIEW (\w+) AS\n")
FUNNEL_AND_PATH_VIEWS = (
    "conversion_paths", "order_history", "first_touch_channels", "funnel", "lifecycle_funnel", "exit_points",
    "behaviour_paths",
)
NOV_1 = date(2026, 11, 1)
NOV_30 = date(2026, 11, 30)


def view_statements() -> dict[str, str]:
    """Each shipped view's statement as the runner sees it (schemas/views/, comment lines dropped)."""
    statements = {}
    for view in load_views():
        [statement] = view.statements
        match = VIEW_HEAD.match(statement)
        assert match, statement[:80]
        assert match[1] not in statements, f"{match[1]} is created twice"
        statements[match[1]] = statement
    return statements


def view_statement(name: str) -> str:
    return view_statements()[name]


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
    types = "exposure, click, enter, register, activate, convert, repurchase, refund, page_view, share, identify"
    assert f"{types}, custom" in str(raised.value)


def test_step_labels_are_quoted_in_the_call() -> None:
    sql = funnel_sql(parse_steps("enter,custom:add_to_cart,page_view:/p'a\\th"), "shop", NOV_1, NOV_30, 60)
    # A path is free text: a quote or a backslash in it stays inside the literal.
    assert "steps=['enter', 'custom:add_to_cart', 'page_view:/p\\'a\\\\th']" in sql


def test_funnel_sql_quotes_app_dates_and_window() -> None:
    sql = funnel_sql(parse_steps("page_view:/a'b,custom:add_to_cart"), "sh'op", NOV_1, NOV_30, 1800)
    assert sql == (
        "SELECT * FROM funnel(\n"
        "    app='sh\\'op', date_from='2026-11-01', date_to='2026-11-30', window_s=1800,\n"
        "    steps=['page_view:/a\\'b', 'custom:add_to_cart']\n"
        ")"
    )
    assert "sh'op" not in sql.replace("sh\\'op", "")  # never unescaped
    assert "{" not in sql and ";" not in sql  # no view parameter left over, one statement


def test_funnel_sql_passes_each_step_once_in_order() -> None:
    sql = funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_30, 60)
    listed = re.search(r"steps=\[(.*)\]", sql)
    assert listed is not None
    assert listed[1] == "'exposure', 'click', 'enter', 'register', 'activate', 'convert', 'repurchase'"


def test_funnel_view_has_a_condition_for_each_possible_step() -> None:
    # windowFunnel takes a fixed list of conditions: one per step up to MAX_STEPS, no more (a 13th would never
    # be reached by a valid funnel, a missing 12th would cap a 12-step funnel at 11).
    body = view_statement("funnel")
    assert re.findall(r"matched\[(\d+)\] = 1", body) == [str(k) for k in range(1, MAX_STEPS + 1)]
    assert f"length({{steps:Array(String)}}) > {MAX_STEPS}" in body


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
    assert "window_s=0," in funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_1, 0)
    assert "window_s=4294967295," in funnel_sql(LIFECYCLE_STEPS, "shop", NOV_1, NOV_1, 2**32 - 1)


def test_lifecycle_view_in_the_ddl_is_the_builders_query() -> None:
    assert view_statement("lifecycle_funnel") == "CREATE OR REPLACE VIEW lifecycle_funnel AS\n" + lifecycle_view_body()


def test_lifecycle_view_body_uses_the_view_parameters() -> None:
    body = lifecycle_view_body()
    assert set(re.findall(r"\{[a-z_]+:[A-Za-z0-9]+\}", body)) == {
        "{app:String}", "{date_from:Date}", "{date_to:Date}", "{window_s:UInt32}",
    }
    # The DDL runner splits on ';' and drops lines starting with '--'.
    assert ";" not in body
    assert not any(line.lstrip().startswith("--") for line in body.splitlines())


def test_ddl_declares_each_view_once_with_its_parameters() -> None:
    statements = view_statements()
    heads = {
        name: set(re.findall(r"\{([a-z_]+):([A-Za-z0-9()]+)\}", statements[name])) for name in FUNNEL_AND_PATH_VIEWS
    }
    dates = {("app", "String"), ("date_from", "Date"), ("date_to", "Date")}
    assert heads == {
        "conversion_paths": dates,
        "order_history": {("app", "String")},
        "first_touch_channels": dates,
        "funnel": dates | {("window_s", "UInt32"), ("steps", "Array(String)")},
        "lifecycle_funnel": dates | {("window_s", "UInt32")},
        "exit_points": dates,
        "behaviour_paths": dates | {("max_steps", "UInt8")},
    }