"""collector.deps: read_bounded reads the ASGI body messages itself (chunks, the limit, a client that went away);
header_map answers as Starlette's Headers does."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request

from collector.deps import header_map, read_bounded
from collector.errors import MalformedBody, PayloadTooLarge


def request_of(messages: list[dict[str, Any]], headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/v1/batch", "headers": headers or []}
    return Request(scope, receive)


def body_message(chunk: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": chunk, "more_body": more}


async def test_chunks_are_joined_in_order() -> None:
    request = request_of([body_message(b"ab", True), body_message(b"", True), body_message(b"cd", False)])
    assert await read_bounded(request, 4) == b"abcd"


async def test_a_message_without_a_body_ends_an_empty_read() -> None:
    assert await read_bounded(request_of([{"type": "http.request"}]), 10) == b""


async def test_a_chunked_body_one_byte_over_the_limit_is_refused() -> None:
    request = request_of([body_message(b"ab", True), body_message(b"cde", False)])
    with pytest.raises(PayloadTooLarge, match="over 4 bytes"):
        await read_bounded(request, 4)


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    request = request_of([], headers=[(b"content-length", b"5")])  # reading would pop from an empty queue
    with pytest.raises(PayloadTooLarge, match="5 bytes; at most 4"):
        await read_bounded(request, 4)


async def test_a_declared_length_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(MalformedBody, match="not a number"):
        await read_bounded(request_of([], headers=[(b"content-length", b"-1")]), 4)


async def test_a_client_gone_mid_body_is_a_disconnect_as_starlette_reads_it() -> None:
    request = request_of([body_message(b"ab", True), {"type": "http.disconnect"}])
    with pytest.raises(ClientDisconnect):
        await read_bounded(request, 100)


def test_header_map_answers_as_starlettes_headers() -> None:
    raw = [(b"x-write-key", b"wk_1"), (b"user-agent", b"ua/1"), (b"x-write-key", b"wk_2"), (b"origin", b"h\xe9")]
    scope = {"type": "http", "headers": raw}
    mapped = header_map(scope)
    starlette = Headers(scope=scope)
    for name in ("x-write-key", "user-agent", "origin", "content-encoding"):
        assert mapped.get(name) == starlette.get(name)
    assert (mapped["x-write-key"], mapped["origin"]) == ("wk_1", "hé")  # the first of a repeated name; latin-1
