from typing import Any

class StrictValidator:
    """A pydantic-core schema of plain dicts, checked strictly in compiled code (native/src/lib.rs)."""

    def __init__(self, schema: dict[str, Any]) -> None: ...
    def validate_python(self, value: Any) -> Any:
        """The validated value; ValueError when the input does not surely pass."""

class NativeBlock:
    """Rows into ClickHouse's Native format, the bytes clickhouse-connect writes (native/src/native_block.rs)."""

    def __init__(self, names: list[str], types: list[str]) -> None:
        """`types`: clickhouse-connect's `insert_name` of each column; ValueError for a type not compiled."""
    def encode(self, rows: list[tuple[Any, ...]], block_rows: int) -> bytes:
        """The Native blocks of `rows`, `block_rows` each; TypeError, ValueError or OverflowError for a value
        not taken (clickhouse-connect is then the one to encode it)."""

class Attribution:
    """`stream.attribution.credits.attribute_journey` compiled for one config's models
    (native/src/attribute.rs)."""

    def __init__(self, models: Any, minor_units: Any, zero: Any, decimal: Any) -> None:
        """ValueError or TypeError for a model it does not compile (the Python reference then answers)."""
    def journey(
        self, touches: Any, at: Any, revenue: Any, currency: Any, windows: Any
    ) -> tuple[list[Any], list[tuple[str, list[float], list[Any]]]] | None:
        """What `attribute_journey` returns, or None where the Python reference is to answer."""

class ConversionScan:
    """`stream.processor.conversion_events` of an events record, scanned without decoding it
    (native/src/conversion_scan.rs)."""

    def __init__(self, conversion_types: frozenset[str], refund_types: frozenset[str]) -> None: ...
    def keys(self, value: bytes) -> list[tuple[Any, str | None]] | None:
        """The pairs, or None where the Python reference is to answer."""
