"""parse_touch: the documented monitoring links, unfilled macros, times, bounds, and arbitrary input."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.errors import MalformedBody, WebhookInputError
from collector.webhooks.macros import KINDS, PLATFORMS
from collector.webhooks.platforms import (
    MAX_CALLBACK_LENGTH,
    MAX_EXTRA_KEYS,
    MAX_EXTRA_VALUE_LENGTH,
    MAX_ID_LENGTH,
    MAX_USER_AGENT_LENGTH,
    AdTouch,
    parse_touch,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[4] / "docs" / "webhooks.md"


def query(url: str) -> dict[str, str]:
    """What the GET route hands to parse_touch: the query, decoded once, blanks kept."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def touch(platform: str, kind: str, params: Mapping[str, object]) -> AdTouch:
    return parse_touch(platform, kind, params, now=NOW)


def error(platform: str, kind: str, params: Mapping[str, object]) -> WebhookInputError:
    with pytest.raises(WebhookInputError) as caught:
        parse_touch(platform, kind, params, now=NOW)
    return caught.value


# --- the documented examples (each URL appears verbatim in docs/webhooks.md) -------------------------

TENCENT_CLICK_PASTED = (
    "https://collect.example.com/v1/webhooks/tx-shop-01/click?token=REPLACE_WITH_TOKEN&click_id=__CLICK_ID__"
    "&click_time=__CLICK_TIME__&account_id=__ACCOUNT_ID__&campaign_id=__CAMPAIGN_ID__&adgroup_id=__ADGROUP_ID__"
    "&ad_id=__AD_ID__&dynamic_creative_id=__DYNAMIC_CREATIVE_ID__&muid=__MUID__&hash_oaid=__HASH_OAID__&ip=__IP__"
    "&user_agent=__USER_AGENT__&request_id=__REQUEST_ID__&callback=__CALLBACK__"
)
TENCENT_CLICK_CALLED = (
    "https://collect.example.com/v1/webhooks/tx-shop-01/click?token=tok_3f9a1c7e5b2d4f60"
    "&click_id=24oi6xq2aaakvagnqu7a&click_time=1586437362&account_id=25610001&campaign_id=__CAMPAIGN_ID__"
    "&adgroup_id=228691429&ad_id=__AD_ID__&dynamic_creative_id=654321&muid=8d3ebd3654fb46a2832296669cf1b536"
    "&hash_oaid=&ip=183.226.102.120"
    "&user_agent=Mozilla%2F5.0%20(Linux%3B%20Android%2013%3B%20V2227A)%20MicroMessenger%2F8.0.40"
    "&request_id=c3b2a1f0e9d8"
    "&callback=http%3A%2F%2Ftracking.e.qq.com%2Fconv%3Fcb%3DMTIzYWJjNDU2ZGVm%26conv_id%3D12345678"
)
TENCENT_IMPRESSION_PASTED = (
    "https://collect.example.com/v1/webhooks/tx-shop-01/impression?token=REPLACE_WITH_TOKEN"
    "&impression_id=__IMPRESSION_ID__&impression_time=__IMPRESSION_TIME__&account_id=__ACCOUNT_ID__"
    "&adgroup_id=__ADGROUP_ID__&dynamic_creative_id=__DYNAMIC_CREATIVE_ID__&muid=__MUID__&ip=__IP__"
    "&callback=__CALLBACK__"
)
TENCENT_IMPRESSION_CALLED = (
    "https://collect.example.com/v1/webhooks/tx-shop-01/impression?token=tok_3f9a1c7e5b2d4f60"
    "&impression_id=30xk2n7taaalqbmcq4ka&impression_time=1586437361&account_id=25610001&adgroup_id=228691429"
    "&dynamic_creative_id=654321&muid=8d3ebd3654fb46a2832296669cf1b536&ip=183.226.102.120"
    "&callback=http%3A%2F%2Ftracking.e.qq.com%2Fconv%3Fcb%3DMTIzYWJjNDU2ZGVm%26conv_id%3D12345678"
)
OCEAN_CLICK_PASTED = (
    "https://collect.example.com/v1/webhooks/oe-shop-01/click?token=REPLACE_WITH_TOKEN"
    "&callback_param=__CALLBACK_PARAM__&advertiser_id=__ADVERTISER_ID__&project_id=__PROJECT_ID__"
    "&promotion_id=__PROMOTION_ID__&aid=__AID__&cid=__CID__&request_id=__REQUEST_ID__&ts=__TS__&ip=__IP__"
    "&ua=__UA__&os=__OS__&oaid=__OAID__&idfa=__IDFA__&androidid=__ANDROIDID__"
)
OCEAN_CLICK_CALLED = (
    "https://collect.example.com/v1/webhooks/oe-shop-01/click?token=tok_8e1d0b6a4c2f9e73"
    "&callback_param=EJiw267wvfQCGKf2g74ZIPD89-vIATAMOAFCIjIwMTkxMTI3MTQxMTEzMDEwMDI2MDc3MjE1MTUwNTczNTBIAQ%3D%3D"
    "&advertiser_id=1712345678901234&project_id=7301234567890123456&promotion_id=7301234567890987654"
    "&aid=__AID__&cid=__CID__&request_id=20231115103000A1B2C3D4E5F6&ts=1700015400123"
    "&ip=240e%3A398%3A1c90%3A9d00%3A5513%3Ab9c9%3A650a%3Ad9d2&ua=Mozilla%2F5.0%20(Linux%3B%20Android%2013)"
    "&os=0&oaid=97e7ef3f-e5f2-d0b8-ccfc-f79bbeaf4841&idfa=&androidid=873541edf36da9170af47d5b69e82193"
)
GENERIC_CLICK_PASTED = (
    "https://collect.example.com/v1/webhooks/gen-shop-01/click?token=REPLACE_WITH_TOKEN&click_id={click_id}"
    "&campaign_id={campaign_id}&adgroup_id={adgroup_id}&ad_id={ad_id}&creative_id={creative_id}"
    "&account_id={account_id}&ts={timestamp}&ip={ip}&ua={user_agent}&callback={callback}&utm_source=kol_weibo"
)
GENERIC_CLICK_CALLED = (
    "https://collect.example.com/v1/webhooks/gen-shop-01/click?token=tok_5c7e9a1b3d5f7092&click_id=kol-7f3a9c21"
    "&campaign_id=spring_sale&adgroup_id=kol_group_3&ad_id=post_118&creative_id=video_b&account_id=brand_01"
    "&ts=2024-05-01T08%3A30%3A00%2B08%3A00&ip=203.0.113.7&ua=Mozilla%2F5.0"
    "&callback=https%3A%2F%2Fpartner.example.net%2Fpostback%3Fid%3Dkol-7f3a9c21&utm_source=kol_weibo"
)
OCEAN_CALLBACK = "EJiw267wvfQCGKf2g74ZIPD89-vIATAMOAFCIjIwMTkxMTI3MTQxMTEzMDEwMDI2MDc3MjE1MTUwNTczNTBIAQ=="
TENCENT_CALLBACK = "http://tracking.e.qq.com/conv?cb=MTIzYWJjNDU2ZGVm&conv_id=12345678"

