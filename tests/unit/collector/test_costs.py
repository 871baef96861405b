"""Unit tests for collector.costs: spend rows from JSON and CSV, decimal exactness, FX conversion."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.costs import CostProblem, CostRow, UploadRules, parse_csv, parse_rows
from collector.money import FxConfigError, FxRates, UnknownCurrency

D = datetime.date
FX_SPEC: dict[str, Any] = {
    "base": "CNY",
    "rates": {
        # deliberately unsorted: the loader sorts by date
        "USD": [{"from": "2026-06-01", "rate": "7.25"}, {"from": "2026-01-01", "rate": "7.10"}],
        "JPY": [{"from": "2026-01-01", "rate": "0.0485"}],
        "EUR": [{"from": "2026-01-01", "rate": 7.8}],
    },
}
FX = FxRates(FX_SPEC)


def rules(**kwargs: Any) -> UploadRules:
    return UploadRules(**{"reporting_currency": "CNY", "fx": FX, **kwargs})


def rows(data: list[Any], **kwargs: Any) -> tuple[list[CostRow], list[CostProblem]]:
    return parse_rows(data, rules(**kwargs))


def csv_rows(text: str, **kwargs: Any) -> tuple[list[CostRow], list[CostProblem]]:
    return parse_csv(text, rules(**kwargs))


def one(row: dict[str, Any], **kwargs: Any) -> CostRow:
    ok, problems = rows([row], **kwargs)
    assert problems == []
    assert len(ok) == 1
    return ok[0]


def problems_of(row: dict[str, Any], **kwargs: Any) -> list[CostProblem]:
    ok, problems = rows([row], **kwargs)
    assert ok == []
    assert problems
    return problems


BASE = {"date": "2026-03-01", "channel": "tencent_ads", "spend": "100"}


# ---------------------------------------------------------------- JSON rows: happy path


def test_full_row() -> None:
    row = one(
        {
            "date": "2026-03-01",
            "channel": "Tencent_Ads",
            "campaign": " Spring sale ",
            "creative": "banner-1",
            "spend": "1234.5678",
            "currency": "usd",
            "source": "tencent_ads",
        }
    )
    assert row == CostRow(
        date=D(2026, 3, 1),
        channel="tencent_ads",
        campaign="Spring sale",
        creative="banner-1",
        spend=Decimal("1234.5678"),
        currency="USD",
        source="tencent_ads",
        spend_reporting=Decimal("8765.4314"),  # 1234.5678 x 7.10 = 8765.43138 -> half-even 8765.4314
        reporting_currency="CNY",
        fx_rate=Decimal("7.10"),
    )
    assert row.key == (D(2026, 3, 1), "tencent_ads", "Spring sale", "banner-1", "tencent_ads")


def test_defaults() -> None:
    row = one(dict(BASE))
    assert (row.campaign, row.creative, row.currency, row.source) == ("", "", "CNY", "manual")
    assert row.spend_reporting == Decimal("100") and row.fx_rate == Decimal(1)
    assert one(dict(BASE), default_source="csv").source == "csv"
    nulls = one({**BASE, "campaign": None, "creative": None, "currency": None, "source": None})
    assert (nulls.campaign, nulls.creative, nulls.currency, nulls.source) == ("", "", "CNY", "manual")


def test_spend_is_exact() -> None:
    assert one({**BASE, "spend": "1234.5678"}).spend == Decimal("1234.5678")
    assert str(one({**BASE, "spend": "1234.5678"}).spend) == "1234.5678"
    # JSON numbers go through repr, never float arithmetic: 0.1 stays 0.1 (not 0.1000000000000000055...)
    assert one({**BASE, "spend": 0.1}).spend == Decimal("0.1")
    assert one({**BASE, "spend": 1234.5678}).spend == Decimal("1234.5678")
    assert one({**BASE, "spend": 12345678.1234}).spend == Decimal("12345678.1234")
    assert one({**BASE, "spend": 7}).spend == Decimal(7)
    assert one({**BASE, "spend": Decimal("2.5")}).spend == Decimal("2.5")
    assert one({**BASE, "spend": "0"}).spend == 0
    assert str(one({**BASE, "spend": "-0"}).spend) == "0.0000"
    assert one({**BASE, "spend": "99999999999999.9999"}).spend == Decimal("99999999999999.9999")
    assert one({**BASE, "spend": "1.50000"}).spend == Decimal("1.5")  # trailing zeros are not extra places


def test_conversions_computed_by_hand() -> None:
    usd = one({**BASE, "spend": "100", "currency": "USD"})
    assert usd.spend_reporting == Decimal("710.0000") and str(usd.spend_reporting) == "710.0000"
    assert usd.fx_rate == Decimal("7.10")
    jpy = one({**BASE, "spend": "100", "currency": "JPY"})
    assert str(jpy.spend_reporting) == "4.8500" and jpy.fx_rate == Decimal("0.0485")
    # cross rate USD -> JPY via CNY: 7.10 / 0.0485 = 146.39175257731958762886597938...
    cross = one({**BASE, "spend": "100", "currency": "USD"}, reporting_currency="JPY")
    assert cross.reporting_currency == "JPY"
    assert cross.spend_reporting == Decimal("14639.1753")  # 710 / 0.0485 = 14639.17525773...
    assert cross.fx_rate == Decimal("146.3917525773195876288659794")
    # base -> other: 100 CNY = 100 / 0.0485 JPY = 2061.85567010... JPY
    from_base = one({**BASE, "spend": "100", "currency": "CNY"}, reporting_currency="JPY")
    assert from_base.spend_reporting == Decimal("2061.8557")


def test_conversion_rounds_half_even() -> None:
    # 0.0001 JPY x 0.0485 = 0.00000485 -> 0.0000; 1.0001 JPY x 0.0485 = 0.04850485 -> 0.0485
    assert one({**BASE, "spend": "0.0001", "currency": "JPY"}).spend_reporting == Decimal("0.0000")
    # exact ties: 0.0005 USD x 7.10 = 0.00355 -> 0.0036 (6 even); 0.0015 x 7.10 = 0.01065 -> 0.0106 (6 even)
    assert one({**BASE, "spend": "0.0005", "currency": "USD"}).spend_reporting == Decimal("0.0036")
    assert one({**BASE, "spend": "0.0015", "currency": "USD"}).spend_reporting == Decimal("0.0106")
    # 0.0025 EUR x 7.8 = 0.0195 exactly (no rounding), 0.0001 EUR x 7.8 = 0.00078 -> 0.0008
    assert one({**BASE, "spend": "0.0025", "currency": "EUR"}).spend_reporting == Decimal("0.0195")
    assert one({**BASE, "spend": "0.0001", "currency": "EUR"}).spend_reporting == Decimal("0.0008")


def test_rate_in_force_on_the_date() -> None:
    before = one({**BASE, "date": "2026-05-31", "currency": "USD"})
    on = one({**BASE, "date": "2026-06-01", "currency": "USD"})
    after = one({**BASE, "date": "2027-01-01", "currency": "USD"})
    assert (before.fx_rate, on.fx_rate, after.fx_rate) == (Decimal("7.10"), Decimal("7.25"), Decimal("7.25"))
    assert (before.spend_reporting, on.spend_reporting) == (Decimal("710.0000"), Decimal("725.0000"))


def test_unknown_currency_is_a_problem_naming_currency_and_date() -> None:
    (problem,) = problems_of({**BASE, "currency": "GBP"})
    assert (problem.row, problem.field) == (1, "currency")
    assert "GBP" in problem.message and "2026-03-01" in problem.message
    (early,) = problems_of({**BASE, "date": "2025-12-31", "currency": "USD"})
    assert "USD" in early.message and "2025-12-31" in early.message
    # the reporting currency itself unknown to the table
    (rep,) = problems_of({**BASE, "currency": "USD"}, reporting_currency="GBP")
    assert "GBP" in rep.message and "2026-03-01" in rep.message
    # same currency needs no rate
    assert one(dict(BASE), reporting_currency="GBP", fx=FxRates.identity()).fx_rate == 1


def test_valid_rows_survive_invalid_ones() -> None:
    ok, problems = rows([dict(BASE), {**BASE, "channel": "x", "spend": "-1"}, {**BASE, "channel": "y"}, "nope"])
    assert [r.channel for r in ok] == ["tencent_ads", "y"]
    assert [(p.row, p.field) for p in problems] == [(2, "spend"), (4, "row")]
    assert "row 4" in problems[1].message


# ---------------------------------------------------------------- JSON rows: every field's errors


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("date", None, "required"),
        ("date", "2026-3-1", "YYYY-MM-DD"),
        ("date", "20260301", "YYYY-MM-DD"),
        ("date", "2026-W09-1", "YYYY-MM-DD"),
        ("date", "2026-02-30", "calendar date"),
        ("date", "2026-03-01T00:00:00", "YYYY-MM-DD"),
        ("date", 20260301, "YYYY-MM-DD"),
        ("channel", None, "required"),
        ("channel", "", "a-z"),
        ("channel", "bad channel", "a-z"),
        ("channel", "x" * 65, "1-64"),
        ("channel", "频道", "a-z"),
        ("channel", "\u212a", "a-z"),  # Kelvin sign lower-cases to "k": still refused
        ("channel", 5, "string"),
        ("campaign", "c" * 129, "at most 128"),
        ("campaign", 12, "string"),
        ("campaign", "a\x00b", "control"),
        ("creative", "c" * 129, "at most 128"),
        ("creative", ["x"], "string"),
        ("creative", "line\nbreak", "control"),
        ("spend", None, "required"),
        ("spend", "-1", "negative"),
        ("spend", -0.5, "negative"),
        ("spend", "1.23456", "4 decimal places"),
        ("spend", 0.00001, "4 decimal places"),
        ("spend", "100000000000000", "14 digits"),
        ("spend", 10**14, "14 digits"),
        ("spend", 1e20, "14 digits"),
        ("spend", "1e3", "plain decimal"),
        ("spend", "1,000", "plain decimal"),
        ("spend", "abc", "plain decimal"),
        ("spend", "", "plain decimal"),
        ("spend", "NaN", "plain decimal"),
        ("spend", float("nan"), "finite"),
        ("spend", float("inf"), "finite"),
        ("spend", True, "not a number"),
        ("spend", {"amount": 1}, "decimal number"),
        ("currency", "US", "ISO-4217"),
        ("currency", "US1", "ISO-4217"),
        ("currency", "ÜSD", "ISO-4217"),
        ("currency", 840, "ISO-4217"),
        ("source", "Tencent Ads", "a-z"),
        ("source", "s" * 65, "1-64"),
        ("source", 1, "string"),
    ],
)
def test_field_errors_name_field_and_row(field: str, value: Any, needle: str) -> None:
    good = {**BASE, "channel": "other"}
    ok, problems = rows([good, {**BASE, field: value}])
    assert [r.channel for r in ok] == ["other"]
    assert len(problems) == 1, problems
    (problem,) = problems
    assert (problem.row, problem.field) == (2, field)
    assert needle in problem.message


def test_field_error_messages_show_what_was_sent() -> None:
    (p,) = problems_of({**BASE, "spend": "12.345678"})
    assert "'12.345678'" in p.message and "12.3457" in p.message
    (p,) = problems_of({**BASE, "channel": "Bad Name"})
    assert "'Bad Name'" in p.message


def test_all_problems_of_a_row_are_reported() -> None:
    problems = problems_of({"date": "x", "channel": "", "spend": "-1", "currency": "1", "source": "!", "extra": 1})
    assert {p.field for p in problems} == {"extra", "date", "channel", "spend", "currency", "source"}
    assert all(p.row == 1 for p in problems)


def test_unknown_fields() -> None:
    problems = problems_of({**BASE, "amount": 5, "Spend": 1})
    assert sorted(p.field for p in problems) == ["Spend", "amount"]
    assert all("allowed fields" in p.message and "spend" in p.message for p in problems)
    long_name = problems_of({**BASE, "k" * 500: 1})
    assert len(long_name[0].field) <= 64


def test_duplicate_keys_reported_on_the_later_row() -> None:
    data = [
        {**BASE, "campaign": "a"},
        {**BASE, "campaign": "b"},
        {**BASE, "campaign": "a", "spend": "5", "currency": "USD"},  # same key, other figure
        {**BASE, "campaign": "a", "source": "tencent_ads"},  # other source: other key
        {**BASE, "channel": "TENCENT_ADS", "campaign": " a "},  # normalises to row 1's key
    ]
    ok, problems = rows(data)
    assert [(r.campaign, r.source) for r in ok] == [("a", "manual"), ("b", "manual"), ("a", "tencent_ads")]
    assert [(p.row, p.field) for p in problems] == [(3, "key"), (5, "key")]
    assert problems[0].message == (
        "row 3 repeats row 1's key (date, channel, campaign, creative, source); send one figure per key"
    )


def test_duplicate_of_an_invalid_row_is_still_a_duplicate() -> None:
    ok, problems = rows([{**BASE, "spend": "-1"}, dict(BASE)])
    assert ok == []
    assert [(p.row, p.field) for p in problems] == [(1, "spend"), (2, "key")]


def test_too_many_rows_and_non_list() -> None:
    ok, problems = rows([dict(BASE)] * 3, max_rows=2)
    assert ok == [] and len(problems) == 1
    assert (problems[0].row, problems[0].field) == (3, "rows")
    assert "at most 2" in problems[0].message
    assert rows([{**BASE, "channel": f"c{i}"} for i in range(2)], max_rows=2)[1] == []
    ok, problems = rows({"rows": []})  # type: ignore[arg-type]
    assert ok == [] and problems[0].row == 0
    assert rows([]) == ([], [])


def test_bad_call_arguments_raise() -> None:
    with pytest.raises(ValueError, match="reporting_currency"):
        rows([], reporting_currency="cny")
    with pytest.raises(ValueError, match="default_source"):
        rows([], default_source="Bad Source")
    with pytest.raises(ValueError, match="max_rows"):
        rows([], max_rows=0)


def test_huge_integer_is_a_problem_not_a_crash() -> None:
    (p,) = problems_of({**BASE, "spend": 10**5000})
    assert p.field == "spend" and "14 digits" in p.message
    assert len(p.message) < 300


def test_converted_amount_too_large() -> None:
    fx = FxRates({"base": "CNY", "rates": {"IDR": [{"from": "2026-01-01", "rate": "0.000000000001"}]}})
    (p,) = problems_of({**BASE, "spend": "99999999999999", "currency": "CNY"}, fx=fx, reporting_currency="IDR")
    assert p.field == "spend" and "IDR" in p.message


# ---------------------------------------------------------------- CSV


HEADER = "date,channel,campaign,creative,spend,currency,source\n"


def test_csv_happy_path() -> None:
    text = (
        "channel,date,spend,currency\n"  # order is free, optional columns may be left out
        "tencent_ads,2026-03-01,100,USD\n"
        "Bytedance,2026-03-01,0.1,\n"
        'manual,2026-03-02,"1234.5678",JPY\n'
    )
    ok, problems = csv_rows(text, default_source="csv")
    assert problems == []
    assert [(r.channel, r.spend, r.currency, r.spend_reporting, r.source) for r in ok] == [
        ("tencent_ads", Decimal("100"), "USD", Decimal("710.0000"), "csv"),
        ("bytedance", Decimal("0.1"), "CNY", Decimal("0.1000"), "csv"),
        ("manual", Decimal("1234.5678"), "JPY", Decimal("59.8765"), "csv"),  # 1234.5678 x 0.0485 = 59.87653830
    ]


def test_csv_all_columns_quoted_and_crlf() -> None:
    text = HEADER.replace("\n", "\r\n") + '2026-03-01,wechat,"Spring, 2026","say ""hi""",5,CNY,csv\r\n'
    ok, problems = csv_rows(text)
    assert problems == []
    assert (ok[0].campaign, ok[0].creative, ok[0].source) == ("Spring, 2026", 'say "hi"', "csv")


