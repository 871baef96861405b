"""A broker a test owns: its own ports and data folder, so stopping it disturbs no other test."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import ROOT, free_port


class Broker:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ, "KAFKA_PORT": str(self.port), "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_DATA_DIR": str(data_dir), "KAFKA_HEAP": "256m",
        }
        self.bootstrap = f"127.0.0.1:{self.port}"

    def run(self, action: str) -> None:
        """`deploy/kafka/kafka.sh up|down`: `up` returns once the broker accepts connections."""
        subprocess.run([str(ROOT / "deploy/kafka/kafka.sh"), action], check=True, env=self.env, cwd=ROOT)
