"""`touchstream import FILE`: send a history file (NDJSON events, or a CSV of orders) through `/v1/batch`.

The I/O shell around touchstream/import_lines.py: it opens the file (gzip read transparently), POSTs batches
with the write key, waits out 429/503 (Retry-After, else doubling back-off), and after every batch the
collector answered it records the lines answered for in the progress file (written atomically), so that an
interrupted import re-run sends only what was not answered yet. Rejected lines go to the rejects file, one JSON
object per line with the line number and the reason. Exit status: 0 every line sent, 1 some rejected, 2 usage
or I/O error (the file, the key, the collector out of reach), 3 stopped early by `--max-batches`.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO, cast

import httpx
import orjson

from runtime.backoff import Backoff
from touchstream.import_lines import (
    Batch,
    CsvHeaderError,
    Item,
    LineDigest,
    Progress,
    batches,
    csv_items,
    ndjson_items,
)

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3
RETRY_STATUSES = (429, 503)
MAX_RETRY_AFTER_S = 60.0
MAX_ATTEMPTS = 8
BACKOFF = Backoff(first_s=0.5, max_s=30.0)
GZIP_MAGIC = b"\x1f\x8b"


class ImportAbort(Exception):
    """The import cannot go on (bad key, collector unreachable after every attempt, unreadable input)."""


@dataclass(frozen=True, slots=True)
class ImportOptions:
    path: Path
    collector: str
    write_key: str
    fmt: str  # "ndjson" or "csv"
    progress_path: Path
    rejects_path: Path
    max_events: int = 500
    max_body_bytes: int = 500_000  # the collector's default COLLECTOR_MAX_BODY_BYTES
    max_batches: int | None = None
    max_attempts: int = MAX_ATTEMPTS
    timeout_s: float = 30.0


@dataclass(slots=True)
class Tally:
    lines: int = 0  # items read this run (blank lines are not items), for the progress bar
    already: int = 0  # skipped: answered for (accepted or rejected) in an earlier run
    new: int = 0  # accepted by the collector in this run
    rejected: int = 0  # rejected in this run, here or by the collector
    batches: int = 0


def options_from_args(args: Any) -> ImportOptions:
    path = Path(args.file)
    fmt = args.format or ("csv" if path.name.removesuffix(".gz").endswith(".csv") else "ndjson")
    return ImportOptions(
        path=path, collector=args.collector, write_key=args.write_key, fmt=fmt,
        progress_path=Path(args.progress) if args.progress else path.with_name(path.name + ".progress.json"),
        rejects_path=Path(args.rejects) if args.rejects else path.with_name(path.name + ".rejects.ndjson"),
        max_events=args.batch_size, max_body_bytes=args.max_batch_bytes, max_batches=args.max_batches,
    )


def main(args: Any) -> int:
    opts = options_from_args(args)
    if not opts.write_key:
        sys.stderr.write("touchstream import: set --write-key or TOUCHSTREAM_WRITE_KEY (the app's write key)\n")
        return EXIT_USAGE
    if opts.max_events < 1 or opts.max_body_bytes < 1024 or (opts.max_batches is not None and opts.max_batches < 1):
        sys.stderr.write("touchstream import: --batch-size ≥ 1, --max-batch-bytes ≥ 1024, --max-batches ≥ 1\n")
        return EXIT_USAGE
    with httpx.Client(timeout=opts.timeout_s) as client:
        return import_file(opts, client)


def import_file(
    opts: ImportOptions, client: httpx.Client, *, sleep: Callable[[float], None] = time.sleep,
    out: TextIO | None = None, err: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    tally = Tally()
    try:
        progress = _load_progress(opts.progress_path)
        stopped = _run(opts, client, progress, tally, sleep, _Bar(err, opts.path))
    except (ImportAbort, CsvHeaderError, OSError, EOFError, UnicodeDecodeError, httpx.InvalidURL) as exc:
        err.write(f"touchstream import: {_describe(exc)}\n")
        out.write(_summary(opts, tally, "stopped by an error; re-run to continue") + "\n")
        return EXIT_USAGE
    if stopped:
        out.write(_summary(opts, tally, f"stopped after {tally.batches} batches (--max-batches); re-run to continue")
                  + "\n")
        return EXIT_STOPPED
    out.write(_summary(opts, tally, "done") + "\n")
    return EXIT_REJECTED if tally.rejected else EXIT_OK


def _run(
    opts: ImportOptions, client: httpx.Client, progress: Progress, tally: Tally,
    sleep: Callable[[float], None], bar: _Bar,
) -> bool:
    """Sends what the progress record does not cover; True if `--max-batches` stopped it before the end."""
    url = f"{opts.collector.rstrip('/')}/v1/batch"
    with ExitStack() as stack:
        raw = stack.enter_context(opts.path.open("rb"))
        bar.total = os.fstat(raw.fileno()).st_size
        items = _items(opts.fmt, _maybe_gunzip(raw, stack), stack)
        resumed = progress.done_through > 0
        # A fresh import starts a fresh rejects file; a resumed one appends to its own.
        rejects = stack.enter_context(opts.rejects_path.open("ab" if resumed else "wb"))
        digest = LineDigest()
        fresh = _skip_answered(items, progress, digest, tally)
        for batch in batches(fresh, opts.max_events, opts.max_body_bytes):
            if opts.max_batches is not None and tally.batches >= opts.max_batches:
                bar.done(tally)
                return True
            answers = _send(client, url, opts.write_key, batch, sleep, opts.max_attempts)
            _record(batch, answers, rejects, tally)
            for item in batch.items:
                digest.add(item.raw)
            progress.done_through = batch.last_line
            progress.digest = digest.hexdigest()
            progress.new += sum(1 for reason in answers.values() if reason is None)
            progress.rejected += len(batch.local_rejects) + sum(1 for r in answers.values() if r is not None)
            rejects.flush()
            os.fsync(rejects.fileno())  # the rejects of a batch are on disk before the progress says it is done
            _save_progress(opts.progress_path, progress)
            tally.batches += 1
            bar.show(raw.tell(), tally)
        bar.done(tally)
    return False


def _skip_answered(items: Iterator[Item], progress: Progress, digest: LineDigest, tally: Tally) -> Iterator[Item]:
    """Counts and hashes the lines the progress record covers, checks them, then yields the rest."""
    checked = progress.done_through == 0
    for item in items:
        tally.lines += 1
        if item.line <= progress.done_through:
            digest.add(item.raw)
            tally.already += 1
            continue
        if not checked:
            _check_digest(digest, progress)
            checked = True
        yield item
    if not checked:
        _check_digest(digest, progress)


def _check_digest(digest: LineDigest, progress: Progress) -> None:
    if digest.hexdigest() != progress.digest:
        msg = (f"the first {progress.done_through} lines changed since the progress file was written; delete it "
               "to import the file again (event ids keep a re-sent event single)")
        raise ImportAbort(msg)


def _send(
    client: httpx.Client, url: str, key: str, batch: Batch, sleep: Callable[[float], None], attempts: int,
) -> dict[int, str | None]:
    """POSTs the batch's events; the collector's answer per line: None accepted, else the rejection reason."""
    events = batch.event_items
    if not events:
        return {}
    rejected = _post(client, url, key, batch.body(), sleep, attempts)
    if rejected is None:  # 413: the collector's limits are lower than ours; halves until they fit
        if len(events) == 1:
            return {events[0].line: "the collector refused the event as too large (413)"}
        half = len(events) // 2
        halves = _send(client, url, key, Batch(events[:half]), sleep, attempts)
        halves.update(_send(client, url, key, Batch(events[half:]), sleep, attempts))
        return halves
    answers: dict[int, str | None] = {item.line: None for item in events}
    for entry in rejected:
        index = entry.get("index")
        if isinstance(index, int) and 0 <= index < len(events):
            answers[events[index].line] = f"{entry.get('code', 'invalid')}: {entry.get('reason', '')}"
    return answers


def _post(
    client: httpx.Client, url: str, key: str, body: bytes, sleep: Callable[[float], None], attempts: int,
) -> list[dict[str, Any]] | None:
    """The collector's `rejected` list, or None for a 413. Retries 429, 503 and transport errors."""
    headers = {"Content-Type": "application/json", "X-Write-Key": key}
    last = ""
    for attempt in range(attempts):
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.TransportError as exc:
            last = f"cannot reach the collector at {url} ({type(exc).__name__})"
            wait = BACKOFF.delay(attempt)
        else:
            status = response.status_code
            if status == 200:
                return _rejected_of(response)
            if status == 413:
                return None
            if status == 401:
                msg = "the collector refused the write key (401): check --write-key / TOUCHSTREAM_WRITE_KEY"
                raise ImportAbort(msg)
            if status not in RETRY_STATUSES:
                msg = f"the collector answered {status}: {_message(response)}"
                raise ImportAbort(msg)
            last = f"the collector answered {status}"
            wait = retry_after(response.headers.get("retry-after")) or BACKOFF.delay(attempt)
        if attempt + 1 < attempts:
            sleep(wait)
    msg = f"gave up after {attempts} attempts: {last}"
    raise ImportAbort(msg)


