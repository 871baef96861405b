"""`touchstream postbacks`: check the configuration, then run the worker until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from pydantic import ValidationError

from runtime import logs
from runtime.errors import StartupError
from stream.postbacks.load import load_postbacks
from stream.postbacks.settings import PostbackSettings
from stream.postbacks.worker import PostbackWorker, accounts_of, environ, retry_failed

log = logging.getLogger(__name__)


def _settings() -> PostbackSettings | None:
    try:
        return PostbackSettings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        sys.stderr.write(f"postbacks: invalid configuration: {problems}\n")
        return None


def run() -> int:
    settings = _settings()
    if settings is None:
        return 2
    logs.configure(settings.log_level, settings.log_json)
    try:
        if settings.stream_sql_key is None:
            msg = "STREAM_SQL_KEY is required: the worker reads and records through the stream processor"
            raise StartupError(msg)
        configs = load_postbacks(settings.stream_apps_file)
        accounts = accounts_of(configs, environ())
    except StartupError as exc:
        sys.stderr.write(f"postbacks: {exc}\n")
        return 2
    return asyncio.run(_main(settings, PostbackWorker(settings, configs, accounts)))


async def _main(settings: PostbackSettings, worker: PostbackWorker) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    enabled = sum(1 for c in worker.configs.values() if c.enabled)
    log.info("postback worker: %d integration(s), store at %s", enabled, settings.postback_processor_url)
    try:
        await worker.run(stop)
    finally:
        await worker.close()
    return 0


def retry(statuses: tuple[str, ...], since: str) -> int:
    settings = _settings()
    if settings is None:
        return 2
    try:
        count = asyncio.run(retry_failed(settings, statuses, since))
    except StartupError as exc:
        sys.stderr.write(f"postbacks retry: {exc}\n")
        return 1
    sys.stdout.write(f"re-queued {count} postback(s)\n")
    return 0
