"""Settings shared by both services. Each service builds its own frozen settings object on top of these.

Every field is read from the environment variable of the same name in upper case (documented in README.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.kafka_admin import TopicSpec


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=None)

    touchstream_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_json: bool = True

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_events_topic: str = Field(default="touchstream.events", min_length=1, max_length=200)
    kafka_deadletter_topic: str = Field(default="touchstream.deadletter", min_length=1, max_length=200)
    kafka_topic_partitions: int = Field(default=4, ge=1, le=1024)
    # 1 for the local single-node broker; 3 on a real cluster, so losing one broker loses no acked event.
    kafka_replication_factor: int = Field(default=1, ge=1, le=16)
    # Dead letters are kept 30 days by default: long enough to notice and replay, short enough for PII rules.
    kafka_deadletter_retention_ms: int = Field(default=30 * 86_400_000, ge=60_000)

    def topic_specs(self) -> list[TopicSpec]:
        return [
            TopicSpec(self.kafka_events_topic, self.kafka_topic_partitions, None, self.kafka_replication_factor),
            TopicSpec(
                self.kafka_deadletter_topic, self.kafka_topic_partitions, self.kafka_deadletter_retention_ms,
                self.kafka_replication_factor,
            ),
        ]

    @property
    def is_development(self) -> bool:
        return self.touchstream_env != "production"
