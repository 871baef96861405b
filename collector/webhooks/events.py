"""From a verified ad-platform call to the event the stream processor joins with the SDK's visits. Pure."""

from __future__ import annotations

from datetime import datetime

from collector.auth import Integration
from collector.webhooks.platforms import AdTouch
from schemas.events import format_timestamp
from schemas.records import AdTouchEvent


def ad_touch_event(touch: AdTouch, integration: Integration, received_at: datetime) -> AdTouchEvent:
    """The canonical ad-touch event. Its id is derived from the click id, so the same click twice counts once
    (the processor drops repeated event ids; the journey engine drops repeated click ids)."""
    touch_time = touch.touch_time or received_at
    event_time = min(touch_time, received_at)  # a platform clock ahead of ours never puts a touch in the future
    touch_id = touch.click_id or f"{touch.ad_id}:{format_timestamp(touch_time)}"
    return {
        "event_id": f"{integration.integration_id}:{touch.kind}:{touch_id}"[:200],
        "type": "ad_click" if touch.kind == "click" else "ad_impression",
        "app_id": integration.app_id,
        "anonymous_id": "",
        "timestamp": format_timestamp(touch_time),
        "sent_at": None,
        "received_at": format_timestamp(received_at),
        "event_time": format_timestamp(event_time),
        "clock_corrected": False,
        "clock_clamped": event_time != touch_time,
        "click_id": touch.click_id,
        "platform": touch.platform,
        "channel": integration.channel,
        "channel_type": integration.channel_type,
        "campaign": touch.campaign_id or touch.adgroup_id,  # Tencent v3.0 ads have no campaign level
        "creative": touch.creative_id or touch.ad_id,
        "ip": touch.ip,
        "user_agent": touch.user_agent,
        "openid": touch.openid,  # the clicking person, when the platform says: the click id is theirs
        "context": {},
        "properties": {
            "integration_id": integration.integration_id,
            "account_id": touch.account_id,
            "adgroup_id": touch.adgroup_id,
            "ad_id": touch.ad_id,
            "callback": touch.callback,
            "device_ids": dict(touch.device_ids),
            **dict(touch.extra),
        },
    }
