"""The click-id parameters are named twice: in the webhook platform table (collector/webhooks/macros.py), where a
monitoring link may carry them, and in the stream's taxonomy (stream/channels/taxonomy.json), where the
mini-program finds them in its launch query. A click only meets its visit if both sides read the same parameter
the same way, so the two lists must agree for every ad platform the taxonomy knows."""

from __future__ import annotations

from collector.webhooks.macros import PLATFORMS, SPECS, SegmentedId
from stream.channels import default_taxonomy

# Our canonical name, to which an operator maps the platform's click-id macro (click_id=__CLICK_ID__) in a
# monitoring link; no landing page carries it, so the taxonomy need not know it.
OUR_OWN_NAME = "click_id"


def taxonomy_rules_of(platform: str) -> list[tuple[str, str | None, int, int | None]]:
    return [
        (rule.param, rule.separator, rule.click_id_segment, rule.ad_id_segment)
        for rule in default_taxonomy().click_ids
        if rule.platform == platform
    ]


def test_the_taxonomy_names_click_ids_of_the_two_ad_platforms_only() -> None:
    platforms = {rule.platform for rule in default_taxonomy().click_ids}
    assert platforms == {"tencent_ads", "ocean_engine"}
    assert platforms <= set(PLATFORMS)


def test_the_plain_click_id_parameters_agree() -> None:
    for platform in ("tencent_ads", "ocean_engine"):
        stream_side = {param for param, separator, _, _ in taxonomy_rules_of(platform) if separator is None}
        webhook_side = set(SPECS[platform].click_ids) - {OUR_OWN_NAME}
        assert stream_side == webhook_side, platform
        assert stream_side  # each platform has at least one: an empty pair would agree on nothing


def test_the_segmented_click_id_parameters_agree_in_separator_and_segments() -> None:
    for platform in ("tencent_ads", "ocean_engine"):
        stream_side = {
            SegmentedId(param, separator, click_segment, ad_segment)
            for param, separator, click_segment, ad_segment in taxonomy_rules_of(platform)
            if separator is not None
        }
        assert stream_side == set(SPECS[platform].segmented_click_ids), platform


def test_the_segmented_rule_is_tencents_weixinadinfo() -> None:
    # By the format Tencent documents, <ad id>.<click id>.0.<n>: written here by hand, not read from either list.
    assert SPECS["tencent_ads"].segmented_click_ids == (SegmentedId("weixinadinfo", ".", 1, 0),)
