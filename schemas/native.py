"""The compiled hot path (native/, the `touchstream_native` extension), imported in one place.

`make venv` builds it from its sources; an environment set up another way (`pip install -e .` alone) lacks it,
and says so here in one line instead of a bare ModuleNotFoundError in whichever module asked first.
"""

from __future__ import annotations

try:
    from touchstream_native import Attribution, ConversionScan, NativeBlock, StrictValidator
except ImportError as exc:
    msg = "touchstream_native is not built: run `make venv` (or `pip install ./native`), which needs Rust (cargo)"
    raise ImportError(msg) from exc

__all__ = ["Attribution", "ConversionScan", "NativeBlock", "StrictValidator"]