def _rejected_of(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        doc = response.json()
        rejected = doc["rejected"]
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"the collector's 200 answer is not a batch result: {response.text[:200]!r}"
        raise ImportAbort(msg) from exc
    if not isinstance(rejected, list):
        msg = "the collector's 200 answer has no list of rejected events"
        raise ImportAbort(msg)
    return [entry for entry in rejected if isinstance(entry, dict)]


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped; None if absent or bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_S, max(0.0, seconds))


def _message(response: httpx.Response) -> str:
    try:
        doc = response.json()
    except ValueError:
        return response.text[:200]
    return str(doc.get("message") or doc.get("detail") or doc)[:200] if isinstance(doc, dict) else str(doc)[:200]


def _record(batch: Batch, answers: dict[int, str | None], rejects: IO[bytes], tally: Tally) -> None:
    reasons = {item.line: item.error for item in batch.local_rejects}
    reasons.update({line: reason for line, reason in answers.items() if reason is not None})
    for line in sorted(reasons):
        rejects.write(orjson.dumps({"line": line, "reason": reasons[line]}) + b"\n")
    tally.rejected += len(reasons)
    tally.new += sum(1 for reason in answers.values() if reason is None)


def _items(fmt: str, stream: IO[bytes], stack: ExitStack) -> Iterator[Item]:
    if fmt == "csv":
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        # Detached, not closed, at the end: a collected wrapper would close the file under the progress bar.
        stack.callback(text.detach)
        return csv_items(text)
    return ndjson_items(stream)


