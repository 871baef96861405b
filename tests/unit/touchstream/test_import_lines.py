"""The pure half of `touchstream import`: NDJSON and CSV lines to events, batching at the collector's limits, and
the resume record. Expected values are written out by hand (or, for the order ids, from their definition)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from touchstream.import_lines import (
    BODY_OVERHEAD,
    ORDER_NAMESPACE,
    Batch,
    CsvHeaderError,
    Item,
    LineDigest,
    Progress,
    batches,
    csv_items,
    ndjson_items,
    order_event_id,
)

# -- NDJSON --------------------------------------------------------------------------------------------------


def test_ndjson_lines_are_numbered_blank_lines_skipped_and_bad_lines_explained() -> None:
    lines = [b'{"event_id": "a", "type": "enter"}\n', b"\n", b"  \n", b"{broken\n", b"[1, 2]\n", b'{"b":1}']
    items = list(ndjson_items(lines))
    assert [(i.line, i.event, i.error is None) for i in items] == [
        (1, b'{"event_id":"a","type":"enter"}', True),
        (4, None, False),
        (5, None, False),
        (6, b'{"b":1}', True),
    ]
    assert items[1].error is not None and items[1].error.startswith("not valid JSON: ")
    assert items[2].error == "an event must be a JSON object, got list"
    assert items[0].raw == b'{"event_id": "a", "type": "enter"}\n'  # the digest covers the bytes as read


# -- CSV -----------------------------------------------------------------------------------------------------


def events_of(text: str) -> list[tuple[int, dict[str, object] | None, str | None]]:
    out = []
    for item in csv_items(text.splitlines(keepends=True)):
        out.append((item.line, orjson.loads(item.event) if item.event else None, item.error))
    return out


def test_csv_rows_become_convert_events_with_deterministic_ids() -> None:
    text = (
        "order_id,revenue,currency,time,user_id,openid\n"
        "SO-1,199.90,CNY,2026-10-01T08:00:00Z,u-1,\n"
        "SO-2,5,,1759305600000,,o-9\n"
    )
    assert events_of(text) == [
        (2, {"event_id": str(uuid.uuid5(ORDER_NAMESPACE, "order:SO-1")), "type": "convert",
             "timestamp": "2026-10-01T08:00:00Z", "anonymous_id": "import:user_id:u-1", "user_id": "u-1",
             "properties": {"order_id": "SO-1", "revenue": "199.90", "currency": "CNY"}}, None),
        # No currency cell: the contract's default (CNY) applies; digits only: epoch milliseconds.
        (3, {"event_id": str(uuid.uuid5(ORDER_NAMESPACE, "order:SO-2")), "type": "convert",
             "timestamp": 1759305600000, "anonymous_id": "import:openid:o-9", "openid": "o-9",
             "properties": {"order_id": "SO-2", "revenue": "5"}}, None),
    ]
    assert order_event_id("SO-1") == order_event_id("SO-1") != order_event_id("SO-2")


def test_a_csv_anonymous_id_is_used_as_the_device() -> None:
    [(_, event, _)] = events_of("anonymous_id,order_id,revenue,time\nanon-7,X,1.00,2026-10-01T08:00:00Z\n")
    assert event is not None
    assert (event["anonymous_id"], "user_id" in event) == ("anon-7", False)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("order_id,revenue,time,user_id,amount", "unknown CSV column 'amount'; the columns are order_id, revenue,"),
        ("order_id,revenue,user_id", "the CSV header lacks the required column 'time'"),
        ("order_id,revenue,time", "the CSV header needs at least one id column of anonymous_id, user_id"),
        ("order_id,revenue,time,user_id,user_id", "CSV column 'user_id' appears twice"),
    ],
)
def test_a_bad_csv_header_is_an_error_naming_the_column(header: str, message: str) -> None:
    with pytest.raises(CsvHeaderError) as caught:
        list(csv_items([header + "\n", "a,1,2026-10-01,u\n"]))
    assert str(caught.value).startswith(message)


def test_an_empty_csv_needs_a_header() -> None:
    with pytest.raises(CsvHeaderError, match="the CSV file is empty: a header row is required"):
        list(csv_items([]))


def test_bad_csv_cells_are_per_row_errors_and_the_good_rows_still_come() -> None:
    text = (
        "order_id,revenue,time,user_id,openid\n"
        ",1.00,2026-10-01T08:00:00Z,u-1,\n"  # 2: no order id
        "SO-3,1.00,2026-10-01T08:00:00Z,,\n"  # 3: no id at all
        "SO-4,1.00,2026-10-01T08:00:00Z,u-1,,extra\n"  # 4: one cell too many
        ",,,,\n"  # 5: an empty row is not a line of data
        "SO-6,2.00,2026-10-01T08:00:00Z,u-6,\n"  # 6: fine
    )
    got = [(line, error or (event or {}).get("event_id")) for line, event, error in events_of(text)]
    assert got == [
        (2, "cell 'order_id' is empty"),
        (3, "no id: at least one of anonymous_id, user_id, openid, unionid must be set"),
        (4, "6 cells but the header has 5 columns"),
        (6, order_event_id("SO-6")),
    ]


# -- batches -------------------------------------------------------------------------------------------------


def ev(line: int, size: int) -> Item:
    """An event of exactly `size` bytes of JSON."""
    event = b'{"p":"' + b"x" * (size - 8) + b'"}'
    assert len(event) == size
    return Item(line, event, event=event)


def shape(groups: list[Batch]) -> list[list[tuple[int, bool]]]:
    return [[(i.line, i.event is not None) for i in b.items] for b in groups]


def test_batches_split_at_the_event_count() -> None:
    got = list(batches([ev(n, 20) for n in range(1, 6)], max_events=2, max_body_bytes=10_000))
    assert shape(got) == [[(1, True), (2, True)], [(3, True), (4, True)], [(5, True)]]


def test_batches_split_at_the_body_size_exactly() -> None:
    # Body = 13 bytes of envelope + events + 1 comma between each: two 100-byte events make 214 bytes.
    assert BODY_OVERHEAD == 13
    fits = list(batches([ev(1, 100), ev(2, 100)], max_events=10, max_body_bytes=214))
    assert shape(fits) == [[(1, True), (2, True)]]
    assert len(fits[0].body()) == 214
    split = list(batches([ev(1, 100), ev(2, 100)], max_events=10, max_body_bytes=213))
    assert shape(split) == [[(1, True)], [(2, True)]]


def test_an_event_too_large_for_any_body_is_rejected_and_rejects_ride_with_the_next_batch() -> None:
    bad = Item(2, b"x", error="not valid JSON: ...")
    got = list(batches([ev(1, 50), bad, ev(3, 2000), ev(4, 50)], max_events=1, max_body_bytes=1024))
    assert shape(got) == [[(1, True), (2, False), (3, False)], [(4, True)]]
    assert got[0].items[2].error == "the event is 2000 bytes; a batch body is at most 1024 bytes"
    assert [i.line for i in got[0].event_items] == [1]
    assert [i.line for i in got[0].local_rejects] == [2, 3]
    assert got[0].last_line == 3


def test_trailing_rejects_make_a_batch_without_events() -> None:
    got = list(batches([ev(1, 30), Item(2, b"", error="bad")], max_events=1, max_body_bytes=1024))
    assert shape(got) == [[(1, True), (2, False)]]
    only_bad = list(batches([Item(5, b"", error="bad")], max_events=1, max_body_bytes=1024))
    assert (only_bad[0].event_items, only_bad[0].body()) == ((), b'{"events":[]}')


def test_a_batch_body_is_the_events_joined() -> None:
    batch = Batch((Item(1, b"", event=b'{"a":1}'), Item(2, b"", error="x"), Item(3, b"", event=b'{"b":2}')))
    assert batch.body() == b'{"events":[{"a":1},{"b":2}]}'


# -- the resume record ---------------------------------------------------------------------------------------


def test_progress_round_trips() -> None:
    progress = Progress(done_through=42, digest="ab" * 32, new=40, rejected=2)
    assert Progress.from_json(progress.to_json()) == progress
    assert orjson.loads(progress.to_json()) == {"version": 1, "done_through": 42, "digest": "ab" * 32, "new": 40,
                                                "rejected": 2}


@pytest.mark.parametrize("data", [b"", b"{}", b'{"version": 2}', b"[1]",
                                  b'{"version":1,"done_through":-1,"digest":"","new":0,"rejected":0}'])
def test_an_unreadable_progress_record_says_how_to_start_over(data: bytes) -> None:
    with pytest.raises(ValueError, match="delete it to start over"):
        Progress.from_json(data)


def test_the_line_digest_cannot_be_fooled_by_moving_a_line_break() -> None:
    one, two = LineDigest(), LineDigest()
    one.add(b"ab")
    one.add(b"c")
    two.add(b"a")
    two.add(b"bc")
    assert one.hexdigest() != two.hexdigest()
    # An empty file's digest is the one a fresh Progress starts with.
    assert LineDigest().hexdigest() == Progress().digest
