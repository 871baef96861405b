"""Ad-platform webhooks: click and impression monitoring links (监测链接) from Tencent Ads, Ocean Engine and others.

`macros` is the table of which parameter feeds which field per platform, `platforms` turns a platform's
parameters into an `AdTouch` (pure), `signing` verifies signed calls, `events` builds the ad-touch event and
`routes` serves `/v1/webhooks/{integration_id}/{click|impression}`. See docs/webhooks.md.
"""
