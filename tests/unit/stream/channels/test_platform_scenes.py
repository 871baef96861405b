"""Each platform's launch resolves through its own scene table (docs/channels.md, "Scene values per platform").

Expected channels are read off the platforms' documentation as the docs page maps them: Alipay 1005 search
results page → alipay_search, 1007 chat card (分享) → alipay_share, 1400 paid traffic → alipay_ads; Douyin
023001 video link → douyin_content, 022001 search → douyin_search, 025001 ad → ocean_engine, 021001 "我的-更多-
小程序" → direct; Baidu 10810008 natural search → baidu, 10910015 feed → baidu_feed, NA → direct.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from stream.channels import LaunchSignals, TaxonomyError, default_taxonomy, parse_taxonomy, resolve_channel

TAXONOMY = default_taxonomy()


@pytest.mark.parametrize(
    ("platform", "scene", "channel_type", "channel", "signal"),
    [
        ("wechat", 1007, "social", "wechat_share", "scene"),
        ("wechat", "1047", "offline", "qr_code", "scene"),
        ("alipay", "1005", "search", "alipay_search", "scene"),
        ("alipay", "1007", "social", "alipay_share", "scene"),
        ("alipay", "1011", "offline", "qr_code", "scene"),
        ("alipay", "1400", "paid", "alipay_ads", "scene"),
        ("alipay", "0000", "direct", "direct", "direct"),
        ("douyin", "023001", "content", "douyin_content", "scene"),
        ("douyin", "022001", "search", "douyin_search", "scene"),
        ("douyin", "025001", "paid", "ocean_engine", "scene"),
        ("douyin", "024002", "social", "douyin_share", "scene"),
        ("douyin", "021001", "direct", "direct", "direct"),
        ("baidu", "10810008", "search", "baidu", "scene"),
        ("baidu", "10910015", "content", "baidu_feed", "scene"),
        ("baidu", "11800000", "offline", "qr_code", "scene"),
        ("baidu", "NA", "direct", "direct", "direct"),
    ],
)
def test_a_launch_resolves_by_its_platforms_table(
    platform: str, scene: Any, channel_type: str, channel: str, signal: str
) -> None:
    result = resolve_channel(LaunchSignals(scene=scene, platform=platform), TAXONOMY)
    assert (result.channel_type, result.channel, result.signal) == (channel_type, channel, signal)
    assert result.scene == str(scene)


def test_the_same_number_means_different_entries_on_wechat_and_alipay() -> None:
    # 1045 is WeChat's Moments ad; Alipay has no 1045, so an Alipay launch with it is unknown, hence direct.
    wechat = resolve_channel(LaunchSignals(scene=1045), TAXONOMY)
    alipay = resolve_channel(LaunchSignals(scene="1045", platform="alipay"), TAXONOMY)
    assert (wechat.channel, alipay.channel) == ("wechat_moments_ads", "direct")
    # 1007 is a share card on both, but each platform's share is its own channel.
    assert resolve_channel(LaunchSignals(scene="1007", platform="alipay"), TAXONOMY).channel == "alipay_share"
    assert resolve_channel(LaunchSignals(scene="1007"), TAXONOMY).channel == "wechat_share"


def test_a_douyin_scene_without_its_leading_zero_is_not_read_as_a_scene() -> None:
    result = resolve_channel(LaunchSignals(scene=23001, platform="douyin"), TAXONOMY)
    assert (result.channel, result.scene) == ("direct", "")


@pytest.mark.parametrize(("platform", "channel"), [("wechat", "wechat_share"), ("douyin", "douyin_share"),
                                                   ("alipay", "alipay_share"), ("baidu", "baidu_share"),
                                                   ("web", "wechat_share")])
def test_a_share_is_the_share_channel_of_its_platform(platform: str, channel: str) -> None:
    result = resolve_channel(LaunchSignals(share_from="u_42", platform=platform), TAXONOMY)
    assert (result.signal, result.channel, result.channel_type) == ("share", channel, "social")


def test_a_click_id_still_beats_a_platforms_scene() -> None:
    result = resolve_channel(LaunchSignals(scene="023001", query={"clickid": "EJ1xyz"}, platform="douyin"), TAXONOMY)
    assert (result.channel, result.signal, result.click_id) == ("ocean_engine", "click_id", "EJ1xyz")


def _default_document() -> dict[str, Any]:
    text = resources.files("stream.channels").joinpath("taxonomy.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["platforms"]["douyin"]["scenes"].append({"scene": "21001", "channel": "douyin_search"}),
         "platforms.douyin scene '21001': douyin scenes are 6-digit strings"),
        (lambda d: d["platforms"]["baidu"]["scenes"].append({"scene": "NA", "channel": "baidu"}),
         "duplicate scene 'NA' of platform baidu"),
        (lambda d: d["platforms"].update({"kuaishou": {"scenes": []}}), "unknown platform 'kuaishou'"),
        (lambda d: d["platforms"].update({"wechat": {"scenes": []}}), "unknown platform 'wechat'"),
        (lambda d: d["platforms"]["alipay"]["scenes"].append({"scene": "1999", "channel": "nowhere"}),
         "platforms.alipay scene '1999' refers to unknown channel 'nowhere'"),
        (lambda d: d["platforms"]["alipay"].update({"share_channel": "nowhere"}),
         "platforms.alipay.share_channel refers to unknown channel 'nowhere'"),
    ],
)
def test_a_wrong_platform_table_is_rejected_with_the_problem(change: Any, problem: str) -> None:
    document = copy.deepcopy(_default_document())
    change(document)
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(document)
    assert problem in str(caught.value)


def test_a_platform_scene_must_be_text_in_the_file() -> None:
    document = copy.deepcopy(_default_document())
    document["platforms"]["douyin"]["scenes"][0]["scene"] = 21001
    with pytest.raises(TaxonomyError, match=r"platforms\.douyin\.scenes\.0\.scene"):
        parse_taxonomy(document)


def test_a_taxonomy_without_platforms_still_loads_and_other_platforms_fall_back() -> None:
    # Version-1 files written before platforms existed: other platforms' scenes are unknown (direct) and their
    # shares count as the top-level share channel.
    document = copy.deepcopy(_default_document())
    del document["platforms"]
    for channel in [c for c in document["channels"] if c.startswith(("alipay_", "douyin_", "baidu_"))]:
        del document["channels"][channel]
    taxonomy = parse_taxonomy(document)
    assert resolve_channel(LaunchSignals(scene="023001", platform="douyin"), taxonomy).channel == "direct"
    assert resolve_channel(LaunchSignals(share_from="u", platform="douyin"), taxonomy).channel == "wechat_share"
    assert resolve_channel(LaunchSignals(scene=1007), taxonomy).channel == "wechat_share"