def _maybe_gunzip(raw: IO[bytes], stack: ExitStack) -> IO[bytes]:
    """The file's bytes, inflated if it starts with the gzip magic (whatever its name)."""
    head = raw.read(2)
    raw.seek(0)
    if head == GZIP_MAGIC:
        inflated = gzip.GzipFile(fileobj=raw, mode="rb")
        stack.callback(inflated.close)
        return cast("IO[bytes]", inflated)  # typeshed's GzipFile is a BufferedIOBase, the same reads
    return raw


def _load_progress(path: Path) -> Progress:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Progress()
    try:
        return Progress.from_json(data)
    except ValueError as exc:
        msg = f"{path}: {exc}"
        raise ImportAbort(msg) from exc


def _save_progress(path: Path, progress: Progress) -> None:
    """Atomically: a crash leaves the previous record or this one, never a torn file."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(progress.to_json())
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    if isinstance(exc, UnicodeDecodeError):
        return f"the CSV file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    return str(exc) or type(exc).__name__


def _summary(opts: ImportOptions, tally: Tally, state: str) -> str:
    rejects = f" (see {opts.rejects_path})" if tally.rejected else ""
    answered = tally.already + tally.new + tally.rejected
    return (f"import {opts.path}: {answered} lines, {tally.new} new, {tally.already} already sent, "
            f"{tally.rejected} rejected{rejects}; {state}")


class _Bar:
    """A one-line progress bar on stderr, only on a terminal: piped to a log, stderr gets no progress lines."""

    def __init__(self, err: TextIO, path: Path) -> None:
        self.err = err
        self.name = path.name
        self.total = 0
        self.tty = err.isatty()
        self.last = 0.0

    def show(self, position: int, tally: Tally) -> None:
        now = time.monotonic()
        if not self.tty or now - self.last < 0.2:
            return
        self.last = now
        share = min(1.0, position / self.total) if self.total else 1.0
        filled = int(share * 30)
        self.err.write(f"\r{self.name} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
                       f"{tally.lines} lines, {tally.new} new, {tally.rejected} rejected")
        self.err.flush()

    def done(self, tally: Tally) -> None:
        if self.tty:
            self.last = 0.0
            self.show(self.total, tally)
            self.err.write("\n")
