"""What the benchmarks share beyond the test harness (tests/integration/harness.py: services, waits, SQL, free
ports; tests/integration/broker.py: the broker): a private broker for a whole run, CPU accounting from /proc,
percentiles, machine facts and markdown tables, and the frame of a benchmark run (`Bench`: the machine, the
apps, the broker and scratch folder, the report heading and the result file) and the collector's settings.

Everything listens on loopback only, on free ports, with data in temporary folders that are removed afterwards.
Every wait is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.integration.broker import Broker
from tests.integration.harness import ROOT

RESULTS = ROOT / "loadtests" / "results"
PII_SECRET = "benchmark-pii-secret-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The services log warnings only (the processor's benchmark runs ask for INFO: they read its flush lines).
QUIET = {"LOG_LEVEL": "WARNING"}
SCRATCH_ENV = "BENCH_SCRATCH"
TMPFS = Path("/dev/shm")
MIN_TMPFS_FREE = 4 << 30  # a stream run with a baseline writes ~2 GiB of chDB and broker data


# -- small helpers -----------------------------------------------------------------------------------------


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an unsorted list; NaN for an empty one."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    ordered = sorted(v for v in values if v == v)
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "–"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def result_path(name: str, suffix: str, at: datetime | None = None) -> Path:
    """Where a run keeps `name`'s results: stamped to the second (UTC), so that a later run of the same day (a
    profile after an A/B, say) never overwrites an earlier one's file."""
    return RESULTS / f"{name}-{(at or datetime.now(UTC)).strftime('%Y-%m-%dT%H%M%SZ')}{suffix}"


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = result_path(name, ".json")
    path.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    return path


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": int(nproc) if nproc.isdigit() else os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "java": _first_line(["java", "-version"]),
        "contention_at_start": contention(),
        "scratch": str(scratch_root()),
        "scratch_filesystem": filesystem_of(scratch_root()),
    }


def describe_contention(before: dict[str, Any], after: dict[str, Any]) -> str:
    def one(c: dict[str, Any]) -> str:
        pressure = c.get("cpu_pressure_some_avg60")
        extra = f", CPU pressure (some, avg60) {pressure:.0f}%" if pressure is not None else ""
        return f"load average {c['loadavg'][0]:.2f}{extra}"

    return f"Machine load: at start {one(before)}; at end {one(after)} (the machine is shared)."


def contention() -> dict[str, Any]:
    """How busy the (shared) machine is: load average and CPU pressure stall information (PSI), if available."""
    out: dict[str, Any] = {"loadavg": os.getloadavg()}
    with contextlib.suppress(OSError), open("/proc/pressure/cpu") as f:
        for line in f:
            kind, *fields = line.split()
            values = dict(x.split("=", 1) for x in fields)
            out[f"cpu_pressure_{kind}_avg60"] = float(values.get("avg60", "nan"))
    return out


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""


def imported_from(root: Path, package: str = "stream") -> str:
    """Where a service's package (the processor's `stream`, the collector's `collector`) comes from when started
    in `root` with it on PYTHONPATH (checks the A/B set-up)."""
    out = subprocess.run([sys.executable, "-c", f"import {package}; print({package}.__file__)"], cwd=root, text=True,
                         capture_output=True, check=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=60)
    return out.stdout.strip()


# -- Kafka ---------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def kafka(heap: str = "512m") -> Iterator[Broker]:
    """A private single-node broker for one benchmark run, its data in a temp folder removed afterwards."""
    with temp_dir("ts-bench-kafka-") as data:
        broker = Broker(data, heap, env={"KAFKA_START_TIMEOUT": "120", "KAFKA_STOP_TIMEOUT": "20"})
        log(f"starting Kafka on {broker.bootstrap} (data {data})")
        try:  # a broker that failed half-way through its start is stopped too
            broker.run("up")
            yield broker
        finally:
            broker.down()


def spread_apps(partitions: int = 4, per_partition: int = 2) -> list[str]:
    """App ids whose keys land on every partition equally (the collector keys records by app_id)."""
    from aiokafka.partitioner import DefaultPartitioner

    partitioner = DefaultPartitioner()
    every = list(range(partitions))
    chosen: dict[int, list[str]] = {p: [] for p in every}
    for i in range(10_000):  # bounded search
        app = f"app{i:02d}"
        p = partitioner(app.encode(), every, every)
        if len(chosen[p]) < per_partition:
            chosen[p].append(app)
        if all(len(v) == per_partition for v in chosen.values()):
            break
    return [a for p in every for a in chosen[p]]


