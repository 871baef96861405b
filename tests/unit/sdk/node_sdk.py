"""Running the mini-program SDK (sdk/miniprogram, TypeScript built with its own npm tooling) from pytest.

`make test` runs `make sdk-test` first, which installs the npm tools (`npm ci`) and builds; a stale build is
rebuilt here. Without node or the npm tools the test fails with what to run: it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SDK_DIR = ROOT / "sdk" / "miniprogram"
BUILD = SDK_DIR / "build"


def _newest_source() -> float:
    sources = [*SDK_DIR.glob("src/**/*.ts"), *SDK_DIR.glob("test/**/*.ts")]
    return max(path.stat().st_mtime for path in sources)


def ensure_built(script: str) -> Path:
    """`build/test/<script>.js`, rebuilt when a TypeScript source is newer than it."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: the SDK tests need Node 20 (see docs/sdk.md)")
    target = BUILD / "test" / f"{script}.js"
    if target.exists() and target.stat().st_mtime >= _newest_source():
        return target
    if not (SDK_DIR / "node_modules").is_dir():
        pytest.fail("the SDK's npm tools are not installed: run `make sdk-test` (npm ci) first")
    done = subprocess.run(["npm", "run", "--silent", "build"], cwd=SDK_DIR, capture_output=True, text=True,
                          timeout=180, check=False)
    if done.returncode != 0:
        pytest.fail(f"the SDK build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return target


def run_node(script: str, *args: str, timeout: float = 120) -> str:
    """Runs a built SDK script with node; its stdout, or a failure with its output."""
    target = ensure_built(script)
    done = subprocess.run(["node", str(target), *args], cwd=SDK_DIR, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        pytest.fail(f"node {script} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout
