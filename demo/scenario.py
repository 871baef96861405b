"""The retail case of seed 000 (某零售小程序), as data: four channels, what each costs and returns, and how the
shoppers they bring behave. The generator (`demo.generator`) turns it into a month of traffic.

The seed's figures: 朋友圈广告 40% of acquisitions at 30 yuan each, ROI 1:2.5; 抖音推广 25%, 28 yuan, 1:3;
社群引流 20%, 12 yuan, 1:6; 线下扫码 15%, 15 yuan, 1:4.8; 7-day retention about 35%, repurchase rate about 12%.
"ROI 1:x" is revenue : spend (the report API's `roas`).

How each channel reaches the pipeline (docs/channels.md, stream/channels/taxonomy.json):

| channel | launch signals of the visit | reported as | spend known at |
|---|---|---|---|
| 朋友圈广告 | scene 1045, `gdt_vid` + `weixinadinfo`; the Tencent Ads click webhook | `wechat_moments_ads` | creative |
| 抖音推广 | scene 1069 (Douyin opens WeChat), `clickid`; the Ocean Engine click webhook | `douyin` | creative |
| 社群引流 | scene 1008, `utm_source=wechat&utm_medium=community&utm_campaign=group_NN` | `wechat` | channel |
| 线下扫码 | scene 1047 (mini-program code), `scene=utm_campaign%3Dstore_NN` | `qr_code` | campaign |
| friends' share cards (organic) | scene 1007/1008, `share_from`, context.share | `wechat_share` | – |

A visit through a click id resolves to the click's platform channel (`tencent_ads`, `ocean_engine`) until the
platform's click arrives; the click then names the integration's channel, which is why the demo app's
integrations carry `wechat_moments_ads` and `douyin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

EntryKind = Literal["tencent_ads", "ocean_engine", "community_link", "store_code", "share_card"]
SpendLevel = Literal["creative", "campaign", "channel", "none"]


@dataclass(frozen=True, slots=True)
class Creative:
    id: str
    weight: float  # share of the campaign's acquisitions
    cost_factor: float  # relative cost per acquisition within the channel (1.0 = the channel's CAC)


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    weight: float  # share of the channel's acquisitions
    creatives: tuple[Creative, ...]


@dataclass(frozen=True, slots=True)
class ChannelScenario:
    key: str  # the scenario's name for the channel
    label: str  # as the seed names it
    channel: str  # the taxonomy channel it is reported under
    entry: EntryKind
    acquisition_share: float  # of the four managed channels' acquisitions
    cac: float  # spend per acquisition (registration), CNY
    roi: float  # revenue : spend the case reports for it ("1:2.5" = 2.5)
    register_rate: float  # visitors who register in their first visit
    first_order_rate: float  # registered users who place a first order
    order_value: float  # mean revenue per order, CNY
    campaigns: tuple[Campaign, ...]
    spend_level: SpendLevel
    spend_source: str  # the `source` of its spend rows
    landing_rate: float = 1.0  # ad clicks followed by a visit (the rest close the landing before it opens)
    weekend_factor: float = 1.0  # Saturday and Sunday volume relative to a weekday
    open_hours: tuple[int, int] = (0, 24)  # local hours when its visitors arrive (stores open 9-21)
    return_share: float = 0.0  # of registered users' later visits that come back through this channel


@dataclass(frozen=True, slots=True)
class Scenario:
    app_id: str
    currency: str
    utc_offset_hours: int  # the shoppers' local time (China Standard Time) for daily rhythms
    acquisitions_per_day: float  # of the four managed channels together, at scale 1.0
    channels: tuple[ChannelScenario, ...]
    organic: ChannelScenario  # friends brought by share cards: no spend
    prior_visit_rate: float  # visitors who came once before through another channel (multi-touch journeys)
    activation_rate: float  # registered users who use a core feature (first coupon) right away
    same_visit_order_share: float  # first orders placed in the registering visit; the rest within days
    first_order_delay_hours: float  # mean delay of the other first orders
    repurchase_rate: float  # buyers who order again
    another_repurchase_rate: float  # repurchasers who order yet again
    repurchase_gap_days: tuple[float, float]
    retention_d1: float  # registered users active on day 1 after registering
    retention_d7: float  # ... on day 7 (the seed's 7-day retention)
    retention_floor: float  # the long-run daily activity the curve decays to
    share_rate: float  # registered users who share a card at some point
    friends_per_share: tuple[int, ...]  # drawn uniformly: how many friends open one share
    max_share_depth: int

    def channel(self, key: str) -> ChannelScenario:
        for spec in (*self.channels, self.organic):
            if spec.key == key:
                return spec
        msg = f"no channel {key!r} in the scenario"
        raise KeyError(msg)

    def active_probability(self, day: int) -> float:
        """Chance that a registered user visits again on day `day` (1 = the day after registering).

        floor + (d1 − floor)·exp(−(day − 1)/τ), with τ chosen so the curve passes through the seed's d7:
        τ = 6 / ln((d1 − floor) / (d7 − floor)).
        """
        if day < 1:
            return 0.0
        floor, d1, d7 = self.retention_floor, self.retention_d1, self.retention_d7
        tau = 6 / math.log((d1 - floor) / (d7 - floor))
        return floor + (d1 - floor) * math.exp(-(day - 1) / tau)


def _creatives(*items: tuple[str, float, float]) -> tuple[Creative, ...]:
    return tuple(Creative(i, w, f) for i, w, f in items)


# Order values: the case's revenue per acquisition is CAC × ROI (moments 30 × 2.5 = 75, douyin 28 × 3 = 84,
# community 12 × 6 = 72, stores 15 × 4.8 = 72). A registered user places first_order_rate × 1.06 orders inside a
# 30-day run on average (12% of buyers order again, a quarter of them twice, but the repeats of late buyers and
# a few late first orders fall after the run; 1.06 is the mean over seeds 1-8). Order value = CAC × ROI /
# (first_order_rate × 1.06): moments 75 / (0.55 × 1.06) = 128.6, douyin 84 / (0.60 × 1.06) = 132.1,
# community 72 / (0.75 × 1.06) = 90.6, stores 72 / (0.70 × 1.06) = 97.0.
MOMENTS: Final = ChannelScenario(
    key="moments", label="朋友圈广告", channel="wechat_moments_ads", entry="tencent_ads",
    acquisition_share=0.40, cac=30.0, roi=2.5, register_rate=0.35, first_order_rate=0.55, order_value=129.0,
    campaigns=(
        Campaign("mom_new_user_gift", 0.6,
                 _creatives(("mom_video_unboxing", 0.55, 0.85), ("mom_image_coupon", 0.45, 1.2))),
        Campaign("mom_weekend_sale", 0.4, _creatives(("mom_carousel_daily", 1.0, 1.0),)),
    ),
    spend_level="creative", spend_source="tencent_ads", landing_rate=0.85,
)
DOUYIN: Final = ChannelScenario(
    key="douyin", label="抖音推广", channel="douyin", entry="ocean_engine",
    acquisition_share=0.25, cac=28.0, roi=3.0, register_rate=0.30, first_order_rate=0.60, order_value=132.0,
    campaigns=(
        Campaign("dy_home_essentials", 0.7, _creatives(("dy_video_haul", 0.6, 0.8), ("dy_video_price", 0.4, 1.3))),
        Campaign("dy_live_promo", 0.3, _creatives(("dy_live_clip", 1.0, 1.0),)),
    ),
    spend_level="creative", spend_source="ocean_engine", landing_rate=0.8,
)
COMMUNITY: Final = ChannelScenario(
    key="community", label="社群引流", channel="wechat", entry="community_link",
    acquisition_share=0.20, cac=12.0, roi=6.0, register_rate=0.50, first_order_rate=0.75, order_value=91.0,
    campaigns=tuple(
        Campaign(f"group_{n:02d}", w, _creatives(("daily_deal", 0.7, 1.0), ("new_user_gift", 0.3, 1.0)))
        for n, w in ((1, 0.25), (2, 0.2), (3, 0.2), (4, 0.15), (5, 0.1), (6, 0.1))
    ),
    spend_level="channel", spend_source="manual", return_share=0.3,
)
STORES: Final = ChannelScenario(
    key="stores", label="线下扫码", channel="qr_code", entry="store_code",
    acquisition_share=0.15, cac=15.0, roi=4.8, register_rate=0.60, first_order_rate=0.70, order_value=97.0,
    campaigns=tuple(
        Campaign(f"store_{n:02d}", w, _creatives(("", 1.0, 1.0),))
        for n, w in ((1, 0.3), (2, 0.25), (3, 0.2), (4, 0.15), (5, 0.1))
    ),
    spend_level="campaign", spend_source="manual", weekend_factor=1.4, open_hours=(9, 21), return_share=0.1,
)
FRIENDS: Final = ChannelScenario(
    key="friends", label="好友分享", channel="wechat_share", entry="share_card",
    acquisition_share=0.0, cac=0.0, roi=0.0, register_rate=0.35, first_order_rate=0.6, order_value=90.0,
    campaigns=(), spend_level="none", spend_source="",
)

RETAIL: Final = Scenario(
    app_id="retail-demo",
    currency="CNY",
    utc_offset_hours=8,
    acquisitions_per_day=2000 / 30,  # ~2,000 registrations in a 30-day month
    channels=(MOMENTS, DOUYIN, COMMUNITY, STORES),
    organic=FRIENDS,
    prior_visit_rate=0.2,
    activation_rate=0.8,
    same_visit_order_share=0.45,
    first_order_delay_hours=30.0,
    repurchase_rate=0.12,
    another_repurchase_rate=0.25,
    repurchase_gap_days=(4.0, 14.0),
    retention_d1=0.52,
    retention_d7=0.35,
    retention_floor=0.2,
    share_rate=0.15,
    friends_per_share=(0, 1, 1, 2, 2),
    max_share_depth=3,
)
"""The case as the demo runs it."""
