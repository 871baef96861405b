"""The `context` object of an event: where, on what and through which channel the event happened.

Every model here rejects unknown fields (`extra="forbid"`): a typo such as `context.scenes` is reported to
the SDK developer instead of being silently dropped. Limits are declared as constraints (validated in
pydantic-core, no Python per field) and repeated in the field descriptions, which end up in the exported JSON
Schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from schemas.scenes import SceneError, check_scene

PLATFORMS: tuple[str, ...] = ("wechat", "alipay", "douyin", "baidu", "web")
Platform = Literal["wechat", "alipay", "douyin", "baidu", "web"]

MAX_QUERY_KEYS = 64
MAX_QUERY_KEY_CHARS = 64
MAX_QUERY_VALUE_CHARS = 1024
MAX_DEVICE_SEQ = 2**53 - 1  # the largest integer every JSON parser reads exactly

_CONFIG = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_alias=True, validate_by_name=False)

# The JSON Schema says what a client may send; which of these a platform accepts is the validator's rule.
_SCENE_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 1000, "maximum": 9999},
                           {"type": "string", "pattern": "^([0-9]{4}|[0-9]{6}|[0-9]{8}|NA|WEB)$"}]}

QueryKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_QUERY_KEY_CHARS)]
QueryValue = Annotated[str, StringConstraints(max_length=MAX_QUERY_VALUE_CHARS)]
Short = Annotated[str, StringConstraints(max_length=64)]
CampaignText = Annotated[str, StringConstraints(max_length=256)]


class Sdk(BaseModel):
    """The SDK that sent the event."""

    model_config = _CONFIG

    name: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="SDK name, e.g. `touchstream-miniprogram`; 1..64 characters."
    )
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="SDK version, e.g. `1.4.2`; 1..64 characters."
    )


class Campaign(BaseModel):
    """UTM-style campaign parameters, as the SDK parsed them from the launch query (all optional)."""

    model_config = _CONFIG

    source: CampaignText | None = Field(default=None, description="utm_source; at most 256 characters.")
    medium: CampaignText | None = Field(default=None, description="utm_medium; at most 256 characters.")
    name: CampaignText | None = Field(default=None, description="utm_campaign; at most 256 characters.")
    content: CampaignText | None = Field(default=None, description="utm_content; at most 256 characters.")
    term: CampaignText | None = Field(default=None, description="utm_term; at most 256 characters.")


class ShareInfo(BaseModel):
    """How the user arrived through a share card: who shared, and how many hops from the original sharer."""

    model_config = _CONFIG

    from_: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None,
        alias="from",
        description="Identifier of the sharer (their user_id, openid or anonymous_id); 1..128 characters.",
    )
    depth: Annotated[int, Field(ge=0, le=100)] | None = Field(
        default=None,
        description="Share depth: 1 = shared by the original visitor, 2 = re-shared once, ...; integer 0..100.",
    )


class Device(BaseModel):
    """The device, as reported by the platform (e.g. `wx.getSystemInfoSync()`)."""

    model_config = _CONFIG

    brand: Short | None = Field(default=None, description="Device brand; at most 64 characters.")
    model: Short | None = Field(default=None, description="Device model; at most 64 characters.")
    os: Short | None = Field(default=None, description="Operating system, e.g. `iOS`; at most 64 characters.")
    os_version: Short | None = Field(default=None, description="OS version; at most 64 characters.")
    screen_width: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        default=None, description="Screen width in pixels; integer 0..100000."
    )
    screen_height: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        default=None, description="Screen height in pixels; integer 0..100000."
    )


class Context(BaseModel):
    """Where the event happened. Everything is optional; `platform` defaults to `wechat`."""

    model_config = _CONFIG

    platform: Platform = Field(
        default="wechat", description="Mini-program platform: one of wechat, alipay, douyin, baidu, web."
    )
    app_version: Short | None = Field(default=None, description="Version of the mini-program; ≤ 64 chars.")
    sdk: Sdk | None = Field(default=None, description="The SDK that sent the event.")
    scene: Annotated[str, WithJsonSchema(_SCENE_SCHEMA)] | None = Field(
        default=None,
        description="Scene value (场景值) of the launch, checked by the rule of `platform` and stored as text: "
        "wechat an integer 1000..9999 or the same number as a 4-digit string (1007 share card); alipay a "
        "4-digit string ('1000', '0000'); douyin a 6-digit string with its leading zero ('021001'); baidu an "
        "8-digit string ('10810008'), 'NA' or 'WEB'; web none.",
    )

    @field_validator("scene", mode="before")
    @classmethod
    def _scene_of_platform(cls, value: object, info: ValidationInfo) -> object:
        # `platform` is declared first, so it is validated by now; when it failed, its own error says why.
        platform = info.data.get("platform")
        if value is None or not isinstance(platform, str):
            return value
        try:
            return check_scene(platform, value)
        except SceneError as exc:
            # A custom error type: the message is the platform's rule, without pydantic's "Value error, " prefix.
            code = "scene_invalid"
            raise PydanticCustomError(code, str(exc)) from None

    path: Annotated[str, StringConstraints(max_length=512)] | None = Field(
        default=None, description="Page path, e.g. `pages/goods/detail`; at most 512 characters."
    )
    query: Annotated[dict[QueryKey, QueryValue], Field(max_length=MAX_QUERY_KEYS)] | None = Field(
        default=None,
        description="Launch / page query parameters as sent by the platform, string → string: UTM fields, "
        "ad click ids (`gdt_vid`, `weixinadinfo`, `qz_gdt`, `clickid`), channel codes, the QR-code `scene`. "
        f"At most {MAX_QUERY_KEYS} keys; keys 1..{MAX_QUERY_KEY_CHARS} characters; "
        f"values at most {MAX_QUERY_VALUE_CHARS} characters.",
    )
    campaign: Campaign | None = Field(default=None, description="UTM campaign parameters.")
    share: ShareInfo | None = Field(default=None, description="Share-chain parameters of the launch.")
    device: Device | None = Field(default=None, description="The device.")
    network: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        default=None,
        description="Network type as reported: wifi, 4g, 5g, 3g, 2g, none, unknown, ...; ≤ 16 characters.",
    )
    device_seq: Annotated[int, Field(strict=True, ge=0, le=MAX_DEVICE_SEQ)] | None = Field(
        default=None,
        description="The SDK's persisted per-device sequence number of this event (increasing by event, kept "
        "across launches), so one device's events can be ordered without trusting its clock: the collector "
        "keeps a device's event times non-decreasing in this order. Integer 0..2^53-1 (exact in JSON numbers).",
    )
