"""`credits.attribute_journey` for the journey engine, through its compiled form (native/src/attribute.rs).

The Python function stays the reference. The crate answers only where it is sure to give exactly what the
reference gives: the same touches in the same order, every share bit for bit, every revenue part the same
Decimal. Anywhere else (a model it does not compile, a naive time, a revenue of 10**28 minor units or more, an
input the reference raises for) it declines, and the reference answers, errors included.
tests/unit/stream/attribution/test_native_attribution.py runs both on random journeys and models.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from schemas.native import Attribution
from stream.attribution.credits import ConversionFacts, ModelCredits, _minor_units, _zero, attribute_journey
from stream.attribution.eligibility import Touch, Windows
from stream.attribution.models import ModelSpec


class JourneyAttribution:
    """`attribute_journey` over one config's models; built once per config (`AttributionConfig.attribution`)."""

    def __init__(self, models: tuple[ModelSpec, ...]) -> None:
        self.models = models
        self._compiled: Attribution | None
        try:
            self._compiled = Attribution(models, _minor_units, _zero, Decimal)
        except (TypeError, ValueError):  # a model the crate does not compile: the reference answers it
            self._compiled = None

    @property
    def compiled(self) -> bool:
        return self._compiled is not None

    def __call__(
        self, conversion_id: str, time: datetime, revenue: Decimal, currency: str, touches: list[Touch],
        windows: Windows,
    ) -> tuple[Sequence[Touch], list[ModelCredits]]:
        """`attribute_journey(ConversionFacts(conversion_id, time, revenue, currency), touches, models, windows)`."""
        if self._compiled is not None:
            result = self._compiled.journey(touches, time, revenue, currency, windows)
            if result is not None:
                return result
        facts = ConversionFacts(conversion_id, time, revenue, currency)
        return attribute_journey(facts, touches, self.models, windows)
