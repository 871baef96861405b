"""What a postback says: the fields the processor decides (`decide.PostbackIntent`) and the worker sends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Pending:
    """An intent as the worker sends it (the first row of `postback_intents`)."""

    app_id: str
    intent_id: str
    integration_id: str
    platform: str
    mode: str
    action_type: str
    conversion_time: datetime
    click_id: str
    callback: str
    openid: str
    unionid: str
    revenue: Decimal
    currency: str
    value_fen: int | None
