"""`touchstream import`'s shell against a fake collector (httpx.MockTransport): back-off on 429/503, resume from
the progress file, rejects with line numbers, exit statuses, and the write key never printed. The real collector
and pipeline are in tests/integration/test_import_cli.py."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from touchstream.import_cli import ImportOptions, import_file, retry_after

KEY = "wk_secret_import_0123456789"


class FakeCollector:
    """Answers /v1/batch like the collector: events whose type is `teleport` are rejected by index. `script`
    gives the status (and headers) of the next requests before the normal 200s."""

    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None, max_events: int | None = None) -> None:
        self.script = list(script or [])
        self.max_events = max_events
        self.accepted: list[str] = []
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert request.headers["x-write-key"] == KEY
        if self.script:
            status, headers = self.script.pop(0)
            return httpx.Response(status, headers=headers, json={"message": "busy"})
        events = orjson.loads(request.content)["events"]
        if self.max_events is not None and len(events) > self.max_events:
            return httpx.Response(413, json={"message": "too many events"})
        rejected = [{"index": i, "code": "invalid", "reason": "type: unknown 'teleport'"}
                    for i, e in enumerate(events) if e.get("type") == "teleport"]
        self.accepted += [e["event_id"] for e in events if e.get("type") != "teleport"]
        return httpx.Response(200, json={"accepted": len(events) - len(rejected), "rejected": rejected})


def event(n: int, type_: str = "enter") -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "type": type_, "timestamp": "2026-10-01T08:00:00Z",
                         "anonymous_id": "a"})


def write_lines(path: Path, lines: list[bytes], gz: bool = False) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def options(path: Path, **overrides: Any) -> ImportOptions:
    values: dict[str, Any] = {
        "path": path, "collector": "http://collector.test", "write_key": KEY, "fmt": "ndjson",
        "progress_path": path.with_name(path.name + ".progress.json"),
        "rejects_path": path.with_name(path.name + ".rejects.ndjson"), "max_events": 3,
    }
    return ImportOptions(**(values | overrides))


def run(opts: ImportOptions, fake: FakeCollector, sleeps: list[float] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    record: Callable[[float], None] = (sleeps.append if sleeps is not None else lambda _: None)
    with httpx.Client(transport=httpx.MockTransport(fake)) as client:
        code = import_file(opts, client, sleep=record, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_gzip_file_is_sent_in_batches_and_summarised(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "history.ndjson.gz", [event(n) for n in range(7)], gz=True)
    fake = FakeCollector()
    code, out, err = run(options(path), fake)
    assert (code, fake.requests, fake.accepted) == (0, 3, [f"e{n}" for n in range(7)])
    assert out == f"import {path}: 7 lines, 7 new, 0 already sent, 0 rejected; done\n"
    assert err == ""  # not a terminal: no progress bar in logs


def test_rejected_lines_go_to_the_rejects_file_and_the_good_ones_are_sent(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(1), b"{oops", event(3, "teleport"), event(4), b"", event(6)])
    fake = FakeCollector()
    code, out, _ = run(options(path), fake)
    assert code == 1
    assert fake.accepted == ["e1", "e4", "e6"]
    rejects = [orjson.loads(line) for line in (tmp_path / "h.ndjson.rejects.ndjson").read_bytes().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert rejects[0]["reason"].startswith("not valid JSON")
    assert rejects[1]["reason"] == "invalid: type: unknown 'teleport'"
    assert out.startswith(f"import {path}: 5 lines, 3 new, 0 already sent, 2 rejected (see ")


def test_429_and_503_are_waited_out_with_retry_after_then_doubling(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(1)])
    fake = FakeCollector(script=[(429, {"Retry-After": "2"}), (503, {}), (503, {}), (429, {"Retry-After": "600"})])
    sleeps: list[float] = []
    code, _, _ = run(options(path), fake, sleeps)
    # Retry-After 2; no header: 0.5 s doubling by attempt (attempts 1 and 2); Retry-After capped at 60 s.
    assert (code, sleeps, fake.accepted) == (0, [2.0, 1.0, 2.0, 60.0], ["e1"])


def test_giving_up_keeps_the_progress_and_never_prints_the_key(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(n) for n in range(6)])
    fake = FakeCollector()
    run(options(path, max_batches=1), fake)  # lines 1..3 answered
    down = FakeCollector(script=[(503, {})] * 3)
    code, out, err = run(options(path, max_attempts=3), down)
    assert code == 2
    assert err == "touchstream import: gave up after 3 attempts: the collector answered 503\n"
    assert out.endswith("3 lines, 0 new, 3 already sent, 0 rejected; stopped by an error; re-run to continue\n")
    assert KEY not in out + err


def test_a_refused_key_is_a_usage_error_without_the_key(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(1)])
    code, out, err = run(options(path), FakeCollector(script=[(401, {})]))
    assert code == 2
    assert "refused the write key (401)" in err
    assert KEY not in out + err


def test_a_re_run_after_an_interruption_sends_only_what_was_not_answered(tmp_path: Path) -> None:
    lines = [event(n) for n in range(8)]
    lines[4] = b"not json"
    path = write_lines(tmp_path / "h.ndjson", lines)
    fake = FakeCollector()
    code, out, _ = run(options(path, max_batches=1), fake)
    assert (code, fake.accepted) == (3, ["e0", "e1", "e2"])
    assert out.endswith("3 lines, 3 new, 0 already sent, 0 rejected; stopped after 1 batches (--max-batches); "
                        "re-run to continue\n")
    code, out, _ = run(options(path), fake)
    # Line 5 is rejected, lines 4, 6..8 are new: nothing of lines 1..3 is sent again.
    assert (code, fake.accepted) == (1, ["e0", "e1", "e2", "e3", "e5", "e6", "e7"])
    assert f"import {path}: 8 lines, 4 new, 3 already sent, 1 rejected" in out
    code, out, _ = run(options(path), fake)
    assert (code, fake.requests) == (0, 3)
    assert out.startswith(f"import {path}: 8 lines, 0 new, 8 already sent, 0 rejected; done")
    rejects = (tmp_path / "h.ndjson.rejects.ndjson").read_bytes().splitlines()
    assert [orjson.loads(r)["line"] for r in rejects] == [5]  # written once across the three runs


def test_a_file_changed_under_its_progress_record_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(n) for n in range(6)])
    run(options(path, max_batches=1), FakeCollector())
    write_lines(path, [event(9), *[event(n) for n in range(1, 6)]])  # line 1 changed
    fake = FakeCollector()
    code, _, err = run(options(path), fake)
    assert (code, fake.requests) == (2, 0)
    assert "the first 3 lines changed since the progress file was written" in err
    write_lines(path, [event(0), event(1)])  # shorter than the record
    code, _, err = run(options(path), fake)
    assert (code, fake.requests) == (2, 0)
    assert "the first 3 lines changed" in err


def test_a_413_halves_the_batch_until_it_fits(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(n) for n in range(4)])
    fake = FakeCollector(max_events=1)
    code, out, _ = run(options(path, max_events=4), fake)
    # 4 → 413, 2 → 413, 1 + 1, 2 → 413, 1 + 1: seven requests, every event once.
    assert (code, fake.requests, fake.accepted) == (0, 7, ["e0", "e1", "e2", "e3"])
    assert "4 lines, 4 new" in out


def test_a_gzip_csv_of_orders_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbforder_id,revenue,time,user_id\r\nSO-1,1.00,2026-10-01T08:00:00Z,u\r\n"
                                   b"SO-2,2.00,2026-10-02T08:00:00Z,u\r\n"))
    fake = FakeCollector()
    code, out, _ = run(options(path, fmt="csv"), fake)
    assert (code, len(fake.accepted), fake.requests) == (0, 2, 1)
    assert out == f"import {path}: 2 lines, 2 new, 0 already sent, 0 rejected; done\n"


def test_a_csv_header_error_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,amount,time,user_id\nSO-1,1,2026-10-01,u\n")
    code, _, err = run(options(path, fmt="csv"), FakeCollector())
    assert code == 2
    assert err.startswith("touchstream import: unknown CSV column 'amount'")


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(options(tmp_path / "nope.ndjson"), FakeCollector())
    assert code == 2
    assert err == f"touchstream import: {tmp_path / 'nope.ndjson'}: No such file or directory\n"


@pytest.mark.parametrize(
    ("value", "want"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("1000", 60.0), ("soon", None), (None, None), ("nan", None),
     ("Tue, 01 Dec 2026 12:00:10 GMT", 10.0)],
)
def test_retry_after(value: str | None, want: float | None) -> None:
    assert retry_after(value, now=datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)) == want


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal_only(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.ndjson", [event(n) for n in range(2)])
    out, err = io.StringIO(), Terminal()
    with httpx.Client(transport=httpx.MockTransport(FakeCollector())) as client:
        assert import_file(options(path), client, sleep=lambda _: None, out=out, err=err) == 0
    # The last frame: the whole file read, both lines new; then a line break so the summary starts clean.
    assert err.getvalue().endswith(f"\rh.ndjson [{'#' * 30}] 100% 2 lines, 2 new, 0 rejected\n")
    assert out.getvalue().count("\n") == 1
