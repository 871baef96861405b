"""Keep the dataframe libraries out of the stream processor: chDB and clickhouse-connect import them, it uses none.

`chdb` requires pandas and pyarrow, and imports pyarrow (and with it numpy) when the store is opened;
clickhouse-connect imports pandas (and numpy) at the first insert, only to ask whether the rows are a DataFrame.
Both treat the libraries as optional: without them, their Arrow and DataFrame calls raise, everything else works.
(polars is on the list for the same reason: clickhouse-connect would import it for its polars calls.)
The processor never makes those calls (rows are tuples, results are rows or bytes), and the three libraries held
~78 MiB of its resident memory (347 against 269 MiB after opening a store, one insert and one query; peak RSS on
the benchmark stream 816 against 745 MiB: BENCHMARKS.md, 2026-12-03).

Marking a module None in `sys.modules` is Python's documented way to make its import raise ImportError. A library
that needs one of them outright then fails at start, with its name in the error.
"""

from __future__ import annotations

import sys

DATAFRAME_LIBRARIES = ("pyarrow", "pandas", "numpy", "polars")


def leave_out_dataframe_libraries() -> tuple[str, ...]:
    """Make the dataframe libraries unimportable in this process; returns those it could (not yet imported)."""
    left_out = tuple(name for name in DATAFRAME_LIBRARIES if name not in sys.modules)
    for name in left_out:
        sys.modules[name] = None  # type: ignore[assignment]
    return left_out
