"""The compiled Native encoder (`touchstream_native.NativeBlock`) against clickhouse-connect's, byte for byte.

The reference is what the writer sent before the encoder existed: `column_data` + clickhouse-connect's Native
transform, on the same rows, column types and block split. Rows of every column type of the processor's tables
must give the same bytes; hostile rows may be declined by the encoder (the writer then lets clickhouse-connect
encode them), but never taken where clickhouse-connect refuses them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.native import NativeBlock
from stream.writer import column_data

# Every type of the processor's tables (`insert_name` as clickhouse-connect gives it), once each.
TYPES = {
    "u8": "UInt8", "u16": "UInt16", "u32": "UInt32", "u64": "UInt64", "f64": "Float64", "s": "String",
    "lc": "LowCardinality(String)", "ts": "DateTime64(3, 'UTC')", "nts": "Nullable(DateTime64(3, 'UTC'))",
    "day": "Date", "dec": "Decimal(18, 4)", "rate": "Decimal(18, 8)", "ndec": "Nullable(Decimal(18, 4))",
    "ni64": "Nullable(Int64)", "nu8": "Nullable(UInt8)", "arr": "Array(String)", "ms": "Map(String, String)",
    "mu": "Map(String, UInt64)",
}
NAMES = list(TYPES)
DECLINED = (TypeError, ValueError, OverflowError)


def reference(names: list[str], types: list[str], rows: list[tuple[Any, ...]], block_rows: int) -> bytes:
    ch_types = [get_from_name(t) for t in types]
    ctx = InsertContext("t", names, ch_types, data=column_data(rows, ch_types), column_oriented=True)
    ctx.block_row_count = block_rows
    body = b"".join(NativeTransform.build_insert(ctx))
    return body[body.index(b"\n") + 1:]  # after the `INSERT ... FORMAT Native` line, which raw_insert writes


def native(names: list[str], types: list[str], rows: list[tuple[Any, ...]], block_rows: int) -> bytes:
    return NativeBlock(names, types).encode(rows, block_rows)


EIGHT = timezone(timedelta(hours=8))
texts = st.text(max_size=12) | st.sampled_from(["", "wechat", "商品详情", "😀", "x" * 300])
# Hypothesis takes naive bounds and attaches the time zones itself.
aware = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2105, 1, 1),  # noqa: DTZ001
                     timezones=st.sampled_from([UTC, EIGHT, timezone(timedelta(hours=-5, minutes=-30))]))
money = st.decimals(min_value=-(10**13), max_value=10**13, places=4) | st.sampled_from(
    [Decimal("19.90"), Decimal("0"), Decimal("-0"), Decimal("1E+2"), Decimal("0E-8"), Decimal("7.1999")])
rates = st.decimals(min_value=0, max_value=10**9, places=8)


@st.composite
def rows_of_every_type(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    pool = draw(st.lists(texts, min_size=1, max_size=300, unique=True))  # the dictionary crosses 256 keys
    ticks = draw(st.booleans())  # a DateTime64 column of ticks, as `column_data` leaves it, or of datetimes
    moments = st.integers(0, 4_000_000_000_000) if ticks else aware
    row = st.tuples(
        st.integers(0, 255) | st.booleans(), st.integers(0, 65_535), st.integers(0, 2**32 - 1),
        st.integers(0, 2**64 - 1), st.floats(allow_nan=False) | st.integers(-(2**53), 2**53), texts,
        st.sampled_from(pool), moments, st.none() | moments,
        st.dates(min_value=date(1970, 1, 1), max_value=date(2149, 6, 6)), money, rates, st.none() | money,
        st.none() | st.integers(-(2**63), 2**63 - 1), st.none() | st.integers(0, 255), st.lists(texts, max_size=3),
        st.dictionaries(texts, texts, max_size=3), st.dictionaries(texts, st.integers(0, 2**64 - 1), max_size=3),
    )
    return draw(st.lists(row, min_size=1, max_size=400))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=rows_of_every_type(), block_rows=st.sampled_from([1, 7, 256, 4096]))
def test_rows_of_every_type_give_clickhouse_connects_bytes(rows: list[tuple[Any, ...]], block_rows: int) -> None:
    types = list(TYPES.values())
    assert native(NAMES, types, rows, block_rows) == reference(NAMES, types, rows, block_rows)


def test_a_hand_encoded_block() -> None:
    # Native format by hand: columns and rows (LEB128), then per column its name, its type and its data.
    rows = [(1, "ab", "x", datetime(1970, 1, 1, 0, 0, 1, 2_500, tzinfo=UTC)), (2, "", "x", None)]
    got = native(["n", "s", "lc", "t"], ["UInt16", "String", "LowCardinality(String)",
                                         "Nullable(DateTime64(3, 'UTC'))"], rows, 100)
    def u64(n: int) -> bytes:
        return n.to_bytes(8, "little")

    expected = (
        b"\x04\x02"
        + b"\x01n\x06UInt16" + b"\x01\x00\x02\x00"
        + b"\x01s\x06String" + b"\x02ab\x00"
        + b"\x02lc\x16LowCardinality(String)" + u64(1) + u64((1 << 9) | (1 << 10)) + u64(1) + b"\x01x"
        + u64(2) + b"\x00\x00"
        + b"\x01t\x1eNullable(DateTime64(3, 'UTC'))" + b"\x00\x01" + (1_002).to_bytes(8, "little") + bytes(8)
    )
    assert got == expected


NAIVE = datetime(2024, 5, 1)  # noqa: DTZ001 - on purpose: its ticks depend on clickhouse-connect's settings
MAY = datetime(2024, 5, 1, tzinfo=UTC)
HOSTILE = [
    ("String", [None]), ("String", [b"bytes"]), ("String", ["\ud800"]), ("String", [5]),
    ("LowCardinality(String)", [None]), ("UInt8", [256]), ("UInt8", [-1]), ("UInt16", [1.0]), ("UInt64", [2**64]),
    ("Nullable(Int64)", [2**63]), ("Float64", ["1"]), ("DateTime64(3, 'UTC')", [NAIVE]),
    ("DateTime64(3, 'UTC')", [MAY, 5]), ("DateTime64(3, 'UTC')", [5, MAY]), ("DateTime64(3, 'UTC')", ["2024-05-01"]),
    ("Date", [MAY - timedelta(days=20_000)]), ("Date", ["2024-05-01"]),
    ("Decimal(18, 4)", [Decimal("1.23456")]), ("Decimal(18, 4)", [Decimal("NaN")]), ("Decimal(18, 4)", [1.5]),
    ("Decimal(18, 4)", [Decimal("1E+20")]), ("Decimal(18, 4)", [True]), ("Array(String)", ["abc"]),
    ("Array(String)", [("a",)]), ("Map(String, UInt64)", [{"a": -1}]), ("Map(String, String)", [[("a", "b")]]),
]


@pytest.mark.parametrize(("type_name", "column"), HOSTILE)
def test_values_it_declines_are_never_taken_where_clickhouse_connect_refuses(type_name: str,
                                                                              column: list[Any]) -> None:
    rows = [(value,) for value in column]
    try:
        expected: bytes | None = reference(["c"], [type_name], rows, 100)
    except Exception:  # noqa: BLE001 - any refusal of clickhouse-connect's
        expected = None
    try:
        got: bytes | None = native(["c"], [type_name], rows, 100)
    except DECLINED:
        got = None
    if expected is None:
        assert got is None
    elif got is not None:
        assert got == expected


@pytest.mark.parametrize("type_name", ["Float32", "Nullable(String)", "LowCardinality(Nullable(String))",
                                       "DateTime64(6, 'UTC')", "Decimal(38, 4)", "Array(UInt64)", "Tuple(String)",
                                       "Map(UInt64, String)", "DateTime"])
def test_types_it_does_not_compile_are_refused_when_built(type_name: str) -> None:
    with pytest.raises(ValueError, match="cannot encode the type"):
        NativeBlock(["c"], [type_name])


def test_rows_must_match_the_columns() -> None:
    block = NativeBlock(["a", "b"], ["UInt8", "UInt8"])
    with pytest.raises(ValueError, match="2 values"):
        block.encode([(1,)], 10)
    with pytest.raises(TypeError):
        block.encode([[1, 2]], 10)  # type: ignore[list-item]
