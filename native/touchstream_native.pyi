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
