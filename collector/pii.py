"""Keyed hashing of personal data (phone numbers) before an event leaves the collector.

HMAC-SHA256 with a per-deployment secret: a plain or unsalted hash of an 11-digit phone number is reversible
by enumeration, a keyed one is not without the secret. The same phone gives the same hash in every app of a
deployment, so identity stitching still works.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

_NON_DIGITS = re.compile(r"[^\d+]")


def normalise_phone(phone: str) -> str:
    # NFKC first: Chinese input methods often produce full-width digits (１３８…), the same number.
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", phone))
    # A mainland number sent with or without the country code must hash the same.
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits


class PiiHasher:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            msg = "the PII hash secret must be at least 16 bytes"
            raise ValueError(msg)
        self._secret = secret

    def phone(self, phone: str) -> str:
        return hmac.new(self._secret, normalise_phone(phone).encode(), hashlib.sha256).hexdigest()
