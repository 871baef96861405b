"""A shortcut for the common valid event: a strict pydantic-core schema of plain dicts, generated from the event
models' JSON Schema, that gives exactly what `EVENT_ADAPTER.validate_python(raw).model_dump(mode="json",
by_alias=True)` gives, in one compiled pass over a whole batch.

It only ever says yes: `fast_dumps(raw_events)` gives each event's dump or None, and None means "not sure",
never "invalid". It declines every model with a validator it does not re-state (it re-states the scene rule,
identify's "binds an id" and the money properties' key count), a field whose schema it does not know, and
every value outside the plain forms: a string where an integer is due, a float, money as a number or with
leading zeros, an ISO timestamp, an unknown key, a missing required field, a server-owned field. The caller
then takes the pydantic path, so every rejection and its reason come from the models, by construction.
tests/unit/collector/test_fast_ingest.py checks the two agree on a fuzz corpus of valid and invalid events.

Why: validating into model instances and dumping them again cost ~12 µs of the collector's ~20 µs per event
(per-event calls, model instances, Python validators and serialisers); the strict typed-dict schema builds the
dumped dict directly, and leaves a few Python steps per event: formatting the epoch milliseconds, the scene rule
and the re-stated validators. The schema is checked by `touchstream_native.StrictValidator` (native/, Rust:
1.9 against pydantic-core's 4.6 µs per event on the benchmark's bodies), which implements the kinds of
pydantic-core schema generated here, with the same regex engine, declines whatever it is not sure of, and refuses
to compile a kind or key it does not know; tests/unit/schemas/test_native_validator.py compares it with
`SchemaValidator(SCHEMA)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, get_args

import orjson
from pydantic import BaseModel, TypeAdapter
from pydantic_core import core_schema as cs

from schemas.batch import SERVER_FIELDS
from schemas.events import EVENT_ADAPTER, EVENT_MODELS, MAX_PROPERTIES
from schemas.fast_times import ISO_PATTERN, MAX_MS, MIN_MS, format_epoch_ms, iso_ms
from schemas.money import PositiveMoney, Revenue
from schemas.native import StrictValidator
from schemas.scenes import SceneError, check_scene

# The scene rule's own validator (schemas/context.py) is the one validator the shortcut runs, by calling it.
_SCENE_VALIDATOR: Final = ("Context", "_scene_of_platform")


Rule = Callable[[dict[str, Any]], bool]
"""A model validator re-stated on the model's dumped dict: True when the validator would pass."""


def _binds_something(_: frozenset[str]) -> Rule:
    # IdentifyEvent._binds_something (phone_hash is always None here: an input carrying it is declined).
    def rule(dump: dict[str, Any]) -> bool:
        return any(dump[key] is not None for key in ("user_id", "openid", "unionid", "phone", "phone_hash"))
    return rule


def _bounded(fields: frozenset[str]) -> Rule:
    # PurchaseProperties._bounded / RefundProperties._bounded: `_check_size(..., typed=3)` counts unknown keys.
    def rule(dump: dict[str, Any]) -> bool:
        return len(dump.keys() - fields) + 3 <= MAX_PROPERTIES
    return rule


# Model validators the shortcut re-states, keyed by (model, validator); a model with any other is declined.
# Each entry makes the rule from the names of the model's dumped fields.
_MODEL_RULES: Final[dict[tuple[str, str], Callable[[frozenset[str]], Rule]]] = {
    ("IdentifyEvent", "_binds_something"): _binds_something,
    ("PurchaseProperties", "_bounded"): _bounded,
    ("RefundProperties", "_bounded"): _bounded,
}
# Money (a Decimal) is taken only as a string in its canonical form, the form format_decimal writes back: no
# leading zeros, at most 14 + 2 digits, so the dump is the string as sent. Numbers go to pydantic. Keyed by the
# JSON Schema of the money types (their `anyOf`, keys sorted), which is how a field shows which one it is.
_MONEY_TEXT: Final = r"(0|[1-9][0-9]{0,13})(\.[0-9]{1,2})?"
_POSITIVE_MONEY_TEXT: Final = r"([1-9][0-9]{0,13}(\.[0-9]{1,2})?|0\.([1-9][0-9]?|0[1-9]))"
_MONEY_PATTERNS: Final = {
    orjson.dumps(TypeAdapter(Revenue).json_schema()["anyOf"], option=orjson.OPT_SORT_KEYS): f"^{_MONEY_TEXT}$",
    orjson.dumps(TypeAdapter(PositiveMoney).json_schema()["anyOf"], option=orjson.OPT_SORT_KEYS):
        f"^{_POSITIVE_MONEY_TEXT}$",
}
_SCENE_MAX_CHARS: Final = 8  # the longest text check_scene accepts ("10810008"), for the shape bound below
_UNBOUNDED: Final = 2**62
_KNOWN_KEYS: Final = frozenset({"title", "description", "default", "type"})


