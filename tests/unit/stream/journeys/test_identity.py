"""IdentityGraph: typed ids, union of a person's ids, the stable user_key, the one-uid rule, restore and forget."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stream.journeys.identity import IdentityGraph, ids_of, user_key_for
from tests.unit.stream.journeys.conftest import APP, T0, ev

H = timedelta(hours=1)


def key(*typed_ids: str) -> str:
    """The key of a component whose ids were all first seen together: the smallest of their own keys."""
    return min(user_key_for(APP, typed_id) for typed_id in typed_ids)


# -- ids_of --------------------------------------------------------------------------------------------------


def test_ids_of_lists_typed_ids_strongest_first_whatever_the_field_order() -> None:
    event = {"anonymous_id": "dev", "phone_hash": "ph", "openid": "op", "unionid": "un", "user_id": "u1"}
    assert ids_of(event) == ["uid:u1", "unionid:un", "openid:op", "phone:ph", "anon:dev"]


def test_ids_of_skips_missing_empty_and_non_string_ids() -> None:
    event = {"anonymous_id": "dev", "user_id": None, "openid": "", "unionid": 42, "phone_hash": ["x"]}
    assert ids_of(event) == ["anon:dev"]


def test_ids_of_reads_an_enriched_event() -> None:
    assert ids_of(ev("e1", "identify", T0, "dev", user_id="u1", openid="op")) == ["uid:u1", "openid:op", "anon:dev"]


def test_user_key_depends_on_app_and_id() -> None:
    assert user_key_for("a", "anon:x") == user_key_for("a", "anon:x")
    assert user_key_for("a", "anon:x") != user_key_for("b", "anon:x")
    assert user_key_for("a", "anon:x") != user_key_for("a", "uid:x")
    assert user_key_for("a", "anon:x").startswith("u")


# -- observe: new ids and merges -----------------------------------------------------------------------------


def test_a_new_id_is_its_own_person_and_is_reported_changed() -> None:
    g = IdentityGraph(APP)
    seen = g.observe(["anon:A"], T0)
    assert seen.user_key == key("anon:A")
    assert seen.absorbed == ()
    assert seen.changed_ids == ("anon:A",)
    assert g.key_of("anon:A") == key("anon:A")
    assert g.first_seen(key("anon:A")) == T0
    # Seen again: nothing changes.
    again = g.observe(["anon:A"], T0 + H)
    assert (again.user_key, again.absorbed, again.changed_ids) == (key("anon:A"), (), ())
    assert g.first_seen(key("anon:A")) == T0


def test_an_event_without_ids_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one id"):
        IdentityGraph(APP).observe([], T0)


def test_linking_an_anonymous_device_to_a_login_merges_them() -> None:
    g = IdentityGraph(APP)
    g.observe(["anon:A"], T0)
    g.observe(["uid:U", "anon:B"], T0 + H)  # U on another device
    seen = g.observe(["uid:U", "anon:A"], T0 + 2 * H)  # A logs in as U
    # A (first seen T0) is older than U's component (T0 + 1h): A's key survives, U's is absorbed.
    assert seen.user_key == key("anon:A")
    assert seen.absorbed == (key("uid:U"),)
    assert set(seen.changed_ids) == {"uid:U", "anon:B"}
    assert {g.key_of(i) for i in ("anon:A", "anon:B", "uid:U")} == {key("anon:A")}
    assert sorted(g.members(key("anon:A"))) == ["anon:A", "anon:B", "uid:U"]
    assert g.members(key("uid:U")) == []
    assert g.first_seen(key("anon:A")) == T0
    assert len(g) == 3


@pytest.mark.parametrize("older", ["anon:A", "uid:U"])
@pytest.mark.parametrize("event_ids", [["uid:U", "anon:A"], ["anon:A"], ["uid:U"]], ids=["both", "anon", "uid"])
def test_the_older_components_key_survives_whichever_side_the_event_comes_from(
    older: str, event_ids: list[str]
) -> None:
    newer = "uid:U" if older == "anon:A" else "anon:A"
    g = IdentityGraph(APP)
    g.observe([older], T0)
    g.observe([newer], T0 + H)
    # The linking event carries both ids; `event_ids` says which of them is also on a later, single-id event.
    seen = g.observe(["uid:U", "anon:A"], T0 + 2 * H)
    assert seen.user_key == key(older)
    assert seen.absorbed == (key(newer),)
    later = g.observe(event_ids, T0 + 3 * H)
    assert later.user_key == key(older)
    assert later.absorbed == ()
    assert g.key_of(newer) == key(older)


def test_equal_first_seen_is_decided_by_the_smaller_key() -> None:
    g = IdentityGraph(APP)
    g.observe(["anon:A"], T0)
    g.observe(["anon:B"], T0)
    seen = g.observe(["uid:U", "anon:A", "anon:B"], T0 + H)
    assert seen.user_key == min(key("anon:A"), key("anon:B"))
    assert g.key_of("uid:U") == seen.user_key == g.key_of("anon:A") == g.key_of("anon:B")


def test_the_key_is_stable_over_a_chain_of_merges() -> None:
    g = IdentityGraph(APP)
    g.observe(["anon:A"], T0)
    keys = [g.observe(ids, T0 + n * H).user_key for n, ids in enumerate(
        [["openid:O", "anon:A"], ["uid:U", "openid:O"], ["unionid:X", "anon:C"], ["unionid:X", "uid:U"]], start=1
    )]
    assert keys[:3] == [key("anon:A"), key("anon:A"), key("unionid:X")]
    assert keys[3] == key("anon:A")  # the unionid component (first seen T0+3h) joins A's (T0)
    assert {g.key_of(i) for i in ("anon:A", "openid:O", "uid:U", "unionid:X", "anon:C")} == {key("anon:A")}


# -- the one-uid rule -----------------------------------------------------------------------------------------


def test_two_logins_on_one_device_are_never_merged_and_the_event_goes_to_its_uid() -> None:
    g = IdentityGraph(APP)
    g.observe(["uid:U1", "anon:A"], T0)  # U1 logs in on shared device A
    u1 = key("uid:U1", "anon:A")
    seen = g.observe(["uid:U2", "anon:A"], T0 + H)  # then U2 on the same device
    assert seen.user_key == key("uid:U2")
    assert seen.absorbed == ()
    assert seen.changed_ids == ("uid:U2",)
    assert g.key_of("anon:A") == u1  # the weaker id keeps its earlier owner
    assert g.key_of("uid:U1") == u1
    assert g.key_of("uid:U2") == key("uid:U2")
    # A later anonymous-only event of the device still belongs to U1.
    assert g.observe(["anon:A"], T0 + 2 * H).user_key == u1


def test_two_uids_are_not_merged_through_weaker_ids_either() -> None:
    g = IdentityGraph(APP)
    g.observe(["uid:U1", "openid:O"], T0)
    g.observe(["uid:U2", "anon:A"], T0 + H)
    seen = g.observe(["openid:O", "anon:A"], T0 + 2 * H)
    # O's component carries U1 and A's carries U2: no merge; the event belongs to its strongest id, openid:O.
    assert seen.user_key == key("uid:U1", "openid:O")
    assert seen.absorbed == ()
    assert g.key_of("anon:A") == key("uid:U2", "anon:A")


def test_a_component_without_uid_joins_one_with_a_uid_and_then_refuses_a_second_uid() -> None:
    g = IdentityGraph(APP)
    g.observe(["anon:A"], T0)
    g.observe(["uid:U1", "anon:A"], T0 + H)
    seen = g.observe(["uid:U2", "anon:A"], T0 + 2 * H)
    assert seen.user_key == key("uid:U2")
    assert g.key_of("uid:U1") == key("anon:A")
    assert g.key_of("uid:U2") == key("uid:U2")


def test_the_same_uid_on_two_devices_merges() -> None:
    g = IdentityGraph(APP)
    g.observe(["uid:U", "anon:A"], T0)
    g.observe(["uid:U", "anon:B"], T0 + H)
    assert g.key_of("anon:B") == g.key_of("anon:A") == g.key_of("uid:U") == key("uid:U", "anon:A")


# -- restore and forget ---------------------------------------------------------------------------------------


def _build() -> IdentityGraph:
    g = IdentityGraph(APP)
    g.observe(["anon:A"], T0)
    g.observe(["uid:U1", "anon:B"], T0 + H)
    g.observe(["uid:U1", "anon:A"], T0 + 2 * H)
    g.observe(["openid:O", "anon:C"], T0 + 3 * H)
    g.observe(["uid:U2", "anon:D"], T0 + 4 * H)
    return g


ALL_IDS = ["anon:A", "anon:B", "uid:U1", "openid:O", "anon:C", "uid:U2", "anon:D"]


def _restored_copy(g: IdentityGraph) -> IdentityGraph:
    copy = IdentityGraph(APP)
    # As the identities table returns them: one row per id with its current user_key; ids of one person may
    # carry later first_seen values (when they joined), the component takes the minimum.
    for n, typed_id in enumerate(sorted(ALL_IDS, reverse=True)):
        user_key = g.key_of(typed_id)
        assert user_key is not None
        joined_later = typed_id != g.members(user_key)[0]
        copy.restore(typed_id, user_key, g.first_seen(user_key) + (n + 1) * H * joined_later)
    return copy


def test_restore_rebuilds_the_same_ownership_and_first_seen() -> None:
    g = _build()
    copy = _restored_copy(g)
    for typed_id in ALL_IDS:
        assert copy.key_of(typed_id) == g.key_of(typed_id)
    assert copy.key_of("anon:A") == copy.key_of("uid:U1") == key("anon:A")
    assert copy.key_of("anon:C") == copy.key_of("openid:O") == key("openid:O", "anon:C")
    for typed_id in ("anon:A", "openid:O", "uid:U2"):
        user_key = g.key_of(typed_id)
        assert user_key is not None
        assert copy.first_seen(user_key) == g.first_seen(user_key)


@pytest.mark.parametrize(
    "ids",
    [["uid:U2", "anon:A"], ["uid:U1", "anon:C"], ["openid:O", "anon:D"], ["anon:E", "anon:C"], ["uid:U3", "anon:B"]],
)
def test_a_restored_graph_behaves_like_the_original(ids: list[str]) -> None:
    g = _build()
    copy = _restored_copy(g)
    at = T0 + 10 * H
    a, b = g.observe(ids, at), copy.observe(ids, at)
    assert (a.user_key, a.absorbed, set(a.changed_ids)) == (b.user_key, b.absorbed, set(b.changed_ids))
    for typed_id in [*ALL_IDS, *ids]:
        assert copy.key_of(typed_id) == g.key_of(typed_id)


def test_a_restored_graph_keeps_the_one_uid_rule() -> None:
    g = _restored_copy(_build())
    seen = g.observe(["uid:U2", "anon:A"], T0 + 10 * H)  # A belongs to U1
    assert seen.absorbed == ()
    assert seen.user_key == key("uid:U2", "anon:D")
    assert g.key_of("anon:A") == key("anon:A")


def test_forget_drops_every_id_of_the_person_and_nothing_else() -> None:
    g = _build()
    person = g.key_of("uid:U1")
    assert person == key("anon:A")
    g.forget(person)
    for typed_id in ("anon:A", "anon:B", "uid:U1"):
        assert g.key_of(typed_id) is None
    assert g.members(person) == []
    assert g.key_of("anon:C") == key("openid:O", "anon:C")
    assert g.key_of("uid:U2") == key("uid:U2", "anon:D")
    assert len(g) == 4
    # Seen again later, a forgotten id starts a new person with a new first_seen.
    later = T0 + 200 * 24 * H
    seen = g.observe(["anon:B"], later)
    assert seen.user_key == key("anon:B")
    assert seen.changed_ids == ("anon:B",)
    assert g.first_seen(key("anon:B")) == later
    g.forget("no-such-key")  # unknown keys are ignored
    assert len(g) == 5
