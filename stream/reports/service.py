"""Runs the report queries (read-only, bounded) and shapes their answers: the I/O shell of the reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream.readonly import read_only_settings
from stream.reports import population, population_sql, postbacks_sql, queries, shapes
from stream.reports.names import DATA_DRIVEN_MODELS, REPORT_NAMES
from stream.reports.params import ReportParamError, ReportParams

Report = Callable[["ReportService", ReportParams], dict[str, Any]]


class ReportService:
    def __init__(self, client: Any, max_rows: int, timeout_s: int) -> None:
        self._client = client
        self._settings = read_only_settings(max_rows, timeout_s)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        result = self._client.query(sql, settings=self._settings)
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def models(self, app: str) -> list[str]:
        return shapes.order_models(row["model"] for row in self.rows(queries.models_sql(app)))

    def currency(self, app: str) -> str:
        row = self.rows(queries.currency_sql(app))[0]
        return str(row["spend"] or row["revenue"] or "")

    def check_model(self, p: ReportParams) -> None:
        """A misspelt model would give a report of zeros that looks real; an app without credits yet is fine."""
        if p.model in DATA_DRIVEN_MODELS:
            msg = f"{p.model} is a population model: only the channels report has it (it has no per-day figures)"
            raise ReportParamError(msg)
        models = self.models(p.app)
        if models and p.model not in models:
            msg = f"model {p.model!r} has no credits for app {p.app!r}; models: {', '.join(models)}"
            raise ReportParamError(msg)

    def meta(self, p: ReportParams) -> dict[str, Any]:
        days = self.rows(queries.data_days_sql(p.app))[0]
        has_events = days["events"] > 0
        return {
            "app": p.app,
            "models": self.models(p.app),
            "data_driven_models": list(DATA_DRIVEN_MODELS),
            "currency": self.currency(p.app),
            "date_from": p.date_from.isoformat(),
            "date_to": p.date_to.isoformat(),
            "first_day": days["first_day"].isoformat() if has_events else None,
            "last_day": days["last_day"].isoformat() if has_events else None,
        }

    def channels(self, p: ReportParams) -> dict[str, Any]:
        if p.model in DATA_DRIVEN_MODELS:
            return self.population_channels(p)
        self.check_model(p)
        dims = queries.LEVEL_COLUMNS[p.level]
        rows, totals = shapes.channel_rows(self.rows(queries.channels_sql(p)), dims)
        return {
            **_header(p),
            "model": p.model, "level": p.level, "acquisition": p.acquisition, "allocation": p.allocation,
            "currency": self.currency(p.app), "rows": rows, "totals": totals,
        }

    def population_channels(self, p: ReportParams) -> dict[str, Any]:
        """Markov or Shapley credits per channel over the current paths of `conversion_types` (population.py)."""
        if p.level != "channel":
            msg = f"{p.model} credits channels: use level=channel (got {p.level})"
            raise ReportParamError(msg)
        result = population.population_credits(
            p.model, self.rows(population_sql.converting_paths_sql(p)), self.rows(population_sql.open_paths_sql(p)),
            p.acquisition,
        )
        spend = {r["channel"]: float(r["spend"] or 0) for r in self.rows(population_sql.channel_spend_sql(p))}
        types = {r["channel"]: str(r["channel_type"]) for r in self.rows(population_sql.channel_types_sql(p))}
        rows, totals = shapes.channel_rows(population.channel_rows(result, spend, types), ("channel_type", "channel"))
        return {
            **_header(p),
            "model": p.model, "level": p.level, "acquisition": p.acquisition, "allocation": p.allocation,
            "currency": self.currency(p.app), "rows": rows, "totals": totals,
            "population": shapes.population_summary(result, p.conversion_types),
        }

    def trend(self, p: ReportParams) -> dict[str, Any]:
        self.check_model(p)
        rows = shapes.trend_rows(self.rows(queries.trend_sql(p)), p.date_from, p.date_to)
        return {**_header(p), "model": p.model, "rows": rows}

    def funnel(self, p: ReportParams) -> dict[str, Any]:
        steps = queries.funnel_steps(p)
        rows = shapes.funnel_rows(self.rows(queries.funnel_query(p)))
        return {**_header(p), "steps": steps, "window_hours": p.window_hours, "rows": rows}

    def retention(self, p: ReportParams) -> dict[str, Any]:
        self.check_model(p)
        rows = shapes.retention_rows(self.rows(queries.retention_sql(p)))
        return {**_header(p), "model": p.model, "grain": p.grain, "acquisition": p.acquisition, "rows": rows}

    def paths(self, p: ReportParams) -> dict[str, Any]:
        return {
            **_header(p),
            "conversion_types": list(p.conversion_types),
            "conversion_paths": shapes.plain_rows(self.rows(queries.conversion_paths_sql(p))),
            "behaviour_paths": shapes.plain_rows(self.rows(queries.behaviour_paths_sql(p))),
            "exit_points": shapes.plain_rows(self.rows(queries.exit_points_sql(p))),
        }

    def rfm(self, p: ReportParams) -> dict[str, Any]:
        return {
            **_header(p),
            "segments": shapes.plain_rows(self.rows(queries.rfm_segments_sql(p))),
            "layers": shapes.plain_rows(self.rows(queries.layers_sql(p))),
        }

    def health(self, p: ReportParams) -> dict[str, Any]:
        return {**_header(p), "rows": shapes.plain_rows(self.rows(queries.health_sql(p)))}

    def postbacks(self, p: ReportParams) -> dict[str, Any]:
        """Conversion postbacks (docs/postbacks.md): status counts, latency, last errors, re-attributed ones."""
        return {
            **_header(p),
            "statuses": shapes.plain_rows(self.rows(postbacks_sql.status_counts_sql(p))),
            "latency": shapes.plain_rows(self.rows(postbacks_sql.latency_sql(p))),
            "last_errors": shapes.plain_rows(self.rows(postbacks_sql.last_errors_sql(p))),
            "reattributed": shapes.plain_rows(self.rows(postbacks_sql.reattributed_sql(p))),
        }

    def shares(self, p: ReportParams) -> dict[str, Any]:
        return {
            **_header(p),
            "depths": shapes.plain_rows(self.rows(queries.share_depths_sql(p))),
            "top_sharers": shapes.plain_rows(self.rows(queries.top_sharers_sql(p))),
        }


def _header(p: ReportParams) -> dict[str, Any]:
    return {"app": p.app, "date_from": p.date_from.isoformat(), "date_to": p.date_to.isoformat()}


REPORTS: dict[str, Report] = {name: getattr(ReportService, name) for name in REPORT_NAMES}
