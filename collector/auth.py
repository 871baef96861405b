"""Write keys: which app a request belongs to.

Write keys are public identifiers embedded in the mini-program, not secrets (as Segment's and PostHog's are);
they decide which app's data an event lands in, and are revocable. Accepted as the `X-Write-Key` header or,
Segment-style, as the user name of HTTP Basic auth (`Authorization: Basic base64(key:)`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

from collector.errors import Unauthorized

WRITE_KEY_HEADER = "x-write-key"


@dataclass(frozen=True, slots=True)
class App:
    app_id: str
    cors_origins: frozenset[str] = field(default_factory=frozenset)


def write_key_from_headers(headers: Mapping[str, str]) -> str:
    key = headers.get(WRITE_KEY_HEADER)
    if key:
        return key.strip()
    auth = headers.get("authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            msg = "the Basic credentials are not valid base64 of 'write_key:'"
            raise Unauthorized(msg) from None
        return decoded.partition(":")[0].strip()
    msg = f"missing write key: send it in the {WRITE_KEY_HEADER!r} header or as the Basic auth user name"
    raise Unauthorized(msg)


class KeyRing:
    """Maps write keys to apps. Lookup compares in constant time so response timing does not leak key prefixes."""

    def __init__(self, keys: Mapping[str, App]) -> None:
        self._keys = dict(keys)

    def app_for(self, key: str) -> App:
        for candidate, app in self._keys.items():
            if hmac.compare_digest(candidate.encode(), key.encode()):
                return app
        msg = "unknown or revoked write key"
        raise Unauthorized(msg)

    @property
    def apps(self) -> list[App]:
        return list({a.app_id: a for a in self._keys.values()}.values())
