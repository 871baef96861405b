"""Scene values (场景值) per mini-program platform: which text each platform sends, and its one canonical form.

Each platform numbers its launch entries differently, so a scene is text, checked by the rule of the event's
`context.platform` (docs/channels.md, "Scene values per platform", with the platforms' sources):

| platform | rule | example |
|---|---|---|
| wechat | integer 1000..9999, or the same number as a 4-digit string | `1007`, `"1007"` |
| alipay | 4-digit string (`options.scene` is a String; `"0000"` is "other channels") | `"1000"`, `"0000"` |
| douyin | 6-digit string: a 2-digit host prefix (`02` Douyin) and the entry id | `"021001"` |
| baidu | 8-digit string, or `NA` (no source) or `WEB` (Baidu's crawler) | `"10810008"`, `"NA"` |
| web | no scene | |

Only WeChat's scenes may be integers: a Douyin `021001` sent as the number 21001 has lost its host prefix, and
guessing it back would be inventing data. Pure and stdlib only: the collector, the processor and the SQL
writers share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_WECHAT_TEXT = re.compile(r"[1-9][0-9]{3}")
_RULES: Mapping[str, tuple[re.Pattern[str], str]] = {
    "alipay": (re.compile(r"[0-9]{4}"), "alipay scenes are 4-digit strings such as '1000' or '0000'"),
    "douyin": (re.compile(r"[0-9]{6}"), "douyin scenes are 6-digit strings with leading zeros such as '021001'"),
    "baidu": (re.compile(r"[0-9]{8}|NA|WEB"), "baidu scenes are 8-digit strings such as '10810008', or 'NA' or 'WEB'"),
}
_WECHAT_RULE = "wechat scenes are integers 1000..9999 (or the same number as a 4-digit string, e.g. '1007')"
_WEB_RULE = "platform web has no scene value: leave context.scene out"
_SHOWN_CHARS = 24  # an unknown platform's name is shown bounded


class SceneError(ValueError):
    """A scene value that does not follow its platform's rule; the message names the rule."""


def check_scene(platform: str, value: object) -> str:
    """The canonical text of ``value`` as a scene of ``platform``, or SceneError naming the platform's rule (not
    the value: callers show it bounded, schemas/problems.py for events).

    WeChat's integers become their decimal text (``1007`` → ``"1007"``), so both spellings are one scene.
    """
    if platform == "wechat":
        if type(value) is int and 1000 <= value <= 9999:
            return str(value)
        if isinstance(value, str) and _WECHAT_TEXT.fullmatch(value):
            return value
        raise SceneError(_WECHAT_RULE)
    if platform == "web":
        raise SceneError(_WEB_RULE)
    rule = _RULES.get(platform)
    if rule is None:  # the platform itself is invalid and reported on its own field
        msg = f"no scene rule for platform {platform[:_SHOWN_CHARS]!r}"
        raise SceneError(msg)
    pattern, text = rule
    if isinstance(value, str) and pattern.fullmatch(value):
        return value
    raise SceneError(text)


def scene_text(value: object) -> str:
    """The stored text of a scene already accepted by the collector; ``""`` when absent.

    Records written before scenes became text carry WeChat's integer: both read as the same text.
    """
    if isinstance(value, str):
        return value
    if type(value) is int:
        return str(value)
    return ""

