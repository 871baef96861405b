"""The collector's settings: one frozen object, read from the environment, validated at start."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from collector.body import BodyLimits
from runtime.config import ServiceSettings
from schemas.enrich import DEFAULT_CLOCK_SKEW_THRESHOLD

DEV_PII_SECRET = "development-only-pii-secret"


class CollectorSettings(ServiceSettings):
    collector_host: str = "127.0.0.1"
    collector_port: int = Field(default=8000, ge=0, le=65535)
    # Apps and their write keys: a JSON file (re-read when it changes, so revocation needs no restart)
    # and/or inline `app_id:key,app_id:key`.
    collector_apps_file: Path | None = None
    collector_write_keys: str = ""
    pii_hash_secret: SecretStr = SecretStr(DEV_PII_SECRET)
    collector_send_deadline_s: float = Field(default=2.0, gt=0, le=30)
    collector_max_in_flight: int = Field(default=256, ge=1)
    collector_shutdown_grace_s: float = Field(default=10.0, ge=0)
    collector_max_body_bytes: int = Field(default=500_000, ge=1024)
    collector_max_events: int = Field(default=2_500, ge=1)
    collector_max_event_bytes: int = Field(default=32_768, ge=256)
    collector_max_depth: int = Field(default=12, ge=2)
    collector_max_string_chars: int = Field(default=8_192, ge=64)
    # Exchange rates for spend uploads (collector/costs.py FxRates JSON); without it only the reporting currency.
    collector_fx_rates_file: Path | None = None
    # Privacy requests (docs/privacy.md): the compacted topic every replica reads, and how long a request stays
    # pending (cancellable) before it is dispatched to the processor.
    kafka_privacy_topic: str = Field(default="touchstream.privacy", min_length=1, max_length=200)
    collector_privacy_grace_s: float = Field(default=30.0, ge=0, le=86_400)
    # X-Forwarded-For is honoured only when the direct peer is one of these (IPs or CIDRs, comma-separated).
    collector_trusted_proxies: str = ""
    # A device offset (sent_at − received_at) up to this is taken as transit time and left uncorrected
    # (schemas/enrich.py): mobile transit and jitter stay under it, real clock errors are minutes to years.
    collector_clock_skew_threshold_s: float = Field(
        default=DEFAULT_CLOCK_SKEW_THRESHOLD.total_seconds(), ge=0, le=86_400, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _guard(self) -> CollectorSettings:
        secret = self.pii_hash_secret.get_secret_value()
        if not self.is_development and secret == DEV_PII_SECRET:
            msg = "PII_HASH_SECRET must be set to a deployment secret in production"
            raise ValueError(msg)
        if len(secret) < 16:
            msg = "PII_HASH_SECRET must be at least 16 characters"
            raise ValueError(msg)
        if not self.collector_apps_file and not self.collector_write_keys:
            msg = "no apps configured: set COLLECTOR_APPS_FILE or COLLECTOR_WRITE_KEYS"
            raise ValueError(msg)
        self.trusted_proxy_networks()  # fail at start on a malformed entry
        return self

    # The two below are built once, by collector/state.py `CollectorState`, not per request.
    def body_limits(self) -> BodyLimits:
        return BodyLimits(
            max_body_bytes=self.collector_max_body_bytes,
            max_events=self.collector_max_events,
            max_event_bytes=self.collector_max_event_bytes,
            max_depth=self.collector_max_depth,
            max_string_chars=self.collector_max_string_chars,
        )

    def privacy_grace(self) -> timedelta:
        return timedelta(seconds=self.collector_privacy_grace_s)

    def clock_skew_threshold(self) -> timedelta:
        return timedelta(seconds=self.collector_clock_skew_threshold_s)

    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        items = [p.strip() for p in self.collector_trusted_proxies.split(",") if p.strip()]
        return [ipaddress.ip_network(p, strict=False) for p in items]