def write_keys(apps: list[str]) -> dict[str, str]:
    return {app: f"wk_{app}_bench0123456789" for app in apps}


def scratch_root() -> Path:
    """Where a benchmark keeps its data (the broker's logs, the chDB folders): `BENCH_SCRATCH` if set, else
    tmpfs (/dev/shm) when it has room, else the system temp folder.

    Both sides of an A/B run use the same place. tmpfs is the default because on this VM's root ext4 a file
    costs several times what it costs elsewhere, and ClickHouse writes ~11 files per part: a 1-row chDB insert
    took 9-12 ms on the root disk against 1.4-1.5 ms on tmpfs and on a freshly made ext4 image (loop-mounted,
    2026-12-01). That cost is this disk's, not the processor's; `BENCH_SCRATCH=/tmp` measures with it.
    """
    chosen = os.environ.get(SCRATCH_ENV)
    if chosen:
        return Path(chosen)
    with contextlib.suppress(OSError):
        stat = os.statvfs(TMPFS)
        if os.access(TMPFS, os.W_OK) and stat.f_bavail * stat.f_frsize >= MIN_TMPFS_FREE:
            return TMPFS
    return Path(tempfile.gettempdir())


def filesystem_of(path: Path) -> str:
    """The type of the filesystem `path` is on (the longest mount point above it in /proc/mounts)."""
    best, kind = "", "unknown"
    resolved = str(path.resolve())
    with contextlib.suppress(OSError), open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            above = len(parts) >= 3 and (resolved == parts[1] or resolved.startswith(parts[1].rstrip("/") + "/"))
            if above and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=scratch_root()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- the frame of a benchmark run ----------------------------------------------------------------------------


class Bench:
    """One benchmark run: the machine facts (logged at once), apps spread over the partitions, a private broker
    with a scratch folder, the report's heading with the machine load, and the result file."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.monotonic()
        self.info = machine_info()
        self.apps = spread_apps()
        self.end_load: dict[str, Any] = {}
        log(f"machine: {self.info['nproc']} cores, {self.info['cpu_model']}, Python {self.info['python']}; "
            f"data under {self.info['scratch']} ({self.info['scratch_filesystem']})")

    @contextlib.contextmanager
    def services(self) -> Iterator[tuple[Broker, Path]]:
        with kafka() as broker, temp_dir(f"ts-bench-{self.name}-") as tmp:
            yield broker, tmp

    def heading(self, title: str) -> None:
        """Prints the report's heading and how busy the machine was at the start and now."""
        info = self.info
        self.end_load = contention()
        print(f"\n## {title} ({info['date']}, {info['nproc']} × {info['cpu_model']}, Python {info['python']})\n")
        print(describe_contention(info["contention_at_start"], self.end_load) + "\n")
        print(f"Data (broker logs, chDB folders) under {info['scratch']} ({info['scratch_filesystem']}).\n")

    def finish(self, results: dict[str, Any]) -> Path:
        """Writes the results with the machine facts, the run time and the load at the end; logs where."""
        path = write_result(self.name, {
            "machine": self.info, **results, "runtime_s": time.monotonic() - self.started,
            "contention_at_end": self.end_load,
        })
        log(f"results written to {path} (total {time.monotonic() - self.started:.0f} s)")
        return path


def collector_env(bootstrap: str, topic: str, deadletter: str, port: int, keys: Mapping[str, str]) -> dict[str, str]:
    """The settings of a benchmark's collector: loopback, its topics, one write key per app."""
    return {
        **QUIET,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_EVENTS_TOPIC": topic,
        "KAFKA_DEADLETTER_TOPIC": deadletter,
        "COLLECTOR_HOST": "127.0.0.1",
        "COLLECTOR_PORT": str(port),
        "COLLECTOR_WRITE_KEYS": ",".join(f"{app}:{key}" for app, key in keys.items()),
        "PII_HASH_SECRET": PII_SECRET,
    }


def profile_tables(profile: dict[str, Any]) -> str:
    """py-spy's top frames (as `bench_collector.top_frames` reads them) as three markdown tables."""
    return "\n".join(md_table([title, "%"], [list(x) for x in profile[key]]) + "\n" for title, key in (
        ("function (self time)", "self"), ("function (inclusive)", "inclusive"),
        ("self time by package/module", "self_by_package"),
    ))
