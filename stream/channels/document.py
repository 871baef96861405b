"""The JSON shape of a channel taxonomy file (``taxonomy.json``, docs/channels.md), as frozen pydantic models.

The entries (``Channel``, ``SceneRule``, ``PlatformSceneRule``, ``ChannelCode``, ``ClickIdRule``) are the rules
themselves: the compiled ``stream.channels.taxonomy.Taxonomy`` keys and normalises them but does not copy them into
types of its own.
What a schema cannot check (references between sections, duplicates after normalisation) is checked there.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr


def _trim(value: str) -> str:
    return value.strip()


Trimmed = Annotated[str, AfterValidator(_trim)]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Channel(_Doc):
    """A channel; its id is its key in ``channels``."""

    type: str
    name: str


class SceneRule(_Doc):
    scene: StrictInt
    channel: str
    label: str = ""


class PlatformSceneRule(_Doc):
    """A scene of a platform other than WeChat: text, exactly as the platform sends it (``"021001"``)."""

    scene: StrictStr
    channel: str
    label: str = ""


class PlatformSpec(_Doc):
    """The launch rules of one non-WeChat platform; WeChat's are the top-level ``scenes`` and ``share``."""

    scenes: tuple[PlatformSceneRule, ...] = ()
    share_channel: str | None = None  # None: a share on this platform counts as the top-level share channel


class ShareSpec(_Doc):
    channel: str
    query_params: tuple[str, ...] = ("share_from",)


class UtmSpec(_Doc):
    sources: dict[str, str]
    medium_types: dict[str, str]
    default_type: str


class ChannelCode(_Doc):
    """What a channel code stands for; its code is its (normalised) key in ``codes``."""

    channel: str
    campaign: Trimmed = ""
    creative: Trimmed = ""


class ChannelCodesSpec(_Doc):
    query_params: tuple[str, ...]
    codes: dict[str, ChannelCode]
    unknown_code_channel: str | None = None
    bare_scene_is_code: StrictBool = True


class ClickIdRule(_Doc):
    """A click-id query parameter; in the compiled taxonomy ``param`` is normalised (``normalise_param``)."""

    param: str
    platform: Trimmed
    channel: str
    separator: str | None = None
    click_id_segment: StrictInt = 0
    ad_id_segment: StrictInt | None = None


class AdParamsSpec(_Doc):
    campaign: tuple[str, ...] = ()
    creative: tuple[str, ...] = ()


class LaunchSpec(_Doc):
    nested_query_params: tuple[str, ...] = ("scene",)
    url_query_params: tuple[str, ...] = ("q",)


class TaxonomyDocument(_Doc):
    version: StrictInt
    description: str = ""
    channel_types: tuple[str, ...]
    channels: dict[str, Channel]
    direct_channel: str
    scenes: tuple[SceneRule, ...]
    unknown_scene_channel: str | None = None
    platforms: dict[str, PlatformSpec] = {}
    share: ShareSpec
    utm: UtmSpec
    channel_codes: ChannelCodesSpec
    click_ids: tuple[ClickIdRule, ...]
    ad_params: AdParamsSpec = AdParamsSpec()
    launch: LaunchSpec = LaunchSpec()
    precedence: tuple[str, ...]
