"""Multi-touch attribution: pure functions over journeys, no I/O.

``eligibility`` decides which touches count for a conversion and in which order, ``models`` turns them
into per-touch weights, ``credits`` produces the credit rows with revenue split to the cent, and
``datadriven`` holds the population-level models (Markov removal effect, Shapley).
"""

from stream.attribution.credits import (
    DIRECT_CHANNEL,
    ConversionFacts,
    Credit,
    attribute,
    minor_unit_digits,
    split_revenue,
)
from stream.attribution.datadriven import (
    ChannelPath,
    MarkovResult,
    ShapleyResult,
    markov_model,
    shapley_model,
)
from stream.attribution.eligibility import Touch, Windows, eligible_touches, touch_order_key
from stream.attribution.models import (
    DEFAULT_MODELS,
    MODEL_KINDS,
    STANDARD_KINDS,
    ModelSpec,
    custom,
    first_touch,
    last_touch,
    linear,
    position_based,
    standard_models,
    time_decay,
    weights_for,
)

__all__ = [
    "DEFAULT_MODELS",
    "DIRECT_CHANNEL",
    "MODEL_KINDS",
    "STANDARD_KINDS",
    "ChannelPath",
    "ConversionFacts",
    "Credit",
    "MarkovResult",
    "ModelSpec",
    "ShapleyResult",
    "Touch",
    "Windows",
    "attribute",
    "custom",
    "eligible_touches",
    "first_touch",
    "last_touch",
    "linear",
    "markov_model",
    "minor_unit_digits",
    "position_based",
    "shapley_model",
    "split_revenue",
    "standard_models",
    "time_decay",
    "touch_order_key",
    "weights_for",
]
