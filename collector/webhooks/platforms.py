"""From an ad platform's click or impression parameters to one canonical `AdTouch`. Pure: no I/O.

Each platform names its parameters differently (the operator pastes a monitoring link whose query maps our
names to the platform's macros, e.g. ``click_id=__CLICK_ID__``); ``parse_touch`` reads them case-insensitively,
treats empty values and unfilled macros (schemas/macros.py) as missing, bounds every value and rejects what can
never be used with a `WebhookInputError` naming the parameter. Which parameter feeds which field, per platform, is
the table in collector/webhooks/macros.py; example links are in docs/webhooks.md.

Nothing here fetches, resolves or follows anything: a ``callback`` URL is only kept as a string for a later
postback to an allow-listed host.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from urllib.parse import parse_qsl, urlsplit

from collector.errors import WebhookInputError
from collector.webhooks.macros import PLATFORMS, SPECS, PlatformSpec, TouchKind
from schemas.macros import clean_text

MAX_ID_LENGTH = 128  # click ids, impression ids, account/campaign/adgroup/ad/creative ids, device ids
MAX_USER_AGENT_LENGTH = 512
MAX_CALLBACK_LENGTH = 1024
MAX_EXTRA_KEYS = 20
MAX_EXTRA_VALUE_LENGTH = 256
MAX_PARAM_NAME_LENGTH = 64
MAX_PARAMS = 256  # parameters looked at; the rest of a larger request is ignored
_MAX_RAW_LENGTH = 4096  # bounds the work on one value before cleaning
_MAX_IP_LENGTH = 64

EARLIEST_TOUCH = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
# Epoch values below this are seconds (1e11 s is the year 5138); from it on, milliseconds (2000-01-01 is 9.5e11 ms).
_MILLISECONDS_FROM = 10**11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_NUMERIC_TIME = re.compile(r"(\d{1,20})(?:\.(\d{1,9}))?")
_EXTRA_NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
# Device ids a platform sends when it has none: all zeros (an IDFA with tracking off) or the MD5 of "" or "0".
_NO_DEVICE = frozenset({"d41d8cd98f00b204e9800998ecf8427e", "cfcd208495d565ef66e7dff9f98764da"})
# Never copied into `extra`: our own credentials and the names of AdTouch / ad-touch event fields, so that a
# parameter can never overwrite or impersonate a field the collector sets.
_RESERVED = frozenset(
    {
        "token",
        "signature",
        "integration_id",
        "kind",
        "platform",
        "click_id",
        "account_id",
        "campaign_id",
        "adgroup_id",
        "ad_id",
        "creative_id",
        "touch_time",
        "ip",
        "user_agent",
        "device_ids",
        "callback",
        "openid",
        "extra",
    }
)


@dataclass(frozen=True, slots=True)
class AdTouch:
    """One ad click or impression as the platform reported it. Missing text fields are ``""``.

    ``click_id`` is the click id for clicks (always set) and the impression id for impressions (``""`` when the
    platform gives none). ``device_ids`` and ``extra`` are ``(name, value)`` pairs sorted by name; device ids are
    kept as sent (platforms usually send them hashed). ``callback`` is the value a conversion postback needs.
    """

    kind: TouchKind
    platform: str
    click_id: str
    account_id: str = ""
    campaign_id: str = ""
    adgroup_id: str = ""
    ad_id: str = ""
    creative_id: str = ""
    touch_time: datetime | None = None
    ip: str = ""
    user_agent: str = ""
    device_ids: tuple[tuple[str, str], ...] = ()
    callback: str = ""
    openid: str = ""
    extra: tuple[tuple[str, str], ...] = ()


def parse_touch(platform: str, kind: str, params: Mapping[str, object], *, now: datetime | None = None) -> AdTouch:
    """The touch described by ``params`` (a monitoring link's query, or a POSTed JSON object).

    Raises `WebhookInputError` (collector/errors.py, a 400 `invalid_parameters`; nothing else, whatever ``params``
    holds) when the platform or kind is unknown, a click has no click id, a click id, impression id or callback
    is longer than its bound (cut, it would never match), or a time is unparseable, before 2000 or more than a
    day after ``now`` (default: the current time).
    """
    spec = SPECS.get(platform) if isinstance(platform, str) else None
    if spec is None:
        msg = f"unknown platform {_show(platform)}; expected one of {', '.join(PLATFORMS)}"
        raise WebhookInputError(field="platform", reason=msg)
    touch_kind = _kind(kind)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        msg = "now must be timezone-aware"
        raise ValueError(msg)
    values = _read(params)

    callback = _callback(spec, values)
    click_id = _click_id(spec, touch_kind, values, callback)
    time_names = spec.click_times if touch_kind == "click" else spec.impression_times
    touch_time = _touch_time(time_names, values, now, spec.iso_times)
    ad_id = _first(values, spec.ad_id, MAX_ID_LENGTH)
    if not ad_id and touch_kind == "click":
        ad_id = _segment_ad_id(spec, values)
    return AdTouch(
        kind=touch_kind,
        platform=platform,
        click_id=click_id,
        account_id=_first(values, spec.account_id, MAX_ID_LENGTH),
        campaign_id=_first(values, spec.campaign_id, MAX_ID_LENGTH),
        adgroup_id=_first(values, spec.adgroup_id, MAX_ID_LENGTH),
        ad_id=ad_id,
        creative_id=_first(values, spec.creative_id, MAX_ID_LENGTH),
        touch_time=touch_time,
        ip=_ip(values, spec.ip),
        user_agent=_first(values, spec.user_agent, MAX_USER_AGENT_LENGTH),
        device_ids=_device_ids(values, spec.device_ids),
        callback=callback,
        openid=_first(values, spec.openid, MAX_ID_LENGTH),
        extra=_extra(values, spec.names(touch_kind)),
    )


# --- reading and cleaning -------------------------------------------------------------------------


def _kind(kind: object) -> TouchKind:
    if kind == "click":
        return "click"
    if kind == "impression":
        return "impression"
    msg = f"unknown kind {_show(kind)}; expected click or impression"
    raise WebhookInputError(field="kind", reason=msg)


def _read(params: Mapping[str, object]) -> dict[str, str]:
    """Cleaned, non-empty values by lower-cased parameter name; the first non-empty value of a name wins."""
    values: dict[str, str] = {}
    if not isinstance(params, Mapping):
        return values
    try:
        items = list(islice(params.items(), MAX_PARAMS))
    except Exception:  # noqa: BLE001 - a broken mapping from a caller is no parameters, never a crash
        return values
    for key, raw in items:
        if not isinstance(key, str):
            continue
        name = key.strip().lower()
        if not name or len(name) > MAX_PARAM_NAME_LENGTH or name in values:
            continue
        value = clean_value(raw)
        if value:
            values[name] = value
    return values


def clean_value(value: object) -> str:
    """Trimmed text without control or format characters; ``""`` for macros, ``null``-likes and other types.

    Numbers (from a POSTed JSON object) become their decimal text. The result is not yet bounded to a field's
    length: that is decided per field (an over-long click id is an error, an over-long user agent is cut).
    """
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        if value.bit_length() > 64:
            return ""
        value = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return ""
        value = repr(value)
    if not isinstance(value, str):
        return ""
    return clean_text(value, _MAX_RAW_LENGTH)


def _first(values: Mapping[str, str], names: Iterable[str], limit: int) -> str:
    for name in names:
        value = values.get(name)
        if value:
            return value[:limit].strip()
    return ""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 42 else f"{text[:40]}…"


# --- click id and callback ------------------------------------------------------------------------


def _bounded_key(name: str, value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        msg = (
            f"{what} is {len(value)} characters, over the {limit} accepted; a shortened id would never match, "
            "so check that the link passes the platform's value unchanged"
        )
        raise WebhookInputError(name, msg)
    return value


def _callback(spec: PlatformSpec, values: Mapping[str, str]) -> str:
    for name in spec.callback:
        value = values.get(name)
        if value:
            return _bounded_key(name, value, MAX_CALLBACK_LENGTH, "the callback")
    for name in spec.callback_urls:
        url = values.get(name)
        inner = _query_param(url, "callback") if url else ""
        if inner:
            return _bounded_key(name, inner, MAX_CALLBACK_LENGTH, "the callback in this URL")
    return ""


def _query_param(url: str, wanted: str) -> str:
    """The first non-empty ``wanted`` parameter of the URL's query, parsed as text only (never requested)."""
    try:
        query = urlsplit(url).query
        pairs = parse_qsl(query, keep_blank_values=False, max_num_fields=MAX_PARAMS)
    except ValueError:
        return ""
    for key, value in pairs:
        if key.strip().lower() == wanted:
            cleaned = clean_value(value)
            if cleaned:
                return cleaned
    return ""


def _click_id(spec: PlatformSpec, kind: TouchKind, values: Mapping[str, str], callback: str) -> str:
    names = spec.click_ids if kind == "click" else spec.impression_ids
    what = "the click id" if kind == "click" else "the impression id"
    for name in names:
        value = values.get(name)
        if value:
            return _bounded_key(name, value, MAX_ID_LENGTH, what)
    if kind == "impression":
        return ""
    for rule in spec.segmented_click_ids:
        value = values.get(rule.param)
        parts = value.split(rule.separator) if value else []
        segment = clean_value(parts[rule.click_id_segment]) if rule.click_id_segment < len(parts) else ""
        if segment:
            return _bounded_key(rule.param, segment, MAX_ID_LENGTH, "the click id segment")
    if spec.click_id_from_callback and callback:
        source = next((n for n in (*spec.callback, *spec.callback_urls) if n in values), "callback")
        return _bounded_key(source, callback, MAX_ID_LENGTH, "the callback, used as the click id,")
    segmented = (rule.param for rule in spec.segmented_click_ids)
    accepted = ", ".join((*names, *segmented, *(spec.callback if spec.click_id_from_callback else ())))
    msg = f"a click needs a click id: none of {accepted} has a value (empty or an unfilled macro)"
    raise WebhookInputError(field="click_id", reason=msg)


def _segment_ad_id(spec: PlatformSpec, values: Mapping[str, str]) -> str:
    for rule in spec.segmented_click_ids:
        value = values.get(rule.param)
        if rule.ad_id_segment is None or not value or rule.separator not in value:
            continue
        parts = value.split(rule.separator)
        ad_id = clean_value(parts[rule.ad_id_segment]) if rule.ad_id_segment < len(parts) else ""
        if ad_id:
            return ad_id[:MAX_ID_LENGTH].strip()
    return ""


# --- time -----------------------------------------------------------------------------------------


def _touch_time(names: Iterable[str], values: Mapping[str, str], now: datetime, iso: bool) -> datetime | None:
    for name in names:
        value = values.get(name)
        if value:
            return parse_time(name, value, now, iso=iso)
    return None


def parse_time(name: str, value: str, now: datetime, *, iso: bool = False) -> datetime:
    """An epoch time in seconds or milliseconds (told apart by magnitude; a decimal fraction is allowed) or, with
    ``iso``, an ISO 8601 time with an offset; as an aware UTC datetime between 2000 and ``now`` + 1 day."""
    latest = now.astimezone(UTC) + MAX_FUTURE
    match = _NUMERIC_TIME.fullmatch(value)
    if match:
        whole = int(match.group(1))
        unit_us = 1_000_000 if whole < _MILLISECONDS_FROM else 1_000
        fraction = match.group(2) or ""
        micros = whole * unit_us + int(fraction.ljust(9, "0") or "0") * unit_us // 10**9
        if micros < _micros(EARLIEST_TOUCH) or micros > _micros(latest):
            raise _out_of_range(name, value, latest)
        return _EPOCH + timedelta(microseconds=micros)
    if iso and len(value) <= 64:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                msg = f"{_show(value)} has no UTC offset; send e.g. 2024-05-01T08:30:00+08:00 or ...Z"
                raise WebhookInputError(name, msg)
            try:
                result = parsed.astimezone(UTC)
            except (OverflowError, ValueError):
                raise _out_of_range(name, value, latest) from None
            if not EARLIEST_TOUCH <= result <= latest:
                raise _out_of_range(name, value, latest)
            return result
    accepted = "epoch seconds or milliseconds" + (", or ISO 8601 with an offset" if iso else "")
    msg = f"{_show(value)} is not a time; expected {accepted}"
    raise WebhookInputError(name, msg)


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _out_of_range(name: str, value: str, latest: datetime) -> WebhookInputError:
    msg = (
        f"{_show(value)} is before 2000 or more than a day in the future (after {latest:%Y-%m-%dT%H:%M:%SZ}); "
        "check the unit (seconds or milliseconds) and the sender's clock"
    )
    return WebhookInputError(name, msg)


# --- the rest -------------------------------------------------------------------------------------


def _ip(values: Mapping[str, str], names: Iterable[str]) -> str:
    """The address as sent if it is one (IPv4 or IPv6); anything else is dropped, not an error."""
    for name in names:
        value = values.get(name, "")
        if value and len(value) <= _MAX_IP_LENGTH:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                continue
            return value
    return ""


def _device_ids(values: Mapping[str, str], names: Iterable[str]) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for name in names:
        value = values.get(name, "")[:MAX_ID_LENGTH].strip()
        if not value or value.lower() in _NO_DEVICE or not value.strip("0-"):
            continue
        found[name] = value
    return tuple(sorted(found.items()))


def _extra(values: Mapping[str, str], consumed: frozenset[str]) -> tuple[tuple[str, str], ...]:
    kept = [
        (name, value[:MAX_EXTRA_VALUE_LENGTH].strip())
        for name, value in values.items()
        if name not in consumed and name not in _RESERVED and _EXTRA_NAME.fullmatch(name)
    ]
    return tuple(sorted(kept)[:MAX_EXTRA_KEYS])
