"""Test fixtures shared by every tier.

Integration tests get the real Kafka broker (deploy/kafka/kafka.sh, started once per session on free ports)
and the real ClickHouse engine (chDB, one data folder per test session, a fresh database per test). Set
TOUCHSTREAM_TEST_KAFKA=host:port to reuse a running broker instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.broker import Broker

# Re-exported: many tests import these two from here; they live in the harness, which the load tests share.
from tests.integration.harness import ROOT as ROOT
from tests.integration.harness import free_port as free_port


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reuse = os.environ.get("TOUCHSTREAM_TEST_KAFKA")
    if reuse:
        yield reuse
        return
    broker = Broker(tmp_path_factory.mktemp("kafka"), heap="384m")
    broker.run("up")
    try:
        yield broker.bootstrap
    finally:
        broker.down()


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # chDB allows one data folder per process: every in-process test shares this one, in its own database.
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse(chdb_path: Path) -> Iterator[Any]:
    from stream.store import connect, migrate

    database = unique("t")
    client = connect(f"chdb://{chdb_path}", database)
    migrate(client)
    client.test_database = database
    yield client
    client.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
def topics() -> dict[str, str]:
    return {
        "KAFKA_EVENTS_TOPIC": unique("events"),
        "KAFKA_DEADLETTER_TOPIC": unique("deadletter"),
        "STREAM_GROUP_ID": unique("group"),
    }
