"""Which parameter of each ad platform's monitoring link fills which field of an `AdTouch`: the one table.

The operator pastes a monitoring link whose query names each value after one of these parameters and has the
platform fill it with a macro (``click_id=__CLICK_ID__``); the platform then calls the link with the macros
filled in. Names are lower-case and in priority order: the first one with a value wins. The comment beside a
name is the macro it is usually filled with; which macros are official, samples and example links are in
docs/webhooks.md. A parameter in no row of its platform ends up in the touch's ``extra``.

Pure data, stdlib only. The parsing is collector/webhooks/platforms.py; what an unfilled macro looks like (a value
that is no value) is schemas/macros.py. The landing-page click ids of tencent_ads and ocean_engine are also in
the stream's stream/channels/taxonomy.json; tests/unit/collector/webhooks/test_click_ids_agree.py keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Platform = Literal["generic", "tencent_ads", "ocean_engine"]
PLATFORMS: tuple[Platform, ...] = get_args(Platform)
TouchKind = Literal["click", "impression"]
KINDS: tuple[TouchKind, ...] = get_args(TouchKind)


@dataclass(frozen=True, slots=True)
class SegmentedId:
    """A parameter that packs several ids into one value, e.g. Tencent's ``weixinadinfo``,
    ``<ad id>.<click id>.0.<n>``: the click id is one segment, the ad id (a fallback) another."""

    param: str
    separator: str
    click_id_segment: int
    ad_id_segment: int | None = None


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """Which parameter names feed each `AdTouch` field for one platform."""

    click_ids: tuple[str, ...]
    impression_ids: tuple[str, ...]
    click_times: tuple[str, ...]
    impression_times: tuple[str, ...]
    account_id: tuple[str, ...]
    campaign_id: tuple[str, ...]
    adgroup_id: tuple[str, ...]
    ad_id: tuple[str, ...]
    creative_id: tuple[str, ...]
    ip: tuple[str, ...]
    user_agent: tuple[str, ...]
    callback: tuple[str, ...]
    device_ids: tuple[str, ...]
    # Tried for a click after every name of `click_ids` (and for the ad id after every name of `ad_id`).
    segmented_click_ids: tuple[SegmentedId, ...] = ()
    # URLs whose own `callback` query parameter is the callback (Ocean Engine's callback_url).
    callback_urls: tuple[str, ...] = ()
    # The callback doubles as the click id when no click id parameter was sent (Ocean Engine).
    click_id_from_callback: bool = False
    # Times may also be ISO 8601 with an offset, not only epoch seconds or milliseconds.
    iso_times: bool = False
    # The clicking person's mini-program openid, where the platform passes it: the click id is then theirs.
    openid: tuple[str, ...] = ()

    def names(self, kind: TouchKind) -> frozenset[str]:
        """Every parameter this platform reads for a call of ``kind``: none of them is copied into ``extra``."""
        segmented = tuple(s.param for s in self.segmented_click_ids)
        ids = (*self.click_ids, *segmented) if kind == "click" else self.impression_ids
        times = self.click_times if kind == "click" else self.impression_times
        return frozenset(
            (
                *ids,
                *times,
                *self.account_id,
                *self.campaign_id,
                *self.adgroup_id,
                *self.ad_id,
                *self.creative_id,
                *self.ip,
                *self.user_agent,
                *self.callback,
                *self.device_ids,
                *self.callback_urls,
                *self.openid,
            )
        )


SPECS: Mapping[str, PlatformSpec] = {
    # Any other source (another network, an MMP relay, our own ad server) sends our canonical names.
    "generic": PlatformSpec(
        click_ids=("click_id", "clickid"),
        impression_ids=("impression_id",),
        click_times=("ts", "touch_time", "timestamp"),
        impression_times=("ts", "touch_time", "timestamp"),
        account_id=("account_id",),
        campaign_id=("campaign_id",),
        adgroup_id=("adgroup_id",),
        ad_id=("ad_id",),
        creative_id=("creative_id",),
        ip=("ip",),
        user_agent=("ua", "user_agent"),
        callback=("callback",),
        device_ids=("muid", "oaid", "oaid_md5", "hash_oaid", "idfa", "imei", "android_id", "hash_android_id", "caid"),
        iso_times=True,
        openid=("openid",),
    ),
    "tencent_ads": PlatformSpec(
        # click_id ← __CLICK_ID__; gdt_vid, qz_gdt: landing-page names, accepted to mirror the SDK side.
        click_ids=("click_id", "gdt_vid", "qz_gdt"),
        segmented_click_ids=(SegmentedId("weixinadinfo", ".", click_id_segment=1, ad_id_segment=0),),
        impression_ids=("impression_id",),  # ← __IMPRESSION_ID__
        click_times=("click_time",),  # ← __CLICK_TIME__, epoch seconds
        impression_times=("impression_time",),  # ← __IMPRESSION_TIME__
        account_id=("account_id", "advertiser_id"),  # ← __ACCOUNT_ID__; advertiser_id: the legacy appended name
        campaign_id=("campaign_id",),  # ← __CAMPAIGN_ID__ (old-version ads only)
        adgroup_id=("adgroup_id",),  # ← __ADGROUP_ID__ (in v3.0 ads, the ad id)
        ad_id=("ad_id",),  # ← __AD_ID__ (old-version ads only)
        creative_id=("dynamic_creative_id", "creative_id"),  # ← __DYNAMIC_CREATIVE_ID__; creative_id: legacy name
        ip=("ip",),  # ← __IP__
        user_agent=("user_agent", "ua"),  # ← __USER_AGENT__
        callback=("callback",),  # ← __CALLBACK__, a URL-encoded postback URL
        # muid ← __MUID__, hash_oaid ← __HASH_OAID__, oaid ← __OAID__, hash_android_id ← __HASH_ANDROID_ID__
        device_ids=("muid", "hash_oaid", "oaid", "hash_android_id", "android_id", "idfa", "caid"),
        # ← __WECHAT_OPEN_ID__ (WeChat ads; named in Tencent's public notes, to be confirmed in the ad console)
        openid=("wechat_openid",),
    ),
    "ocean_engine": PlatformSpec(
        click_ids=("clickid", "click_id"),  # no confirmed macro for monitoring links: else the callback (below)
        impression_ids=(),
        click_times=("ts",),  # ← __TS__, milliseconds
        impression_times=("ts",),
        account_id=("advertiser_id",),  # ← __ADVERTISER_ID__
        campaign_id=("project_id", "campaign_id"),  # ← __PROJECT_ID__ (upgraded ads); __CAMPAIGN_ID__ (old)
        adgroup_id=(),
        ad_id=("promotion_id", "aid"),  # ← __PROMOTION_ID__ (upgraded ads); __AID__ (old)
        creative_id=("cid",),  # ← __CID__
        ip=("ip",),  # ← __IP__
        user_agent=("ua", "user_agent"),  # ← __UA__
        callback=("callback_param", "callback"),  # ← __CALLBACK_PARAM__
        callback_urls=("callback_url",),  # ← __CALLBACK_URL__, parsed as text, never requested
        # imei ← __IMEI__, idfa ← __IDFA__, oaid ← __OAID__, oaid_md5 ← __OAID_MD5__, androidid ← __ANDROIDID__,
        # caid ← __CAID__, mac ← __MAC__, mac1 ← __MAC1__
        device_ids=(
            "imei",
            "idfa",
            "oaid",
            "oaid_md5",
            "androidid",
            "android_id",
            "caid",
            "caid1",
            "caid2",
            "mac",
            "mac1",
            "muid",
        ),
        click_id_from_callback=True,
    ),
}
