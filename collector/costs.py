"""Ad spend rows: validation of JSON and CSV uploads and conversion to the app's reporting currency.

Spend arrives per day x channel x optional campaign x optional creative, in any currency, from an ad platform
or an operator. Each upload is parsed into `CostRow`s plus `CostProblem`s: a row with any problem is left out
(with all its problems reported), the other rows are kept. Nothing here raises on bad input rows; only bad
`UploadRules` (an invalid `reporting_currency`, `default_source` or `max_rows`) raise `ValueError`.

Restatement: the key of a cost row is (app, date, channel, campaign, creative, source). Platforms re-send
earlier days; the store replaces the figure stored under the same key (the latest upload wins). This module
does not apply that rule: it only refuses two figures for the same key within one upload (the later row gets a
problem). Currency is not part of the key, so a restatement may change the currency.

Each field of a row is checked by collector/cost_fields.py. Exactness (see collector/money.py for the decimal
contexts and `FxRates`): spend is never passed through float arithmetic: strings are parsed as decimals, JSON
numbers are converted via their shortest `repr`. Spend has at most 4 decimal places and 14 integer digits.
Conversion uses `FxRates` (units of the base currency per 1 unit of a currency, each rate valid from its date
until the next entry); `spend_reporting` is the exact product/quotient rounded half-even to 4 places, and
`fx_rate` is the rate used (a cross rate through the base is rounded to 28 significant digits for display, never
before converting).

CSV: one row per line (fields may be quoted, but may not contain line breaks). The header is row 0 and the first
data row is row 1, so row N is line N + 1 of the file; blank lines are skipped but keep their numbers.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from collector.cost_fields import (
    MAX_SPEND,
    MAX_SPEND_INT_DIGITS,
    NAME_PATTERN,
    NAME_RULE,
    InvalidField,
    parse_channel,
    parse_currency,
    parse_date,
    parse_label,
    parse_source,
    parse_spend,
)
from collector.money import CURRENCY_PATTERN, FxRates, UnknownCurrency, show

FIELDS = ("date", "channel", "campaign", "creative", "spend", "currency", "source")
REQUIRED_FIELDS = ("date", "channel", "spend")
MAX_LINE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class CostRow:
    date: datetime.date
    channel: str
    campaign: str
    creative: str
    spend: Decimal
    currency: str
    source: str
    spend_reporting: Decimal
    reporting_currency: str
    fx_rate: Decimal

    @property
    def key(self) -> tuple[datetime.date, str, str, str, str]:
        """The restatement key within one app: a later figure under the same key replaces this one."""
        return (self.date, self.channel, self.campaign, self.creative, self.source)


@dataclass(frozen=True, slots=True)
class CostProblem:
    row: int
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class UploadRules:
    """What an upload is checked against: the app's reporting currency, the rates, defaults and bounds."""

    reporting_currency: str
    fx: FxRates
    default_source: str = "manual"
    max_rows: int = 10_000

    def __post_init__(self) -> None:
        if not isinstance(self.reporting_currency, str) or not CURRENCY_PATTERN.fullmatch(self.reporting_currency):
            msg = f"reporting_currency must be 3 uppercase letters; got {self.reporting_currency!r}"
            raise ValueError(msg)
        if not isinstance(self.default_source, str) or not NAME_PATTERN.fullmatch(self.default_source):
            msg = f"default_source must be {NAME_RULE}; got {self.default_source!r}"
            raise ValueError(msg)
        if isinstance(self.max_rows, bool) or not isinstance(self.max_rows, int) or self.max_rows < 1:
            msg = f"max_rows must be a positive integer; got {self.max_rows!r}"
            raise ValueError(msg)


def parse_rows(rows: list[Any], rules: UploadRules) -> tuple[list[CostRow], list[CostProblem]]:
    """Validate JSON rows (row numbers are 1-based); never raises on bad rows."""
    parser = _RowParser(rules)
    if not isinstance(rows, list):
        return [], [CostProblem(0, "rows", f"expected a JSON array of cost rows; got {show(rows)}")]
    if len(rows) > rules.max_rows:
        return [], [parser.too_many(len(rows))]
    for number, row in enumerate(rows, start=1):
        if isinstance(row, Mapping):
            parser.add(number, row)
        else:
            allowed = ", ".join(FIELDS)
            parser.problems.append(
                CostProblem(number, "row", f"row {number} must be an object with {allowed}; got {show(row)}")
            )
    return parser.rows, parser.problems


def parse_csv(text: str, rules: UploadRules) -> tuple[list[CostRow], list[CostProblem]]:
    """Validate a CSV upload (header = row 0, first data row = 1); never raises on bad input."""
    max_rows = rules.max_rows
    parser = _RowParser(rules)
    lines = io.StringIO(text.removeprefix("\ufeff"), newline="")
    header_line = next(lines, "")
    header, problem = _split_line(0, header_line)
    if problem is not None:
        return [], [problem]
    if not header or all(not cell.strip() for cell in header):
        return [], [CostProblem(0, "header", f"a header line is required, e.g. {','.join(FIELDS)}")]
    columns = [cell.strip().lower() for cell in header]
    header_problems = _check_header(columns)
    if header_problems:
        return [], header_problems
    seen_rows = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        seen_rows += 1
        if seen_rows > max_rows:
            return [], [parser.too_many(None, number)]
        fields, problem = _split_line(number, line)
        if problem is not None:
            parser.problems.append(problem)
            continue
        if len(fields) != len(columns):
            message = (
                f"row {number} has {len(fields)} fields but the header has {len(columns)} ({','.join(columns)}); "
                'quote a field that contains a comma: "a,b"'
            )
            parser.problems.append(CostProblem(number, "row", message))
            continue
        parser.add(number, {col: (val if val.strip() else None) for col, val in zip(columns, fields, strict=True)})
    return parser.rows, parser.problems


def _field_name(key: Any) -> str:
    text = key if isinstance(key, str) else show(key)
    return text if len(text) <= 64 else text[:61] + "..."


def _split_line(number: int, line: str) -> tuple[list[str], CostProblem | None]:
    body = line.rstrip("\r\n")
    size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_LINE_BYTES:
        return [], CostProblem(
            number, "row", f"row {number} is {size} bytes long; at most {MAX_LINE_BYTES} bytes per line"
        )
    try:
        return next(csv.reader([body], strict=True), []), None
    except csv.Error as exc:
        message = f"row {number} is not valid CSV ({exc}); quote a field with commas or quotes and double its quotes"
        return [], CostProblem(number, "row", message)


def _check_header(columns: list[str]) -> list[CostProblem]:
    problems: list[CostProblem] = []
    allowed = ",".join(FIELDS)
    required = ", ".join(REQUIRED_FIELDS)
    for column in REQUIRED_FIELDS:
        if column not in columns:
            problems.append(CostProblem(0, column, f"the header has no {column} column; required columns: {required}"))
    seen: set[str] = set()
    for position, column in enumerate(columns, start=1):
        if column in seen:
            problems.append(CostProblem(0, column, f"column {column!r} appears twice in the header; keep one"))
        seen.add(column)
        if column in FIELDS:
            continue
        if not column:
            message = f"header column {position} is empty; allowed columns: {allowed}"
        else:
            message = f"unknown column {show(column)} (column {position}); allowed columns: {allowed}"
            if ";" in column or "\t" in column:
                message += "; the file must be comma-separated"
        problems.append(CostProblem(0, _field_name(column), message))
    return problems


class _RowParser:
    """Shared per-row validation for JSON and CSV, with duplicate-key detection across the upload."""

    def __init__(self, rules: UploadRules) -> None:
        self.reporting_currency = rules.reporting_currency
        self.fx = rules.fx
        self.default_source = rules.default_source
        self.max_rows = rules.max_rows
        self.rows: list[CostRow] = []
        self.problems: list[CostProblem] = []
        self._keys: dict[tuple[datetime.date, str, str, str, str], int] = {}

    def too_many(self, count: int | None, number: int | None = None) -> CostProblem:
        sent = f"{count} rows" if count is not None else f"more than {self.max_rows} rows"
        message = f"the upload has {sent}; at most {self.max_rows} rows per upload: split it"
        return CostProblem(self.max_rows + 1 if number is None else number, "rows", message)

    def add(self, number: int, raw: Mapping[Any, Any]) -> None:
        problems: list[CostProblem] = []
        allowed = ", ".join(FIELDS)
        for key in raw:
            if key not in FIELDS:
                problems.append(
                    CostProblem(number, _field_name(key), f"unknown field {show(key)}; allowed fields: {allowed}")
                )

        values: dict[str, Any] = {}

        def check(field: str, parse: Any, *args: Any) -> None:
            try:
                values[field] = parse(raw.get(field), *args)
            except InvalidField as exc:
                problems.append(CostProblem(number, field, str(exc)))

        check("date", parse_date)
        check("channel", parse_channel)
        check("campaign", parse_label, "campaign")
        check("creative", parse_label, "creative")
        check("spend", parse_spend)
        check("currency", parse_currency, self.reporting_currency)
        check("source", parse_source, self.default_source)

        key_fields = ("date", "channel", "campaign", "creative", "source")
        if all(field in values for field in key_fields):
            key = (values["date"], values["channel"], values["campaign"], values["creative"], values["source"])
            first = self._keys.setdefault(key, number)
            if first != number:
                message = (
                    f"row {number} repeats row {first}'s key (date, channel, campaign, creative, source); "
                    "send one figure per key"
                )
                problems.append(CostProblem(number, "key", message))

        if not problems:
            row = self._convert(number, values, problems)
            if row is not None:
                self.rows.append(row)
        self.problems.extend(problems)

    def _convert(self, number: int, values: dict[str, Any], problems: list[CostProblem]) -> CostRow | None:
        day: datetime.date = values["date"]
        currency: str = values["currency"]
        spend: Decimal = values["spend"]
        try:
            converted, rate = self.fx.convert(spend, currency, self.reporting_currency, day)
        except UnknownCurrency as exc:
            message = (
                f"no exchange rate for {exc.currency} on or before {day.isoformat()} to convert {currency} to "
                f"{self.reporting_currency}; known currencies: {', '.join(self.fx.currencies)} "
                "(add the rate to the FX table or send spend in a known currency)"
            )
            problems.append(CostProblem(number, "currency", message))
            return None
        except ArithmeticError:  # pragma: no cover - bounded spend and rates make this unreachable
            problems.append(CostProblem(number, "spend", f"spend {spend} cannot be converted to {currency}"))
            return None
        if converted >= MAX_SPEND:
            message = (
                f"spend {spend} {currency} is {converted} {self.reporting_currency}, more than "
                f"{MAX_SPEND_INT_DIGITS} digits before the decimal point"
            )
            problems.append(CostProblem(number, "spend", message))
            return None
        return CostRow(
            date=day,
            channel=values["channel"],
            campaign=values["campaign"],
            creative=values["creative"],
            spend=spend,
            currency=currency,
            source=values["source"],
            spend_reporting=converted,
            reporting_currency=self.reporting_currency,
            fx_rate=rate,
        )