def test_csv_bom_tolerated() -> None:
    ok, problems = csv_rows("\ufeffdate,channel,spend\n2026-03-01,a,1\n")
    assert problems == [] and len(ok) == 1


def test_csv_unknown_column_is_a_row_0_problem() -> None:
    ok, problems = csv_rows("date,channel,spend,amount\n2026-03-01,a,1,2\n")
    assert ok == []
    assert [(p.row, p.field) for p in problems] == [(0, "amount")]
    assert "'amount'" in problems[0].message and "allowed columns" in problems[0].message


def test_csv_semicolon_hint() -> None:
    (p,) = csv_rows("date;channel;spend\n2026-03-01;a;1\n")[1][-1:]
    assert "comma-separated" in p.message


def test_csv_missing_required_columns() -> None:
    ok, problems = csv_rows("date,campaign\n2026-03-01,x\n")
    assert ok == []
    assert [(p.row, p.field) for p in problems] == [(0, "channel"), (0, "spend")]


def test_csv_duplicate_and_empty_header_columns() -> None:
    problems = csv_rows("date,channel,spend,spend,\n")[1]
    assert [(p.row, p.field) for p in problems] == [(0, "spend"), (0, "")]


def test_csv_missing_header() -> None:
    for text in ("", "\n", "\ufeff"):
        ok, problems = csv_rows(text)
        assert ok == [] and [(p.row, p.field) for p in problems] == [(0, "header")]


