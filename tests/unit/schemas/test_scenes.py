"""Scene values per platform: what each platform's rule accepts, the one text it is stored as, and the error.

Golden values come from the platforms' scene tables (docs/channels.md): WeChat 1007, Alipay "1000" and "0000",
Douyin "021001" (host prefix 02 = Douyin), Baidu "10810008" (natural search result), "NA" and "WEB".
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from schemas.context import Context
from schemas.events import EVENT_ADAPTER
from schemas.problems import error_details
from schemas.scenes import SceneError, check_scene, scene_text


@pytest.mark.parametrize(
    ("platform", "sent", "stored"),
    [
        ("wechat", 1007, "1007"),
        ("wechat", "1007", "1007"),  # the same scene, whichever spelling the SDK uses
        ("wechat", 1000, "1000"),
        ("wechat", 9999, "9999"),
        ("alipay", "1000", "1000"),
        ("alipay", "0000", "0000"),  # Alipay's "other channels": four zeros, kept as text
        ("douyin", "021001", "021001"),
        ("douyin", "023001", "023001"),
        ("baidu", "10810008", "10810008"),
        ("baidu", "NA", "NA"),
        ("baidu", "WEB", "WEB"),
    ],
)
def test_a_valid_scene_is_kept_as_its_platforms_text(platform: str, sent: Any, stored: str) -> None:
    assert Context.model_validate({"platform": platform, "scene": sent}).scene == stored
    assert check_scene(platform, sent) == stored


@pytest.mark.parametrize(
    ("platform", "sent", "rule"),
    [
        ("wechat", 999, "wechat scenes are integers 1000..9999"),
        ("wechat", 10000, "wechat scenes are integers 1000..9999"),
        ("wechat", "0999", "wechat scenes are integers 1000..9999"),
        ("wechat", "1007 ", "wechat scenes are integers 1000..9999"),
        ("wechat", True, "wechat scenes are integers 1000..9999"),
        ("wechat", 1007.0, "wechat scenes are integers 1000..9999"),
        ("alipay", 1000, "alipay scenes are 4-digit strings"),  # an integer would turn "0000" into 0
        ("alipay", "100", "alipay scenes are 4-digit strings"),
        ("douyin", 21001, "douyin scenes are 6-digit strings with leading zeros"),  # the prefix is lost
        ("douyin", "21001", "douyin scenes are 6-digit strings with leading zeros"),
        ("douyin", "0210011", "douyin scenes are 6-digit strings with leading zeros"),
        ("baidu", "1081000", "baidu scenes are 8-digit strings"),
        ("baidu", "na", "baidu scenes are 8-digit strings"),
        ("baidu", 10810008, "baidu scenes are 8-digit strings"),
        ("web", "1007", "platform web has no scene value"),
        ("web", 1007, "platform web has no scene value"),
    ],
)
def test_a_wrong_scene_is_an_error_naming_its_platforms_rule(platform: str, sent: Any, rule: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Context.model_validate({"platform": platform, "scene": sent})
    [detail] = error_details(caught.value)
    assert detail["field"] == "scene"
    assert detail["code"] == "scene_invalid"
    assert detail["message"].startswith(rule)
    assert detail["message"].endswith(f"; got {sent!r}")
    with pytest.raises(SceneError, match=rule.split(" ")[0]):
        check_scene(platform, sent)


def test_a_wechat_number_is_not_valid_on_another_platform_and_vice_versa() -> None:
    # Alipay and WeChat share 4-digit numbers, but only WeChat's may travel as JSON integers.
    assert Context.model_validate({"scene": 1007}).scene == "1007"  # platform defaults to wechat
    with pytest.raises(ValidationError):
        Context.model_validate({"platform": "alipay", "scene": 1007})
    with pytest.raises(ValidationError):
        Context.model_validate({"platform": "wechat", "scene": "021001"})


def test_an_event_with_a_douyin_scene_dumps_it_as_the_same_text() -> None:
    raw = (b'{"event_id": "e1", "type": "enter", "timestamp": 1714550400123, "anonymous_id": "d1",'
           b' "context": {"platform": "douyin", "scene": "021001"}}')
    event = EVENT_ADAPTER.validate_json(raw)
    dumped = EVENT_ADAPTER.dump_python(event, mode="json")
    assert dumped["context"]["scene"] == "021001"
    assert dumped["context"]["platform"] == "douyin"


def test_a_bad_scene_on_an_invalid_platform_reports_the_platform() -> None:
    with pytest.raises(ValidationError) as caught:
        Context.model_validate({"platform": "kuaishou", "scene": "021001"})
    assert "platform" in [d["field"] for d in error_details(caught.value)]


@pytest.mark.parametrize(("value", "text"), [(1007, "1007"), ("1007", "1007"), ("021001", "021001"),
                                             (None, ""), (True, ""), (1.5, "")])
def test_scene_text_reads_old_integer_records_and_new_text_records_alike(value: object, text: str) -> None:
    assert scene_text(value) == text