class _Unsupported(Exception):
    """A part of the models the shortcut does not compile: internal control flow, never escapes."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """The largest things the typed (non free-form) part of an accepted event can hold: with limits at least
    these, the collector's shape walk can only find a problem inside the free-form maps."""

    string_chars: int  # the longest string value or key
    keys: int  # the most keys of one object
    depth: int  # the deepest object level (the event is level 1)


@dataclass(frozen=True, slots=True)
class _Part:
    """A compiled field: its strict core schema and the bounds of what it accepts."""

    schema: cs.CoreSchema
    chars: int = 0
    keys: int = 0
    depth: int = 0  # object levels below this value's own (0 for a scalar)
    free: bool = False  # a free-form map (values unchecked): walked by the caller's shape check
    timestamp: bool = False  # epoch ms: formatted by the caller (a strict int here)
    rules: tuple[Rule, ...] = ()  # on this value's dict, when not None


def _string(schema: dict[str, Any]) -> _Part:
    # The pattern goes to pydantic-core as the models' own does: the same regex engine decides.
    if set(schema) - _KNOWN_KEYS - {"minLength", "maxLength", "pattern"}:
        raise _Unsupported
    high = schema.get("maxLength")
    core = cs.str_schema(min_length=schema.get("minLength"), max_length=high, pattern=schema.get("pattern"),
                         strict=True)
    # Unbounded turns the shortcut off (limits_allow_shortcut) unless the caller walks the value anyway.
    return _Part(core, chars=_UNBOUNDED if high is None else high)


def _is_timestamp(any_of: list[dict[str, Any]]) -> bool:
    integer = {"type": "integer", "minimum": MIN_MS, "maximum": MAX_MS}
    return len(any_of) == 2 and any_of[0] == {"type": "string", "format": "date-time"} and any_of[1] == integer