def test_csv_malformed_rows_and_row_numbers() -> None:
    text = (
        "date,channel,spend\n"
        "2026-03-01,a,1\n"  # row 1
        "2026-03-01,b\n"  # row 2: too few fields
        "\n"  # row 3: blank, skipped but numbered
        "2026-03-01,c,1,extra\n"  # row 4: too many fields
        '2026-03-01,"d,1\n'  # row 5: unclosed quote
        '2026-03-01,e"x,1\n'  # row 6: quote inside an unquoted field is fine for csv
        "2026-03-01,f,-1\n"  # row 7: field error
        "2026-03-01,a,2\n"  # row 8: repeats row 1
        "2026-03-01,g,3"  # row 9: no trailing newline
    )
    ok, problems = csv_rows(text)
    assert [r.channel for r in ok] == ["a", "g"]
    assert [(p.row, p.field) for p in problems] == [
        (2, "row"),
        (4, "row"),
        (5, "row"),
        (6, "channel"),
        (7, "spend"),
        (8, "key"),
    ]
    assert "row 2 has 2 fields but the header has 3" in problems[0].message
    assert "row 4 has 4 fields" in problems[1].message
    assert "row 5 is not valid CSV" in problems[2].message
    assert "row 8 repeats row 1's key" in problems[5].message


