"""Privacy requests in the processor's shell: the rows of a range, then its requests, in that order.

`write_output` is the consumer's write step. It inserts a range's rows first, then runs the range's privacy
requests (stream/privacy.py folded them into the engines in event order): resolve the person through
`identities`, count and delete their rows below the command's offset, record suppressions, write the audit row,
and publish the outcome to the compacted privacy topic for the collectors. All of it runs before the range's
offset is committed, so a crash replays the range and the request with it: the inserts are dropped by their
tokens, the deletes find nothing new, and a request already `running` or `completed` in `privacy_requests`
keeps its first position and counts (a replay from further back re-deletes what it re-inserted, and records
nothing twice). The order (rows, then deletes, then commit) is why a deleted person cannot come back through a
restart: the restore reads ClickHouse, and the rows are gone before the offset past them is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Protocol

from runtime.clock import Clock, system_clock
from schemas.privacy_topic import (
    PRIVACY_DOC_FORMAT,
    RequestDoc,
    SuppressionDoc,
    encode_doc,
    id_hash,
    normalise_typed_id,
    request_key,
    suppression_key,
)
from schemas.records import FORMAT_HEADER, OutRecord
from stream import privacy_sql as sql
from stream.checkpoint import Range
from stream.errors import StoreFatal, StreamError, classify
from stream.privacy import DELETING, SUPPRESSING, PrivacyAction
from stream.privacy_retention import Retention, with_retention
from stream.processor import Output, parse_time
from stream.writer import ClickHouseWriter

log = logging.getLogger(__name__)

MAX_RESOLVE_ROUNDS: Final = 8  # merges chain keys; a person spans few rounds, the bound keeps a loop finite
_HEADERS: Final = ((FORMAT_HEADER, PRIVACY_DOC_FORMAT),)


class Publisher(Protocol):
    """Raises a `StreamError` (retriable) when the records are not acknowledged."""

    async def publish(self, records: Sequence[OutRecord]) -> None: ...
    async def stop(self) -> None: ...


class PrivacyWriter(ClickHouseWriter):
    """The writer, plus what privacy requests need: statements, the privacy topic, the id key, retention."""

    def __init__(
        self, client: Any, publisher: Publisher, topic: str, secret: bytes, retention: Retention | None = None,
        clock: Clock = system_clock, lane_clients: Sequence[Any] = (),
    ) -> None:
        super().__init__(client, lane_clients)
        self.publisher, self.topic, self._secret = publisher, topic, secret
        # Partitions are written on several lanes at once; their requests still run one at a time.
        self.requests_lock = asyncio.Lock()
        self.retention = retention or Retention()
        self._clock = clock

    async def command(self, statement: str, parameters: dict[str, Any], settings: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(
                self._executor, lambda: self._client.command(statement, parameters=parameters, settings=settings)
            )
        except Exception as exc:
            raise classify(exc) from exc

    async def execute(self, action: PrivacyAction) -> None:
        cmd = action.command
        app, rid = cmd["app_id"], cmd["request_id"]
        stored = await self.query(sql.REQUEST_DONE, {"a": app, "r": rid})
        hashes = sorted({id_hash(self._secret, s) for s in cmd["subjects"]})
        docs: list[OutRecord] = []
        if stored and stored[0][6] in ("running", "completed"):
            p, o, keys, counts = int(stored[0][0]), int(stored[0][1]), list(stored[0][2]), dict(stored[0][3])
            if cmd["type"] in DELETING:
                await self._delete(app, p, o, *await self._resolve(app, p, o, cmd["subjects"], keys))
        else:
            p, o = action.partition, action.offset
            ids, raw_ids, found = await self._resolve(app, p, o, cmd["subjects"], list(action.forgotten))
            keys, counts = sorted(found), {}
            if cmd["type"] in SUPPRESSING:
                docs += await self._suppress(app, rid, sorted({id_hash(self._secret, i) for i in ids}), o)
            elif cmd["type"] == "unsuppress":
                docs += await self._unsuppress(app, rid, hashes, o)
            if cmd["type"] in DELETING:
                counts = await self._count(app, p, o, ids, raw_ids, found)
                await self._audit(cmd, "running", hashes, keys, counts, p, o)
                await self._delete(app, p, o, ids, raw_ids, found)
        completed_at = self._clock()
        await self._audit(cmd, "completed", hashes, keys, counts, p, o, completed_at)
        doc: RequestDoc = {
            "kind": "request", "request_id": rid, "app_id": app, "type": cmd["type"], "status": "completed",
            "submitted_at": cmd["submitted_at"], "due_at": cmd["submitted_at"], "subject_hashes": hashes,
            "person_keys": keys, "rows_deleted": counts, "completed_at": _iso(completed_at),
        }
        docs.append(OutRecord(self.topic, request_key(app, rid), encode_doc(doc), _HEADERS, 0))
        await self.publisher.publish(docs)

    async def fail(self, action: PrivacyAction, reason: str) -> None:
        """The request cannot be carried out (a command this processor cannot read): `failed`, with the reason,
        in the audit table and on the privacy topic, and the range goes on."""
        cmd = action.command
        app, rid = str(cmd.get("app_id") or ""), str(cmd.get("request_id") or "")
        log.warning("privacy request %s of %s failed: %s", rid, app, reason)
        at = self._clock()
        submitted = cmd.get("submitted_at")
        row: tuple[Any, ...] = (app, rid, str(cmd.get("type") or ""), "failed", [], [], {},
               parse_time(submitted) if isinstance(submitted, str) else at, at, action.partition, action.offset)
        await self.insert("privacy_requests", _REQUEST_COLUMNS, [row], f"privacy:{rid}:failed")
        doc: RequestDoc = {
            "kind": "request", "request_id": rid, "app_id": app, "type": cmd.get("type") or "delete",
            "status": "failed", "submitted_at": str(submitted or _iso(at)), "due_at": str(submitted or _iso(at)),
            "subject_hashes": [], "completed_at": _iso(at), "error": reason,
        }
        await self.publisher.publish([OutRecord(self.topic, request_key(app, rid), encode_doc(doc), _HEADERS, 0)])

    async def _resolve(
        self, app: str, p: int, o: int, subjects: list[str], known: list[str]
    ) -> tuple[list[str], list[str], set[str]]:
        """Every typed id and user key linked to the subjects through `identities` below the command."""
        raw_ids, keys = set(subjects), set(known)
        for _ in range(MAX_RESOLVE_ROUNDS):
            ids = sorted({normalise_typed_id(i) for i in raw_ids})
            base = {"a": app, "p": p, "o": o}
            found = await self.query(sql.KEYS_OF_IDS, base | {"raw_ids": sorted(raw_ids), "ids": ids})
            new_keys = keys | {r[0] for r in found}
            linked = await self.query(sql.IDS_OF_KEYS, base | {"keys": sorted(new_keys)})
            new_ids = raw_ids | {r[0] for r in linked}
            if new_keys == keys and new_ids == raw_ids:
                break
            keys, raw_ids = new_keys, new_ids
        return sorted({normalise_typed_id(i) for i in raw_ids}), sorted(raw_ids), keys

    async def _params(
        self, app: str, p: int, o: int, ids: list[str], raw_ids: list[str], keys: set[str]
    ) -> dict[str, Any]:
        base: dict[str, Any] = {"a": app, "p": p, "o": o, "ids": ids, "raw_ids": raw_ids, "keys": sorted(keys)}
        base["conv"] = sorted({r[0] for r in await self.query(sql.CONVERSIONS_OF, base)})
        base["events"] = sorted({r[0] for r in await self.query(sql.EVENTS_OF, base)})
        has_intents = "postback_intents" in await self._tables()
        base["intents"] = sorted({r[0] for r in await self.query(sql.INTENTS_OF, base)}) if has_intents else []
        values = {i.partition(":")[2] for i in ids} - {""}
        base["needles"] = sorted(f'"{v}"' for v in values)
        return base

    async def _count(
        self, app: str, p: int, o: int, ids: list[str], raw_ids: list[str], keys: set[str]
    ) -> dict[str, int]:
        params = await self._params(app, p, o, ids, raw_ids, keys)
        return {t: int((await self.query(sql.count_sql(t), params))[0][0]) for t in await self._tables()}

    async def _tables(self) -> list[str]:
        """The person's tables this store has (postback tables come with their migration)."""
        present = {r[0] for r in await self.query(sql.TABLES)}
        return [t for t in sql.PERSON_ROWS if t in present]

    async def _delete(self, app: str, p: int, o: int, ids: list[str], raw_ids: list[str], keys: set[str]) -> None:
        params = await self._params(app, p, o, ids, raw_ids, keys)
        for table in await self._tables():
            await self.command(sql.delete_sql(table), params, {"lightweight_deletes_sync": 2})
            # Physically gone once this background mutation has rewritten the parts (docs/privacy.md).
            await self.command(sql.apply_mask_sql(table), {}, {"mutations_sync": 0})

    async def _suppress(self, app: str, rid: str, hashes: list[str], o: int) -> list[OutRecord]:
        rows = [(app, h, rid, 1, o + 1) for h in hashes]
        await self.insert("privacy_suppressions", _SUP_COLUMNS, rows, f"privacy:{rid}:suppress")
        return [self._sup_doc(app, h, rid, suppressed=True) for h in hashes]

    async def _unsuppress(self, app: str, rid: str, hashes: list[str], o: int) -> list[OutRecord]:
        if not hashes:
            return []
        active = await self.query(sql.ACTIVE_SUPPRESSIONS, {"a": app, "hashes": hashes})
        rows = [(app, h, r, 0, o + 1) for h, r in active]
        await self.insert("privacy_suppressions", _SUP_COLUMNS, rows, f"privacy:{rid}:unsuppress")
        return [self._sup_doc(app, h, r, suppressed=False) for h, r in active]

    def _sup_doc(self, app: str, h: str, rid: str, *, suppressed: bool) -> OutRecord:
        doc: SuppressionDoc = {"kind": "suppression", "app_id": app, "id_hash": h, "request_id": rid,
                               "suppressed": suppressed}
        return OutRecord(self.topic, suppression_key(app, h, rid), encode_doc(doc), _HEADERS, 0)

    async def _audit(
        self, cmd: Any, status: str, hashes: list[str], keys: list[str], counts: dict[str, int], p: int, o: int,
        at: datetime | None = None,
    ) -> None:
        submitted = parse_time(cmd["submitted_at"])
        row = (cmd["app_id"], cmd["request_id"], cmd["type"], status, hashes, keys, counts, submitted,
               at or submitted, p, o)
        await self.insert("privacy_requests", _REQUEST_COLUMNS, [row], f"privacy:{cmd['request_id']}:{status}")


