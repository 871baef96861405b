"""The product collector with proposed changes switched on from outside, to measure them before anyone edits
the product: `python -m loadtests.variant_collector collector` with BENCH_VARIANT set.

Variants (comma-separated in BENCH_VARIANT):
* `batch1mb`: the Kafka producer gets `max_batch_size=1 MiB` instead of aiokafka's 16 KiB default. A 10-event
  record (~10 KB) or a 100-event record (~95 KB) then no longer needs a partition batch of its own, and
  concurrent requests stop waiting on `MessageBatch.wait_drain` for one another.
* `asyncdep`: the routes' sync `_state` dependency is replaced by an `async def` doing the same thing, so FastAPI
  no longer runs it in a worker thread (anyio `run_in_threadpool`) on every request.

Everything else is `collector.main.run` as shipped. Used only by `bench_collector --variant ...`.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import typing
from typing import Any

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant

import collector.main
import collector.sinks
from collector import routes


def _make_state_async() -> None:
    """Make every use of `collector.routes._state` an `async def` equivalent, before the app is built.

    Not via `app.dependency_overrides`: with overrides FastAPI rebuilds the dependant on every request, which
    costs more than it saves. Instead the `Depends` marker of `StateDep` is pointed at the async function (read
    whenever FastAPI builds a dependant from the route signatures) and any dependant already built is patched.
    """
    old = routes._state

    async def state(request: Request) -> Any:
        return request.app.state.collector

    for marker in typing.get_args(routes.StateDep)[1:]:
        if getattr(marker, "dependency", None) is old:
            object.__setattr__(marker, "dependency", state)  # frozen dataclass
    original = getattr(collector.main, "create_app")  # noqa: B009

    def create_app(*args: Any, **kwargs: Any) -> FastAPI:
        app: FastAPI = original(*args, **kwargs)
        for route in _all_routes(app):
            _swap(getattr(route, "dependant", None), old, state)
        for obj in gc.get_objects():  # dependants built by wrappers of included routers
            if isinstance(obj, Dependant) and obj.call is old:
                obj.call = state
        return app

    setattr(collector.main, "create_app", create_app)  # noqa: B010 - patching the shipped module on purpose


def _all_routes(app: FastAPI) -> list[Any]:
    """The app's routes, including those of included routers (FastAPI ≥ 0.16x keeps them behind a wrapper)."""
    found: list[Any] = []
    todo = list(app.routes)
    for _ in range(10_000):  # bounded walk
        if not todo:
            break
        route = todo.pop()
        found.append(route)
        inner = getattr(route, "original_router", None)
        if inner is not None:
            todo.extend(inner.routes)
    return found


def _swap(dependant: Any, old: Any, new: Any) -> int:
    """Replace `old` by `new` wherever it is the call of a (sub-)dependency; returns how many were replaced."""
    if dependant is None:
        return 0
    count = 0
    for sub in dependant.dependencies:
        if sub.call is old:
            sub.call = new
            count += 1
        count += _swap(sub, old, new)
    return count


def main() -> int:
    variants = {v.strip() for v in os.environ.get("BENCH_VARIANT", "").split(",") if v.strip()}
    unknown = variants - {"batch1mb", "asyncdep"}
    if unknown:
        sys.stderr.write(f"variant_collector: unknown variants {sorted(unknown)}\n")
        return 2
    if "batch1mb" in variants:
        tuned = functools.partial(AIOKafkaProducer, max_batch_size=1_048_576)
        setattr(collector.sinks, "AIOKafkaProducer", tuned)  # noqa: B010 - patching the shipped module on purpose
    if "asyncdep" in variants:
        _make_state_async()
    return collector.main.run()


if __name__ == "__main__":
    if sys.argv[1:] != ["collector"]:
        sys.stderr.write("usage: python -m loadtests.variant_collector collector\n")
        raise SystemExit(2)
    raise SystemExit(main())