def test_csv_empty_values_mean_absent() -> None:
    ok, problems = csv_rows(HEADER + "2026-03-01,a,,,1,,\n,b,,,1,,\n")
    assert [(r.campaign, r.creative, r.currency, r.source) for r in ok] == [("", "", "CNY", "manual")]
    assert [(p.row, p.field) for p in problems] == [(2, "date")]
    assert "required" in problems[0].message


def test_csv_long_line() -> None:
    long_campaign = "x" * 5000
    text = HEADER + f"2026-03-01,a,{long_campaign},,1,,\n2026-03-01,b,,,1,,\n"
    ok, problems = csv_rows(text)
    assert [r.channel for r in ok] == ["b"]
    assert [(p.row, p.field) for p in problems] == [(1, "row")]
    assert "4096 bytes" in problems[0].message
    # a header line that long
    ok, problems = csv_rows("date,channel,spend," + "y" * 5000 + "\n")
    assert ok == [] and [(p.row, p.field) for p in problems] == [(0, "row")]


def test_csv_too_many_rows() -> None:
    body = "".join(f"2026-03-01,c{i},1\n" for i in range(4))
    ok, problems = csv_rows("date,channel,spend\n" + body, max_rows=3)
    assert ok == []
    assert [(p.row, p.field) for p in problems] == [(4, "rows")]
    assert "at most 3" in problems[0].message
    ok, problems = csv_rows("date,channel,spend\n" + body + "\n\n", max_rows=4)  # trailing blanks don't count
    assert len(ok) == 4 and problems == []


