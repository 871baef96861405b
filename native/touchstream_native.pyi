from typing import Any

class StrictValidator:
    """A pydantic-core schema of plain dicts, checked strictly in compiled code (native/src/lib.rs)."""

    def __init__(self, schema: dict[str, Any]) -> None: ...
    def validate_python(self, value: Any) -> Any:
        """The validated value; ValueError when the input does not surely pass."""
