"""Loading the default taxonomy and rejecting bad ones with errors an operator can act on."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stream.channels import (
    SIGNALS,
    Channel,
    ChannelCode,
    ClickIdRule,
    SceneRule,
    TaxonomyDocument,
    TaxonomyError,
    default_taxonomy,
    load_taxonomy,
    parse_taxonomy,
    parse_taxonomy_json,
)

DEFAULT_TEXT = resources.files("stream.channels").joinpath("taxonomy.json").read_text(encoding="utf-8")


def default_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFAULT_TEXT)
    return copy.deepcopy(document)


# --- the default file ---------------------------------------------------------------------------


def test_default_file_loads() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.version == 1
    assert taxonomy.precedence == ("click_id", "explicit", "share", "scene", "direct")
    assert set(taxonomy.channel_types) == {
        "paid",
        "social",
        "content",
        "offline",
        "search",
        "referral",
        "direct",
    }
    assert taxonomy.direct_channel == "direct"
    assert [rule.param for rule in taxonomy.click_ids] == ["gdt_vid", "weixinadinfo", "qz_gdt", "clickid"]
    assert taxonomy.code_params == ("ch", "channel", "channel_code")


def test_default_taxonomy_is_loaded_once() -> None:
    assert default_taxonomy() is default_taxonomy()
    assert default_taxonomy() == load_taxonomy()


def test_load_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "taxonomy.json"
    path.write_text(DEFAULT_TEXT, encoding="utf-8")
    assert load_taxonomy(path) == load_taxonomy()


BRIEF_SCENES = {
    "wechat_share": ("social", [1007, 1008, 1044, 1096]),
    "qr_code": ("offline", [1011, 1012, 1013, 1047, 1048, 1049]),
    "wechat_moments_ads": ("paid", [1045, 1046, 1084, 1067, 1091]),
    "wechat_official_account": ("content", [1058, 1035, 1074, 1043, 1082, 1102]),
    "wechat_search": ("search", [1005, 1006, 1053, 1042]),
    "mini_program": ("referral", [1037, 1038]),
    "app": ("referral", [1069, 1036]),
    "direct": ("direct", [1089, 1001, 1023, 1103, 1104, 1256]),
}


@pytest.mark.parametrize("channel", sorted(BRIEF_SCENES))
def test_default_scene_table(channel: str) -> None:
    taxonomy = default_taxonomy()
    channel_type, scenes = BRIEF_SCENES[channel]
    assert taxonomy.channels[channel].type == channel_type
    for scene in scenes:
        assert taxonomy.scenes[scene].channel == channel, scene


def test_default_click_ids_and_sources() -> None:
    taxonomy = default_taxonomy()
    platforms = {rule.param: (rule.platform, rule.channel) for rule in taxonomy.click_ids}
    assert (
        platforms["gdt_vid"]
        == platforms["qz_gdt"]
        == platforms["weixinadinfo"]
        == ("tencent_ads", "tencent_ads")
    )
    assert platforms["clickid"] == ("ocean_engine", "ocean_engine")
    assert taxonomy.channels["tencent_ads"].type == taxonomy.channels["ocean_engine"].type == "paid"
    for source in ("douyin", "wechat", "weibo", "xiaohongshu", "baidu"):
        assert source in taxonomy.utm_sources
    assert taxonomy.utm_medium_types["cpc"] == "paid"
    assert taxonomy.utm_default_type == "referral"


def test_taxonomy_is_immutable() -> None:
    taxonomy = default_taxonomy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        taxonomy.direct_channel = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        taxonomy.scenes[1007] = taxonomy.scenes[1008]  # type: ignore[index]
    document = TaxonomyDocument.model_validate(default_document())
    with pytest.raises(ValidationError):
        document.direct_channel = "x"  # type: ignore[misc]


def test_compiled_rules_are_the_documents_entries_keyed_and_normalised() -> None:
    document = default_document()
    document["click_ids"][0].update(param=" GDT_VID ", platform=" tencent_ads ")
    codes = document["channel_codes"]["codes"]
    codes["Poster Spring"] = {"channel": "qr_code", "campaign": " spring_sale ", "creative": "poster_a "}
    del codes["poster_spring"]
    taxonomy = parse_taxonomy(document)
    assert taxonomy.click_ids[0] == ClickIdRule(param="gdt_vid", platform="tencent_ads", channel="tencent_ads")
    spring = ChannelCode(channel="qr_code", campaign="spring_sale", creative="poster_a")
    assert taxonomy.codes["poster_spring"] == spring
    chat = SceneRule(scene=1007, channel="wechat_share", label="单人聊天会话中的小程序消息卡片")
    assert taxonomy.scenes[1007] == chat
    assert taxonomy.channels["weibo"] == Channel(type="social", name="Weibo (微博)")
    assert taxonomy.channel_type("weibo") == "social"
    assert taxonomy.channel_type("nowhere") is None
    # The document's own values are read through, not copied: the compiled taxonomy keeps the document.
    assert taxonomy.document == TaxonomyDocument.model_validate(document)
    assert (taxonomy.direct_channel, taxonomy.share_channel, taxonomy.utm_default_type) == (
        "direct", "wechat_share", "referral"
    )
    assert (taxonomy.unknown_scene_channel, taxonomy.unknown_code_channel, taxonomy.bare_scene_is_code) == (
        None, None, True
    )


def test_signals_are_the_documented_five() -> None:
    assert SIGNALS == ("click_id", "explicit", "share", "scene", "direct")


# --- invalid documents --------------------------------------------------------------------------

Edit = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        target: Any = document
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        if isinstance(target, list):
            target[int(leaf)] = value
        else:
            target[leaf] = value

    return edit


def _append(path: str, value: Any) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path.split("."):
            target = target[part]
        target.append(value)

    return edit


def _delete(key: str) -> Edit:
    def edit(document: dict[str, Any]) -> None:
        del document[key]

    return edit


INVALID = [
    pytest.param(
        _set("channels.weibo.type", "viral"),
        "channel 'weibo' has unknown channel type 'viral'",
        id="channel-unknown-type",
    ),
    pytest.param(
        _set("scenes.0.channel", "wechat_chat"),
        "scene 1007 refers to unknown channel 'wechat_chat'",
        id="scene-unknown-channel",
    ),
    pytest.param(
        _append("scenes", {"scene": 1007, "channel": "qr_code"}), "duplicate scene 1007", id="scene-duplicate"
    ),
    pytest.param(
        _set("precedence", ["click_id", "explicit", "viral", "direct"]),
        "precedence: unknown signal 'viral'",
        id="precedence-unknown-signal",
    ),
    pytest.param(
        _set("precedence", ["click_id", "scene", "scene", "direct"]),
        "precedence: duplicate signal 'scene'",
        id="precedence-duplicate",
    ),
    pytest.param(
        _set("precedence", ["click_id", "direct", "scene"]),
        "precedence: must end with 'direct'",
        id="precedence-direct-not-last",
    ),
    pytest.param(_set("precedence", []), "precedence: must end with 'direct'", id="precedence-empty"),
    pytest.param(
        _append("channel_types", "paid"), "duplicate channel type 'paid'", id="channel-type-duplicate"
    ),
    pytest.param(
        _set("channels.Bad Id", {"type": "paid", "name": "x"}),
        "channel id 'Bad Id' must be",
        id="channel-id-format",
    ),
    pytest.param(
        _set("direct_channel", "none"), "direct_channel refers to unknown channel 'none'", id="direct-unknown"
    ),
    pytest.param(
        _set("unknown_scene_channel", "nowhere"),
        "unknown_scene_channel refers to unknown channel 'nowhere'",
        id="unknown-scene-channel-unknown",
    ),
    pytest.param(
        _set("share.channel", "nowhere"), "share.channel refers to unknown channel", id="share-unknown"
    ),
    pytest.param(
        _set("utm.sources.zhihu", "zhihu"),
        "utm.sources['zhihu'] refers to unknown channel 'zhihu'",
        id="utm-source-unknown-channel",
    ),
    pytest.param(
        _set("utm.sources.Douyin ", "douyin"),
        "utm.sources: duplicate entry 'douyin'",
        id="utm-source-duplicate-after-normalisation",
    ),
    pytest.param(
        _set("utm.medium_types.cpa", "performance"),
        "utm.medium_types['cpa'] has unknown channel type 'performance'",
        id="utm-medium-unknown-type",
    ),
    pytest.param(
        _set("utm.default_type", "other"), "utm.default_type has unknown channel type", id="utm-default-type"
    ),
    pytest.param(
        _set("channel_codes.codes.store_13", {"channel": "store"}),
        "channel code 'store_13' refers to unknown channel 'store'",
        id="code-unknown-channel",
    ),
    pytest.param(
        _set("channel_codes.codes.STORE_12", {"channel": "offline_store"}),
        "channel_codes.codes: duplicate entry 'store_12'",
        id="code-duplicate-after-normalisation",
    ),
    pytest.param(
        _append("click_ids", {"param": "gdt_vid", "platform": "tencent_ads", "channel": "tencent_ads"}),
        "duplicate query parameter 'gdt_vid'",
        id="click-id-param-duplicate",
    ),
    pytest.param(
        _append("click_ids", {"param": "bd_vid", "platform": "baidu", "channel": "baidu_ads"}),
        "click id parameter 'bd_vid' refers to unknown channel 'baidu_ads'",
        id="click-id-unknown-channel",
    ),
    pytest.param(
        _set("click_ids.1.click_id_segment", -1),
        "has a negative segment index",
        id="click-id-negative-segment",
    ),
    pytest.param(
        _set("share.query_params", ["share_from", "CH"]),
        "duplicate query parameter 'ch' (share.query_params and channel_codes.query_params)",
        id="param-with-two-roles",
    ),
    pytest.param(_set("version", 2), "unsupported taxonomy version 2", id="version-unsupported"),
    pytest.param(_delete("version"), "unsupported taxonomy version None", id="version-missing"),
    pytest.param(_set("precedance", ["direct"]), "precedance", id="misspelt-key-rejected"),
    pytest.param(_delete("scenes"), "scenes", id="section-missing"),
    pytest.param(_set("scenes.0.scene", "1007"), "scenes.0.scene", id="scene-must-be-an-integer"),
]


@pytest.mark.parametrize(("edit", "message"), INVALID)
def test_invalid_taxonomy(edit: Edit, message: str) -> None:
    document = default_document()
    edit(document)
    with pytest.raises(TaxonomyError) as caught:
        parse_taxonomy(document, origin="test.json")
    assert message in str(caught.value)
    assert str(caught.value).startswith("test.json: ")


def test_all_problems_are_reported_at_once() -> None:
    document = default_document()
    document["channels"]["weibo"]["type"] = "viral"
    document["scenes"][0]["channel"] = "nowhere"
    document["precedence"] = ["scene", "nope", "direct"]
    with pytest.raises(TaxonomyError, match=r"3 problem\(s\)"):
        parse_taxonomy(document)


def test_duplicate_json_key_is_rejected() -> None:
    text = DEFAULT_TEXT.replace(
        '"direct_channel": "direct",', '"direct_channel": "direct",\n  "direct_channel": "app",'
    )
    assert text != DEFAULT_TEXT
    with pytest.raises(TaxonomyError, match="duplicate key 'direct_channel'"):
        parse_taxonomy_json(text)


def test_invalid_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(DEFAULT_TEXT[:-10], encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"broken\.json: not valid JSON"):
        load_taxonomy(path)


def test_non_object_json_is_rejected() -> None:
    with pytest.raises(TaxonomyError, match="must be a JSON object"):
        parse_taxonomy_json("[1, 2]")


def test_missing_file_is_a_taxonomy_error(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        load_taxonomy(tmp_path / "absent.json")
