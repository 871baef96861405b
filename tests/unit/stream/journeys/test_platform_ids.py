"""An openid is per platform and mini-program: the same string on two platforms is two people.

WeChat's typed ids stay exactly what they were (`openid:…`, `unionid:…`), so identities stored before other
platforms existed restore unchanged; another platform's carry it (`openid@douyin:…`).
"""

from __future__ import annotations

from typing import Any

from stream.journeys.identity import ids_of, user_key_for
from tests.unit.stream.journeys.conftest import APP, Recorder, day, ev, latest_identities, latest_touchpoints


def on(platform: str, event: dict[str, Any], scene: Any = None) -> dict[str, Any]:
    event["context"]["platform"] = platform
    event["context"]["scene"] = scene
    return event


def test_wechat_ids_keep_todays_typed_ids() -> None:
    event = on("wechat", ev("e1", "identify", day(1), "dev", user_id="u1", openid="op", unionid="un"))
    assert ids_of(event) == ["uid:u1", "unionid:un", "openid:op", "anon:dev"]


def test_an_event_without_a_platform_is_wechats() -> None:
    # Ad-platform webhooks carry no context: an openid they name is WeChat's unless the platform says otherwise.
    assert ids_of({"openid": "op", "anonymous_id": "dev"}) == ["openid:op", "anon:dev"]
    assert ids_of({"openid": "op", "context": {"platform": ""}}) == ["openid:op"]


def test_other_platforms_ids_carry_the_platform() -> None:
    douyin = on("douyin", ev("e1", "identify", day(1), "dev", user_id="u1", openid="op", unionid="un",
                             phone_hash="ph"))
    assert ids_of(douyin) == ["uid:u1", "unionid@douyin:un", "openid@douyin:op", "phone:ph", "anon:dev"]
    assert ids_of(on("alipay", ev("e2", "enter", day(1), "dev", openid="2088"))) == ["openid@alipay:2088", "anon:dev"]
    assert ids_of(on("baidu", ev("e3", "enter", day(1), "dev", openid="sw"))) == ["openid@baidu:sw", "anon:dev"]


def test_the_same_openid_on_two_platforms_stays_two_people(run: Recorder) -> None:
    # Two devices, one on WeChat and one on Douyin, both reporting the openid "o-same": never one person.
    run(on("wechat", ev("w1", "enter", day(1), "devW", openid="o-same"), 1007))
    run(on("douyin", ev("d1", "enter", day(1, 1), "devD", openid="o-same"), "023001"))
    identities = latest_identities(run.total.identities)
    assert set(identities) == {"openid:o-same", "anon:devW", "openid@douyin:o-same", "anon:devD"}
    wechat_key, douyin_key = identities["anon:devW"].user_key, identities["anon:devD"].user_key
    assert identities["openid:o-same"].user_key == wechat_key
    assert identities["openid@douyin:o-same"].user_key == douyin_key
    assert wechat_key != douyin_key
    # Each person's key is one of its own ids' keys (the oldest), never the other platform's.
    assert wechat_key in {user_key_for(APP, "openid:o-same"), user_key_for(APP, "anon:devW")}
    assert douyin_key in {user_key_for(APP, "openid@douyin:o-same"), user_key_for(APP, "anon:devD")}
    touches = latest_touchpoints(run.total.touchpoints)
    assert (touches["w1"].user_key, touches["w1"].channel, touches["w1"].scene) == (wechat_key, "wechat_share", "1007")
    assert (touches["d1"].user_key, touches["d1"].channel, touches["d1"].scene) == (
        douyin_key, "douyin_content", "023001")


def test_the_same_openid_on_one_platform_is_one_person(run: Recorder) -> None:
    run(on("douyin", ev("d1", "enter", day(1), "devA", openid="o-1"), "023001"))
    run(on("douyin", ev("d2", "enter", day(2), "devB", openid="o-1"), "022001"))
    touches = latest_touchpoints(run.total.touchpoints)
    identities = latest_identities(run.total.identities)
    person = identities["openid@douyin:o-1"].user_key
    assert identities["anon:devA"].user_key == identities["anon:devB"].user_key == person
    assert touches["d2"].user_key == person


def test_a_platforms_launch_is_resolved_once_per_platform(run: Recorder) -> None:
    # The engine memoises resolutions by the launch signals: the platform is part of them, so Alipay's 1007
    # after WeChat's 1007 is not answered from WeChat's cache entry.
    run(on("wechat", ev("w1", "enter", day(1), "devW"), 1007))
    run(on("alipay", ev("a1", "enter", day(1, 1), "devA"), "1007"))
    touches = latest_touchpoints(run.total.touchpoints)
    assert (touches["w1"].channel, touches["a1"].channel) == ("wechat_share", "alipay_share")
