"""Validation errors of the event contract, written for the SDK developer who sent the event.

One `{"field", "code", "message"}` per error, or all of them as one line: field paths without the union tag,
the limit that was broken, what was sent (never a phone number).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from schemas.events import CURRENCY_PATTERN, CUSTOM_NAME_PATTERN, EVENT_ID_PATTERN, EVENT_TYPES, PHONE_PATTERN

_MAX_GOT_CHARS = 80
_REDACTED_FIELDS = frozenset({"phone", "phone_hash"})
_SELF_EXPLAINED = frozenset({"timestamp_out_of_range"})  # the message already says what was sent
_PATTERN_HINTS = {
    EVENT_ID_PATTERN: "must be printable ASCII without spaces",
    PHONE_PATTERN: "must be digits with an optional leading '+'",
    CURRENCY_PATTERN: "must be an ISO-4217 code of three upper-case letters, e.g. 'CNY'",
    CUSTOM_NAME_PATTERN: "must start with a letter, followed by letters, digits, '_', '.', ':' or '-'",
}
_TYPE_LIST = ", ".join(EVENT_TYPES)


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    """One `{"field", "code", "message"}` per error, written for an SDK developer.

    `field` is the dotted path without the union tag (`context.query.gdt_vid`, `properties.revenue`);
    `message` names the limit and, for scalars, what was sent (phone numbers are never echoed).
    """
    details: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if len(loc) > 1 and loc[0] in EVENT_TYPES:
            loc = loc[1:]  # the discriminated union prefixes the tag; the SDK developer knows the type
        field = ".".join(str(part) for part in loc) or "(event)"
        code = err["type"]
        message = err["msg"]
        got = err.get("input")
        if code == "union_tag_invalid":
            tag = got.get("type") if isinstance(got, dict) else got
            field, message = "type", f"must be one of: {_TYPE_LIST}; got {_shown(tag)}"
        elif code == "union_tag_not_found":
            field, message = "type", f"required field is missing; it must be one of: {_TYPE_LIST}"
        elif code == "extra_forbidden":
            message = f"unknown field {str(loc[-1])!r} (custom data belongs in 'properties')"
        elif code == "missing":
            message = "required field is missing"
        elif code not in _SELF_EXPLAINED and not isinstance(got, dict | list):
            if code == "string_pattern_mismatch":
                message = _PATTERN_HINTS.get(str(err.get("ctx", {}).get("pattern")), message)
            if loc and str(loc[-1]) in _REDACTED_FIELDS:
                message += " (value not shown: personal data)"
            else:
                message += f"; got {_shown(got)}"
        details.append({"field": field, "code": code, "message": message})
    return details


def _shown(value: Any) -> str:
    shown = repr(value)
    if len(shown) > _MAX_GOT_CHARS:
        shown = shown[: _MAX_GOT_CHARS - 3] + "..."
    if isinstance(value, str) and len(value) > 16:
        shown += f" ({len(value)} characters)"
    return shown


def explain(exc: ValidationError, *, limit: int = 3) -> str:
    """The first `limit` errors as one line: `context.scene: Input should be ... got 10001; ...`."""
    details = error_details(exc)
    parts = [f"{d['field']}: {d['message']}" for d in details[:limit]]
    if len(details) > limit:
        parts.append(f"and {len(details) - limit} more")
    return "; ".join(parts)
