"""The worker's settings (`touchstream postbacks`): one frozen object from the environment, checked at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from runtime.config import ServiceSettings
from stream.postbacks.requests import DEFAULT_ALLOWED_HOSTS, OCEAN_ENGINE_API, TENCENT_API


class PostbackSettings(ServiceSettings):
    # The apps file: the integrations' `postback` sections (the same file as the collector's and processor's).
    stream_apps_file: Path | None = None
    # The stream processor's HTTP side (it owns the store) and the deployment's SQL key that opens its
    # /v1/postbacks calls.
    postback_processor_url: str = Field(default="http://127.0.0.1:8124", pattern=r"^https?://")
    stream_sql_key: SecretStr | None = Field(default=None, min_length=16)
    # The only hosts a postback may go to (HTTPS only); tests point the APIs at loopback fakes.
    postback_allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    postback_tencent_api: str = TENCENT_API
    postback_ocean_engine_api: str = OCEAN_ENGINE_API
    postback_ca_file: Path | None = None  # a CA bundle to trust instead of the system's (tests' self-signed fakes)
    postback_timeout_s: float = Field(default=5.0, gt=0, le=60)
    postback_poll_s: float = Field(default=1.0, gt=0, le=60)
    postback_retry_initial_s: float = Field(default=30.0, gt=0, le=600)
    postback_batch: int = Field(default=100, ge=1, le=1_000)
