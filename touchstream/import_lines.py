"""The pure half of `touchstream import`: lines of a history file → events → batches, and the resume record.

No file or network I/O here: the command (touchstream/import_cli.py) opens the file and hands over its lines;
what comes back are numbered items (an event, or the reason the line cannot be one), batches that fit the
collector's limits, and the progress record that tells a re-run which lines the collector already answered.

Line numbers are 1-based physical lines for NDJSON and 1-based records for CSV (the header is line 1), so a
reject names the line an editor shows for every CSV without quoted line breaks.
"""

from __future__ import annotations

import csv
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

# The CSV columns of an order export; every other header is an error naming it (a typo must not drop data).
CSV_REQUIRED: Final = ("order_id", "revenue", "time")
CSV_IDS: Final = ("anonymous_id", "user_id", "openid", "unionid")
CSV_COLUMNS: Final = (*CSV_REQUIRED, "currency", *CSV_IDS)
# Fixed namespace of the order event ids: uuid5(ORDER_NAMESPACE, "order:" + order_id). The pipeline dedups by
# (app_id, event_id), so the order id alone makes a re-run of the same CSV send the same ids, whatever flags.
ORDER_NAMESPACE: Final = uuid.UUID("6f1d0a52-2b8e-5c4e-9a57-7c1f3e0b9d21")
# `{"events":[` + `]}` around the comma-separated events of a batch body.
BODY_OVERHEAD: Final = len(b'{"events":[]}')


@dataclass(frozen=True, slots=True)
class Item:
    """One line of the file: an event to send (as its JSON bytes) or the reason it is rejected here."""

    line: int
    raw: bytes  # what the resume digest covers: the line's bytes, or its CSV cells
    event: bytes | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """One POST's events plus the lines rejected here in between, all the lines from just after the previous
    batch through `last_line`. `event_items[i]` is the event the collector answers for as index i."""

    items: tuple[Item, ...]

    @property
    def event_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.event is not None)

    @property
    def local_rejects(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.error is not None)

    @property
    def last_line(self) -> int:
        return self.items[-1].line

    def body(self) -> bytes:
        return b'{"events":[' + b",".join(item.event for item in self.items if item.event is not None) + b"]}"


class CsvHeaderError(ValueError):
    """The CSV header is missing, unknown or incomplete: nothing of the file can be read as orders."""


def ndjson_items(lines: Iterable[bytes], first_line: int = 1) -> Iterator[Item]:
    """One item per non-blank line: the event re-encoded compactly, or why it is not a JSON object."""
    for number, raw in enumerate(lines, start=first_line):
        text = raw.strip()
        if not text:
            continue
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield Item(number, raw, error=f"not valid JSON: {exc}")
            continue
        if not isinstance(value, dict):
            yield Item(number, raw, error=f"an event must be a JSON object, got {type(value).__name__}")
            continue
        yield Item(number, raw, event=orjson.dumps(value))


def csv_items(lines: Iterable[str]) -> Iterator[Item]:
    """Order rows → `convert` events. Raises CsvHeaderError for a bad header (before any row is yielded)."""
    reader = csv.reader(lines)
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        msg = "the CSV file is empty: a header row is required"
        raise CsvHeaderError(msg) from None
    _check_header(header)
    for row in reader:
        number = reader.line_num
        raw = "\x1f".join(row).encode()
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield Item(number, raw, error=f"{len(row)} cells but the header has {len(header)} columns")
            continue
        cells = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        try:
            event = order_event(cells)
        except ValueError as exc:
            yield Item(number, raw, error=str(exc))
            continue
        yield Item(number, raw, event=orjson.dumps(event))


def _check_header(header: list[str]) -> None:
    unknown = [name for name in header if name not in CSV_COLUMNS]
    if unknown:
        msg = f"unknown CSV column {unknown[0]!r}; the columns are {', '.join(CSV_COLUMNS)}"
        raise CsvHeaderError(msg)
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        msg = f"CSV column {doubled[0]!r} appears twice"
        raise CsvHeaderError(msg)
    missing = [name for name in CSV_REQUIRED if name not in header]
    if missing:
        msg = f"the CSV header lacks the required column {missing[0]!r}"
        raise CsvHeaderError(msg)
    if not any(name in header for name in CSV_IDS):
        msg = f"the CSV header needs at least one id column of {', '.join(CSV_IDS)}"
        raise CsvHeaderError(msg)


