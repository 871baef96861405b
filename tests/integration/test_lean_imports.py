"""The processor's process leaves the dataframe libraries out (runtime/lean_imports.py), the real chDB engine
still writes and reads: each check runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def test_left_out_libraries_cannot_be_imported_and_an_imported_one_stays() -> None:
    result = _run(
        "import sys, json, decimal\n"
        "sys.modules['polars'] = decimal  # stands for a library imported before the call\n"
        "from runtime.lean_imports import leave_out_dataframe_libraries\n"
        "left_out = leave_out_dataframe_libraries()\n"
        "failed = []\n"
        "for name in ('pyarrow', 'pandas', 'numpy'):\n"
        "    try:\n"
        "        __import__(name)\n"
        "    except ImportError:\n"
        "        failed.append(name)\n"
        "print(json.dumps({'left_out': left_out, 'failed': failed, 'polars': sys.modules['polars'] is decimal}))\n"
    )
    assert result == {"left_out": ["pyarrow", "pandas", "numpy"], "failed": ["pyarrow", "pandas", "numpy"],
                      "polars": True}


def test_the_store_writes_and_reads_without_them(tmp_path: Path) -> None:
    # chDB imports pyarrow when the store opens, clickhouse-connect pandas at the first insert; both must work
    # without, and neither may bring one in some other way.
    result = _run(
        "import sys, json, datetime\n"
        "from decimal import Decimal\n"
        "from runtime.lean_imports import leave_out_dataframe_libraries\n"
        "leave_out_dataframe_libraries()\n"
        "import clickhouse_connect\n"
        f"c = clickhouse_connect.get_client(interface='chdb', path={str(tmp_path / 'db')!r})\n"
        "c.command(\"CREATE TABLE t (a UInt64, s LowCardinality(String), d DateTime64(3, 'UTC'), \"\n"
        "          'm Map(String, String), r Nullable(Decimal(18, 4))) ENGINE = MergeTree ORDER BY a')\n"
        "at = datetime.datetime(2026, 12, 3, 10, 0, 0, 123000, tzinfo=datetime.UTC)\n"
        "c.insert('t', [(1, 'x', at, {'k': 'v'}, Decimal('9.5')), (2, 'y', at, {}, None)],\n"
        "         column_names=['a', 's', 'd', 'm', 'r'])\n"
        "rows = c.query('SELECT a, s, toUnixTimestamp64Milli(d), m, toString(r) FROM t ORDER BY a').result_rows\n"
        "loaded = [m for m in ('pyarrow', 'pandas', 'numpy') if sys.modules.get(m) is not None]\n"
        "print(json.dumps({'rows': [list(r) for r in rows], 'loaded': loaded}))\n"
    )
    millis = (1_767_225_600 + 336 * 86_400 + 10 * 3600) * 1000 + 123  # 2026-01-01, + 336 days, + 10 h
    assert result == {"rows": [[1, "x", millis, {"k": "v"}, "9.5"], [2, "y", millis, {}, None]], "loaded": []}
