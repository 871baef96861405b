"""Revenue and refunds in another currency than the app's reporting currency (collector/revenue.py): converted
at ingest with the rate of the event's day, rounded once to cents; no rate for that day is a per-event error.
Expected amounts are computed by hand from the rates below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson

from collector.money import FxRates
from collector.revenue import MoneyRules, convert_money
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import asgi_client, auth, body, build_app, events_on_topic, make_settings

RATES = {
    "base": "CNY",
    "rates": {
        "USD": [{"from": "2024-04-01", "rate": "7.10"}, {"from": "2024-05-01", "rate": "7.20"}],
        "JPY": [{"from": "2024-01-01", "rate": "0.048"}],
        "XTS": [{"from": "2024-01-01", "rate": "1.4999"}],  # makes double rounding visible
        "XTR": [{"from": "2024-01-01", "rate": "7.5"}],
    },
}
RULES = MoneyRules("CNY", FxRates(RATES))


def purchase(revenue: str, currency: str, at: str = "2024-04-15T10:00:00.000Z", **extra: Any) -> dict[str, Any]:
    return {"type": "convert", "event_time": at,
            "properties": {"order_id": "o1", "revenue": revenue, "currency": currency, **extra}}


def refund(amount: str, currency: str, at: str = "2024-04-15T10:00:00.000Z") -> dict[str, Any]:
    return {"type": "refund", "event_time": at,
            "properties": {"order_id": "o1", "amount": amount, "currency": currency, "reason": None}}


def converted(event: dict[str, Any], rules: MoneyRules = RULES) -> dict[str, Any]:
    assert convert_money(event, rules) is None
    properties: dict[str, Any] = event["properties"]
    return properties


def test_revenue_is_converted_with_the_rate_of_its_day_and_the_sent_amount_is_kept() -> None:
    # 19.99 USD x 7.10 = 141.929 -> 141.93 CNY; on 2024-05-01 the rate is 7.20: 19.99 x 7.20 = 143.928 -> 143.93.
    april = converted(purchase("19.99", "USD", at="2024-04-30T23:59:59.999Z"))
    assert {k: april[k] for k in ("revenue", "currency", "original_amount", "original_currency", "fx_rate")} == {
        "revenue": "141.93", "currency": "CNY", "original_amount": "19.99", "original_currency": "USD",
        "fx_rate": "7.10",
    }
    may = converted(purchase("19.99", "USD", at="2024-05-01T00:00:00.000Z"))
    assert (may["revenue"], may["fx_rate"]) == ("143.93", "7.20")
    assert converted(purchase("1000", "JPY"))["revenue"] == "48.00"  # 1000 x 0.048


def test_conversion_rounds_once_half_even_to_cents() -> None:
    # 0.01 x 1.4999 = 0.014999 -> 0.01 (through 4 places first it would be 0.0150 -> 0.02).
    assert converted(purchase("0.01", "XTS"))["revenue"] == "0.01"
    # 0.01 x 7.5 = 0.075 -> 0.08 and 0.03 x 7.5 = 0.225 -> 0.22: halves go to the even cent.
    assert converted(purchase("0.01", "XTR"))["revenue"] == "0.08"
    assert converted(purchase("0.03", "XTR"))["revenue"] == "0.22"


def test_the_reporting_currency_passes_unchanged_and_client_values_of_server_fields_are_replaced() -> None:
    sent = purchase("88.80", "CNY", original_amount="1", original_currency="USD", fx_rate="999")
    properties = converted(sent)
    assert {k: properties[k] for k in ("revenue", "currency", "original_amount", "original_currency", "fx_rate")} == {
        "revenue": "88.80", "currency": "CNY", "original_amount": "88.80", "original_currency": "CNY", "fx_rate": "1",
    }


def test_a_refund_amount_is_converted_like_revenue() -> None:
    properties = converted(refund("5.00", "USD"))  # 5.00 x 7.10 = 35.50
    assert (properties["amount"], properties["currency"], properties["original_amount"]) == ("35.50", "CNY", "5.00")


def test_a_currency_without_a_rate_that_day_is_an_error_that_names_it() -> None:
    code, reason = convert_money(purchase("10", "EUR"), RULES) or ("", "")
    assert code == "no_exchange_rate"
    assert "EUR" in reason and "2024-04-15" in reason and "CNY" in reason
    code, reason = convert_money(purchase("10", "USD", at="2024-03-31T23:00:00.000Z"), RULES) or ("", "")
    assert (code, "on or before 2024-03-31" in reason) == ("no_exchange_rate", True)
    # Without an FX table only the reporting currency is accepted: never summed as if it were CNY.
    assert (convert_money(purchase("10", "USD"), MoneyRules()) or ("",))[0] == "no_exchange_rate"


def test_a_refund_that_converts_to_less_than_a_cent_is_rejected() -> None:
    code, reason = convert_money(refund("0.01", "JPY"), RULES) or ("", "")  # 0.01 x 0.048 = 0.00048 -> 0.00
    assert code == "invalid" and "at least one cent" in reason


def test_other_events_are_left_alone() -> None:
    event = {"type": "page_view", "event_time": "2024-04-15T10:00:00.000Z", "properties": {"currency": "EUR"}}
    assert convert_money(event, RULES) is None
    assert event["properties"] == {"currency": "EUR"}


async def test_the_batch_endpoint_rejects_only_the_event_without_a_rate(tmp_path: Path) -> None:
    rates = tmp_path / "fx.json"
    rates.write_bytes(orjson.dumps(RATES))
    sink = InMemorySink()
    app = build_app(make_settings(collector_fx_rates_file=str(rates)), sink)
    events = [
        {"event_id": "p1", "type": "convert", "timestamp": "2024-04-15T10:00:00.000Z", "anonymous_id": "a",
         "properties": {"order_id": "o1", "revenue": "19.99", "currency": "USD"}},
        {"event_id": "p2", "type": "convert", "timestamp": "2024-04-15T10:00:00.000Z", "anonymous_id": "a",
         "properties": {"order_id": "o2", "revenue": "10", "currency": "EUR"}},
        {"event_id": "r1", "type": "refund", "timestamp": "2024-04-15T11:00:00.000Z", "anonymous_id": "a",
         "properties": {"order_id": "o1", "amount": "2.00", "currency": "USD"}},
    ]
    async with asgi_client(app) as client:
        response: httpx.Response = await client.post("/v1/batch", content=body(events), headers=auth())
    assert response.status_code == 200, response.text
    rejected = response.json()["rejected"]
    assert [(r["index"], r["code"]) for r in rejected] == [(1, "no_exchange_rate")]
    assert "EUR" in rejected[0]["reason"]
    stored = {e["event_id"]: e["properties"] for e in events_on_topic(sink)}
    assert sorted(stored) == ["p1", "r1"]
    assert (stored["p1"]["revenue"], stored["p1"]["currency"], stored["p1"]["original_amount"]) == (
        "141.93", "CNY", "19.99"
    )
    assert (stored["r1"]["amount"], stored["r1"]["original_currency"]) == ("14.20", "USD")  # 2.00 x 7.10