EXAMPLES = [
    pytest.param(
        "tencent_ads",
        "click",
        TENCENT_CLICK_CALLED,
        AdTouch(
            kind="click",
            platform="tencent_ads",
            click_id="24oi6xq2aaakvagnqu7a",
            account_id="25610001",
            campaign_id="",
            adgroup_id="228691429",
            ad_id="",
            creative_id="654321",
            touch_time=datetime(2020, 4, 9, 13, 2, 42, tzinfo=UTC),
            ip="183.226.102.120",
            user_agent="Mozilla/5.0 (Linux; Android 13; V2227A) MicroMessenger/8.0.40",
            device_ids=(("muid", "8d3ebd3654fb46a2832296669cf1b536"),),
            callback=TENCENT_CALLBACK,
            extra=(("request_id", "c3b2a1f0e9d8"),),
        ),
        id="tencent-click",
    ),
    pytest.param(
        "tencent_ads",
        "impression",
        TENCENT_IMPRESSION_CALLED,
        AdTouch(
            kind="impression",
            platform="tencent_ads",
            click_id="30xk2n7taaalqbmcq4ka",
            account_id="25610001",
            adgroup_id="228691429",
            creative_id="654321",
            touch_time=datetime(2020, 4, 9, 13, 2, 41, tzinfo=UTC),
            ip="183.226.102.120",
            device_ids=(("muid", "8d3ebd3654fb46a2832296669cf1b536"),),
            callback=TENCENT_CALLBACK,
        ),
        id="tencent-impression",
    ),
    pytest.param(
        "ocean_engine",
        "click",
        OCEAN_CLICK_CALLED,
        AdTouch(
            kind="click",
            platform="ocean_engine",
            click_id=OCEAN_CALLBACK,
            account_id="1712345678901234",
            campaign_id="7301234567890123456",
            adgroup_id="",
            ad_id="7301234567890987654",
            creative_id="",
            touch_time=datetime(2023, 11, 15, 2, 30, 0, 123_000, tzinfo=UTC),
            ip="240e:398:1c90:9d00:5513:b9c9:650a:d9d2",
            user_agent="Mozilla/5.0 (Linux; Android 13)",
            device_ids=(
                ("androidid", "873541edf36da9170af47d5b69e82193"),
                ("oaid", "97e7ef3f-e5f2-d0b8-ccfc-f79bbeaf4841"),
            ),
            callback=OCEAN_CALLBACK,
            extra=(("os", "0"), ("request_id", "20231115103000A1B2C3D4E5F6")),
        ),
        id="ocean-click",
    ),
    pytest.param(
        "generic",
        "click",
        GENERIC_CLICK_CALLED,
        AdTouch(
            kind="click",
            platform="generic",
            click_id="kol-7f3a9c21",
            account_id="brand_01",
            campaign_id="spring_sale",
            adgroup_id="kol_group_3",
            ad_id="post_118",
            creative_id="video_b",
            touch_time=datetime(2024, 5, 1, 0, 30, tzinfo=UTC),
            ip="203.0.113.7",
            user_agent="Mozilla/5.0",
            callback="https://partner.example.net/postback?id=kol-7f3a9c21",
            extra=(("utm_source", "kol_weibo"),),
        ),
        id="generic-click",
    ),
]


