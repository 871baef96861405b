"""Turning raw request bytes into a parsed batch, with every size bounded before memory is spent.

Pure: the route reads the body (stopping at the wire limit) and hands the bytes here.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

from collector.errors import MalformedBody, PayloadTooLarge, UnsupportedEncoding

# orjson reads integer literals past 64 bits as floats, silently rounding them; such numbers are refused.
_INT64 = float(2**63)
# How much longer than its text a JSON document can get when orjson parses and writes it again: strings, keys
# and punctuation never grow (escapes stay or shorten, whitespace and repeated keys go), and a number grows most
# from "1e15" (4 bytes) to "1000000000000000.0" (18). tests/unit/collector/test_body_limits.py checks it.
REENCODED_GROWTH = 4.5


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_body_bytes: int = 500_000  # wire size and decompressed size alike (as Mixpanel measures it)
    max_events: int = 2_500
    max_event_bytes: int = 32_768
    max_depth: int = 12  # nesting of an event's JSON (object/array levels), counted from the event itself
    max_string_chars: int = 8_192
    max_properties: int = 200


def events_surely_fit(body_bytes: int, limits: BodyLimits) -> bool:
    """Whether no event of a (decompressed) body this long can be over `max_event_bytes` once re-encoded, which is
    how an event's size is measured: an event's text is part of the body, so the per-event check cannot fail."""
    return body_bytes * REENCODED_GROWTH <= limits.max_event_bytes


def decompress(raw: bytes, content_encoding: str | None, limits: BodyLimits) -> bytes:
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return raw
    if encoding not in ("gzip", "x-gzip"):
        msg = f"Content-Encoding {encoding!r} is not supported: send identity or gzip"
        raise UnsupportedEncoding(msg)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        # max_length bounds the output, so a gzip bomb costs at most one limit's worth of memory.
        out = inflater.decompress(raw, limits.max_body_bytes + 1)
    except zlib.error as exc:
        msg = f"the gzip body is corrupt: {exc}"
        raise MalformedBody(msg) from None
    if len(out) > limits.max_body_bytes or inflater.unconsumed_tail:
        msg = f"the decompressed body is over {limits.max_body_bytes} bytes"
        raise PayloadTooLarge(msg)
    if not inflater.eof:
        msg = "the gzip body is truncated"
        raise MalformedBody(msg)
    if inflater.unused_data:
        # Concatenated gzip members are legal but never sent by our SDKs; refusing them keeps the bound simple.
        msg = "the gzip body has trailing data after the first member"
        raise MalformedBody(msg)
    return out


def parse_batch(body: bytes, limits: BodyLimits) -> tuple[Any, list[Any]]:
    """Returns (sent_at as sent, raw events). Raises MalformedBody / PayloadTooLarge for the whole request."""
    if not body:
        msg = 'the body is empty: send {"events": [...]}'
        raise MalformedBody(msg)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f"the body is not valid JSON (UTF-8, no NaN or Infinity): {exc}"
        raise MalformedBody(msg) from None
    events: Any
    if isinstance(doc, list):
        events, sent_at = doc, None  # a bare array of events is accepted as a batch without sent_at
    elif isinstance(doc, dict):
        events, sent_at = doc.get("events"), doc.get("sent_at")
        unknown = set(doc) - {"events", "sent_at", "context"}
        if unknown:
            msg = f"unknown batch fields {sorted(unknown)}: a batch is {{'sent_at': ..., 'events': [...]}}"
            raise MalformedBody(msg)
        if not isinstance(events, list):
            msg = '"events" must be an array of event objects'
            raise MalformedBody(msg)
    else:
        msg = 'the body must be a JSON object {"sent_at": ..., "events": [...]}'
        raise MalformedBody(msg)
    if len(events) > limits.max_events:
        msg = f"the batch has {len(events)} events; at most {limits.max_events} per request"
        raise PayloadTooLarge(msg)
    return sent_at, events


def shape_problem(value: Any, limits: BodyLimits, depth: int = 1) -> str | None:
    """Why an event's JSON is too deep or holds too long a string, or None. Iterative: no recursion to exhaust.

    `depth` is the level of `value` itself: 1 for an event, more for a part of one walked alone."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > limits.max_depth:
                return f"nested deeper than {limits.max_depth} levels"
            if len(node) > limits.max_properties:
                return f"an object has {len(node)} keys; at most {limits.max_properties}"
            for key, item in node.items():
                if len(key) > limits.max_string_chars:
                    return f"a key is longer than {limits.max_string_chars} characters"
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and len(item) > limits.max_string_chars:
                    return f"field {key!r} is longer than {limits.max_string_chars} characters"
                elif isinstance(item, float) and abs(item) >= _INT64:
                    return f"field {key!r} holds a number beyond 64 bits: send large ids as strings"
        elif isinstance(node, list):
            if depth > limits.max_depth:
                return f"nested deeper than {limits.max_depth} levels"
            for item in node:
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                elif isinstance(item, str) and len(item) > limits.max_string_chars:
                    return f"a string is longer than {limits.max_string_chars} characters"
                elif isinstance(item, float) and abs(item) >= _INT64:
                    return "an array holds a number beyond 64 bits: send large ids as strings"
    return None
