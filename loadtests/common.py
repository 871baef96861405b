"""What both benchmarks share: a private Kafka broker, the services as subprocesses, a realistic event
generator, CPU accounting from /proc, percentiles, machine facts and markdown tables.

Everything listens on loopback only, on free ports, with data in temporary folders that are removed afterwards.
Every wait here is bounded by a deadline.
"""

from __future__ import annotations

import contextlib
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "loadtests" / "results"
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
PII_SECRET = "benchmark-pii-secret-0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


# -- small helpers -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2) -> T:
    """Calls `probe` until it returns something truthy; bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        else:
            if last:
                return cast(T, last)
        time.sleep(interval)
    msg = f"timed out after {timeout}s waiting for {what} (last: {last!r})"
    raise TimeoutError(msg)


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


def write_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{datetime.now(UTC).date().isoformat()}.json"
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


# -- Kafka ---------------------------------------------------------------------------------------------------


class Kafka:
    """A private single-node broker from deploy/kafka/kafka.sh on free loopback ports, data in a temp folder."""

    def __init__(self, heap: str = "512m") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ts-bench-kafka-"))
        self.port = free_port()
        self.env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(free_port()),
            "KAFKA_DATA_DIR": str(self.dir),
            "KAFKA_HEAP": heap,
            "KAFKA_START_TIMEOUT": "120",
            "KAFKA_STOP_TIMEOUT": "20",
        }

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        try:
            return int((self.dir / "kafka.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def up(self) -> Kafka:
        log(f"starting Kafka on {self.bootstrap} (data {self.dir})")
        subprocess.run([str(KAFKA_SH), "up"], check=True, env=self.env, cwd=ROOT, timeout=180)
        return self

    def down(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run([str(KAFKA_SH), "down"], check=False, env=self.env, cwd=ROOT, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Kafka:
        return self.up()

    def __exit__(self, *_: object) -> None:
        self.down()


# The SQL key of every processor the benchmarks start (POST /v1/query wants a key); sql() sends it.
BENCH_SQL_KEY = "bench-sql-key-0123456789abcdef"
SQL_AUTH = {"Authorization": f"Bearer {BENCH_SQL_KEY}"}


# -- the services ----------------------------------------------------------------------------------------------


class Service:
    """`touchstream <command>` as a subprocess (optionally pinned with taskset), output kept in a log file."""

    def __init__(
        self, command: str, env: dict[str, str], log_path: Path, cpus: str | None = None,
        module: str = "touchstream.cli",
    ) -> None:
        self.command = command
        self.module = module
        self.env = {
            **os.environ, "LOG_JSON": "false", "TOUCHSTREAM_ENV": "test", "LOG_LEVEL": "WARNING",
            "STREAM_SQL_KEY": BENCH_SQL_KEY, **env,
        }
        self.log_path = log_path
        self.cpus = cpus
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        argv = [sys.executable, "-m", self.module, self.command]
        if self.cpus is not None and shutil.which("taskset"):
            argv = ["taskset", "-c", self.cpus, *argv]  # taskset execs the command: the pid stays the service's
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def logs(self, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_http_ok(url: str, timeout: float, service: Service | None = None) -> None:
    def probe() -> bool:
        if service is not None and not service.alive():
            msg = f"{service.command} exited during start-up:\n{service.logs()}"
            raise RuntimeError(msg)
        return httpx.get(url, timeout=2).status_code == 200

    wait_for(probe, timeout, url)


def sql(endpoint: str, query: str, timeout: float = 30) -> list[list[Any]]:
    response = httpx.post(endpoint, content=orjson.dumps({"sql": query}), headers=SQL_AUTH, timeout=timeout)
    body = response.json()
    if response.status_code != 200:
        msg = f"query failed ({response.status_code}): {body}"
        raise RuntimeError(msg)
    return list(body["rows"])


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


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


# -- realistic events -----------------------------------------------------------------------------------------

_DEVICES = (
    {"brand": "Apple", "model": "iPhone 15 Pro", "os": "iOS", "os_version": "17.4.1", "screen_width": 393,
     "screen_height": 852},
    {"brand": "HUAWEI", "model": "Mate 60 Pro", "os": "HarmonyOS", "os_version": "4.0.0", "screen_width": 412,
     "screen_height": 915},
    {"brand": "Xiaomi", "model": "Redmi K70", "os": "Android", "os_version": "14", "screen_width": 393,
     "screen_height": 873},
    {"brand": "OPPO", "model": "Find X7", "os": "Android", "os_version": "14", "screen_width": 360,
     "screen_height": 800},
    {"brand": "vivo", "model": "X100", "os": "Android", "os_version": "14", "screen_width": 360,
     "screen_height": 780},
)
_PATHS = ("pages/index/index", "pages/goods/detail", "pages/goods/list", "pages/cart/cart",
          "pages/order/confirm", "pages/user/center", "pages/search/result", "pages/activity/spring")
_NETWORKS = ("wifi", "5g", "4g", "wifi", "wifi")
_CUSTOM = ("add_to_cart", "search", "coupon_claim", "favorite", "video_play", "checkout_start")
_UTM = (
    {"utm_source": "douyin", "utm_medium": "cpc", "utm_campaign": "spring_sale_2026"},
    {"utm_source": "xiaohongshu", "utm_medium": "kol", "utm_campaign": "winter_launch"},
    {"utm_source": "wechat", "utm_medium": "article", "utm_campaign": "official_account_1123"},
    {"utm_source": "weibo", "utm_medium": "social", "utm_campaign": "double11_recap"},
)
# (event type, weight): the 7 lifecycle types of the contract (exposure … repurchase) plus share and identify,
# page_view and custom; convert + repurchase ≈ 2 %.
TYPE_WEIGHTS = (
    ("page_view", 0.36), ("custom", 0.20), ("exposure", 0.15), ("enter", 0.09), ("click", 0.08),
    ("share", 0.03), ("register", 0.02), ("activate", 0.015), ("identify", 0.015), ("purchase", 0.021),
)
PURCHASE = ("convert", "repurchase")  # the client sends convert for its first order, repurchase later


@dataclass
class _User:
    anonymous_id: str
    openid: str | None
    device: dict[str, Any]
    app_version: str
    platform: str
    planned: int
    emitted: int = 0
    launch: dict[str, Any] = field(default_factory=dict)  # scene/query/campaign/share of the current visit
    user_id: str | None = None
    registered: bool = False
    activated: bool = False
    purchases: int = 0


class EventGenerator:
    """SDK events (~600 B each as JSON) from a pool of users per app, each with several touchpoints.

    Each user starts with an `enter` (a touchpoint: share card, ad with gdt_vid, UTM link, QR code or direct
    entry), later visits bring new touchpoints, about 2 % of events are purchases (convert/repurchase, with
    order_id and revenue). Deterministic for a seed; event ids are unique per generator (random prefix).
    """

    def __init__(self, apps: list[str], seed: int = 1, users_per_app: int = 200) -> None:
        self.rng = random.Random(seed)
        self.apps = apps
        self.prefix = f"{self.rng.getrandbits(64):016x}"
        self.users_per_app = users_per_app
        self.pools: dict[str, list[_User]] = {app: [self._new_user() for _ in range(users_per_app)] for app in apps}
        self._types = [t for t, _ in TYPE_WEIGHTS]
        self._weights = [w for _, w in TYPE_WEIGHTS]
        self.count = 0

    def _id(self, tag: str) -> str:
        self.count += 1
        return f"{self.prefix}{tag}{self.count:015x}"

    def _new_user(self) -> _User:
        r = self.rng
        platform = r.choices(("wechat", "alipay", "douyin"), (0.85, 0.1, 0.05))[0]
        return _User(
            anonymous_id=f"dev-{r.getrandbits(64):016x}",
            openid=f"o{r.getrandbits(128):032x}"[:28] if platform == "wechat" else None,
            device=r.choice(_DEVICES),
            app_version=r.choice(("3.12.0", "3.12.1", "3.11.4")),
            platform=platform,
            planned=r.randint(10, 80),
        )

    def _launch(self) -> dict[str, Any]:
        r = self.rng
        kind = r.random()
        if kind < 0.25:  # share card
            return {"scene": r.choice((1007, 1008, 1044)), "query": {"share_ticket": f"st{r.getrandbits(40):x}"},
                    "share": {"from": f"dev-{r.getrandbits(64):016x}", "depth": r.randint(1, 3)}}
        if kind < 0.45:  # Tencent ad click: the click id arrives in the launch query
            return {"scene": 1045, "query": {"gdt_vid": f"wx0{r.getrandbits(60):015x}",
                                             "weixinadinfo": f"{r.randint(10**8, 10**9)}.0.0.0"}}
        if kind < 0.7:  # UTM-tagged link
            utm = r.choice(_UTM)
            return {"scene": 1037, "query": dict(utm),
                    "campaign": {"source": utm["utm_source"], "medium": utm["utm_medium"],
                                 "name": utm["utm_campaign"]}}
        if kind < 0.85:  # QR / mini-program code
            return {"scene": r.choice((1047, 1011)), "query": {"scene": f"store_{r.randint(1, 300)}"}}
        return {"scene": r.choice((1001, 1089, 1256)), "query": {}}  # direct entry

    def event(self, app: str, now_ms: int) -> dict[str, Any]:
        r = self.rng
        pool = self.pools[app]
        slot = r.randrange(len(pool))
        user = pool[slot]
        if user.emitted >= user.planned:
            user = pool[slot] = self._new_user()
        if user.emitted == 0:
            kind = "enter"
        else:
            kind = r.choices(self._types, self._weights)[0]
            if (kind == "register" and user.registered) or (kind == "activate" and user.activated) or (
                kind == "identify" and user.user_id is not None
            ):
                kind = "page_view"
            if kind == "purchase":
                kind = "repurchase" if user.purchases else "convert"
        user.emitted += 1
        if kind == "enter" or not user.launch:
            user.launch = self._launch()
        context: dict[str, Any] = {
            "platform": user.platform,
            "app_version": user.app_version,
            "sdk": {"name": "touchstream-miniprogram", "version": "1.4.2"},
            "path": r.choice(_PATHS),
            "device": user.device,
            "network": r.choice(_NETWORKS),
            **user.launch,
        }
        event: dict[str, Any] = {
            "event_id": self._id("e"),
            "type": kind,
            "timestamp": now_ms - r.randint(0, 400),
            "anonymous_id": user.anonymous_id,
        }
        if user.openid:
            event["openid"] = user.openid
        if user.user_id:
            event["user_id"] = user.user_id
        event["context"] = context
        props: dict[str, Any] = {}
        if kind == "custom":
            event["name"] = r.choice(_CUSTOM)
            props = {"sku": f"sku-{r.randint(1, 5000)}", "price": r.randint(100, 99900) / 100}
        elif kind == "page_view":
            props = {"title": "商品详情", "duration_ms": r.randint(200, 60_000)}
        elif kind in ("exposure", "click"):
            props = {"slot": r.choice(("home_banner", "feed_card", "search_top")),
                     "item_id": f"sku-{r.randint(1, 5000)}", "position": r.randint(1, 20)}
        elif kind == "share":
            event["share_id"] = self._id("s")
            event["method"] = r.choice(("chat", "group", "timeline"))
        elif kind == "identify":
            user.user_id = f"u-{r.getrandbits(48):012x}"
            event["user_id"] = user.user_id
            if r.random() < 0.3:
                event["phone"] = f"+86138{r.randint(10**7, 10**8 - 1)}"
            event["traits"] = {"level": r.randint(1, 5)}
        elif kind == "register":
            user.registered = True
            props = {"method": "wechat_phone"}
        elif kind == "activate":
            user.activated = True
            props = {"feature": "first_coupon"}
        elif kind in PURCHASE:
            user.purchases += 1
            props = {"order_id": self._id("o"), "revenue": f"{r.randint(990, 99_900) / 100:.2f}",
                     "currency": "CNY", "items": r.randint(1, 4), "coupon": r.choice(("", "NEW10", "VIP5"))}
        if props or kind != "share":
            event["properties"] = props
        return event

    def batch(self, app: str, size: int, now_ms: int) -> list[dict[str, Any]]:
        return [self.event(app, now_ms) for _ in range(size)]


def batch_body(events: list[dict[str, Any]], sent_at_ms: int) -> bytes:
    return orjson.dumps({"sent_at": sent_at_ms, "events": events})


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def conversions_in(events: list[dict[str, Any]]) -> list[str]:
    """The conversion ids (as the processor names them) of the purchases in a batch."""
    return [f"order:{e['properties']['order_id']}" for e in events if e["type"] in PURCHASE]
