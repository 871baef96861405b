"""`touchstream stream`: open the store, migrate, then consume until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator

import uvicorn
from pydantic import ValidationError

from runtime import logs
from runtime.errors import StartupError
from runtime.kafka_admin import ensure_topics
from stream.channels.taxonomy import TaxonomyError, load_taxonomy
from stream.consumer import StreamRunner
from stream.errors import PartitionsChanged, StoreFatal
from stream.journeys.config import ConfigError, load_config
from stream.journeys.engine import AppEngine
from stream.metrics import StreamMetrics
from stream.postbacks.hook import JourneyFactory
from stream.postbacks.load import load_postbacks
from stream.privacy_exec import PrivacyWriter
from stream.privacy_publisher import KafkaPublisher
from stream.privacy_retention import RetentionError, load_retention
from stream.query_server import create_query_app
from stream.reports.keys import AnalystKeyError, FileAnalystKeys
from stream.settings import StreamSettings
from stream.store import connect, migrate, write_channel_catalog
from stream.topology import pin_partitions, topic_partitions

log = logging.getLogger(__name__)


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside our own loop: SIGINT/SIGTERM belong to the processor, which must flush before exiting."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def run() -> int:
    try:
        settings = StreamSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"stream: invalid configuration: {problems}\n")
        return 2
    logs.configure(settings.log_level, settings.log_json)
    try:
        return asyncio.run(_main(settings))
    except (StartupError, ConfigError, TaxonomyError, AnalystKeyError, RetentionError) as exc:
        sys.stderr.write(f"stream: {exc}\n")
        return 2
    except PartitionsChanged as exc:
        sys.stderr.write(f"stream: {exc}\n")
        return 2
    except StoreFatal as exc:
        sys.stderr.write(f"stream: ClickHouse refused our writes, stopping: {exc}\n")
        return 1


async def _main(settings: StreamSettings) -> int:
    await ensure_topics(settings.kafka_bootstrap_servers, settings.topic_specs())
    client = connect(settings.clickhouse_url, settings.clickhouse_database)
    migrate(client)
    events_topic = settings.kafka_events_topic
    partitions = await topic_partitions(settings.kafka_bootstrap_servers, events_topic)
    pin_partitions(client, events_topic, partitions)
    query_client = connect(settings.clickhouse_url, settings.clickhouse_database)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers)
    lane_clients = [
        connect(settings.clickhouse_url, settings.clickhouse_database) for _ in range(settings.stream_writer_lanes - 1)
    ]
    writer = PrivacyWriter(
        client, publisher, settings.kafka_privacy_topic, settings.pii_hash_secret.get_secret_value().encode(),
        load_retention(settings.stream_apps_file), lane_clients=lane_clients,
    )
    config = load_config(settings.stream_attribution_config)
    taxonomy = load_taxonomy(settings.stream_taxonomy_file)
    analyst_keys = FileAnalystKeys(settings.stream_apps_file) if settings.stream_apps_file else None
    write_channel_catalog(client, taxonomy)
    metrics = StreamMetrics()
    postbacks = load_postbacks(settings.stream_apps_file)  # decided here, sent by `touchstream postbacks`
    engines = JourneyFactory(lambda app_id: AppEngine(app_id, config, taxonomy), postbacks)
    runner = StreamRunner(settings, writer, metrics, engines, partitions=partitions)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    server = _EmbeddedServer(
        uvicorn.Config(
            create_query_app(
                query_client, settings.stream_query_max_rows, settings.stream_query_timeout_s, metrics.registry,
                analyst_keys, allowed_hosts=settings.stream_query_allowed_hosts,
                sql_key=settings.stream_sql_key.get_secret_value() if settings.stream_sql_key else None,
            ),
            host=settings.stream_query_host,
            port=settings.stream_query_port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    server_task = asyncio.create_task(server.serve())
    log.info(
        "stream processor consuming %s into %s (query endpoint http://%s:%d)",
        settings.kafka_events_topic, settings.clickhouse_url, settings.stream_query_host, settings.stream_query_port,
    )
    try:
        await runner.run(stop)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await server_task
        writer.close()
        await writer.publisher.stop()
    return 0
