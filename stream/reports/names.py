"""The report API's own names: the reports and the closed sets of their parameters.

Stdlib only, so that the command line can offer them as choices without importing the event contract.
"""

from __future__ import annotations

from typing import Final

# The reports of GET /v1/reports/<name>, in the order they are listed; each is a `ReportService` method.
REPORT_NAMES: Final = (
    "meta", "channels", "trend", "funnel", "retention", "paths", "rfm", "shares", "health", "postbacks",
)
LEVELS: Final = ("channel", "channel_type", "campaign", "creative")
ACQUISITIONS: Final = ("register", "convert")  # conversion types a person is acquired by (a unit test checks)
ALLOCATIONS: Final = ("acquisitions", "credit")
GRAINS: Final = ("day", "week")
# Population (data-driven) models: computed by the report service over the current paths, not stored as credits;
# their names are reserved in the reports (a custom model of the same name is not reachable there).
DATA_DRIVEN_MODELS: Final = ("markov", "shapley")
