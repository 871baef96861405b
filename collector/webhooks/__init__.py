"""Ad-platform webhooks: click and impression monitoring links (监测链接) from Tencent Ads, Ocean Engine and others.

`platforms` turns a platform's parameters into an `AdTouch` (pure), `signing` verifies signed calls, `events`
builds the ad-touch event and `routes` serves `/v1/webhooks/{integration_id}/{click|impression}`. See
docs/webhooks.md.
"""
