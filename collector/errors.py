"""Every error the collector answers with, classified once: HTTP status, retriable or not, stable code.

    CollectorError
    ├── MalformedBody          400  the body is not a JSON batch (not retriable)
    │   └── WebhookInputError  400  `invalid_parameters`: a webhook call's parameters cannot make a touch
    │                               (collector/webhooks/platforms.py; the call is also kept as a dead letter)
    ├── Unauthorized           401  missing, unknown or revoked write key
    │   └── SignatureRejected  401  a webhook signature missing, invalid, stale or replayed (its code says which;
    │                               collector/webhooks/signing.py)
    ├── OriginNotAllowed       403  browser Origin not on the app's CORS allowlist
    ├── NotFound               404  unknown webhook integration or wrong token (nothing recorded)
    ├── PayloadTooLarge        413  body, decompressed body or event count over a limit
    ├── UnsupportedEncoding    415  Content-Encoding other than identity or gzip
    ├── Conflict               409  the request is not in a state that allows this (a privacy request no longer pending)
    ├── InvalidCosts           422  a cost upload with problems (each named by row and field); nothing stored
    ├── InvalidRequest         422  a privacy request with problems (each named by field)
    ├── RateLimited            429  retriable, with Retry-After
    └── Unavailable            503  retriable, with Retry-After: Kafka did not acknowledge in time, refused the
        │                           records, or the producer is being replaced (collector/kafka_faults.py)
        └── Overloaded         503  or too many requests are already in flight, or we are shutting down

Every 503 carries a `cause` (a fixed word: `kafka_timeout`, `kafka_refused`, `producer_replaced`,
`producer_recovering`, `overloaded`, `uploads_busy`, `draining`, ...) by which it is counted and logged
(collector/admission.py).

Rejections of single events are not errors: they are reported in a 200 response, per event.
"""

from __future__ import annotations

from typing import Literal

SignatureCode = Literal["signature_missing", "signature_invalid", "signature_stale", "signature_replayed"]

class CollectorError(Exception):
    status: int = 500
    code: str = "internal"
    retriable: bool = False
    retry_after_s: int | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedBody(CollectorError):
    status, code = 400, "malformed_body"


class WebhookInputError(MalformedBody):
    """``field`` names the parameter at fault (as sent, lower-cased) or, when nothing usable was sent, the
    canonical field; ``reason`` says what to change. The message is both: ``"<field>: <reason>"``."""

    code = "invalid_parameters"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Unauthorized(CollectorError):
    status, code = 401, "unauthorized"


class SignatureRejected(Unauthorized):
    """Still a 401, with a code per kind of failure: a signing integration can tell a stale clock from a wrong
    secret without our saying more than that."""

    code: SignatureCode

    def __init__(self, message: str, *, code: SignatureCode) -> None:
        super().__init__(message)
        self.code = code


class OriginNotAllowed(CollectorError):
    status, code = 403, "origin_not_allowed"


class NotFound(CollectorError):
    status, code = 404, "not_found"


class PayloadTooLarge(CollectorError):
    status, code = 413, "payload_too_large"


class UnsupportedEncoding(CollectorError):
    status, code = 415, "unsupported_encoding"


class InvalidCosts(CollectorError):
    status, code = 422, "invalid_costs"

    def __init__(self, message: str, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


class Conflict(CollectorError):
    status, code = 409, "conflict"


class InvalidRequest(CollectorError):
    status, code = 422, "invalid_request"

    def __init__(self, message: str, problems: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.problems = problems


class RateLimited(CollectorError):
    status, code, retriable, retry_after_s = 429, "rate_limited", True, 1


class Unavailable(CollectorError):
    """`cause` is a short fixed word (a metrics label and the log key): never text from a request or a broker."""

    status, code, retriable, retry_after_s = 503, "unavailable", True, 2

    def __init__(self, message: str, *, cause: str = "sink_down") -> None:
        super().__init__(message)
        self.cause = cause


class Overloaded(Unavailable):
    code = "overloaded"

    def __init__(self, message: str, *, cause: str = "overloaded") -> None:
        super().__init__(message, cause=cause)
