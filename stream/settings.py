"""The stream processor's settings: one frozen object, read from the environment, validated at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from runtime.config import ServiceSettings

_DEV_PII_SECRET = "development-only-pii-secret"  # the collector's development value: both must hash alike


class StreamSettings(ServiceSettings):
    clickhouse_url: str = "chdb://./data/clickhouse"
    clickhouse_database: str = Field(default="touchstream", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    stream_group_id: str = "touchstream-stream"
    # ClickHouse wants few, large inserts (1k–100k rows, about one a second).
    stream_flush_rows: int = Field(default=10_000, ge=1)  # Kafka records (each holds one request's events)
    stream_flush_bytes: int = Field(default=32_000_000, ge=1_000)
    # The longest wait between flushes; light traffic flushes sooner (stream/flush_policy.py).
    stream_flush_interval_s: float = Field(default=1.0, gt=0)
    stream_flush_min_interval_s: float = Field(default=0.1, gt=0)
    stream_flush_cost_ratio: float = Field(default=0.5, ge=0)
    stream_max_poll_records: int = Field(default=5_000, ge=1)
    # Partitions a flush writes at once, each through a ClickHouse client of its own (stream/writer.py).
    stream_writer_lanes: int = Field(default=2, ge=1, le=16)
    # Client retries of the same batch are dropped by event id within this window (rebuilt from ClickHouse on
    # partition assignment); older duplicates are left to ReplacingMergeTree (query with FINAL).
    stream_dedup_window_s: int = Field(default=3_600, ge=0)
    stream_dedup_max_ids: int = Field(default=2_000_000, ge=1_000)
    stream_retry_initial_s: float = Field(default=0.5, gt=0)
    stream_retry_max_s: float = Field(default=30.0, gt=0)
    # Attribution: models, windows, conversion types, allowed lateness (docs/attribution.md); channel taxonomy.
    stream_attribution_config: Path | None = None
    stream_taxonomy_file: Path | None = None
    # The read-only SQL endpoint that lets analysts query the embedded store while this process owns it.
    stream_query_host: str = "127.0.0.1"
    stream_query_port: int = Field(default=8124, ge=0, le=65535)
    stream_query_max_rows: int = Field(default=100_000, ge=1)
    stream_query_timeout_s: int = Field(default=30, ge=1)
    # Host names the query server answers to (DNS-rebinding guard); add the name it is published under.
    stream_query_allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")
    # The deployment's SQL key: `Authorization: Bearer <key>` on POST /v1/query reads every app (operators);
    # unset, only analyst keys open it, each for its own apps' rows.
    stream_sql_key: SecretStr | None = Field(default=None, min_length=16)
    # The apps file (the collector's COLLECTOR_APPS_FILE): its `analyst_keys` open the report API and dashboard.
    stream_apps_file: Path | None = None
    # Privacy (docs/privacy.md): the compacted topic the collectors read, and the key of suppressed-id hashes
    # (the collector's PII_HASH_SECRET: both ends must hash alike).
    kafka_privacy_topic: str = Field(default="touchstream.privacy", min_length=1, max_length=200)
    pii_hash_secret: SecretStr = SecretStr(_DEV_PII_SECRET)

    @model_validator(mode="after")
    def _guard_pii_secret(self) -> StreamSettings:
        secret = self.pii_hash_secret.get_secret_value()
        if len(secret) < 16 or (not self.is_development and secret == _DEV_PII_SECRET):
            msg = "PII_HASH_SECRET must be the collector's deployment secret (16+ characters) in production"
            raise ValueError(msg)
        return self
