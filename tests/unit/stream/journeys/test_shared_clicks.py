"""One ad click is one person's: a landing query copied into a share link must not make every friend who opens
it a paid touch of that ad (docs/attribution.md, "One ad click is one person's")."""

from __future__ import annotations

from stream.journeys.outputs import EngineOutput
from tests.unit.stream.journeys.conftest import (
    Recorder,
    ad_click,
    credits_by_model,
    day,
    ev,
    latest_touchpoints,
)

AD = {"gdt_vid": "k1"}


def touch(out: EngineOutput, touchpoint_id: str) -> tuple[str, str, str, bool, bool]:
    t = latest_touchpoints(out.touchpoints)[touchpoint_id]
    return t.channel, t.campaign, t.click_id, t.matched_click, t.shared_click


def test_a_friend_opening_the_shared_landing_is_a_share_not_the_ad(run: Recorder) -> None:
    run(ad_click("w1", day(1), "k1", campaign="camp-7"))
    run(ev("a1", "enter", day(1, 0.01), "A", scene=1045, query=AD))
    run(ev("a2", "convert", day(1, 1), "A", order_id="oa", revenue="10.00"))
    # A shares the page: the share card carries the same landing query.
    run(ev("f1", "enter", day(2), "F", scene=1007, query=AD, share={"from": "A", "depth": 1}))
    run(ev("f2", "convert", day(2, 1), "F", order_id="of", revenue="20.00"))
    assert touch(run.total, "a1") == ("tencent_ads", "camp-7", "k1", True, False)
    assert touch(run.total, "f1") == ("wechat_share", "", "k1", False, True)
    assert [r.channel for r in credits_by_model(run.total.credits, "order:of")["last_touch"]] == ["wechat_share"]
    assert [r.campaign for r in credits_by_model(run.total.credits, "order:oa")["last_touch"]] == ["camp-7"]


def test_a_shared_click_with_no_other_signal_is_no_touch(run: Recorder) -> None:
    run(ev("a1", "enter", day(1), "A", scene=1045, query=AD))
    run(ev("f1", "enter", day(2), "F", scene=1089, query=AD))  # opened from the recent list: direct
    run(ev("f2", "convert", day(2, 1), "F", order_id="of", revenue="20.00"))
    assert "f1" not in latest_touchpoints(run.total.touchpoints)
    assert [r.channel for r in credits_by_model(run.total.credits, "order:of")["linear"]] == ["direct"]


def test_the_clicking_persons_other_visits_and_devices_keep_the_click(run: Recorder) -> None:
    run(ev("a1", "enter", day(1), "A", scene=1045, query=AD))
    run(ev("a2", "identify", day(1, 1), "A", user_id="U"))
    run(ev("b1", "identify", day(1, 2), "B", user_id="U"))
    run(ev("b2", "enter", day(1, 3), "B", scene=1045, query=AD))  # the same person, their tablet
    run(ev("a3", "enter", day(1, 4), "A", scene=1045, query=AD))
    assert touch(run.total, "b2")[4] is False
    assert touch(run.total, "a3")[4] is False
    run(ad_click("w1", day(1), "k1", campaign="camp-7"))  # the late webhook enriches all three visits
    assert {touch(run.total, t)[1] for t in ("a1", "b2", "a3")} == {"camp-7"}


def test_the_person_the_platform_names_owns_the_click(run: Recorder) -> None:
    run(ev("x0", "identify", day(1), "X", openid="oX"))
    click = ad_click("w1", day(1, 1), "k1", campaign="camp-7")
    click["openid"] = "oX"
    run(click)
    # A friend's visit reaches us before the clicker's own (the clicker's launch was slow): still a share.
    run(ev("f1", "enter", day(1, 2), "F", scene=1007, query=AD, share={"from": "X", "depth": 1}))
    run(ev("x1", "enter", day(1, 3), "X", scene=1045, query=AD))
    assert touch(run.total, "f1") == ("wechat_share", "", "k1", False, True)
    assert touch(run.total, "x1") == ("tencent_ads", "camp-7", "k1", True, False)


def test_a_click_id_no_longer_in_reach_can_be_claimed_again(run: Recorder) -> None:
    # Ownership is held as long as the click can be credited (allowed lateness + longest window: 14 days).
    run(ev("a1", "enter", day(1), "A", scene=1045, query=AD))
    run(ev("n1", "enter", day(20), "N", scene=1089))
    run(ev("f1", "enter", day(20, 1), "F", scene=1045, query=AD))
    assert touch(run.total, "f1")[4] is False
