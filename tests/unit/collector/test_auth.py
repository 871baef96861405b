"""Write keys (header and HTTP Basic), revocation through the apps file, and CORS."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from collector.apps import KeyRingSource
from collector.sinks import InMemorySink
from tests.unit.collector.conftest import (
    BLOG_KEY,
    SHOP_KEY,
    EventFactory,
    asgi_client,
    body,
    build_app,
    events_on_topic,
    make_settings,
)

SHOP_ORIGIN = "https://h5.shop.example"
BLOG_ORIGIN = "https://blog.example"
FILE_SHOP_KEY = "wk_shop_file_0001"
FILE_SHOP_KEY_2 = "wk_shop_file_0002"
FILE_BLOG_KEY = "wk_blog_file_0001"
RELOAD_S = 5.0


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def apps_doc(shop_keys: list[str]) -> dict[str, Any]:
    return {
        "apps": [
            {"app_id": "shop", "write_keys": shop_keys, "cors_origins": [SHOP_ORIGIN]},
            {"app_id": "blog", "write_keys": [FILE_BLOG_KEY], "cors_origins": [BLOG_ORIGIN]},
        ]
    }


@dataclass
class FileApp:
    path: Path
    now: list[float]
    sink: InMemorySink
    client: httpx.AsyncClient
    edits: int = 0

    def write(self, content: bytes) -> None:
        self.edits += 1
        write_apps_file(self.path, content, self.edits)


def write_apps_file(path: Path, content: bytes, edit: int) -> None:
    path.write_bytes(content)
    # A distinct modification time for every edit, whatever the file system's timestamp resolution.
    stamp = 1_700_000_000 + edit
    os.utime(path, (stamp, stamp))


@pytest.fixture
async def file_app(tmp_path: Path) -> AsyncIterator[FileApp]:
    """Apps from a JSON file re-read every RELOAD_S seconds of an injected monotonic clock (`now[0]`)."""
    path = tmp_path / "apps.json"
    write_apps_file(path, orjson.dumps(apps_doc([FILE_SHOP_KEY, FILE_SHOP_KEY_2])), 0)
    now = [1_000.0]
    sink = InMemorySink()
    keys = KeyRingSource("", path, reload_interval_s=RELOAD_S, monotonic=lambda: now[0])
    settings = make_settings(collector_write_keys="", collector_apps_file=path)
    async with asgi_client(build_app(settings, sink, keys=keys), raise_app_exceptions=False) as client:
        yield FileApp(path, now, sink, client)


async def send(client: httpx.AsyncClient, make_event: EventFactory, **headers: str) -> httpx.Response:
    return await client.post("/v1/batch", content=body([make_event()]), headers=headers)


# ---------------------------------------------------------------------------------------------------------
# Write keys
# ---------------------------------------------------------------------------------------------------------


async def test_missing_key_is_401(client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory) -> None:
    r = await send(client, make_event)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert r.json()["message"].startswith("missing write key")
    assert sink.records == []


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Write-Key": "wk_nope_12345678"},
        {"X-Write-Key": SHOP_KEY[:-1]},  # a prefix of a real key
        {"X-Write-Key": SHOP_KEY + "9"},
        {"Authorization": basic("wk_nope_12345678")},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:").decode()},  # not UTF-8
        {"Authorization": f"Bearer {SHOP_KEY}"},  # only Basic carries a key
    ],
)
async def test_unknown_or_malformed_key_is_401(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, headers: dict[str, str]
) -> None:
    r = await send(client, make_event, **headers)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    assert sink.records == []


@pytest.mark.parametrize(
    ("headers", "app_id"),
    [
        ({"X-Write-Key": SHOP_KEY}, "shop"),
        ({"X-Write-Key": f"  {BLOG_KEY} "}, "blog"),
        ({"Authorization": basic(SHOP_KEY)}, "shop"),
        ({"Authorization": basic(BLOG_KEY)}, "blog"),
        ({"Authorization": "basic " + base64.b64encode(SHOP_KEY.encode()).decode()}, "shop"),  # no colon at all
    ],
)
async def test_header_and_basic_auth_both_select_the_app(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory, headers: dict[str, str], app_id: str
) -> None:
    r = await send(client, make_event, **headers)
    assert r.status_code == 200
    assert [e["app_id"] for e in events_on_topic(sink)] == [app_id]


async def test_x_write_key_wins_over_basic(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await send(client, make_event, **{"X-Write-Key": BLOG_KEY, "Authorization": basic(SHOP_KEY)})
    assert r.status_code == 200
    assert events_on_topic(sink)[0]["app_id"] == "blog"


# ---------------------------------------------------------------------------------------------------------
# Revocation by editing the apps file
# ---------------------------------------------------------------------------------------------------------


async def test_key_removed_from_the_apps_file_stops_working_after_the_reload_interval(
    file_app: FileApp, make_event: EventFactory
) -> None:
    c = file_app.client
    assert (await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY})).status_code == 200

    file_app.write(orjson.dumps(apps_doc([FILE_SHOP_KEY_2])))  # revoke FILE_SHOP_KEY
    file_app.now[0] += RELOAD_S - 0.5
    # Not re-read yet: revocation is promised within the reload interval, not instantly.
    assert (await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY})).status_code == 200

    file_app.now[0] += 0.5
    r = await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY})
    assert r.status_code == 401
    assert r.json()["message"] == "unknown or revoked write key"
    # The other keys of the file keep working.
    assert (await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY_2})).status_code == 200
    assert (await send(c, make_event, **{"Authorization": basic(FILE_BLOG_KEY)})).status_code == 200

    # Adding it back restores it, again after the interval.
    file_app.write(orjson.dumps(apps_doc([FILE_SHOP_KEY, FILE_SHOP_KEY_2])))
    file_app.now[0] += RELOAD_S
    assert (await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY})).status_code == 200
    assert [e["app_id"] for e in events_on_topic(file_app.sink)] == ["shop", "shop", "shop", "blog", "shop"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b'{"apps": [', id="not-json"),
        pytest.param(orjson.dumps({"apps": [{"app_id": "shop", "write_keys": ["short"]}]}), id="short-key"),
        pytest.param(orjson.dumps({"apps": [{"app_id": "Bad App", "write_keys": [FILE_SHOP_KEY]}]}), id="bad-id"),
        pytest.param(
            orjson.dumps({"apps": [{"app_id": "shop", "write_keys": [FILE_SHOP_KEY], "cors_origins": None}]}),
            id="cors-null",
        ),
        pytest.param(
            orjson.dumps({"apps": ["shop"]}),
            id="entry-not-object",
        ),
        pytest.param(
            orjson.dumps({"apps": [{"app_id": 7, "write_keys": [FILE_SHOP_KEY]}]}),
            id="app-id-number",
        ),
        pytest.param(
            orjson.dumps({"apps": [{"app_id": "shop", "write_keys": None}]}),
            id="write-keys-null",
        ),
    ],
)
async def test_a_broken_apps_file_edit_keeps_the_last_good_registry(
    file_app: FileApp, make_event: EventFactory, content: bytes
) -> None:
    # apps.py: "keep serving the last good registry; a broken edit must not lock every app out".
    file_app.write(content)
    file_app.now[0] += RELOAD_S
    r = await send(file_app.client, make_event, **{"X-Write-Key": FILE_SHOP_KEY})
    assert r.status_code == 200
    assert events_on_topic(file_app.sink)[0]["app_id"] == "shop"


# ---------------------------------------------------------------------------------------------------------
# CORS
# ---------------------------------------------------------------------------------------------------------


def preflight_headers(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-write-key",
    }


@pytest.mark.parametrize("origin", [SHOP_ORIGIN, BLOG_ORIGIN])
async def test_preflight_from_a_listed_origin_is_204_with_that_origin(file_app: FileApp, origin: str) -> None:
    r = await file_app.client.options("/v1/batch", headers=preflight_headers(origin))
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == origin
    assert r.headers["access-control-allow-methods"] == "POST"
    assert "x-write-key" in r.headers["access-control-allow-headers"]
    assert r.headers["vary"] == "Origin"


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "", SHOP_ORIGIN + ".evil.example", SHOP_ORIGIN.upper(), "*"],
)
async def test_preflight_from_an_unlisted_origin_is_403_without_acao(file_app: FileApp, origin: str) -> None:
    r = await file_app.client.options("/v1/batch", headers=preflight_headers(origin))
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


async def test_post_from_an_origin_of_the_keys_app_gets_acao_for_that_origin(
    file_app: FileApp, make_event: EventFactory
) -> None:
    r = await send(file_app.client, make_event, **{"X-Write-Key": FILE_SHOP_KEY, "Origin": SHOP_ORIGIN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert r.headers["vary"] == "Origin"


async def test_post_with_an_origin_of_another_app_is_403(file_app: FileApp, make_event: EventFactory) -> None:
    # BLOG_ORIGIN passes the preflight (blog lists it) but must not let a page of blog write into shop.
    r = await send(file_app.client, make_event, **{"X-Write-Key": FILE_SHOP_KEY, "Origin": BLOG_ORIGIN})
    assert r.status_code == 403
    assert r.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in r.headers
    assert file_app.sink.records == []


async def test_post_with_any_origin_is_403_for_an_app_without_cors_origins(
    client: httpx.AsyncClient, sink: InMemorySink, make_event: EventFactory
) -> None:
    r = await send(client, make_event, **{"X-Write-Key": SHOP_KEY, "Origin": "https://h5.shop.example"})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    assert sink.records == []


async def test_post_without_origin_gets_no_cors_headers(file_app: FileApp, make_event: EventFactory) -> None:
    # Mini-programs send no Origin; nothing CORS-related is added.
    r = await send(file_app.client, make_event, **{"X-Write-Key": FILE_SHOP_KEY})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


async def test_acao_is_never_a_wildcard(file_app: FileApp, make_event: EventFactory) -> None:
    c = file_app.client
    responses = [
        await c.options("/v1/batch", headers=preflight_headers(SHOP_ORIGIN)),
        await c.options("/v1/batch", headers=preflight_headers("https://evil.example")),
        await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY, "Origin": SHOP_ORIGIN}),
        await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY, "Origin": "*"}),
        await send(c, make_event, **{"X-Write-Key": FILE_SHOP_KEY}),
    ]
    assert [r.status_code for r in responses] == [204, 403, 200, 403, 200]
    assert [r.headers.get("access-control-allow-origin") for r in responses] == [
        SHOP_ORIGIN,
        None,
        SHOP_ORIGIN,
        None,
        None,
    ]


async def test_error_responses_to_an_allowed_origin_carry_acao(file_app: FileApp) -> None:
    headers = {"X-Write-Key": FILE_SHOP_KEY, "Origin": SHOP_ORIGIN, "Content-Type": "application/json"}
    r = await file_app.client.post("/v1/batch", content=b"{not json", headers=headers)
    assert r.status_code == 400
    assert r.headers.get("access-control-allow-origin") == SHOP_ORIGIN
