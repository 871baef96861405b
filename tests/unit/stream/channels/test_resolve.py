"""The channel-resolution table: one row per rule, precedence pair and WeChat launch situation."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream.channels import (
    MAX_CLICK_ID_LENGTH,
    MAX_VALUE_LENGTH,
    SIGNALS,
    ChannelResolution,
    LaunchSignals,
    Taxonomy,
    default_taxonomy,
    normalise_token,
    parse_taxonomy,
    resolve_channel,
)

TAXONOMY = default_taxonomy()


@dataclass(frozen=True)
class Expect:
    channel_type: str
    channel: str
    signal: str
    campaign: str = ""
    creative: str = ""
    click_id: str = ""
    click_platform: str = ""
    share_from: str = ""


def launch(
    scene: int | None = None,
    query: Mapping[str, str] | None = None,
    campaign: Mapping[str, str] | None = None,
    share_from: str | None = None,
    share_depth: int | None = None,
) -> LaunchSignals:
    return LaunchSignals(scene, dict(query or {}), dict(campaign or {}), share_from, share_depth)


def _echoed(scene: object) -> str:
    # A scene breaking WeChat's rule (integer 1000..9999 or its 4-digit text) is not echoed.
    return str(scene) if type(scene) is int and 1000 <= scene <= 9999 else ""


def check(signals: LaunchSignals, expected: Expect, taxonomy: Taxonomy = TAXONOMY) -> ChannelResolution:
    result = resolve_channel(signals, taxonomy)
    assert result == ChannelResolution(
        channel_type=expected.channel_type,
        channel=expected.channel,
        campaign=expected.campaign,
        creative=expected.creative,
        signal=expected.signal,  # type: ignore[arg-type]
        click_id=expected.click_id,
        click_platform=expected.click_platform,
        scene=_echoed(signals.scene),
        share_from=expected.share_from,
    )
    return result


GDT = {"click_id": "wx0abc123", "click_platform": "tencent_ads"}
OE = {"click_id": "EJiw267wvfQCGL", "click_platform": "ocean_engine"}
DIRECT = Expect("direct", "direct", "direct")

CASES = [
    # --- click ids --------------------------------------------------------------------------------
    pytest.param(
        launch(1045, {"gdt_vid": "wx0abc123"}),
        Expect("paid", "tencent_ads", "click_id", **GDT),
        id="click-gdt_vid",
    ),
    pytest.param(
        # Real shape: weixinadinfo = <aid>.<click id, same as gdt_vid>.0.<n>; the aid names the campaign.
        launch(1045, {"weixinadinfo": "13262845.wx03uxqfwz22ubsa00.0.1"}),
        Expect(
            "paid",
            "tencent_ads",
            "click_id",
            "13262845",
            click_id="wx03uxqfwz22ubsa00",
            click_platform="tencent_ads",
        ),
        id="click-weixinadinfo-split",
    ),
    pytest.param(
        launch(1045, {"weixinadinfo": "13262845"}),
        Expect("paid", "wechat_moments_ads", "scene", "13262845"),
        id="click-weixinadinfo-without-click-segment",
    ),
    pytest.param(
        launch(1045, {"gdt_vid": "wx0abc123", "weixinadinfo": "13262845.wx0abc123.0.0"}),
        Expect("paid", "tencent_ads", "click_id", "13262845", **GDT),
        id="click-gdt_vid-with-weixinadinfo-aid",
    ),
    pytest.param(
        launch(None, {"qz_gdt": "qzabc"}),
        Expect("paid", "tencent_ads", "click_id", click_id="qzabc", click_platform="tencent_ads"),
        id="click-qz_gdt",
    ),
    pytest.param(
        launch(1089, {"clickid": "EJiw267wvfQCGL", "campaign_id": "1700", "aid": "1701", "cid": "1702"}),
        Expect("paid", "ocean_engine", "click_id", "1700", "1702", **OE),
        id="click-ocean-engine-with-ad-params",
    ),
    pytest.param(
        launch(None, {"clickid": "EJiw267wvfQCGL", "aid": "1701", "creative_id": "c9"}),
        Expect("paid", "ocean_engine", "click_id", "1701", "c9", **OE),
        id="click-ocean-engine-aid-as-campaign",
    ),
    pytest.param(
        launch(None, {"GDT_VID": " wx0abc123 "}),
        Expect("paid", "tencent_ads", "click_id", **GDT),
        id="click-param-name-case-and-spaces",
    ),
    pytest.param(
        launch(1047, {"scene": "clickid%3DEJiw267wvfQCGL"}),
        Expect("paid", "ocean_engine", "click_id", **OE),
        id="click-inside-decoded-qr-scene",
    ),
    pytest.param(
        launch(1089, {"clickid": "x" * (MAX_CLICK_ID_LENGTH + 1)}),
        DIRECT,
        id="click-too-long-is-dropped-not-truncated",
    ),
    # --- unfilled macros --------------------------------------------------------------------------
    pytest.param(
        launch(None, {"clickid": "__CLICKID__", "utm_source": "douyin"}),
        Expect("paid", "douyin", "explicit"),
        id="macro-double-underscore-clickid",
    ),
    pytest.param(
        launch(1046, {"gdt_vid": "{gdt_vid}", "weixinadinfo": "{{weixinadinfo}}"}),
        Expect("paid", "wechat_moments_ads", "scene"),
        id="macro-braces",
    ),
    pytest.param(
        launch(None, {"gdt_vid": "__GDT_VID__", "qz_gdt": "qzabc"}),
        Expect("paid", "tencent_ads", "click_id", click_id="qzabc", click_platform="tencent_ads"),
        id="macro-skipped-next-click-param-used",
    ),
    pytest.param(
        launch(1058, {"utm_source": "${source}", "utm_campaign": "__CAMPAIGN_NAME__", "aid": "%7Baid%7D"}),
        Expect("content", "wechat_official_account", "scene"),
        id="macro-in-utm-and-ad-params",
    ),
    pytest.param(
        launch(1007, share_from="undefined"),
        Expect("social", "wechat_share", "scene"),
        id="macro-js-undefined-share_from",
    ),
    # The shared rule (schemas/macros.py) also knows the stringified nulls the webhooks always treated as missing.
    pytest.param(
        launch(1007, share_from="None"),
        Expect("social", "wechat_share", "scene"),
        id="macro-python-none-share_from",
    ),
    pytest.param(
        launch(None, {"gdt_vid": "nil", "clickid": "NULL", "utm_source": "douyin"}),
        Expect("paid", "douyin", "explicit"),
        id="macro-nil-and-null-click-ids-are-missing",
    ),
    # --- explicit: UTM ----------------------------------------------------------------------------
    pytest.param(
        launch(
            None,
            {"utm_source": "douyin", "utm_medium": "cpc", "utm_campaign": "618", "utm_content": "video_a"},
        ),
        Expect("paid", "douyin", "explicit", "618", "video_a"),
        id="utm-known-source",
    ),
    pytest.param(
        launch(None, {"utm_source": "  XHS "}),
        Expect("content", "xiaohongshu", "explicit"),
        id="utm-alias-trimmed-and-case-folded",
    ),
    pytest.param(
        launch(None, {"utm_source": "ＷＥＩＢＯ"}),
        Expect("social", "weibo", "explicit"),
        id="utm-full-width-source",
    ),
    pytest.param(
        launch(None, {"utm_source": "Zhihu", "utm_medium": "CPC"}),
        Expect("paid", "zhihu", "explicit"),
        id="utm-unknown-source-cpc-is-paid",
    ),
    pytest.param(
        launch(None, {"utm_source": "zhihu", "utm_medium": "social"}),
        Expect("social", "zhihu", "explicit"),
        id="utm-unknown-source-social",
    ),
    pytest.param(
        launch(None, {"utm_source": "newsletter", "utm_medium": "email"}),
        Expect("content", "newsletter", "explicit"),
        id="utm-unknown-source-email-is-content",
    ),
    pytest.param(
        launch(None, {"utm_source": "mall_poster", "utm_medium": "qr"}),
        Expect("offline", "mall_poster", "explicit"),
        id="utm-unknown-source-qr-is-offline",
    ),
    pytest.param(
        launch(None, {"utm_source": "My Partner"}),
        Expect("referral", "my_partner", "explicit"),
        id="utm-unknown-source-no-medium-is-referral",
    ),
    pytest.param(
        launch(None, {"utm_source": "qr_code", "utm_medium": "cpc"}),
        Expect("offline", "qr_code", "explicit"),
        id="utm-source-naming-a-channel-keeps-its-type",
    ),
    pytest.param(
        launch(None, campaign={"source": "baidu", "name": "brand", "content": "kw1"}),
        Expect("search", "baidu", "explicit", "brand", "kw1"),
        id="utm-from-sdk-campaign-fields",
    ),
    pytest.param(
        launch(None, {"utm_source": "weibo"}, campaign={"source": "baidu", "name": "brand"}),
        Expect("social", "weibo", "explicit", "brand"),
        id="utm-query-wins-per-field-over-sdk-campaign",
    ),
    pytest.param(
        launch(1058, {"utm_campaign": "weekly", "utm_content": "issue_12"}),
        Expect("content", "wechat_official_account", "scene", "weekly", "issue_12"),
        id="utm-campaign-without-source-only-fills-campaign",
    ),
    pytest.param(
        launch(None, {"utm_source": "weibo", "utm_campaign": "c" * 300, "utm_content": "spring\x00\u200b "}),
        Expect("social", "weibo", "explicit", "c" * MAX_VALUE_LENGTH, "spring"),
        id="utm-values-bounded-and-cleaned",
    ),
    # --- explicit: channel codes ------------------------------------------------------------------
    pytest.param(
        launch(None, {"ch": "store_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="code-ch",
    ),
    pytest.param(
        launch(None, {"channel_code": "poster_spring"}),
        Expect("offline", "qr_code", "explicit", "spring_sale", "poster_a"),
        id="code-channel_code-with-campaign-and-creative",
    ),
    pytest.param(
        launch(None, {"CH": "GZH_Menu", "utm_content": "banner"}),
        Expect("content", "wechat_official_account", "explicit", "menu", "banner"),
        id="code-case-insensitive-utm-fills-creative",
    ),
    pytest.param(
        launch(None, {"ch": "store_12", "utm_source": "douyin"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="code-before-utm",
    ),
    pytest.param(
        launch(None, {"ch": "not_in_table", "utm_source": "weibo"}),
        Expect("social", "weibo", "explicit"),
        id="code-unknown-falls-through-to-utm",
    ),
    pytest.param(
        launch(1047, {"ch": "not_in_table"}),
        Expect("offline", "qr_code", "scene"),
        id="code-unknown-falls-through-to-scene",
    ),
    # --- the QR-code `scene` / `q` launch parameters ----------------------------------------------
    pytest.param(
        launch(1047, {"scene": "ch%3Dstore_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="qr-scene-decoded-channel-code",
    ),
    pytest.param(
        launch(1048, {"scene": "utm_source%3Dweibo%26utm_campaign%3Dspring"}),
        Expect("social", "weibo", "explicit", "spring"),
        id="qr-scene-decoded-utm-pairs",
    ),
    pytest.param(
        launch(1047, {"scene": "ch%253Dstore_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="qr-scene-double-encoded",
    ),
    pytest.param(
        launch(1047, {"scene": "ch=store_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="qr-scene-already-decoded-by-sdk",
    ),
    pytest.param(
        launch(1047, {"scene": "store_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="qr-scene-bare-value-is-a-code",
    ),
    pytest.param(
        launch(1047, {"scene": "a1b2c3"}),
        Expect("offline", "qr_code", "scene"),
        id="qr-scene-bare-unknown-value",
    ),
    pytest.param(
        launch(1047, {"ch": "gzh_menu", "scene": "ch%3Dstore_12"}),
        Expect("content", "wechat_official_account", "explicit", "menu"),
        id="qr-scene-top-level-param-wins",
    ),
    pytest.param(
        launch(
            1011, {"q": "https%3A%2F%2Fshop.example.com%2Fm%3Fch%3Dstore_12%26x%3D1", "scancode_time": "1"}
        ),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="qr-q-url-query-decoded",
    ),
    # --- share ------------------------------------------------------------------------------------
    pytest.param(
        launch(1007, share_from="u_123", share_depth=1),
        Expect("social", "wechat_share", "share", share_from="u_123"),
        id="share-card-with-sharer",
    ),
    pytest.param(
        launch(None, {"share_from": "u_9"}),
        Expect("social", "wechat_share", "share", share_from="u_9"),
        id="share-from-query-param",
    ),
    # --- scene values -----------------------------------------------------------------------------
    pytest.param(launch(1008), Expect("social", "wechat_share", "scene"), id="scene-1008-group-card"),
    pytest.param(launch(1049), Expect("offline", "qr_code", "scene"), id="scene-1049-album-code"),
    pytest.param(launch(1084), Expect("paid", "wechat_moments_ads", "scene"), id="scene-1084-moments-ad"),
    pytest.param(
        launch(1074), Expect("content", "wechat_official_account", "scene"), id="scene-1074-official-account"
    ),
    pytest.param(launch(1053), Expect("search", "wechat_search", "scene"), id="scene-1053-search"),
    pytest.param(launch(1037), Expect("referral", "mini_program", "scene"), id="scene-1037-mini-program"),
    pytest.param(launch(1069), Expect("referral", "app", "scene"), id="scene-1069-app"),
    pytest.param(launch(1023), DIRECT, id="scene-1023-desktop-icon-is-direct"),
    # Unknown scene values (WeChat adds new ones regularly) are direct unless unknown_scene_channel is set.
    pytest.param(launch(1999), DIRECT, id="scene-unknown-is-direct"),
    pytest.param(launch(-1), DIRECT, id="scene-negative-is-direct"),
    pytest.param(launch(), DIRECT, id="no-signals-is-direct"),
    # --- every precedence pair of the default order -----------------------------------------------
    pytest.param(
        launch(None, {"gdt_vid": "wx0abc123", "utm_source": "douyin", "utm_campaign": "618"}),
        Expect("paid", "tencent_ads", "click_id", "618", **GDT),
        id="prec-click_id-over-explicit",
    ),
    pytest.param(
        launch(None, {"gdt_vid": "wx0abc123"}, share_from="u_1"),
        Expect("paid", "tencent_ads", "click_id", share_from="u_1", **GDT),
        id="prec-click_id-over-share",
    ),
    pytest.param(
        launch(1007, {"gdt_vid": "wx0abc123"}),
        Expect("paid", "tencent_ads", "click_id", **GDT),
        id="prec-click_id-over-scene",
    ),
    pytest.param(
        launch(1089, {"gdt_vid": "wx0abc123"}),
        Expect("paid", "tencent_ads", "click_id", **GDT),
        id="prec-click_id-over-direct",
    ),
    pytest.param(
        launch(None, {"utm_source": "weibo"}, share_from="u_1"),
        Expect("social", "weibo", "explicit", share_from="u_1"),
        id="prec-explicit-over-share",
    ),
    pytest.param(
        launch(1058, {"ch": "store_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="prec-explicit-over-scene",
    ),
    pytest.param(
        launch(1001, {"utm_source": "baidu"}),
        Expect("search", "baidu", "explicit"),
        id="prec-explicit-over-direct",
    ),
    pytest.param(
        launch(1047, share_from="u_1"),
        Expect("social", "wechat_share", "share", share_from="u_1"),
        id="prec-share-over-scene",
    ),
    pytest.param(
        launch(1089, share_from="u_1"),
        Expect("social", "wechat_share", "share", share_from="u_1"),
        id="prec-share-over-direct",
    ),
    pytest.param(launch(1044), Expect("social", "wechat_share", "scene"), id="prec-scene-over-direct"),
    # --- cold and hot starts ----------------------------------------------------------------------
    # Cold start: App.onLaunch gets the scene and query of the entry, e.g. a store's mini-program code.
    pytest.param(
        launch(1047, {"scene": "ch%3Dstore_12"}),
        Expect("offline", "offline_store", "explicit", "store_12"),
        id="cold-start-store-code",
    ),
    # Hot start: the mini-program was in the background and the user opens a friend's share card. onShow
    # reports the new scene and query, so the visit gets the new channel, not the one of the cold start.
    pytest.param(
        launch(1008, {"share_from": "u_77"}),
        Expect("social", "wechat_share", "share", share_from="u_77"),
        id="hot-start-new-share-card",
    ),
    # Hot start from the pull-down "recently used" bar: onShow carries scene 1089 and an empty query. Nothing
    # about the earlier channel is repeated, so the visit is direct (attribution keeps the earlier touch).
    pytest.param(launch(1089, {}), DIRECT, id="hot-start-recent-list-is-direct"),
    # Same for the Discover "recently used" list.
    pytest.param(launch(1001, {}), DIRECT, id="hot-start-discover-list-is-direct"),
    # Hot start by coming back from another mini-program (e.g. a payment or coupon mini-program): WeChat
    # reports 1038. The default table maps it to referral/mini_program like 1037; see docs/channels.md.
    pytest.param(
        launch(1038), Expect("referral", "mini_program", "scene"), id="hot-start-return-from-mini-program"
    ),
    # Hot start after a new ad click: the landing query carries a fresh click id, which wins over the scene.
    pytest.param(
        launch(1045, {"gdt_vid": "wx0abc123"}),
        Expect("paid", "tencent_ads", "click_id", **GDT),
        id="hot-start-new-ad-click",
    ),
]


MOMENTS_AD = {
    "gdt_vid": "wx03uxqfwz22ubsa00",
    "weixinadinfo": "13262845.wx03uxqfwz22ubsa00.0.1",
    "utm_source": "wechat",
    "utm_content": "video_b",
}
CASES += [
    # The worked examples of docs/channels.md.
    pytest.param(
        launch(1045, MOMENTS_AD, share_from="u_42"),
        Expect(
            "paid",
            "tencent_ads",
            "click_id",
            "13262845",
            "video_b",
            click_id="wx03uxqfwz22ubsa00",
            click_platform="tencent_ads",
            share_from="u_42",
        ),
        id="doc-example-moments-ad",
    ),
    pytest.param(
        launch(
            1045,
            {**MOMENTS_AD, "gdt_vid": "__GDT_VID__", "weixinadinfo": "__WEIXINADINFO__"},
            share_from="u_42",
        ),
        Expect("social", "wechat", "explicit", "", "video_b", share_from="u_42"),
        id="doc-example-moments-ad-preview-macros",
    ),
]


@pytest.mark.parametrize(("signals", "expected"), CASES)
def test_resolution_table(signals: LaunchSignals, expected: Expect) -> None:
    check(signals, expected)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 40


def test_android_home_button_repeats_the_previous_scene() -> None:
    # On Android, leaving with the Home button and re-entering from the launcher keeps the previous scene and
    # query. The function is pure, so the repeated signals resolve exactly as before; deciding whether it is a
    # new visit is the session logic's job, not this function's.
    cold = launch(1047, {"scene": "ch%3Dstore_12"})
    hot = launch(1047, {"scene": "ch%3Dstore_12"})
    assert resolve_channel(cold, TAXONOMY) == resolve_channel(hot, TAXONOMY)


# --- custom taxonomies --------------------------------------------------------------------------


def default_document() -> dict[str, Any]:
    text = resources.files("stream.channels").joinpath("taxonomy.json").read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return copy.deepcopy(document)


def custom(**changes: Any) -> Taxonomy:
    document = default_document()
    for path, value in changes.items():
        target = document
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return parse_taxonomy(document)


SCENE_FIRST = custom(precedence=["scene", "share", "explicit", "click_id", "direct"])


@pytest.mark.parametrize(
    ("signals", "expected"),
    [
        pytest.param(
            launch(1047, {"gdt_vid": "wx0abc123"}),
            # The click id is still reported: a postback to the ad platform needs it whatever the channel.
            Expect("offline", "qr_code", "scene", **GDT),
            id="custom-scene-over-click_id",
        ),
        pytest.param(
            launch(1089, {"utm_source": "weibo"}, share_from="u_1"),
            # A direct-like scene declines, so the next signal in the custom order decides.
            Expect("social", "wechat_share", "share", share_from="u_1"),
            id="custom-direct-like-scene-declines",
        ),
        pytest.param(
            launch(1999, {"utm_source": "weibo", "gdt_vid": "wx0abc123"}),
            Expect("social", "weibo", "explicit", **GDT),
            id="custom-unknown-scene-then-explicit",
        ),
        pytest.param(
            launch(None, {"gdt_vid": "wx0abc123"}),
            Expect("paid", "tencent_ads", "click_id", **GDT),
            id="custom-click_id-still-decides-when-alone",
        ),
    ],
)
def test_custom_precedence(signals: LaunchSignals, expected: Expect) -> None:
    check(signals, expected, SCENE_FIRST)


def test_precedence_without_optional_rules() -> None:
    taxonomy = custom(precedence=["scene", "direct"])
    check(
        launch(1089, {"gdt_vid": "wx0abc123"}, share_from="u_1"),
        Expect(**{**DIRECT.__dict__, **GDT, "share_from": "u_1"}),
        taxonomy,
    )
    check(launch(1007, {"utm_source": "weibo"}), Expect("social", "wechat_share", "scene"), taxonomy)


def test_unknown_scene_channel() -> None:
    document = default_document()
    document["channels"]["unknown_entry"] = {"type": "referral", "name": "Unmapped scene values"}
    document["unknown_scene_channel"] = "unknown_entry"
    taxonomy = parse_taxonomy(document)
    check(launch(1999), Expect("referral", "unknown_entry", "scene"), taxonomy)
    check(launch(1089), DIRECT, taxonomy)  # listed direct-like scenes stay direct
    check(launch(None), DIRECT, taxonomy)


def test_unknown_code_channel() -> None:
    document = default_document()
    document["channels"]["unlisted_code"] = {"type": "offline", "name": "Codes missing from the table"}
    document["channel_codes"]["unknown_code_channel"] = "unlisted_code"
    taxonomy = parse_taxonomy(document)
    check(
        launch(1047, {"scene": "ch%3Dstore_99"}),
        Expect("offline", "unlisted_code", "explicit", "store_99"),
        taxonomy,
    )
    # A recognised UTM source is more specific than an unlisted code.
    check(
        launch(None, {"ch": "store_99", "utm_source": "weibo"}),
        Expect("social", "weibo", "explicit"),
        taxonomy,
    )


def test_bare_scene_can_be_disabled() -> None:
    taxonomy = custom(channel_codes__bare_scene_is_code=False)
    check(launch(1047, {"scene": "store_12"}), Expect("offline", "qr_code", "scene"), taxonomy)


def test_weixinadinfo_segment_is_configurable() -> None:
    # If Tencent's format were <click id>.<...>, one number in the taxonomy switches the parsing.
    document = default_document()
    document["click_ids"] = [
        {
            "param": "weixinadinfo",
            "platform": "tencent_ads",
            "channel": "tencent_ads",
            "separator": ".",
            "click_id_segment": 0,
        },
    ]
    taxonomy = parse_taxonomy(document)
    check(
        launch(None, {"weixinadinfo": "abc.def.0.0"}),
        Expect("paid", "tencent_ads", "click_id", click_id="abc", click_platform="tencent_ads"),
        taxonomy,
    )


# --- properties ---------------------------------------------------------------------------------

_KEYS = st.sampled_from(
    [
        "gdt_vid",
        "weixinadinfo",
        "qz_gdt",
        "clickid",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "ch",
        "channel",
        "channel_code",
        "scene",
        "q",
        "share_from",
        "aid",
        "cid",
        "campaign_id",
        "creative_id",
        "UTM_SOURCE",
        "Ch",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="abc.=&%3D2F_ ", max_size=40),
    st.sampled_from(
        [
            "",
            "douyin",
            "store_12",
            "__CLICKID__",
            "{clickid}",
            "ch%3Dstore_12",
            "1.2.3",
            "null",
            "ｘｈｓ",
            "cpc",
            "https%3A%2F%2Fa.b%2Fc%3Fch%3Dgzh_menu",
            "%",
            "%%3D",
            "=",
            "&&",
            "x" * 3000,
        ]
    ),
)
_MAPS = st.dictionaries(st.one_of(_KEYS, st.text(max_size=12)), _VALUES, max_size=8)
_SCENES = st.one_of(st.none(), st.integers(), st.sampled_from(sorted(TAXONOMY.scenes)))


def _assert_well_formed(result: ChannelResolution, taxonomy: Taxonomy) -> None:
    assert result.signal in SIGNALS
    if result.channel in taxonomy.channels:
        assert result.channel_type == taxonomy.channels[result.channel].type
    else:
        # The documented fallback: an unknown UTM source becomes the channel, typed by its medium.
        assert result.signal == "explicit"
        assert result.channel == normalise_token(result.channel) != ""
        assert result.channel_type in taxonomy.fallback_types()
    assert result.channel_type in taxonomy.channel_types
    assert len(result.campaign) <= MAX_VALUE_LENGTH
    assert len(result.creative) <= MAX_VALUE_LENGTH
    assert len(result.share_from) <= MAX_VALUE_LENGTH
    assert len(result.click_id) <= MAX_CLICK_ID_LENGTH
    assert bool(result.click_id) == bool(result.click_platform)
    if result.signal == "click_id":
        assert result.click_id
    if result.signal == "direct":
        assert (result.channel, result.campaign, result.creative) == (taxonomy.direct_channel, "", "")


@settings(max_examples=400, database=None, deadline=None)
@given(
    scene=_SCENES,
    query=_MAPS,
    campaign=_MAPS,
    share_from=st.one_of(st.none(), st.text(max_size=20)),
    share_depth=st.one_of(st.none(), st.integers()),
    taxonomy=st.sampled_from([TAXONOMY, SCENE_FIRST]),
)
def test_never_raises_and_always_names_a_known_or_fallback_channel(
    scene: int | None,
    query: dict[str, str],
    campaign: dict[str, str],
    share_from: str | None,
    share_depth: int | None,
    taxonomy: Taxonomy,
) -> None:
    signals = LaunchSignals(scene, query, campaign, share_from, share_depth)
    result = resolve_channel(signals, taxonomy)
    _assert_well_formed(result, taxonomy)
    assert resolve_channel(signals, taxonomy) == result  # deterministic, so a replay gives the same channel


@settings(max_examples=100, database=None, deadline=None)
@given(
    query=st.dictionaries(st.one_of(st.text(), st.integers()), st.one_of(st.text(), st.integers(), st.none()))
)
def test_wrongly_typed_signals_are_ignored_not_raised(query: dict[Any, Any]) -> None:
    # Signals come from client JSON; the type hints are not a guarantee at run time.
    signals = LaunchSignals(scene="1047", query=query, campaign=None, share_from=12)  # type: ignore[arg-type]
    _assert_well_formed(resolve_channel(signals, TAXONOMY), TAXONOMY)