@pytest.mark.parametrize(("platform", "kind", "url", "expected"), EXAMPLES)
def test_documented_call_parses_to_the_expected_touch(platform: str, kind: str, url: str, expected: AdTouch) -> None:
    assert touch(platform, kind, query(url)) == expected


@pytest.mark.parametrize(
    "url",
    [
        TENCENT_CLICK_PASTED,
        TENCENT_CLICK_CALLED,
        TENCENT_IMPRESSION_PASTED,
        TENCENT_IMPRESSION_CALLED,
        OCEAN_CLICK_PASTED,
        OCEAN_CLICK_CALLED,
        GENERIC_CLICK_PASTED,
        GENERIC_CLICK_CALLED,
    ],
)
def test_example_urls_are_the_ones_in_the_docs(url: str) -> None:
    assert url in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("platform", "url"),
    [("tencent_ads", TENCENT_CLICK_PASTED), ("ocean_engine", OCEAN_CLICK_PASTED), ("generic", GENERIC_CLICK_PASTED)],
)
def test_a_pasted_click_link_opened_unfilled_has_no_click_id(platform: str, url: str) -> None:
    assert error(platform, "click", query(url)).field == "click_id"


def test_a_pasted_impression_link_opened_unfilled_is_an_empty_impression() -> None:
    assert touch("tencent_ads", "impression", query(TENCENT_IMPRESSION_PASTED)) == AdTouch(
        kind="impression", platform="tencent_ads", click_id=""
    )


def test_the_documented_results_are_what_the_docs_say() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for fragment in (
        "touch_time=2020-04-09T13:02:42Z",
        "touch_time=2023-11-15T02:30:00.123Z",
        "touch_time=2024-05-01T00:30:00Z",
        f'callback="{TENCENT_CALLBACK}"',
    ):
        assert fragment in docs


