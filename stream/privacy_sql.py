"""The SQL of a deletion: which rows of each table belong to the person, written once (docs/privacy.md).

Pure text. Every predicate is bound by parameters: `a` the app, `p`/`o` the partition and offset of the
request's first command (rows of events-topic records below it: later events are not the deleted journey),
`ids` the person's typed ids with the platform suffix dropped, `raw_ids` the typed ids as stored, `keys` every
user key they had, `conv` the person's conversion ids, `events` their event ids, `needles` their id values as
JSON strings (bad events keep payloads, not columns).
"""

from __future__ import annotations

from typing import Final

_BELOW: Final = "app_id = {a:String} AND _partition = {p:UInt16} AND _offset < {o:UInt64}"
_NORM: Final = "replaceRegexpOne({col}, '^(openid|unionid)@[^:]*:', '\\\\1:')"
_IDS: Final = "{ids:Array(String)}"
_EVENT_IDS: Final = (
    "[concat('anon:', anonymous_id), concat('uid:', user_id), concat('openid:', openid), "
    "concat('unionid:', unionid), concat('phone:', phone_hash)]"
)

# Resolution through `identities` (every version: an absorbed person's old key is in its older rows).
KEYS_OF_IDS: Final = (
    f"SELECT DISTINCT user_key FROM identities WHERE {_BELOW} "
    f"AND (typed_id IN {{raw_ids:Array(String)}} OR {_NORM.format(col='typed_id')} IN {_IDS})"
)
IDS_OF_KEYS: Final = f"SELECT DISTINCT typed_id FROM identities WHERE {_BELOW} AND user_key IN {{keys:Array(String)}}"
CONVERSIONS_OF: Final = (
    f"SELECT DISTINCT conversion_id FROM conversions WHERE {_BELOW} "
    f"AND (user_key IN {{keys:Array(String)}} OR {_NORM.format(col='identity')} IN {_IDS})"
)
EVENTS_OF: Final = f"SELECT DISTINCT event_id FROM events WHERE {_BELOW} AND hasAny({_EVENT_IDS}, {_IDS})"

PERSON_ROWS_INTENTS: Final = (
    f"{_BELOW} AND (conversion_id IN {{conv:Array(String)}} OR event_id IN {{events:Array(String)}} "
    f"OR concat('openid:', openid) IN {_IDS})"
)
INTENTS_OF: Final = f"SELECT DISTINCT intent_id FROM postback_intents WHERE {PERSON_ROWS_INTENTS}"

# Table -> the rows of the person in it. Order matters only for readability: each is independent.
PERSON_ROWS: Final[dict[str, str]] = {
    "events": f"{_BELOW} AND hasAny({_EVENT_IDS}, {_IDS})",
    "duplicate_events": f"{_BELOW} AND event_id IN {{events:Array(String)}}",
    "identities": (
        f"{_BELOW} AND (user_key IN {{keys:Array(String)}} OR typed_id IN {{raw_ids:Array(String)}} "
        f"OR {_NORM.format(col='typed_id')} IN {_IDS})"
    ),
    "touchpoints": (
        f"{_BELOW} AND (user_key IN {{keys:Array(String)}} OR {_NORM.format(col='identity')} IN {_IDS} "
        f"OR concat('anon:', anonymous_id) IN {_IDS})"
    ),
    "conversions": (
        f"{_BELOW} AND (user_key IN {{keys:Array(String)}} OR conversion_id IN {{conv:Array(String)}})"
    ),
    "attribution_credits": (
        f"{_BELOW} AND (user_key IN {{keys:Array(String)}} OR conversion_id IN {{conv:Array(String)}})"
    ),
    # Postbacks (migration 014): the conversions' intents, with the openid a platform was sent.
    "postback_intents": PERSON_ROWS_INTENTS,
    # Their send attempts (written by the sender, not from a Kafka record): every attempt of those intents.
    "postback_attempts": "app_id = {a:String} AND intent_id IN {intents:Array(String)}",
    # Dead letters come from two topics (their offsets are not comparable): every one of the app naming an id.
    "bad_events": "app_id = {a:String} AND multiSearchAny(payload, {needles:Array(String)})",
}


TABLES: Final = "SELECT name FROM system.tables WHERE database = currentDatabase()"


def count_sql(table: str) -> str:
    return f"SELECT count() FROM {table} WHERE {PERSON_ROWS[table]}"


def delete_sql(table: str) -> str:
    # Lightweight: invisible at once (lightweight_deletes_sync waits for it); physically gone at the next merge,
    # which APPLY DELETED MASK (privacy_exec) forces.
    return f"DELETE FROM {table} WHERE {PERSON_ROWS[table]}"


def apply_mask_sql(table: str) -> str:
    return f"ALTER TABLE {table} APPLY DELETED MASK"


REQUEST_DONE: Final = (
    "SELECT _partition, _offset, person_keys, rows_deleted, submitted_at, completed_at, status, type "
    "FROM privacy_requests FINAL WHERE app_id = {a:String} AND request_id = {r:String}"
)
ACTIVE_SUPPRESSIONS: Final = (
    "SELECT id_hash, request_id FROM privacy_suppressions FINAL WHERE app_id = {a:String} AND suppressed = 1 "
    "AND request_id IN (SELECT request_id FROM privacy_suppressions FINAL WHERE app_id = {a:String} "
    "AND suppressed = 1 AND id_hash IN {hashes:Array(String)})"
)
