"""The at-least-once checkpoint, in one place: announce the range, write it, then commit past it.

For each partition in a flush, with records at offsets [first, last]:
  1. commit offset `first` with metadata `pending:<last>`: the range this flush will write;
  2. insert the range's rows into every table with token `{topic}:{partition}:{first}-{last}:{table}`;
  3. commit offset `last + 1` with empty metadata.
A processor killed anywhere in between restarts (or another group member takes over) from `first`, reads the
`pending` marker and re-forms exactly the same range, so the tokens match and ClickHouse drops every block it
already has. Nothing is committed before ClickHouse has the rows, and nothing is stored twice.
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING_PREFIX = "pending:"


@dataclass(frozen=True, slots=True)
class Range:
    topic: str
    partition: int
    first: int
    last: int

    def token(self, table: str) -> str:
        return f"{self.topic}:{self.partition}:{self.first}-{self.last}:{table}"

    def pending_marker(self) -> str:
        return f"{PENDING_PREFIX}{self.last}"


def pending_end(metadata: str | None) -> int | None:
    """The last offset of an announced but maybe unfinished range, from commit metadata."""
    if metadata and metadata.startswith(PENDING_PREFIX):
        try:
            return int(metadata.removeprefix(PENDING_PREFIX))
        except ValueError:
            return None
    return None


def batch_end(offsets: list[int], forced_end: int | None) -> int | None:
    """Where this partition's next range ends, or None if it must wait for more records.

    Without a pending marker every buffered record goes. With one, the range must end exactly at the marker:
    if the buffer has not reached it yet, wait; records beyond it wait for the next range.
    """
    if not offsets:
        return None
    if forced_end is None:
        return offsets[-1]
    if offsets[-1] < forced_end:
        return None
    return forced_end