# --- missing values and unfilled macros -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "__CLICKID__",
        "__CLICK_ID__",
        "__GDT_VID__",
        "__X9__",
        "{clickid}",
        "{{clickid}}",
        "{{ click_id }}",
        "${clickid}",
        "%7Bclickid%7D",
        "%7bclickid%7d",
        "null",
        "undefined",
        "NULL",
        "none",
        "None",
        "nil",
        "\u200b",
        "\x00\t\n",
    ],
)
@pytest.mark.parametrize(
    ("platform", "name"), [("generic", "click_id"), ("tencent_ads", "click_id"), ("ocean_engine", "clickid")]
)
def test_empty_values_and_macros_are_missing_not_values(platform: str, name: str, value: str) -> None:
    assert error(platform, "click", {name: value}).field == "click_id"


def test_a_macro_inside_a_longer_value_is_a_value() -> None:
    assert touch("generic", "click", {"click_id": "a__CLICK_ID__"}).click_id == "a__CLICK_ID__"


def test_unfilled_optional_fields_are_empty() -> None:
    got = touch(
        "tencent_ads",
        "click",
        {"click_id": "c1", "campaign_id": "__CAMPAIGN_ID__", "ip": "__IP__", "callback": "{callback}", "muid": ""},
    )
    assert (got.campaign_id, got.ip, got.callback, got.device_ids, got.extra) == ("", "", "", (), ())


def test_values_are_trimmed_and_control_characters_removed() -> None:
    got = touch("generic", "click", {"click_id": "  ab\u200bc\x07 ", "campaign_id": "\tspring\u2028 sale\n"})
    assert got.click_id == "abc"
    assert got.campaign_id == "spring\u2028 sale"  # a line separator is not a control character: kept


def test_parameter_names_are_case_insensitive_and_the_first_non_empty_wins() -> None:
    got = touch(
        "tencent_ads",
        "click",
        {"Click_ID": "", "CLICK_ID": "c1", "click_id": "c2", "Click_Time": "1586437362", "CallBack": "cb"},
    )
    assert (got.click_id, got.touch_time, got.callback) == ("c1", datetime(2020, 4, 9, 13, 2, 42, tzinfo=UTC), "cb")


# --- click ids per platform -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "click_id", "ad_id"),
    [
        ({"gdt_vid": "wx03uxqfwz22ubsa00"}, "wx03uxqfwz22ubsa00", ""),
        ({"qz_gdt": "qz1"}, "qz1", ""),
        ({"weixinadinfo": "13262845.wx03uxqfwz22ubsa00.0.1"}, "wx03uxqfwz22ubsa00", "13262845"),
        ({"click_id": "c1", "gdt_vid": "g1", "qz_gdt": "q1"}, "c1", ""),
        ({"click_id": "__CLICK_ID__", "gdt_vid": "g1"}, "g1", ""),
        ({"gdt_vid": "g1", "weixinadinfo": "1.w.0.1", "ad_id": "a9"}, "g1", "a9"),
        ({"gdt_vid": "g1", "weixinadinfo": "1.w.0.1"}, "g1", "1"),
    ],
)
def test_tencent_click_id_names_mirror_the_sdk(params: dict[str, str], click_id: str, ad_id: str) -> None:
    got = touch("tencent_ads", "click", params)
    assert (got.click_id, got.ad_id) == (click_id, ad_id)


def test_a_weixinadinfo_without_a_click_segment_is_no_click_id() -> None:
    assert error("tencent_ads", "click", {"weixinadinfo": "13262845"}).field == "click_id"


def test_tencent_impressions_use_the_impression_id_not_a_click_id() -> None:
    got = touch("tencent_ads", "impression", {"impression_id": "i1", "click_id": "c1", "impression_time": "1586437361"})
    assert (got.click_id, got.touch_time) == ("i1", datetime(2020, 4, 9, 13, 2, 41, tzinfo=UTC))
    assert touch("tencent_ads", "impression", {"click_id": "c1"}).click_id == ""


