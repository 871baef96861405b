"""Verifying signed webhook calls: HMAC-SHA256 over `timestamp + "." + raw body`, fresh, and used once.

Ad platforms that can sign send `X-Touchstream-Timestamp` (epoch seconds) and
`X-Touchstream-Signature: sha256=<hex>`, computed over the exact bytes received (for a GET, the raw query
string), so a proxy that re-serialises the body breaks the signature, as it should. Several `sha256=` values
separated by commas are accepted during a secret rotation. Pure: the clock's reading is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from dataclasses import dataclass

from collector.errors import SignatureRejected

TOLERANCE_S = 300


def sign(secret: str, timestamp: int, payload: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + payload, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True, slots=True)
class Verified:
    timestamp: int
    signature: str


def replay_key(integration_id: str, timestamp: int, payload: bytes) -> str:
    """One key per signed call: the integration, the signed timestamp and a digest of the signed bytes.

    Whatever signatures the header carries, the same (timestamp, payload) to the same integration is one call.
    """
    digest = hashlib.sha256(payload).hexdigest()
    return f"{integration_id}:{timestamp}:{digest}"


def verify(secrets: list[str], timestamp_header: str | None, signature_header: str | None, payload: bytes,
           now_s: float, tolerance_s: int = TOLERANCE_S) -> Verified:
    if not timestamp_header or not signature_header:
        msg = "a signed call needs X-Touchstream-Timestamp and X-Touchstream-Signature"
        raise SignatureRejected(msg, code="signature_missing")
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        msg = "X-Touchstream-Timestamp must be epoch seconds"
        raise SignatureRejected(msg, code="signature_invalid") from None
    if abs(now_s - timestamp) > tolerance_s:
        msg = f"the signature timestamp is more than {tolerance_s}s away from our clock"
        raise SignatureRejected(msg, code="signature_stale")
    offered = [s.strip() for s in signature_header.split(",") if s.strip().startswith("sha256=")]
    for secret in secrets:
        expected = sign(secret, timestamp, payload)
        for candidate in offered:
            if hmac.compare_digest(expected, candidate):
                return Verified(timestamp, candidate)
    msg = "the signature does not match the body and the integration's secret"
    raise SignatureRejected(msg, code="signature_invalid")


class ReplayGuard:
    """Remembers the signed calls of the tolerance window (by `replay_key`): the same call twice is refused.

    Per process: replicas of the collector do not share it (docs/webhooks.md, "Replays").
    """

    def __init__(self, tolerance_s: int = TOLERANCE_S, max_entries: int = 100_000) -> None:
        self._tolerance = tolerance_s
        self._max = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check_and_remember(self, key: str, now_s: float) -> None:
        while self._seen:
            oldest_key, at = next(iter(self._seen.items()))
            if now_s - at <= 2 * self._tolerance and len(self._seen) < self._max:
                break
            del self._seen[oldest_key]
        if key in self._seen:
            msg = "this signed call was already received (replay)"
            raise SignatureRejected(msg, code="signature_replayed")
        self._seen[key] = now_s