_SUP_COLUMNS: Final = ("app_id", "id_hash", "request_id", "suppressed", "version")
_REQUEST_COLUMNS: Final = (
    "app_id", "request_id", "type", "status", "subject_hashes", "person_keys", "rows_deleted", "submitted_at",
    "completed_at", "_partition", "_offset",
)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def write_output(writer: ClickHouseWriter, out: Output, rng: Range, lane: int = 0) -> None:
    """Insert a range's rows into every table (on the writer's lane `lane`), then run its privacy requests in
    their order."""
    retention = writer.retention if isinstance(writer, PrivacyWriter) else None
    for table, columns, rows in out.tables():
        if retention is not None:
            columns, rows = with_retention(retention, table, columns, rows)
        await writer.insert(table, columns, rows, rng.token(table), lane=lane)
    if not out.privacy:
        return
    if not isinstance(writer, PrivacyWriter):
        msg = "privacy commands arrived but this processor was started without the privacy writer"
        raise StoreFatal(msg)
    async with writer.requests_lock:
        for action in out.privacy:
            try:
                await writer.execute(action)
            except StreamError:
                raise  # the store or the privacy topic: the range and its requests are replayed
            except Exception as exc:  # noqa: BLE001 - a request that can never be carried out must not wedge the partition
                await writer.fail(action, f"{type(exc).__name__}: {exc}"[:300])