@pytest.mark.parametrize(
    ("params", "click_id", "callback"),
    [
        ({"clickid": "k1", "callback_param": "cb"}, "k1", "cb"),
        ({"click_id": "k2", "callback_param": "cb"}, "k2", "cb"),
        ({"clickid": "k1", "click_id": "k2"}, "k1", ""),
        ({"callback_param": "cb"}, "cb", "cb"),
        ({"callback": "cb2"}, "cb2", "cb2"),
        ({"callback_param": "cb", "callback": "cb2"}, "cb", "cb"),
        (
            {"callback_url": "https://ad.oceanengine.com/track/activate/?callback=EJiw%3D%3D&os=0&muid=m"},
            "EJiw==",
            "EJiw==",
        ),
        ({"callback_param": "__CALLBACK_PARAM__", "callback_url": "https://x.example/a?Callback=c3"}, "c3", "c3"),
    ],
)
def test_ocean_engine_click_id_and_callback(params: dict[str, str], click_id: str, callback: str) -> None:
    got = touch("ocean_engine", "click", params)
    assert (got.click_id, got.callback) == (click_id, callback)


@pytest.mark.parametrize(
    "callback_url",
    ["https://ad.oceanengine.com/track/activate/?os=0", "not a url", "http://[::1/x?callback=c", "__CALLBACK_URL__"],
)
def test_a_callback_url_without_a_callback_gives_no_click_id(callback_url: str) -> None:
    assert error("ocean_engine", "click", {"callback_url": callback_url}).field == "click_id"


def test_ocean_engine_impressions_have_no_id_but_keep_the_callback() -> None:
    got = touch("ocean_engine", "impression", {"callback_param": "cb", "ts": "1700015400123", "promotion_id": "p"})
    assert (got.click_id, got.callback, got.ad_id) == ("", "cb", "p")


def test_ocean_engine_old_and_new_ad_levels() -> None:
    old = touch("ocean_engine", "click", {"clickid": "k", "campaign_id": "c", "aid": "a", "cid": "cr"})
    new = touch(
        "ocean_engine",
        "click",
        {"clickid": "k", "project_id": "pj", "campaign_id": "c", "promotion_id": "pr", "aid": "a"},
    )
    assert (old.campaign_id, old.ad_id, old.creative_id) == ("c", "a", "cr")
    assert (new.campaign_id, new.ad_id) == ("pj", "pr")


def test_generic_accepts_the_canonical_names() -> None:
    got = touch(
        "generic",
        "impression",
        {"impression_id": "i1", "touch_time": "1714523400", "user_agent": "UA", "oaid": "o1", "hash_android_id": "h"},
    )
    assert (got.click_id, got.touch_time, got.user_agent) == ("i1", datetime(2024, 5, 1, 0, 30, tzinfo=UTC), "UA")
    assert got.device_ids == (("hash_android_id", "h"), ("oaid", "o1"))


def test_post_json_numbers_are_read_as_their_text() -> None:
    got = touch("generic", "click", {"click_id": 123456789, "ts": 1714523400, "account_id": 42, "flag": True})
    assert (got.click_id, got.account_id, got.touch_time) == (
        "123456789",
        "42",
        datetime(2024, 5, 1, 0, 30, tzinfo=UTC),
    )
    assert got.extra == ()  # a boolean is not a parameter value


def test_float_epoch_from_json() -> None:
    assert touch("generic", "click", {"click_id": "c", "ts": 1714523400.5}).touch_time == datetime(
        2024, 5, 1, 0, 30, 0, 500_000, tzinfo=UTC
    )


# --- times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1714523400", datetime(2024, 5, 1, 0, 30, tzinfo=UTC)),
        ("1714523400123", datetime(2024, 5, 1, 0, 30, 0, 123_000, tzinfo=UTC)),
        ("1714523400.25", datetime(2024, 5, 1, 0, 30, 0, 250_000, tzinfo=UTC)),
        ("1714523400123.5", datetime(2024, 5, 1, 0, 30, 0, 123_500, tzinfo=UTC)),
        ("946684800", datetime(2000, 1, 1, tzinfo=UTC)),
        ("946684800000", datetime(2000, 1, 1, tzinfo=UTC)),
        ("2024-05-01T08:30:00+08:00", datetime(2024, 5, 1, 0, 30, tzinfo=UTC)),
        ("2024-05-01T00:30:00Z", datetime(2024, 5, 1, 0, 30, tzinfo=UTC)),
        ("2024-05-01 00:30:00.123456+00:00", datetime(2024, 5, 1, 0, 30, 0, 123_456, tzinfo=UTC)),
    ],
)
def test_epoch_seconds_milliseconds_and_iso(value: str, expected: datetime) -> None:
    got = touch("generic", "click", {"click_id": "c", "ts": value}).touch_time
    assert got == expected
    assert got is not None and got.utcoffset() == timedelta(0)


