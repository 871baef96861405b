"""Data-driven (population) models in the channels report: Markov removal effect and Shapley value.

Pure: the rows of `population_sql` in, one credit row per channel out. The models themselves are
`stream.attribution.datadriven` (their definitions and sources are in docs/attribution.md); this module decides
what the population is and how each column of the channels report is credited.

- Converting journeys: every current conversion of the modelled types in the range, with the channels of the
  touches attribution considered (its linear credit rows, in touch order); a conversion with no eligible touch
  is the one-channel path `direct`, the channel the standard models give it.
- Non-converting journeys: per person, the touches in the range after their last modelled conversion in the
  range (all of them for a person without one). A visit that resolves to direct writes no touchpoint, so
  people who came only directly and did not convert are not observed: the `direct` state converts every time.
- Markov (first order, Anderl et al. 2016): removal effects over all journeys; every column's total (credited
  acquisitions, conversions, orders, revenue) is split by the normalised removal effects (global allocation).
- Shapley (Zhao et al. 2018 closed form): each converting journey's amount is split equally over its distinct
  channels, so acquisitions, orders and revenue are each the Shapley value of their own measure.

Bounds, so that a report costs the same on any app: a path keeps its last `MAX_PATH_TOUCHES` touches; at most
`MAX_PATHS` distinct converting paths and as many non-converting ones are read (the most frequent; what is left
out is reported in `population`); beyond `MAX_CHANNELS` channels the least frequent are folded into
`OTHER_CHANNEL` (Markov solves one linear system per channel).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stream.attribution.datadriven import ChannelPath, markov_model, shapley_model

MAX_PATH_TOUCHES = 20
MAX_PATHS = 20_000
MAX_CHANNELS = 24
OTHER_CHANNEL = "(other channels)"
NO_TOUCH_CHANNEL = "direct"
PURCHASES = ("convert", "repurchase")  # the order types (schemas.events.PURCHASE_TYPES; a unit test checks)
MEASURES = ("acquisitions", "conversions", "orders", "gross_revenue", "refunds", "revenue")


@dataclass(frozen=True, slots=True)
class Journey:
    """Journeys that share a path: converted ones carry their conversion type, summed net revenue and refunds."""

    channels: tuple[str, ...]
    count: int
    conversion_type: str = ""  # "" for journeys that did not convert
    revenue: float = 0.0  # net of refunds
    refunds: float = 0.0


@dataclass(frozen=True, slots=True)
class Left:
    """What the path caps left out of the model."""

    converting_paths: int = 0
    conversions: float = 0.0
    revenue: float = 0.0
    open_paths: int = 0
    open_journeys: float = 0.0


@dataclass(frozen=True)
class PopulationCredits:
    credits: dict[str, dict[str, float]]  # channel -> measure -> credit
    folded: list[str]
    left: Left
    conversion_probability: float | None = None
    removal_effects: dict[str, float] | None = None


def journeys_of(converting: Sequence[Mapping[str, Any]], open_paths: Sequence[Mapping[str, Any]]) -> list[Journey]:
    journeys = [
        Journey(tuple(row["path"]), int(row["conversions"]), str(row["conversion_type"]), float(row["revenue"] or 0),
                float(row.get("refunds") or 0))
        for row in converting
    ]
    journeys += [Journey(tuple(row["path"]), int(row["journeys"])) for row in open_paths]
    return journeys


def left_out(converting: Sequence[Mapping[str, Any]], open_paths: Sequence[Mapping[str, Any]]) -> Left:
    """From the totals every row of the capped queries carries (window sums over all paths)."""
    used_conv = math.fsum(float(r["conversions"]) for r in converting)
    used_rev = math.fsum(float(r["revenue"] or 0) for r in converting)
    used_open = math.fsum(float(r["journeys"]) for r in open_paths)
    first, other = (converting[0] if converting else {}), (open_paths[0] if open_paths else {})
    return Left(
        converting_paths=int(first.get("distinct_paths", 0)) - len(converting),
        conversions=_rounded(float(first.get("all_conversions", 0)) - used_conv),
        revenue=_rounded(float(first.get("all_revenue", 0) or 0) - used_rev),
        open_paths=int(other.get("distinct_paths", 0)) - len(open_paths),
        open_journeys=_rounded(float(other.get("all_journeys", 0)) - used_open),
    )


def _rounded(value: float) -> float:
    # Sums of the same decimals in another order differ in the last bits; a cent is the report's unit.
    return round(value, 4) + 0.0


def fold_channels(journeys: Iterable[Journey], max_channels: int = MAX_CHANNELS) -> tuple[list[Journey], list[str]]:
    """The most frequent channels (by journeys through them) keep their names; the rest become OTHER_CHANNEL."""
    journeys = list(journeys)
    reach: Counter[str] = Counter()
    for j in journeys:
        for channel in set(j.channels):
            reach[channel] += j.count
    if len(reach) <= max_channels:
        return journeys, []
    ranked = sorted(reach, key=lambda c: (-reach[c], c))
    kept = set(ranked[: max_channels - 1])
    folded = sorted(set(ranked) - kept)
    out = [
        Journey(tuple(c if c in kept else OTHER_CHANNEL for c in j.channels), j.count, j.conversion_type, j.revenue,
                j.refunds)
        for j in journeys
    ]
    return out, folded


def _paths(
    journeys: Iterable[Journey], types: Iterable[str] | None = None, amount: str = "revenue"
) -> list[ChannelPath]:
    """ChannelPaths of the journeys, valued by `amount` (a measure of money); with `types`, converting journeys
    of other types are left out."""
    wanted = None if types is None else set(types)
    paths = []
    for j in journeys:
        if j.conversion_type and wanted is not None and j.conversion_type not in wanted:
            continue
        value = _amount(j, amount) / j.count if j.conversion_type and j.count else 0.0
        paths.append(ChannelPath(j.channels, bool(j.conversion_type), value, j.count))
    return paths


def _amount(j: Journey, measure: str) -> float:
    return {"revenue": j.revenue, "refunds": j.refunds, "gross_revenue": j.revenue + j.refunds}[measure]


def _totals(journeys: Sequence[Journey], acquisition: str) -> dict[str, float]:
    converting = [j for j in journeys if j.conversion_type]
    return {
        "acquisitions": math.fsum(j.count for j in converting if j.conversion_type == acquisition),
        "conversions": math.fsum(j.count for j in converting),
        "orders": math.fsum(j.count for j in converting if j.conversion_type in PURCHASES),
        **{m: math.fsum(_amount(j, m) for j in converting) for m in ("gross_revenue", "refunds", "revenue")},
    }


def markov_credits(journeys: Sequence[Journey], acquisition: str) -> PopulationCredits:
    result = markov_model(_paths(journeys), no_touch_channel=NO_TOUCH_CHANNEL)
    effects = result.removal_effects
    norm = math.fsum(effects.values())
    totals = _totals(journeys, acquisition)
    credits = {
        channel: {m: totals[m] * effect / norm if norm > 0 else 0.0 for m in MEASURES}
        for channel, effect in effects.items()
    }
    return PopulationCredits(credits, [], Left(), result.conversion_probability, dict(effects))


def shapley_credits(journeys: Sequence[Journey], acquisition: str) -> PopulationCredits:
    # Zhao's value is additive over conversions, so each column is the value of its own subset of journeys.
    parts = {
        "acquisitions": shapley_model(_paths(journeys, (acquisition,)), no_touch_channel=NO_TOUCH_CHANNEL),
        "conversions": shapley_model(_paths(journeys), no_touch_channel=NO_TOUCH_CHANNEL),
        "orders": shapley_model(_paths(journeys, PURCHASES), no_touch_channel=NO_TOUCH_CHANNEL),
        **{
            m: shapley_model(_paths(journeys, amount=m), no_touch_channel=NO_TOUCH_CHANNEL, measure="value")
            for m in ("gross_revenue", "refunds", "revenue")
        },
    }
    channels = sorted({c for j in journeys for c in j.channels})
    credits = {c: {m: parts[m].credit.get(c, 0.0) for m in MEASURES} for c in channels}
    return PopulationCredits(credits, [], Left())


def population_credits(
    model: str, converting: Sequence[Mapping[str, Any]], open_paths: Sequence[Mapping[str, Any]], acquisition: str
) -> PopulationCredits:
    """`model` is one of names.DATA_DRIVEN_MODELS; the rows are those of the two population queries."""
    journeys, folded = fold_channels(journeys_of(converting, open_paths))
    result = markov_credits(journeys, acquisition) if model == "markov" else shapley_credits(journeys, acquisition)
    return PopulationCredits(
        result.credits, folded, left_out(converting, open_paths), result.conversion_probability,
        result.removal_effects,
    )


def channel_rows(
    result: PopulationCredits, spend: Mapping[str, float], channel_types: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Rows for shapes.channel_rows (level channel): credits, the channel's spend, its type; spend-only channels
    too. Spend of folded channels goes to OTHER_CHANNEL, so the spend column sums to the range's spend."""
    folded = set(result.folded)
    spent: dict[str, float] = {}
    for channel, amount in spend.items():
        key = OTHER_CHANNEL if channel in folded else channel
        spent[key] = spent.get(key, 0.0) + amount
    rows: list[dict[str, Any]] = []
    for channel in sorted(set(result.credits) | set(spent)):
        credit = result.credits.get(channel, dict.fromkeys(MEASURES, 0.0))
        kind = "mixed" if channel == OTHER_CHANNEL else channel_types.get(channel) or "unknown"
        rows.append({"channel_type": kind, "channel": channel, **credit, "spend": spent.get(channel, 0.0)})
    rows.sort(key=lambda r: (-r["spend"], -r["revenue"], r["channel_type"], r["channel"]))
    return rows
