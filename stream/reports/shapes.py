"""Query rows to the report API's JSON: rounding, ratios recomputed from sums, zero-filled days.

Ratios (CAC, ROAS, ROI) are never summed: every total is computed from the summed spend, revenue and
acquisitions, so a report's totals agree with its rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from stream.attribution.models import STANDARD_KINDS
from stream.reports.population import PopulationCredits

Row = Mapping[str, Any]
MONEY = ("gross_revenue", "refunds", "revenue", "spend", "cac", "avg_monetary")
# `revenue` is net of refunds (gross_revenue - refunds): ROAS and ROI are on it.
SUMMED = ("acquisitions", "conversions", "orders", "gross_revenue", "refunds", "revenue", "spend")


def number(value: Any, digits: int = 4) -> float | None:
    if value is None:
        return None
    result = round(float(value), digits)
    return 0.0 if result == 0 else result  # no "-0.0" in reports


def money(value: Any) -> float | None:
    return number(value, 2)


def ratios(acquisitions: float, revenue: float, spend: float) -> dict[str, float | None]:
    return {
        "cac": money(spend / acquisitions) if acquisitions > 0 else None,
        "roas": number(revenue / spend) if spend > 0 else None,
        "roi": number((revenue - spend) / spend) if spend > 0 else None,
    }


def order_models(models: Iterable[str]) -> list[str]:
    """The standard models in their usual order, then custom models alphabetically."""
    present = set(models)
    # Each standard kind is a model of its own name (stream.attribution.models.standard_models).
    return [m for m in STANDARD_KINDS if m in present] + sorted(present - set(STANDARD_KINDS))


def channel_rows(rows: Sequence[Row], dims: Sequence[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    out = []
    sums = dict.fromkeys(SUMMED, 0.0)
    for row in rows:
        values = {name: float(row.get(name) or 0) for name in SUMMED}
        for name in SUMMED:
            sums[name] += values[name]
        shaped: dict[str, Any] = {dim: row[dim] for dim in dims}
        shaped.update({name: money(v) if name in MONEY else number(v) for name, v in values.items()})
        shaped.update(ratios(values["acquisitions"], values["revenue"], values["spend"]))
        out.append(shaped)
    totals: dict[str, Any] = {name: money(v) if name in MONEY else number(v) for name, v in sums.items()}
    totals.update(ratios(sums["acquisitions"], sums["revenue"], sums["spend"]))
    return out, totals


def trend_rows(rows: Sequence[Row], date_from: date, date_to: date) -> list[dict[str, Any]]:
    by_day = {row["day"]: row for row in rows}
    out = []
    day = date_from
    while day <= date_to:
        row = by_day.get(day, {})
        out.append({
            "day": day.isoformat(),
            "spend": money(row.get("spend") or 0),
            "revenue": money(row.get("revenue") or 0),
            "acquisitions": number(row.get("acquisitions") or 0),
            "conversions": number(row.get("conversions") or 0),
        })
        day += timedelta(days=1)
    return out


def funnel_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """One entry per channel ('all' first), each with its steps in order."""
    channels: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r["channel"] != "all", r["channel"], r["step_index"])):
        channels.setdefault(row["channel"], []).append({
            "step": row["step"],
            "users": int(row["users"]),
            "step_conversion": number(row["step_conversion"]),
            "overall_conversion": number(row["overall_conversion"]),
            "drop_off": int(row["drop_off"]),
        })
    return [{"channel": channel, "steps": steps} for channel, steps in channels.items()]


def retention_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [
        {
            "cohort": row["cohort"].isoformat(),
            "channel": row["channel"],
            "users": number(row["users"]),
            "d1": number(row["d1_rate"]),
            "d7": number(row["d7_rate"]),
            "d30": number(row["d30_rate"]),
        }
        for row in rows
    ]


def plain_rows(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """Rows as they come, with money rounded to cents and other floats to 4 places."""
    out = []
    for row in rows:
        shaped: dict[str, Any] = {}
        for name, value in row.items():
            if isinstance(value, float | Decimal):
                shaped[name] = money(value) if name in MONEY else number(value)
            elif isinstance(value, tuple):
                shaped[name] = list(value)
            elif isinstance(value, date):
                shaped[name] = value.isoformat()
            else:
                shaped[name] = value
        out.append(shaped)
    return out


def population_summary(result: PopulationCredits, conversion_types: Sequence[str]) -> dict[str, Any]:
    """What a data-driven channels report modelled: its conversion types, the Markov chain's figures, the caps."""
    left = result.left
    return {
        "conversion_types": list(conversion_types),
        "conversion_probability": number(result.conversion_probability),
        "removal_effects": None if result.removal_effects is None else {
            channel: number(effect) for channel, effect in sorted(result.removal_effects.items())},
        "folded_channels": list(result.folded),
        "left_out": {
            "converting_paths": left.converting_paths, "conversions": number(left.conversions),
            "revenue": money(left.revenue), "open_paths": left.open_paths, "open_journeys": number(left.open_journeys),
        },
    }