def test_seconds_and_milliseconds_of_the_same_moment_agree_on_every_platform() -> None:
    seconds = touch("tencent_ads", "click", {"click_id": "c", "click_time": "1700015400"}).touch_time
    millis = touch("ocean_engine", "click", {"clickid": "c", "ts": "1700015400000"}).touch_time
    assert seconds == millis == datetime(2023, 11, 15, 2, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("platform", "params", "field"),
    [
        ("generic", {"ts": "yesterday"}, "ts"),
        ("generic", {"touch_time": "17145234OO"}, "touch_time"),
        ("generic", {"ts": "-1714523400"}, "ts"),
        ("generic", {"ts": "1e9"}, "ts"),
        ("generic", {"ts": "2024-05-01T08:30:00"}, "ts"),  # ISO without an offset
        ("generic", {"ts": "2024-05-01"}, "ts"),
        ("generic", {"ts": "2024-13-01T00:00:00Z"}, "ts"),
        ("generic", {"ts": "0001-01-01T00:00:00+01:00"}, "ts"),
        ("generic", {"ts": "9" * 21}, "ts"),
        ("tencent_ads", {"click_time": "2024-05-01T08:30:00+08:00"}, "click_time"),  # ISO is for generic only
        ("tencent_ads", {"click_time": "abc"}, "click_time"),
        ("ocean_engine", {"ts": "1714523400,5"}, "ts"),
    ],
)
def test_an_unparseable_time_is_an_error_naming_the_parameter(
    platform: str, params: dict[str, str], field: str
) -> None:
    exc = error(platform, "click", {"click_id": "c", "clickid": "c", **params})
    assert exc.field == field
    assert exc.message


@pytest.mark.parametrize(
    "value",
    [
        "946684799",  # 1999-12-31T23:59:59Z
        "0",
        "100000000000",  # 1e11 read as milliseconds: 1973
        "1999-12-31T23:59:59Z",
        str(int((NOW + timedelta(days=1, seconds=1)).timestamp())),
        str(int((NOW + timedelta(days=1, milliseconds=1)).timestamp() * 1000)),
        "99999999999",  # seconds in the year 5138
        "4102444800000",  # 2100 in milliseconds
        "9999-12-31T23:59:59+00:00",
    ],
)
def test_a_time_before_2000_or_over_a_day_ahead_is_an_error(value: str) -> None:
    exc = error("generic", "click", {"click_id": "c", "ts": value})
    assert exc.field == "ts"
    assert "2000" in exc.message


def test_a_time_up_to_a_day_ahead_is_accepted() -> None:
    edge = NOW + timedelta(days=1)
    assert touch("generic", "click", {"click_id": "c", "ts": str(int(edge.timestamp()))}).touch_time == edge


def test_without_now_the_current_time_bounds_the_future() -> None:
    assert parse_touch("generic", "click", {"click_id": "c", "ts": "1714523400"}).touch_time is not None
    with pytest.raises(WebhookInputError):
        parse_touch("generic", "click", {"click_id": "c", "ts": str(10**11 * 100)})


def test_a_missing_time_is_none() -> None:
    assert touch("tencent_ads", "click", {"click_id": "c", "click_time": "__CLICK_TIME__"}).touch_time is None


# --- bounds -----------------------------------------------------------------------------------------


def test_a_click_id_at_the_bound_is_kept_and_over_it_is_an_error_not_a_truncation() -> None:
    assert touch("generic", "click", {"click_id": "x" * MAX_ID_LENGTH}).click_id == "x" * MAX_ID_LENGTH
    exc = error("tencent_ads", "click", {"gdt_vid": "x" * (MAX_ID_LENGTH + 1)})
    assert exc.field == "gdt_vid"
    assert str(MAX_ID_LENGTH) in exc.message


def test_an_over_long_impression_id_is_an_error() -> None:
    assert error("tencent_ads", "impression", {"impression_id": "i" * 129}).field == "impression_id"


