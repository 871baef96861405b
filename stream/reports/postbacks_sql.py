"""The SQL of the postbacks report (docs/postbacks.md, "The report"): pure, literals quoted by sqltext.

Counts by integration, day (of the decision) and latest status; latency per integration over the attempts that
reached the network; the last errors; intents whose conversion was re-attributed after the decision.
"""

from __future__ import annotations

from stream.reports.params import ReportParams
from stream.reports.sqltext import date_literal, quote, uint

ERROR_STATUSES = "('retriable', 'failed', 'dead', 'unknown')"
LAST_ERRORS = 20


def _current(p: ReportParams) -> str:
    return (f"FROM postbacks_current WHERE app_id = {quote(p.app)} AND toDate(decided_at) "
            f"BETWEEN {date_literal(p.date_from)} AND {date_literal(p.date_to)}")


def _attempts(p: ReportParams) -> str:
    return (f"FROM postback_attempts WHERE app_id = {quote(p.app)} AND toDate(at) "
            f"BETWEEN {date_literal(p.date_from)} AND {date_literal(p.date_to)}")


def status_counts_sql(p: ReportParams) -> str:
    return (f"SELECT toDate(decided_at) AS day, integration_id, platform, status, count() AS intents, "
            f"countIf(reattributed = 1) AS reattributed, countIf(state = 'cancelled') AS withdrawn {_current(p)} "
            "GROUP BY day, integration_id, platform, status ORDER BY day, integration_id, status")


def latency_sql(p: ReportParams) -> str:
    # Attempts with an outcome (not `sending`, not the rows written without sending): timeouts included.
    return (f"SELECT integration_id, platform, count() AS attempts, round(quantile(0.5)(latency_ms), 1) AS p50_ms, "
            f"round(quantile(0.95)(latency_ms), 1) AS p95_ms {_attempts(p)} "
            "AND status IN ('success', 'retriable', 'failed') AND latency_ms > 0 "
            "GROUP BY integration_id, platform ORDER BY integration_id")


def last_errors_sql(p: ReportParams) -> str:
    return (f"SELECT at, integration_id, intent_id, status, http_status, code, message {_attempts(p)} "
            f"AND status IN {ERROR_STATUSES} ORDER BY at DESC, intent_id LIMIT {uint(LAST_ERRORS)}")


def reattributed_sql(p: ReportParams) -> str:
    """Sent (or sending) for a conversion that later went to another channel: the platform keeps counting it."""
    return (f"SELECT intent_id, integration_id, conversion_id, action_type, status, decided_at {_current(p)} "
            f"AND reattributed = 1 ORDER BY decided_at, intent_id LIMIT {uint(LAST_ERRORS)}")
