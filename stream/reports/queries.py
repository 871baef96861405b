"""The SQL of each report: pure functions from validated parameters to query text.

Reports read the analytics views (schemas/views/, documented in docs/queries.md) with literal arguments;
the figures are computed there, so an analyst who runs the cookbook query gets what the report shows.
"""

from __future__ import annotations

from datetime import date

from stream.reports.funnel_sql import funnel_sql, parse_steps
from stream.reports.params import LIFECYCLE_STEPS, ReportParamError, ReportParams
from stream.reports.sqltext import quote, view_call

LEVEL_COLUMNS = {
    "channel_type": ("channel_type",),
    "channel": ("channel_type", "channel"),
    "campaign": ("channel_type", "channel", "campaign"),
    "creative": ("channel_type", "channel", "campaign", "creative"),
}
BEHAVIOUR_PATH_STEPS = 6
# The layers of the `user_layers` view, in its order (schemas/views/15_user_layer_counts.sql); a unit test
# holds the view to this list.
USER_LAYERS = ("new", "active", "dormant", "churned")


def _range(p: ReportParams) -> dict[str, str | int | date]:
    return {"app": p.app, "date_from": p.date_from, "date_to": p.date_to}


def _performance(p: ReportParams) -> str:
    return view_call(
        "channel_performance", **_range(p), model=p.model, acquisition=p.acquisition, allocation=p.allocation
    )


def models_sql(app: str) -> str:
    # Tombstones carry no model; they are not one.
    return f"SELECT DISTINCT model FROM attribution_credits WHERE app_id = {quote(app)} AND deleted = 0 AND model != ''"


def currency_sql(app: str) -> str:
    # The reporting currency spend was converted to; without spend, the currency revenue was recorded in.
    return (
        f"SELECT (SELECT argMax(reporting_currency, received_at) FROM ad_spend WHERE app_id = {quote(app)}) AS spend,"
        f" (SELECT any(currency) FROM conversions WHERE app_id = {quote(app)} AND currency != '') AS revenue"
    )


def data_days_sql(app: str) -> str:
    return (
        "SELECT count() AS events, toDate(min(event_time)) AS first_day, toDate(max(event_time)) AS last_day "
        f"FROM events WHERE app_id = {quote(app)}"
    )


def channels_sql(p: ReportParams) -> str:
    dims = ", ".join(LEVEL_COLUMNS[p.level])
    return (
        f"SELECT {dims}, sum(acquisitions) AS acquisitions, sum(conversions) AS conversions, sum(orders) AS orders,"
        " sum(gross_revenue) AS gross_revenue, sum(refunds) AS refunds,"
        f" sum(revenue) AS revenue, sum(spend) AS spend FROM {_performance(p)}"
        f" GROUP BY {dims} ORDER BY spend DESC, revenue DESC, {dims}"
    )


def trend_sql(p: ReportParams) -> str:
    return (
        "SELECT day, sum(spend) AS spend, sum(revenue) AS revenue, sum(acquisitions) AS acquisitions,"
        f" sum(conversions) AS conversions FROM {_performance(p)} GROUP BY day ORDER BY day"
    )


def funnel_steps(p: ReportParams) -> list[str]:
    """The step labels as the report shows them; a bad step list is a ReportParamError."""
    try:
        return [step.label for step in parse_steps(p.steps)]
    except ValueError as exc:
        msg = f"steps: {exc}"
        raise ReportParamError(msg) from None


def funnel_query(p: ReportParams) -> str:
    window_s = p.window_hours * 3600
    columns = "channel, step_index, step, users, step_conversion, overall_conversion, drop_off"
    steps = parse_steps(p.steps)
    if steps == parse_steps(LIFECYCLE_STEPS):
        return f"SELECT {columns} FROM {view_call('lifecycle_funnel', **_range(p), window_s=window_s)}"
    return f"SELECT {columns} FROM ({funnel_sql(steps, p.app, p.date_from, p.date_to, window_s)})"


def retention_sql(p: ReportParams) -> str:
    view = view_call("retention", **_range(p), model=p.model, acquisition=p.acquisition, grain=p.grain)
    return f"SELECT cohort, channel, users, d1_rate, d7_rate, d30_rate FROM {view} ORDER BY cohort, channel"


def conversion_paths_sql(p: ReportParams) -> str:
    types = ", ".join(quote(t) for t in p.conversion_types)
    return (
        "SELECT path, sum(conversions) AS conversions, sum(revenue) AS revenue"
        f" FROM {view_call('conversion_paths', **_range(p))} WHERE conversion_type IN ({types})"
        f" GROUP BY path ORDER BY conversions DESC, arrayStringConcat(path, ' > ') LIMIT {p.limit}"
    )


def behaviour_paths_sql(p: ReportParams) -> str:
    view = view_call("behaviour_paths", **_range(p), max_steps=BEHAVIOUR_PATH_STEPS)
    return f"SELECT path, users FROM {view} ORDER BY users DESC, path_text LIMIT {p.limit}"


def exit_points_sql(p: ReportParams) -> str:
    return (
        f"SELECT channel, step, users, share FROM {view_call('exit_points', **_range(p))}"
        f" ORDER BY channel, users DESC, step LIMIT {p.limit} BY channel"
    )


def rfm_segments_sql(p: ReportParams) -> str:
    return (
        "SELECT segment, users, revenue, avg_recency, avg_frequency, avg_monetary"
        f" FROM {view_call('rfm_segments', **_range(p))} ORDER BY users DESC, segment"
    )


def layers_sql(p: ReportParams) -> str:
    view = view_call("user_layer_counts", app=p.app, as_of=p.date_to)
    layers = ", ".join(quote(layer) for layer in USER_LAYERS)
    return f"SELECT layer, channel, users FROM {view} ORDER BY channel != 'all', channel, indexOf([{layers}], layer)"


def share_depths_sql(p: ReportParams) -> str:
    return f"SELECT depth, users FROM {view_call('share_depths', **_range(p))} ORDER BY depth"


def top_sharers_sql(p: ReportParams) -> str:
    return (
        "SELECT sharer_key, users_brought, converted_users, revenue"
        f" FROM {view_call('top_sharers', **_range(p))}"
        f" ORDER BY users_brought DESC, revenue DESC, sharer_key LIMIT {p.limit}"
    )


# The columns of the `attribution_health` view (schemas/views/26_attribution_health.sql), in its order; an
# integration test holds them to it.
HEALTH_COLUMNS = (
    "day", "events", "clock_corrected", "clock_corrected_share", "clock_clamped", "clock_clamped_share",
    "late_events", "late_share", "duplicates_absorbed", "ad_clicks", "unmatched_clicks", "click_visits",
    "visits_without_click", "shared_click_visits", "reused_click_ids", "conversions", "direct_conversions",
    "direct_share",
)


def health_sql(p: ReportParams) -> str:
    return f"SELECT {', '.join(HEALTH_COLUMNS)} FROM {view_call('attribution_health', **_range(p))} ORDER BY day"