class _Compiler:
    def __init__(self, defs: dict[str, Any], classes: dict[str, type[BaseModel]]) -> None:
        self._defs, self._classes = defs, classes
        self._events = {model.__name__ for model in EVENT_MODELS.values()}
        self._models: dict[str, tuple[_Part, tuple[str, ...], tuple[Rule, ...]]] = {}

    def field(self, schema: dict[str, Any]) -> _Part:
        if "$ref" in schema:
            part, _, rules = self.model(schema["$ref"].rsplit("/", 1)[-1])
            return part if not rules else _Part(part.schema, part.chars, part.keys, part.depth, part.free,
                                                rules=rules)
        if "anyOf" in schema:
            options = schema["anyOf"]
            if _is_timestamp(options):
                # Epoch milliseconds, or the one ISO form JavaScript's toISOString writes (the SDK's); any other
                # text (offsets, other fractions) is pydantic's business.
                either = cs.union_schema([cs.int_schema(ge=MIN_MS, le=MAX_MS, strict=True),
                                          cs.str_schema(pattern=ISO_PATTERN, strict=True)], mode="left_to_right")
                return _Part(either, chars=len("2024-05-01T08:00:00.000Z"), timestamp=True)
            money = _MONEY_PATTERNS.get(orjson.dumps(options, option=orjson.OPT_SORT_KEYS))
            if money is not None:
                return _Part(cs.str_schema(pattern=money, strict=True), chars=17)
            if len(options) != 2 or options[1] != {"type": "null"}:
                raise _Unsupported
            inner = self.field(options[0])
            if inner.timestamp or inner.free:
                raise _Unsupported  # the caller formats and walks non-null values only
            return _Part(cs.nullable_schema(inner.schema), inner.chars, inner.keys, inner.depth, inner.free,
                         rules=inner.rules)
        kind = schema.get("type")
        if "enum" in schema and kind == "string":
            return _Part(cs.literal_schema(list(schema["enum"])), chars=max(map(len, schema["enum"])))
        if "const" in schema and kind == "string":
            return _Part(cs.literal_schema([schema["const"]]), chars=len(schema["const"]))
        if kind == "string":
            return _string(schema)
        if kind == "integer":
            if set(schema) - _KNOWN_KEYS - {"minimum", "maximum"}:
                raise _Unsupported
            # Strict: pydantic's lax mode also takes 3.0 and "3" for an integer; the shortcut declines them.
            return _Part(cs.int_schema(ge=schema.get("minimum"), le=schema.get("maximum"), strict=True))
        if kind == "object":
            return self._map(schema)
        raise _Unsupported

    def _map(self, schema: dict[str, Any]) -> _Part:
        if set(schema) - _KNOWN_KEYS - {"additionalProperties", "propertyNames", "maxProperties"}:
            raise _Unsupported
        most = schema.get("maxProperties")
        values = schema.get("additionalProperties")
        if values is True and "propertyNames" not in schema:
            # Free-form (dict[str, Any]): a new dict of the same values, as pydantic's dump makes.
            return _Part(cs.dict_schema(cs.str_schema(strict=True), cs.any_schema(), max_length=most, strict=True),
                         free=True)
        if not isinstance(values, dict) or most is None:
            raise _Unsupported
        names = _string({**schema.get("propertyNames", {}), "type": "string"})
        value = self.field(values)
        if value.depth or value.free or value.timestamp:
            raise _Unsupported
        core = cs.dict_schema(names.schema, value.schema, max_length=most, strict=True)
        return _Part(core, chars=max(names.chars, value.chars), keys=most, depth=1)

    def model(self, name: str) -> tuple[_Part, tuple[str, ...], tuple[Rule, ...]]:
        """The model as a strict typed dict (its dump's keys, in its order, defaults filled), its free-form
        keys, and the rules to check on its dumped dict (its own and its fields', lifted)."""
        if name in self._models:
            return self._models[name]
        schema, cls = self._defs[name], self._classes[name]
        decorators = cls.__pydantic_decorators__
        validators = {(name, v) for v in decorators.field_validators}
        model_rules = {(name, v) for v in decorators.model_validators}
        extra = cls.model_config.get("extra")
        if (model_rules - set(_MODEL_RULES) or decorators.validators or decorators.root_validators
                or decorators.field_serializers or decorators.model_serializers or decorators.computed_fields
                or validators - {_SCENE_VALIDATOR}
                or (extra, schema.get("additionalProperties")) not in (("forbid", False), ("allow", True))):
            raise _Unsupported
        required = set(schema.get("required", ()))
        fields: dict[str, cs.TypedDictField] = {}
        chars, keys, depth = max(map(len, schema["properties"])), len(schema["properties"]), 1
        free: list[str] = []
        excluded: set[str] = set()
        rules: list[Rule] = []
        for alias, field_schema in schema["properties"].items():
            info = next(f for n, f in cls.model_fields.items() if (f.alias or n) == alias)
            if info.exclude:
                # Server-owned and never dumped (original_amount, ...): an input holding one goes to pydantic.
                excluded.add(alias)
                continue
            if (name, alias) == ("Context", "scene"):
                # Any value here; the caller applies the scene rule itself (check_scene), as the validator does.
                part = _Part(cs.any_schema(), chars=_SCENE_MAX_CHARS)
            else:
                part = self.field(field_schema)
            if part.timestamp and (alias != "timestamp" or name not in self._events):
                raise _Unsupported  # fast_dumps formats the event's own timestamp only
            chars, keys, depth = max(chars, part.chars), max(keys, part.keys), max(depth, 1 + part.depth)
            rules.extend(_lifted(alias, rule) for rule in part.rules)
            if part.free:
                free.append(alias)
            if alias in required:
                fields[alias] = cs.typed_dict_field(part.schema, required=True)
                continue
            default = info.get_default(call_default_factory=True)
            dumped = default.model_dump(mode="json", by_alias=True) if isinstance(default, BaseModel) else default
            if isinstance(dumped, dict):
                if any(isinstance(v, dict | list) for v in dumped.values()):
                    raise _Unsupported
                with_default = cs.with_default_schema(part.schema, default_factory=dumped.copy)
            elif dumped is None or isinstance(dumped, str | int):
                with_default = cs.with_default_schema(part.schema, default=dumped)
            else:
                raise _Unsupported
            fields[alias] = cs.typed_dict_field(with_default, required=False)
        if free and name not in self._events:
            raise _Unsupported  # the caller walks an event's own free-form maps, not a nested model's
        dumped = frozenset(fields)
        rules.extend(_MODEL_RULES[key](dumped) for key in sorted(model_rules))
        if extra == "allow":
            # Unknown keys are kept as sent, after the fields (as pydantic dumps them), and the caller walks the
            # whole map like a free-form one. An excluded field would land among them: such an input is declined.
            if excluded:
                rules.append(_without(frozenset(excluded)))
            core = cs.typed_dict_schema(fields, extra_behavior="allow", extras_schema=cs.any_schema(), strict=True)
            part = _Part(core, free=True)
        else:
            if excluded:
                raise _Unsupported
            part = _Part(cs.typed_dict_schema(fields, extra_behavior="forbid", strict=True), chars, keys, depth)
        self._models[name] = (part, tuple(free), tuple(rules))
        return self._models[name]