def test_an_over_long_callback_is_an_error() -> None:
    ok = touch("tencent_ads", "click", {"click_id": "c", "callback": "c" * MAX_CALLBACK_LENGTH})
    assert len(ok.callback) == MAX_CALLBACK_LENGTH
    assert error("tencent_ads", "click", {"click_id": "c", "callback": "c" * 1025}).field == "callback"


def test_an_ocean_callback_too_long_to_be_a_click_id_is_an_error_naming_it() -> None:
    exc = error("ocean_engine", "click", {"callback_param": "c" * 200})
    assert exc.field == "callback_param"


def test_other_values_are_cut_to_their_bounds() -> None:
    got = touch(
        "generic",
        "click",
        {
            "click_id": "c",
            "campaign_id": "k" * 300,
            "ua": "u" * 2000,
            "oaid": "o" * 300,
            "note": "n" * 1000,
        },
    )
    assert got.campaign_id == "k" * MAX_ID_LENGTH
    assert got.user_agent == "u" * MAX_USER_AGENT_LENGTH
    assert got.device_ids == (("oaid", "o" * MAX_ID_LENGTH),)
    assert got.extra == (("note", "n" * MAX_EXTRA_VALUE_LENGTH),)


def test_extra_is_bounded_sorted_and_never_carries_our_own_names() -> None:
    params: dict[str, object] = {f"p{i:02d}": str(i) for i in range(40)}
    params.update(
        {
            "click_id": "c",
            "token": "secret-token-123456",
            "integration_id": "spoof",
            "device_ids": "spoof",
            "kind": "spoof",
            "bad name": "x",
            "Ümlaut": "x",
            "x" * 65: "too long a name",
        }
    )
    got = touch("generic", "click", params)
    assert len(got.extra) == MAX_EXTRA_KEYS
    assert got.extra == tuple((f"p{i:02d}", str(i)) for i in range(MAX_EXTRA_KEYS))


def test_the_token_is_never_kept() -> None:
    got = touch("ocean_engine", "click", {"clickid": "c", "token": "tok_8e1d0b6a4c2f9e73", "TOKEN": "t"})
    assert all("tok_" not in value for _, value in got.extra)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("183.226.102.120", "183.226.102.120"),
        ("240e:398:1c90:9d00:5513:b9c9:650a:d9d2", "240e:398:1c90:9d00:5513:b9c9:650a:d9d2"),
        ("999.1.1.1", ""),
        ("localhost", ""),
        ("1.2.3.4, 5.6.7.8", ""),
        ("[::1]", ""),
    ],
)
def test_an_ip_that_is_not_an_address_is_dropped(value: str, kept: str) -> None:
    assert touch("generic", "click", {"click_id": "c", "ip": value}).ip == kept


@pytest.mark.parametrize(
    "value",
    [
        "00000000-0000-0000-0000-000000000000",
        "0",
        "D41D8CD98F00B204E9800998ECF8427E",
        "cfcd208495d565ef66e7dff9f98764da",
    ],
)
def test_device_ids_that_mean_none_are_dropped(value: str) -> None:
    got = touch("ocean_engine", "click", {"clickid": "c", "idfa": value, "imei": value, "oaid": "real"})
    assert got.device_ids == (("oaid", "real"),)


# --- platform and kind --------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", ["kuaishou", "", "Tencent_Ads", None, 3])
def test_an_unknown_platform_is_an_error(platform: object) -> None:
    with pytest.raises(WebhookInputError) as caught:
        parse_touch(platform, "click", {"click_id": "c"}, now=NOW)  # type: ignore[arg-type]
    assert caught.value.field == "platform"


@pytest.mark.parametrize("kind", ["conversion", "", "Click", None])
def test_an_unknown_kind_is_an_error(kind: object) -> None:
    with pytest.raises(WebhookInputError) as caught:
        parse_touch("generic", kind, {"click_id": "c"}, now=NOW)  # type: ignore[arg-type]
    assert caught.value.field == "kind"


def test_the_error_is_the_collectors_400_invalid_parameters_with_field_and_reason() -> None:
    exc = error("generic", "click", {})
    assert isinstance(exc, MalformedBody)
    assert (exc.status, exc.code, exc.retriable) == (400, "invalid_parameters", False)
    assert exc.field == "click_id"
    assert "click id" in exc.reason
    assert exc.message == str(exc) == f"click_id: {exc.reason}"


