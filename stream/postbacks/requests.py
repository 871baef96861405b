"""The HTTP requests of a postback, per platform and mode: pure, no I/O (docs/postbacks.md, "What is sent").

Tencent (https://developers.e.qq.com/docs/guide/conversion/new_version/wechat_mini_program_api): callback mode
POSTs to the URL the click's `__CALLBACK__` named, with the `access-token`, `timestamp` and `nonce` headers;
click-id mode POSTs up to 50 actions to `user_actions/add` with those three as query parameters. Either way
`outer_action_id` is the intent id, Tencent's dedup key. Ocean Engine: one event per POST to the conversion
API, with the click's `callback` (its `__CALLBACK_PARAM__`, or the landing page's `clickid`).
Every URL must be HTTPS to an allowed host: a callback is input from an ad click and must not make us call
anything else (SSRF).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import orjson

from stream.postbacks.intent import Pending

TENCENT_BATCH = 50  # actions per user_actions/add request (the platform's limit)
TENCENT_API = "https://api.e.qq.com/v3.0/user_actions/add"
OCEAN_ENGINE_API = "https://analytics.oceanengine.com/api/v2/conversion"
DEFAULT_ALLOWED_HOSTS = ("api.e.qq.com", "tracking.e.qq.com", "analytics.oceanengine.com", "ad.oceanengine.com")


class Refused(ValueError):
    """This postback must not be sent (not HTTPS, a host not allowed, a missing id): `failed`, nothing sent."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the platforms are: the real APIs, or loopback fakes in tests; and which hosts may be called."""

    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    tencent_api: str = TENCENT_API
    ocean_engine_api: str = OCEAN_ENGINE_API


@dataclass(frozen=True, slots=True)
class Account:
    """An integration's sending facts (schemas.postback_config) with its token, read from its secret source."""

    wechat_app_id: str = ""
    account_id: int | None = None
    user_action_set_id: int | None = None
    token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class Request:
    url: str = field(repr=False)  # click-id mode carries the access token in the query: never logged
    headers: dict[str, str] = field(repr=False)
    body: bytes
    intent_ids: tuple[str, ...]
    host: str


def checked_url(url: str, target: Target) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https":
        msg = f"refused: {parts.scheme or 'no'} scheme, only https is sent"
        raise Refused(msg)
    host = (parts.hostname or "").lower()
    if host not in target.allowed_hosts:
        msg = f"refused: host {host[:100]!r} is not an allowed platform host"
        raise Refused(msg)
    return host


def tencent_callback(p: Pending, account: Account, target: Target, now: datetime) -> Request:
    # The click's `callback` is the URL-encoded URL to report to (Tencent's __CALLBACK__ macro).
    url = unquote(p.callback) if p.callback.startswith("https%3A") else p.callback
    if not url:
        msg = "refused: the click has no callback"
        raise Refused(msg)
    host = checked_url(url, target)
    body = orjson.dumps({"actions": [_tencent_action(p, account, trace=False)]})
    return Request(url, _tencent_auth(account, now), body, (p.intent_id,), host)


def tencent_click_ids(batch: Sequence[Pending], account: Account, target: Target, now: datetime) -> Request:
    if not 1 <= len(batch) <= TENCENT_BATCH:
        msg = f"a user_actions/add request carries 1..{TENCENT_BATCH} actions, not {len(batch)}"
        raise ValueError(msg)
    host = checked_url(target.tencent_api, target)
    auth = _tencent_auth(account, now)
    query = urlencode({"access_token": auth["access-token"], "timestamp": auth["timestamp"], "nonce": auth["nonce"]})
    body = orjson.dumps({
        "account_id": account.account_id, "user_action_set_id": account.user_action_set_id,
        "actions": [_tencent_action(p, account, trace=True) for p in batch],
    })
    return Request(f"{target.tencent_api}?{query}", {"content-type": "application/json"}, body,
                   tuple(p.intent_id for p in batch), host)


def ocean_engine(p: Pending, target: Target) -> Request:
    callback = p.callback or p.click_id
    if not callback:
        msg = "refused: the click has neither a callback nor a click id"
        raise Refused(msg)
    host = checked_url(target.ocean_engine_api, target)
    doc: dict[str, Any] = {
        "event_type": p.action_type,
        "context": {"ad": {"callback": callback}},
        "timestamp": int(p.conversion_time.timestamp() * 1000),
    }
    if p.revenue > 0:
        doc["properties"] = {"pay_amount": str(p.revenue.normalize())}  # yuan, exact text of the stored amount
    return Request(target.ocean_engine_api, {"content-type": "application/json"}, orjson.dumps(doc),
                   (p.intent_id,), host)


def _tencent_action(p: Pending, account: Account, *, trace: bool) -> dict[str, Any]:
    if not p.openid and not p.unionid:
        msg = "refused: Tencent needs the person's WeChat openid or unionid, and none is known"
        raise Refused(msg)
    user: dict[str, str] = {"wechat_app_id": account.wechat_app_id}
    if p.openid:
        user["wechat_openid"] = p.openid
    else:
        user["wechat_unionid"] = p.unionid
    action: dict[str, Any] = {
        "outer_action_id": p.intent_id,
        "action_time": int(p.conversion_time.timestamp()),
        "user_id": user,
        "action_type": p.action_type,
    }
    if p.value_fen is not None:
        action["action_param"] = {"value": p.value_fen}
    if trace:
        action["trace"] = {"click_id": p.click_id}
    return action


def _tencent_auth(account: Account, now: datetime) -> dict[str, str]:
    if not account.token:
        msg = "refused: no access token (check the integration's access_token_env / access_token_file)"
        raise Refused(msg)
    return {
        "content-type": "application/json",
        "access-token": account.token,  # hyphen, as DataNexus's callback pages say ("这里是中划线")
        "timestamp": str(int(now.timestamp())),
        "nonce": secrets.token_hex(16),  # 32 characters, Tencent's limit
    }