def _lifted(alias: str, rule: Rule) -> Rule:
    def lifted(dump: dict[str, Any]) -> bool:
        value = dump[alias]
        return value is None or rule(value)
    return lifted


def _without(names: frozenset[str]) -> Rule:
    def rule(dump: dict[str, Any]) -> bool:
        return names.isdisjoint(dump)
    return rule


def _classes() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    todo: list[Any] = list(EVENT_MODELS.values())
    while todo:
        item = todo.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item.__name__ not in found:
                found[item.__name__] = item
                todo.extend(f.annotation for f in item.model_fields.values())
        else:
            todo.extend(get_args(item))
    return found


_Rules = dict[str, tuple[tuple[Rule, ...], frozenset[str]]]


def _compile() -> tuple[cs.CoreSchema, frozenset[str], dict[str, tuple[str, ...]], _Rules, Bounds]:
    schema = EVENT_ADAPTER.json_schema()
    compiler = _Compiler(schema["$defs"], _classes())
    choices: dict[str, cs.CoreSchema] = {}
    free: dict[str, tuple[str, ...]] = {}
    rules: _Rules = {}
    chars = keys = depth = 0
    for event_type, model in EVENT_MODELS.items():
        try:
            part, free_keys, model_rules = compiler.model(model.__name__)
        except _Unsupported:
            continue
        choices[event_type], free[event_type] = part.schema, free_keys
        # Server-owned fields that are fields of the model too (identify's phone_hash): pydantic's path strips
        # them from the input first, so an input carrying one is declined here.
        server_owned = SERVER_FIELDS & set(model.model_fields)
        if model_rules or server_owned:
            rules[event_type] = (model_rules, server_owned)
        chars, keys, depth = max(chars, part.chars), max(keys, part.keys), max(depth, part.depth)
    # One call per batch; an event the strict schema refuses comes back as itself (the `any` choice), which
    # is how the caller knows to ask pydantic.
    event = cs.union_schema([cs.tagged_union_schema(choices, discriminator="type"), cs.any_schema()],
                            mode="left_to_right")
    return cs.list_schema(event), frozenset(choices), free, rules, Bounds(chars, keys, depth)


SCHEMA, FAST_TYPES, FREE_KEYS, _RULES, BOUNDS = _compile()
"""SCHEMA: the strict pydantic-core schema of a batch; FAST_TYPES: the event types the shortcut handles (the others
always take the pydantic path); FREE_KEYS: for each, the keys of its free-form maps (`properties`, identify's
`traits`), which the caller walks."""
_VALIDATOR = StrictValidator(dict(SCHEMA))


def fast_dumps(raw_events: list[Any]) -> list[dict[str, Any] | None]:
    """For each raw event, its dump when the shortcut is sure it is valid, else None ("ask pydantic").

    A dump equals `EVENT_ADAPTER.validate_python(raw).model_dump(mode="json", by_alias=True)`. The free-form
    maps in it (`FREE_KEYS`) are not checked against the collector's shape limits: that is the caller's. The
    raw `timestamp` of a dumped event is epoch milliseconds or a text `iso_ms` reads."""
    out: list[Any] = _VALIDATOR.validate_python(raw_events)
    for index, dump in enumerate(out):
        if dump is raw_events[index]:  # the `any` choice: the strict schema refused it
            out[index] = None
            continue
        checks = _RULES.get(dump["type"])
        if checks is not None and not _passes(checks, dump, raw_events[index]):
            out[index] = None
            continue
        timestamp = dump["timestamp"]
        if type(timestamp) is int:
            dump["timestamp"] = format_epoch_ms(timestamp)
        elif iso_ms(timestamp) is None:  # the text is kept as it is: it is its own format_timestamp
            out[index] = None
            continue
        context = dump["context"]
        scene = context["scene"]
        if scene is None:
            continue
        platform = context["platform"]
        if type(scene) is int and platform == "wechat" and 1000 <= scene <= 9999:
            context["scene"] = str(scene)  # check_scene's first rule, the common scene, without the call
            continue
        # As Context._scene_of_platform: `platform` (validated, or its default) selects the rule.
        try:
            context["scene"] = check_scene(platform, scene)
        except SceneError:
            out[index] = None
    return out


def _passes(checks: tuple[tuple[Rule, ...], frozenset[str]], dump: dict[str, Any], raw: dict[str, Any]) -> bool:
    rules, server_owned = checks
    return server_owned.isdisjoint(raw) and all(rule(dump) for rule in rules)
