"""The `refund` event of the contract: order id and a positive amount required, server-owned money keys
discarded, and its place in the type lists."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.events import EVENT_ADAPTER, EVENT_TYPES, RefundEvent, RefundProperties
from schemas.problems import error_details


def refund(**properties: Any) -> dict[str, Any]:
    return {"event_id": "r-1", "type": "refund", "timestamp": 1_714_550_400_000, "anonymous_id": "a",
            "properties": properties}


def fields_of_errors(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as info:
        EVENT_ADAPTER.validate_python(raw)
    return [p["field"] for p in error_details(info.value)]


def test_a_partial_refund_with_a_reason_validates() -> None:
    parsed = EVENT_ADAPTER.validate_python(refund(order_id="SO1", amount="19.90", currency="USD", reason="damaged"))
    assert isinstance(parsed, RefundEvent) and isinstance(parsed.properties, RefundProperties)
    assert (parsed.properties.order_id, parsed.properties.amount, parsed.properties.currency) == (
        "SO1", Decimal("19.90"), "USD"
    )
    assert parsed.model_dump(mode="json")["properties"] == {
        "order_id": "SO1", "amount": "19.90", "currency": "USD", "reason": "damaged"
    }
    assert "refund" in EVENT_TYPES


@pytest.mark.parametrize("amount", [0, "0.00", -1, "1.005", "abc"])
def test_the_amount_must_be_a_positive_cent_amount(amount: Any) -> None:
    assert fields_of_errors(refund(order_id="SO1", amount=amount)) == ["properties.amount"]


def test_order_id_and_amount_are_required() -> None:
    assert sorted(fields_of_errors(refund())) == ["properties.amount", "properties.order_id"]
    assert fields_of_errors({**refund(), "properties": None}) == ["properties"]


def test_server_owned_money_keys_sent_by_a_client_are_not_kept() -> None:
    parsed = EVENT_ADAPTER.validate_python(
        refund(order_id="SO1", amount=5, original_amount="1", original_currency="USD", fx_rate="9")
    )
    assert parsed.model_dump(mode="json")["properties"] == {
        "order_id": "SO1", "amount": "5", "currency": "CNY", "reason": None
    }


def test_a_reason_is_bounded() -> None:
    assert fields_of_errors(refund(order_id="SO1", amount=1, reason="x" * 257)) == ["properties.reason"]
