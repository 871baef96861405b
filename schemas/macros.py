"""Values that are no values: an ad platform's macro left unfilled, a stringified null, invisible characters.

Ad platforms fill macros such as ``__CLICK_ID__`` or ``{clickid}`` in their links. A link opened outside the
platform (a preview, a test call, a copied URL, a field the ad version does not support) arrives with the macro
itself, and JavaScript SDKs and platforms alike stringify a missing value as ``null``, ``undefined``, ``None`` or
``nil``. None of these is a click id, a campaign or a source.

One rule for both sides of the same link: the collector's webhooks (collector/webhooks/platforms.py) and the
stream's launch parameters (stream/channels/resolve.py), which must not import each other. Pure: stdlib only.
"""

from __future__ import annotations

import re
import unicodedata

# The whole value is a macro: __ANY_NAME__, {name}, {{name}}, {{ name }}, ${name}, or %7Bname%7D (a brace macro
# percent-encoded once more than the rest of the link).
UNFILLED_MACRO = re.compile(
    r"__[A-Za-z0-9_]+__|\{\{?\s*[A-Za-z0-9_.\-]*\s*\}?\}|\$\{[A-Za-z0-9_.\-]*\}|%7B[A-Za-z0-9_.\-]*%7D",
    re.IGNORECASE,
)
# How missing values look once stringified (compared case-insensitively).
MISSING_WORDS = frozenset({"null", "undefined", "none", "nil"})
# Control and format characters (zero-width spaces, BOMs, direction marks): invisible, never part of an id.
_INVISIBLE = frozenset({"Cc", "Cf"})


def is_unfilled(text: str) -> bool:
    """Whether already trimmed text carries no value: empty, a stringified null, or wholly an unfilled macro."""
    return not text or text.casefold() in MISSING_WORDS or UNFILLED_MACRO.fullmatch(text) is not None


def clean_text(text: str, max_chars: int) -> str:
    """The first ``max_chars`` characters of ``text`` (bounding the work on a hostile value) without control or
    format characters, trimmed; ``""`` when what is left carries no value (`is_unfilled`)."""
    text = text[:max_chars]
    # Printable ASCII has no control or format characters: the common case skips the per-character scan.
    if not (text.isascii() and text.isprintable()):
        text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    text = text.strip()
    return "" if is_unfilled(text) else text
