"""A real broker of one's own: deploy/kafka/kafka.sh on free loopback ports with its own data folder, so stopping
it disturbs no one else. The test session's broker, the fault tests' brokers and the benchmarks' are all this."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from tests.integration.harness import ROOT, free_port

KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"


class Broker:
    def __init__(self, data_dir: Path, heap: str = "256m", env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {
            **os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_DATA_DIR": str(data_dir), "KAFKA_HEAP": heap, **(env or {}),
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def run(self, action: str, timeout: float = 180) -> None:
        """`deploy/kafka/kafka.sh up|down`: `up` returns once the broker accepts connections."""
        subprocess.run([str(KAFKA_SH), action], check=True, env=self.env, cwd=ROOT, timeout=timeout)

    def down(self) -> None:
        """Stops the broker if it runs; never raises (for clean-up paths, where the first error is the one to see)."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.run("down", timeout=60)

    @property
    def pid(self) -> int | None:
        """The broker's JVM while it runs (kafka.sh writes it next to the data), for CPU accounting."""
        try:
            return int((self.data_dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None