# ---------------------------------------------------------------- FxRates


def test_fx_rate_lookup_and_cross_rates() -> None:
    on = D(2026, 3, 1)
    assert FX.base == "CNY"
    assert FX.currencies == ("CNY", "EUR", "JPY", "USD")
    assert FX.rate("USD", "CNY", on) == Decimal("7.10")
    assert FX.rate("USD", "CNY", D(2026, 6, 1)) == Decimal("7.25")
    assert FX.rate("CNY", "CNY", on) == 1
    assert FX.rate("GBP", "GBP", on) == 1
    assert FX.rate("USD", "JPY", on) == Decimal("146.3917525773195876288659794")
    assert FX.rate("JPY", "USD", on) == Decimal("0.006830985915492957746478873239")
    assert FX.rate("CNY", "USD", on) == Decimal("0.1408450704225352112676056338")
    assert FX.convert(Decimal("100"), "USD", "JPY", on) == (
        Decimal("14639.1753"),
        Decimal("146.3917525773195876288659794"),
    )


def test_fx_unknown_currency_error() -> None:
    with pytest.raises(UnknownCurrency) as info:
        FX.rate("GBP", "CNY", D(2026, 3, 1))
    assert (info.value.currency, info.value.on) == ("GBP", D(2026, 3, 1))
    assert isinstance(info.value, ValueError)
    assert "GBP" in str(info.value) and "2026-03-01" in str(info.value)
    with pytest.raises(UnknownCurrency) as info:
        FX.rate("CNY", "USD", D(2025, 12, 31))
    assert info.value.currency == "USD"
    with pytest.raises(UnknownCurrency):
        FxRates.identity().rate("USD", "CNY", D(2026, 3, 1))
    assert FxRates.identity("USD").base == "USD"