def order_event(cells: dict[str, str]) -> dict[str, Any]:
    """A `convert` event of one order row; the collector validates revenue, currency and time as for any SDK."""
    for name in CSV_REQUIRED:
        if not cells.get(name):
            msg = f"cell {name!r} is empty"
            raise ValueError(msg)
    ids = {name: cells[name] for name in CSV_IDS if cells.get(name)}
    if not ids:
        msg = f"no id: at least one of {', '.join(CSV_IDS)} must be set"
        raise ValueError(msg)
    order_id = cells["order_id"]
    # The contract needs a device id; an order export has none, so the order's person stands in for it. The
    # event's user_id/openid/unionid still join the person's real devices in the identity graph.
    anonymous_id = ids.pop("anonymous_id", None)
    if anonymous_id is None:
        kind, value = next(iter(ids.items()))
        anonymous_id = f"import:{kind}:{value}"
    time: str | int = cells["time"]
    if isinstance(time, str) and time.isdigit():
        time = int(time)  # epoch milliseconds, as the contract reads numbers
    properties = {"order_id": order_id, "revenue": cells["revenue"]}
    if cells.get("currency"):
        properties["currency"] = cells["currency"]
    return {
        "event_id": order_event_id(order_id),
        "type": "convert",
        "timestamp": time,
        "anonymous_id": anonymous_id,
        **ids,
        "properties": properties,
    }


def order_event_id(order_id: str) -> str:
    return str(uuid.uuid5(ORDER_NAMESPACE, f"order:{order_id}"))


def batches(items: Iterable[Item], max_events: int, max_body_bytes: int) -> Iterator[Batch]:
    """Consecutive items grouped so that no batch has more than `max_events` events or `max_body_bytes` of body.

    An event too large for a body on its own becomes a rejected item. Rejected items ride with the next batch
    (or the last), so that one acknowledgement covers a contiguous run of lines.
    """
    group: list[Item] = []
    count = 0
    size = BODY_OVERHEAD
    for item in items:
        if item.event is not None and BODY_OVERHEAD + len(item.event) > max_body_bytes:
            item = Item(item.line, item.raw, error=f"the event is {len(item.event)} bytes; a batch body is at "
                        f"most {max_body_bytes} bytes")
        if item.event is None:
            group.append(item)
            continue
        extra = len(item.event) + (1 if count else 0)
        if count and (count >= max_events or size + extra > max_body_bytes):
            yield Batch(tuple(group))
            group, count, size = [], 0, BODY_OVERHEAD
            extra = len(item.event)
        group.append(item)
        count += 1
        size += extra
    if group:
        yield Batch(tuple(group))


@dataclass(slots=True)
class Progress:
    """What the collector has answered for: every line up to `done_through`, and a digest of those lines.

    A re-run skips the lines up to `done_through` after checking that they still hash to `digest` (a file that
    changed under its progress record is an error, not a silent skip). `new` and `rejected` are totals over runs.
    """

    done_through: int = 0
    digest: str = hashlib.sha256().hexdigest()
    new: int = 0
    rejected: int = 0

    def to_json(self) -> bytes:
        doc = {"version": 1, "done_through": self.done_through, "digest": self.digest, "new": self.new,
               "rejected": self.rejected}
        return orjson.dumps(doc)

    @classmethod
    def from_json(cls, data: bytes) -> Progress:
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("version") != 1:
                msg = "not a version 1 progress record"
                raise ValueError(msg)
            progress = cls(int(doc["done_through"]), str(doc["digest"]), int(doc["new"]), int(doc["rejected"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            msg = f"unreadable progress file ({exc}); delete it to start over (event ids keep a re-send single)"
            raise ValueError(msg) from exc
        if progress.done_through < 0:
            msg = "unreadable progress file (negative line); delete it to start over"
            raise ValueError(msg)
        return progress


@dataclass(slots=True)
class LineDigest:
    """A running sha256 over the raw bytes of the lines read so far (length-prefixed, so lines cannot blur)."""

    _hash: Any = field(default_factory=hashlib.sha256)

    def add(self, raw: bytes) -> None:
        self._hash.update(len(raw).to_bytes(8, "big"))
        self._hash.update(raw)

    def hexdigest(self) -> str:
        return str(self._hash.hexdigest())

    def copy(self) -> LineDigest:
        return LineDigest(self._hash.copy())
