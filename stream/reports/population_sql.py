"""The SQL the data-driven models read (see `population`): the current paths of an app, capped.

Every query carries, on each row, window totals over all paths before the LIMIT, so the report can say exactly
how much the caps left out.
"""

from __future__ import annotations

from stream.reports.params import ReportParams
from stream.reports.population import MAX_PATH_TOUCHES, MAX_PATHS
from stream.reports.sqltext import date_literal, quote, uint, view_call


def _types(p: ReportParams) -> str:
    return ", ".join(quote(t) for t in p.conversion_types)


def _days(column: str, p: ReportParams) -> str:
    return f"toDate({column}) BETWEEN {date_literal(p.date_from)} AND {date_literal(p.date_to)}"


def converting_paths_sql(p: ReportParams) -> str:
    """Distinct converting paths (last touches kept) per conversion type, the most frequent first."""
    paths = view_call("conversion_paths", app=p.app, date_from=p.date_from, date_to=p.date_to)
    return (
        "SELECT path, conversion_type, conversions, revenue, refunds, count() OVER () AS distinct_paths,"
        " sum(conversions) OVER () AS all_conversions, sum(revenue) OVER () AS all_revenue FROM ("
        f" SELECT arraySlice(path, -{uint(MAX_PATH_TOUCHES)}) AS path, conversion_type,"
        " toUInt64(sum(conversions)) AS conversions, sum(revenue) AS revenue, sum(refunds) AS refunds"
        f" FROM {paths} WHERE conversion_type IN ({_types(p)}) GROUP BY path, conversion_type)"
        " ORDER BY conversions DESC, arrayStringConcat(path, '>'), conversion_type"
        f" LIMIT {uint(MAX_PATHS)}"
    )


def open_paths_sql(p: ReportParams) -> str:
    """Distinct non-converting paths: each person's touches in the range after their last modelled conversion
    in the range. The LEFT JOIN leaves `last_conversion` at its type's default (1970-01-01) for a person without
    one, so all their touches count."""
    app = quote(p.app)
    last = (
        "SELECT user_key, max(conversion_time) AS last_conversion FROM conversions_current"
        f" WHERE app_id = {app} AND conversion_type IN ({_types(p)}) AND {_days('conversion_time', p)}"
        " GROUP BY user_key"
    )
    per_person = (
        "SELECT t.user_key AS user_key, arraySlice(arrayMap(x -> x.3,"
        " arraySort(groupArray((t.touch_time, t.touchpoint_id, toString(t.channel))))),"
        f" -{uint(MAX_PATH_TOUCHES)}) AS path"
        f" FROM touchpoints_current AS t LEFT JOIN ({last}) AS c ON c.user_key = t.user_key"
        f" WHERE t.app_id = {app} AND {_days('t.touch_time', p)} AND t.touch_time > c.last_conversion"
        " GROUP BY t.user_key"
    )
    return (
        "SELECT path, journeys, count() OVER () AS distinct_paths, sum(journeys) OVER () AS all_journeys FROM ("
        f" SELECT path, count() AS journeys FROM ({per_person}) GROUP BY path)"
        f" ORDER BY journeys DESC, arrayStringConcat(path, '>') LIMIT {uint(MAX_PATHS)}"
    )


def channel_spend_sql(p: ReportParams) -> str:
    return (
        "SELECT toString(channel) AS channel, toFloat64(sum(spend_reporting)) AS spend FROM ad_spend_current"
        f" WHERE app_id = {quote(p.app)} AND date BETWEEN {date_literal(p.date_from)} AND {date_literal(p.date_to)}"
        " GROUP BY channel"
    )


def channel_types_sql(p: ReportParams) -> str:
    # As channel_performance: the type credits carry in the range, else the taxonomy catalog's.
    return (
        "SELECT channel, if(anyIf(credited, credited != '') != '', anyIf(credited, credited != ''),"
        " anyIf(catalog, catalog != '')) AS channel_type FROM ("
        " SELECT toString(channel) AS channel, toString(channel_type) AS credited, '' AS catalog"
        f" FROM attribution_credits_current WHERE app_id = {quote(p.app)} AND model = 'linear'"
        f" AND {_days('conversion_time', p)}"
        " UNION ALL SELECT channel, '' AS credited, toString(argMax(channel_type, taxonomy_version)) AS catalog"
        " FROM channel_catalog GROUP BY channel) GROUP BY channel"
    )