def test_fx_load(tmp_path: Path) -> None:
    path = tmp_path / "fx.json"
    path.write_bytes(orjson.dumps(FX_SPEC))
    fx = FxRates.load(path)
    assert fx.rate("USD", "JPY", D(2026, 3, 1)) == FX.rate("USD", "JPY", D(2026, 3, 1))
    assert FxRates.load(str(path)).currencies == FX.currencies
    with pytest.raises(FxConfigError, match="cannot read"):
        FxRates.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(FxConfigError, match="not valid JSON"):
        FxRates.load(tmp_path / "bad.json")


def entry(day: str = "2026-01-01", rate: Any = "7.1") -> dict[str, Any]:
    return {"from": day, "rate": rate}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ([], "expected"),
        ({"rates": {}}, "base"),
        ({"base": "cny"}, "base"),
        ({"base": "CNY", "extra": 1}, "unknown keys"),
        ({"base": "CNY", "rates": []}, "rates must be an object"),
        ({"base": "CNY", "rates": {"usd": [entry()]}}, "'usd'"),
        ({"base": "CNY", "rates": {"CNY": [entry()]}}, "implicitly"),
        ({"base": "CNY", "rates": {"USD": []}}, "non-empty list"),
        ({"base": "CNY", "rates": {"USD": entry()}}, "non-empty list"),
        ({"base": "CNY", "rates": {"USD": ["7.1"]}}, "rates.USD[0]"),
        ({"base": "CNY", "rates": {"USD": [{"from": "2026-01-01"}]}}, "rates.USD[0]"),
        ({"base": "CNY", "rates": {"USD": [{**entry(), "to": "2026-02-01"}]}}, "rates.USD[0]"),
        ({"base": "CNY", "rates": {"USD": [entry("2026/01/01")]}}, "rates.USD[0].from"),
        ({"base": "CNY", "rates": {"USD": [entry("2026-02-30")]}}, "calendar date"),
        ({"base": "CNY", "rates": {"USD": [entry(rate="0")]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate=-7.1)]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate="abc")]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate=True)]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate=None)]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate="1e20")]}}, "positive"),
        ({"base": "CNY", "rates": {"USD": [entry(rate="1." + "1" * 40)]}}, "significant digits"),
        ({"base": "CNY", "rates": {"USD": [entry(rate="7.1"), entry(rate="7.2")]}}, "two rates from 2026-01-01"),
    ],
)
def test_fx_validation(spec: Any, needle: str) -> None:
    with pytest.raises(FxConfigError) as info:
        FxRates(spec, source="fx.json")
    assert needle in str(info.value)
    assert str(info.value).startswith("fx.json")


def test_fx_accepts_numbers_and_sorts() -> None:
    fx = FxRates({"base": "CNY", "rates": {"HKD": [entry("2026-05-01", 1), entry("2026-01-01", 0.91)]}})
    assert fx.rate("HKD", "CNY", D(2026, 4, 30)) == Decimal("0.91")
    assert fx.rate("HKD", "CNY", D(2026, 5, 1)) == Decimal(1)


# ---------------------------------------------------------------- property: never raises

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
field_values = st.one_of(
    json_values,
    st.sampled_from(["2026-03-01", "2025-12-31", "2026-06-01", "tencent_ads", "USD", "JPY", "GBP", "cny", ""]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=0, max_value=10**15),
)
near_rows = st.dictionaries(st.sampled_from([*BASE, "campaign", "creative", "currency", "source", "x"]), field_values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(near_rows, json_values), max_size=8), st.sampled_from(["CNY", "USD", "JPY", "GBP"]))
def test_parse_rows_never_raises(data: list[Any], reporting: str) -> None:
    ok, problems = rows(data, reporting_currency=reporting, max_rows=6)
    if len(data) > 6:
        assert ok == [] and len(problems) == 1
        return
    bad_rows = {p.row for p in problems}
    assert all(1 <= p.row <= len(data) and p.message for p in problems)
    assert len(ok) + len(bad_rows) == len(data)
    for row in ok:
        assert 0 <= row.spend < Decimal(10) ** 14 and row.spend == row.spend.quantize(Decimal("0.0001"))
        assert row.spend_reporting == row.spend_reporting.quantize(Decimal("0.0001"))
        assert row.reporting_currency == reporting
    assert len({r.key for r in ok}) == len(ok)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parse_csv_never_raises(text: str) -> None:
    ok, problems = csv_rows("date,channel,spend,currency\n" + text, max_rows=5)
    assert all(p.row >= 1 and p.message for p in problems)
    assert len(ok) <= 5
    csv_rows(text)
