"""The identity graph of one app: which ids (device, openid, unionid, login, phone hash) are one person.

Ids are typed strings: `anon:…`, `openid:…`, `unionid:…`, `uid:…`, `phone:…`. Any event carrying two of them
links them (union-find).

An openid names a person on one platform's one mini-program only, so the same string on two platforms is two
people: WeChat's keep the plain `openid:…` / `unionid:…` (as stored before other platforms existed, so stored
identities restore unchanged); another platform's carry it, `openid@douyin:…`, `unionid@baidu:…`. The platform is
the event's `context.platform`; an event without one (an ad-platform webhook) is WeChat's. There is no
cross-platform id: a unionid joins one company's apps within its own platform only.

A person's `user_key` is the key of the component's oldest id (first seen earliest, then the smaller key), so it
is stable: merging never renames the older person, only the newer one.

One rule keeps merges sane: a person has at most one login `uid`. Two components that each carry a different
uid are never merged (a shared phone or tablet used by two accounts); the event then belongs to the component
of its strongest id (uid > unionid > openid > phone > anon), and the weaker ids keep their earlier owner.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

STRENGTH = {"uid": 5, "unionid": 4, "openid": 3, "phone": 2, "anon": 1}


WECHAT = "wechat"
_ID_FIELDS = (("user_id", "uid"), ("unionid", "unionid"), ("openid", "openid"), ("phone_hash", "phone"),
              ("anonymous_id", "anon"))
_PER_PLATFORM = frozenset({"unionid", "openid"})  # ids a platform issues; login, phone and device are ours


def ids_of(event: dict[str, object]) -> list[str]:
    """The typed ids an event carries, strongest first."""
    context = event.get("context")
    platform = context.get("platform") if isinstance(context, dict) else None
    suffix = f"@{platform}" if isinstance(platform, str) and platform and platform != WECHAT else ""
    ids = []
    for field_name, kind in _ID_FIELDS:
        value = event.get(field_name)
        if isinstance(value, str) and value:
            ids.append(f"{kind}{suffix if kind in _PER_PLATFORM else ''}:{value}")
    return ids


def platform_id_prefix_sql(kind: str) -> str:
    """SQL of `ids_of`'s prefix of an `openid`/`unionid` for a row of `events` (whose `platform` is '' or the
    platform): the views and the restore compute an event's person with it."""
    return f"if(platform IN ('', '{WECHAT}'), '{kind}:', concat('{kind}@', platform, ':'))"


def user_key_for(app_id: str, typed_id: str) -> str:
    return "u" + hashlib.blake2b(f"{app_id}\x1f{typed_id}".encode(), digest_size=10).hexdigest()


@dataclass(slots=True)
class _Component:
    key: str
    first_seen: datetime
    uid: str | None
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Observation:
    user_key: str
    absorbed: tuple[str, ...]  # user keys merged into user_key by this event
    changed_ids: tuple[str, ...]  # ids whose user_key is new or changed (to write to `identities`)


class IdentityGraph:
    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self._owner: dict[str, str] = {}  # id -> component key
        self._components: dict[str, _Component] = {}
        # Almost every event only repeats ids its person already has: one immutable answer per person for that.
        self._unchanged: dict[str, Observation] = {}

    def __len__(self) -> int:
        return len(self._owner)

    def key_of(self, typed_id: str) -> str | None:
        return self._owner.get(typed_id)

    def members(self, user_key: str) -> list[str]:
        component = self._components.get(user_key)
        return list(component.members) if component else []

    def first_seen(self, user_key: str) -> datetime:
        return self._components[user_key].first_seen

    def observe(self, ids: list[str], at: datetime) -> Observation:
        if not ids:
            msg = "an event needs at least one id"
            raise ValueError(msg)
        owner = self._owner
        home = owner.get(ids[0])
        if home is not None:
            for typed_id in ids:
                if owner.get(typed_id) != home:
                    break
            else:
                unchanged = self._unchanged.get(home)
                if unchanged is None:
                    unchanged = self._unchanged[home] = Observation(home, (), ())
                return unchanged
        changed: list[str] = []
        for typed_id in ids:
            if typed_id not in self._owner:
                self._new_component(typed_id, at)
                changed.append(typed_id)
        home = self._owner[ids[0]]  # the strongest id decides where the event belongs
        absorbed: list[str] = []
        for typed_id in ids[1:]:
            other = self._owner[typed_id]
            if other == home or not self._can_merge(home, other):
                continue
            winner, loser = self._order(home, other)
            changed.extend(self._components[loser].members)
            self._merge(winner, loser)
            absorbed.append(loser)
            home = winner
        return Observation(home, tuple(absorbed), tuple(dict.fromkeys(changed)))

    def restore(self, typed_id: str, user_key: str, first_seen: datetime) -> None:
        """Rebuild from stored `identities` rows (id → its current user_key)."""
        component = self._components.get(user_key)
        if component is None:
            component = self._components[user_key] = _Component(user_key, first_seen, None)
        component.first_seen = min(component.first_seen, first_seen)
        if typed_id.startswith("uid:"):
            component.uid = typed_id
        component.members.append(typed_id)
        self._owner[typed_id] = user_key

    def forget(self, user_key: str) -> None:
        self._unchanged.pop(user_key, None)
        component = self._components.pop(user_key, None)
        if component:
            for typed_id in component.members:
                self._owner.pop(typed_id, None)

    def _new_component(self, typed_id: str, at: datetime) -> None:
        key = user_key_for(self.app_id, typed_id)
        uid = typed_id if typed_id.startswith("uid:") else None
        self._components[key] = _Component(key, at, uid, [typed_id])
        self._owner[typed_id] = key

    def _can_merge(self, a: str, b: str) -> bool:
        uid_a, uid_b = self._components[a].uid, self._components[b].uid
        return uid_a is None or uid_b is None or uid_a == uid_b

    def _order(self, a: str, b: str) -> tuple[str, str]:
        ca, cb = self._components[a], self._components[b]
        return (a, b) if (ca.first_seen, ca.key) <= (cb.first_seen, cb.key) else (b, a)

    def _merge(self, winner: str, loser: str) -> None:
        w, lo = self._components[winner], self._components.pop(loser)
        self._unchanged.pop(loser, None)
        for typed_id in lo.members:
            self._owner[typed_id] = winner
        w.members.extend(lo.members)
        w.uid = w.uid or lo.uid
        w.first_seen = min(w.first_seen, lo.first_seen)
