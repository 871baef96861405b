"""Errors of the stream processor, classified once: retriable (back off and replay) or fatal (stop).

ClickHouse errors are classified by their numeric code. clickhouse-connect exposes the code only inside the
exception text ("Code: 60. DB::Exception: ..."), so `clickhouse_code` is the one place that reads it.
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError, OperationalError

_CODE = re.compile(r"Code: (\d+)\.")

# Schema or configuration problems: replaying cannot fix them.
FATAL_CODES = frozenset({
    60,   # UNKNOWN_TABLE
    81,   # UNKNOWN_DATABASE
    16,   # NO_SUCH_COLUMN_IN_TABLE
    47,   # UNKNOWN_IDENTIFIER
    62,   # SYNTAX_ERROR
    164,  # READONLY
    497,  # ACCESS_DENIED
    516,  # AUTHENTICATION_FAILED
})


class StreamError(Exception):
    retriable = False


class StoreUnavailable(StreamError):
    """ClickHouse did not take the batch; offsets stay uncommitted and the batch is replayed after a back-off."""

    retriable = True


class CheckpointFailed(StreamError):
    """Kafka refused an offset commit; nothing past the last good checkpoint counts, the range is replayed."""

    retriable = True


class StoreFatal(StreamError):
    """ClickHouse refused the batch for a reason a retry cannot fix."""


class PartitionsChanged(StoreFatal):
    """The events topic no longer has the partition count the stored versions were made with (stream/topology)."""


def clickhouse_code(exc: BaseException) -> int | None:
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def classify(exc: BaseException) -> StreamError:
    if isinstance(exc, StreamError):
        return exc
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    if isinstance(exc, OperationalError | OSError | TimeoutError):
        return StoreUnavailable(first_line)
    if isinstance(exc, DatabaseError | ClickHouseError):
        code = clickhouse_code(exc)
        if code in FATAL_CODES:
            return StoreFatal(first_line)
        return StoreUnavailable(first_line)
    return StoreFatal(f"{type(exc).__name__}: {first_line}")