def test_a_mapping_that_is_not_one_is_no_parameters() -> None:
    assert error("generic", "click", ["click_id", "c"]).field == "click_id"  # type: ignore[arg-type]


def test_only_the_first_parameters_are_read() -> None:
    params: dict[str, object] = {f"p{i}": "v" for i in range(300)}
    params["click_id"] = "c"
    assert error("generic", "click", params).field == "click_id"


# --- arbitrary input ----------------------------------------------------------------------------------

_NAMES = sorted(
    {
        "click_id",
        "clickid",
        "gdt_vid",
        "qz_gdt",
        "weixinadinfo",
        "impression_id",
        "click_time",
        "impression_time",
        "ts",
        "touch_time",
        "timestamp",
        "account_id",
        "advertiser_id",
        "campaign_id",
        "project_id",
        "adgroup_id",
        "ad_id",
        "aid",
        "promotion_id",
        "creative_id",
        "dynamic_creative_id",
        "cid",
        "ip",
        "ua",
        "user_agent",
        "callback",
        "callback_param",
        "callback_url",
        "muid",
        "oaid",
        "idfa",
        "androidid",
        "imei",
        "token",
        "Click_ID",
    }
)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789.-:TZ+ ", max_size=25),
    st.sampled_from(
        [
            "__CLICK_ID__",
            "{clickid}",
            "%7Bx%7D",
            "1586437362",
            "1700015400123",
            "2024-05-01T08:30:00+08:00",
            "13262845.wx03.0.1",
            "https://a.example/x?callback=cb",
            "http://[::1",
            "0",
            "null",
            "\x00",
            "x" * 200,
            "c" * 1100,
            "9" * 25,
            "1.5e+20",
        ]
    ),
)
_ANY_VALUE = st.one_of(
    _VALUES, st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)
)


def _check(got: AdTouch, kind: str) -> None:
    assert got.kind == kind
    assert len(got.click_id) <= MAX_ID_LENGTH
    assert got.kind == "impression" or got.click_id
    for value in (got.account_id, got.campaign_id, got.adgroup_id, got.ad_id, got.creative_id):
        assert len(value) <= MAX_ID_LENGTH
        assert value == value.strip()
    assert len(got.user_agent) <= MAX_USER_AGENT_LENGTH
    assert len(got.callback) <= MAX_CALLBACK_LENGTH
    assert len(got.extra) <= MAX_EXTRA_KEYS
    assert all(len(value) <= MAX_EXTRA_VALUE_LENGTH for _, value in got.extra)
    assert "token" not in dict(got.extra)
    if got.touch_time is not None:
        assert got.touch_time.utcoffset() == timedelta(0)
        assert datetime(2000, 1, 1, tzinfo=UTC) <= got.touch_time <= NOW + timedelta(days=1)


@settings(max_examples=400, deadline=None)
@given(
    platform=st.sampled_from(PLATFORMS),
    kind=st.sampled_from(KINDS),
    params=st.dictionaries(st.one_of(st.sampled_from(_NAMES), st.text(max_size=12)), _VALUES, max_size=12),
)
def test_arbitrary_string_maps_give_a_touch_or_a_webhook_input_error(
    platform: str, kind: str, params: dict[str, str]
) -> None:
    try:
        got = parse_touch(platform, kind, params, now=NOW)
    except WebhookInputError as exc:
        assert exc.field
        assert exc.message
    else:
        _check(got, kind)


@settings(max_examples=200, deadline=None)
@given(
    platform=st.one_of(st.sampled_from(PLATFORMS), st.text(max_size=12)),
    kind=st.one_of(st.sampled_from(KINDS), st.text(max_size=12)),
    params=st.dictionaries(
        st.one_of(st.sampled_from(_NAMES), st.text(max_size=12), st.integers()), _ANY_VALUE, max_size=12
    ),
)
def test_arbitrary_json_like_input_never_raises_anything_else(
    platform: str, kind: str, params: dict[object, object]
) -> None:
    try:
        got = parse_touch(platform, kind, params, now=NOW)  # type: ignore[arg-type]
    except WebhookInputError:
        pass
    else:
        _check(got, kind)
