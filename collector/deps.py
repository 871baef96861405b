"""What every route module shares: the state dependency and a body read that stops at the limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import ClientDisconnect
from starlette.types import Scope

from collector.errors import MalformedBody, PayloadTooLarge
from collector.state import CollectorState


def state_of(request: Request) -> CollectorState:
    """Where the app keeps its state (collector/app.py); for the hottest route, which skips the dependency."""
    state: CollectorState = request.app.state.collector
    return state


async def _state(request: Request) -> CollectorState:
    # async: a sync dependency would be run in a worker thread on every request (measured: ~15% at 1 event).
    return state_of(request)


StateDep = Annotated[CollectorState, Depends(_state)]


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers as a dict, for a route that looks up several (names are lower case in ASGI).

    Starlette's `Headers` scans the list on every lookup and raises KeyError for an absent name; a small request
    on the hottest route looks up six. A repeated name gives its first value, as `Headers` does."""
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in reversed(scope["headers"])}


async def read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            msg = "Content-Length is not a number"
            raise MalformedBody(msg)
        if int(declared) > limit:
            msg = f"the body is {declared} bytes; at most {limit}"
            raise PayloadTooLarge(msg)
    # The ASGI messages themselves, as Request.stream() reads them, without its async generator (a few µs of a
    # small request on the hottest route).
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:  # chunked uploads have no Content-Length: stop reading at the limit
            msg = f"the body is over {limit} bytes"
            raise PayloadTooLarge(msg)
        chunks.append(chunk)
    return b"".join(chunks)
