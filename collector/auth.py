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
    reporting_currency: str = "CNY"


@dataclass(frozen=True, slots=True)
class Integration:
    """An ad-platform integration of an app: the URL id, the secret token that must come with every call,
    optional signing secrets, and the channel its clicks and impressions belong to."""

    integration_id: str
    app_id: str
    platform: str
    token: str
    channel: str
    channel_type: str = "paid"
    signing_secrets: tuple[str, ...] = ()
    require_signature: bool = False
    rate_limit_per_s: float = 200.0


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
    """Maps write keys (and admin keys, and integrations) to apps. Keys are compared in constant time so
    response timing does not leak key prefixes."""

    def __init__(
        self,
        keys: Mapping[str, App],
        admin_keys: Mapping[str, App] | None = None,
        integrations: Mapping[str, Integration] | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._admin_keys = dict(admin_keys or {})
        self._integrations = dict(integrations or {})

    def app_for(self, key: str) -> App:
        app = _lookup(self._keys, key)
        if app is None:
            msg = "unknown or revoked write key"
            raise Unauthorized(msg)
        return app

    def app_for_admin(self, key: str) -> App:
        app = _lookup(self._admin_keys, key)
        if app is None:
            msg = "unknown or revoked admin key (costs need an admin key, not a write key)"
            raise Unauthorized(msg)
        return app

    def integration(self, integration_id: str) -> Integration | None:
        return self._integrations.get(integration_id)

    @property
    def apps(self) -> list[App]:
        return list({a.app_id: a for a in [*self._keys.values(), *self._admin_keys.values()]}.values())


def _lookup(keys: Mapping[str, App], key: str) -> App | None:
    found = None
    for candidate, app in keys.items():
        if hmac.compare_digest(candidate.encode(), key.encode()):
            found = app
    return found


def admin_key_from_headers(headers: Mapping[str, str]) -> str:
    key = headers.get("x-admin-key")
    if key:
        return key.strip()
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    msg = "missing admin key: send it in the 'X-Admin-Key' header or as 'Authorization: Bearer <key>'"
    raise Unauthorized(msg)
