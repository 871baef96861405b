"""The compiled strict check (native/, `touchstream_native.StrictValidator`) against pydantic-core on the same schema.

The shortcut's schema (`schemas.fast_events.SCHEMA`) is checked by both engines on the ingest shortcut's fuzz corpus,
and small hand-written schemas of every kind the crate compiles are checked on hand-picked and random values: the
same values accepted, the same output (types, values and key order), and a fresh container for every dict and
list given back. The few values the crate declines on purpose (subclasses of str, dict or int: never produced by
orjson) are stated as such. Schemas the crate does not implement fail when the validator is built.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import SchemaValidator, ValidationError
from pydantic_core import core_schema as cs

from loadtests.events import EventGenerator
from schemas.fast_events import FAST_TYPES, SCHEMA
from schemas.native import StrictValidator
from tests.unit.collector.test_fast_ingest import awkward, events, json_values

DECLINED = object()


def _typed(value: Any) -> Any:
    """The value with every type spelled out (True == 1 and 1 == 1.0 in Python) and dict key order kept."""
    if isinstance(value, dict):
        return ("dict", [(_typed(k), _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _run(validator: StrictValidator | SchemaValidator, value: Any) -> Any:
    try:
        return validator.validate_python(value)
    except (ValueError, ValidationError):  # pydantic-core's ValidationError is a ValueError too
        return DECLINED


def _both(schema: cs.CoreSchema, value: Any) -> tuple[Any, Any]:
    return _run(StrictValidator(dict(schema)), value), _run(SchemaValidator(schema), value)


def _assert_agree(schema: cs.CoreSchema, value: Any) -> Any:
    native, reference = _both(schema, value)
    if reference is DECLINED:
        assert native is DECLINED
    else:
        assert native is not DECLINED
        assert _typed(native) == _typed(reference)
    return native


# -- the shortcut's own schema --------------------------------------------------------------------------------

NATIVE = StrictValidator(dict(SCHEMA))
REFERENCE = SchemaValidator(SCHEMA)


def _assert_batch_agrees(batch: list[Any]) -> None:
    native, reference = NATIVE.validate_python(batch), REFERENCE.validate_python(batch)
    assert isinstance(native, list)
    assert native is not batch
    assert len(native) == len(reference) == len(batch)
    for raw, mine, theirs in zip(batch, native, reference, strict=True):
        assert (mine is raw) == (theirs is raw)  # declined: the `any` choice hands the event back as it is
        assert _typed(mine) == _typed(theirs)
        if isinstance(raw, dict) and mine is not raw:
            assert isinstance(mine, dict)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(events | awkward, max_size=6))
def test_the_shortcut_schema_gives_what_pydantic_core_gives(batch: list[Any]) -> None:
    _assert_batch_agrees(batch)


def test_the_benchmark_events_are_all_taken() -> None:
    gen = EventGenerator(["app1"], seed=11)
    batch = gen.batch("app1", 400, 1_714_550_400_123)
    _assert_batch_agrees(batch)
    taken = [out for raw, out in zip(batch, NATIVE.validate_python(batch), strict=True) if out is not raw]
    assert sum(raw["type"] in FAST_TYPES for raw in batch) == len(batch)  # every type the shortcut handles
    assert len(taken) == len(batch)  # and every event takes the compiled path


# -- every kind, by hand --------------------------------------------------------------------------------------


def test_strings_count_code_points_and_match_the_pattern_to_the_end() -> None:
    schema = cs.str_schema(min_length=2, max_length=4, pattern=r"^[a-zé]+$", strict=True)
    for value, taken in [("ab", True), ("éééé", True), ("ééééé", False), ("a", False), ("ab\n", False),
                         ("AB", False), ("", False), (b"ab", False), (12, False), (None, False)]:
        out = _assert_agree(schema, value)
        assert (out is not DECLINED) is taken, value
        if taken:
            assert out == value


def test_lone_surrogates_and_subclasses_are_declined() -> None:
    class Text(str):
        """A subclass of str, which no JSON decoder makes."""

    plain = cs.str_schema(strict=True)
    patterned = cs.str_schema(pattern=r"^.+$", strict=True)
    assert _run(StrictValidator(dict(patterned)), "a\ud800b") is DECLINED  # no UTF-8 form to match
    assert _run(StrictValidator(dict(plain)), Text("a")) is DECLINED  # pydantic-core takes it: careful side
    assert _run(SchemaValidator(plain), Text("a")) == "a"


def test_integers_are_exact_ints_within_the_bounds_however_large() -> None:
    bounded = cs.int_schema(ge=-5, le=2**40, strict=True)
    free = cs.int_schema(strict=True)
    for value in [-5, -6, 0, 2**40, 2**40 + 1, 2**63 - 1, 2**63, 2**64 + 7, -(2**70), True, False, 3.0, "3", None]:
        _assert_agree(bounded, value)
        _assert_agree(free, value)
    assert _run(StrictValidator(dict(free)), 2**100) == 2**100
    assert _run(StrictValidator(dict(bounded)), 2**100) is DECLINED
    assert _run(StrictValidator(dict(cs.int_schema(ge=0, strict=True))), -(2**100)) is DECLINED


def test_literals_nullable_and_unions_in_order() -> None:
    literal = cs.literal_schema(["wechat", "alipay"])
    for value in ["wechat", "alipay", "web", "", None, 1]:
        _assert_agree(literal, value)
    nullable = cs.nullable_schema(cs.int_schema(strict=True))
    for value in [None, 1, "1"]:
        _assert_agree(nullable, value)
    either = cs.union_schema([cs.int_schema(ge=10, strict=True), cs.str_schema(max_length=2, strict=True)],
                             mode="left_to_right")
    for value in [10, 9, "ab", "abc", None, True]:
        _assert_agree(either, value)
    assert _run(StrictValidator(dict(either)), 10) == 10


def test_dicts_are_new_dicts_of_checked_keys_and_values() -> None:
    schema = cs.dict_schema(cs.str_schema(max_length=3, strict=True), cs.int_schema(strict=True), max_length=2,
                            strict=True)
    for value in [{}, {"a": 1, "bb": 2}, {"a": 1, "b": 2, "c": 3}, {"abcd": 1}, {"a": "1"}, {1: 1}, [], None]:
        _assert_agree(schema, value)
    given_ = {"a": 1}
    out = _run(StrictValidator(dict(schema)), given_)
    assert out == given_
    assert out is not given_


def _fields() -> dict[str, cs.TypedDictField]:
    return {
        "id": cs.typed_dict_field(cs.str_schema(strict=True), required=True),
        "n": cs.typed_dict_field(cs.with_default_schema(cs.int_schema(strict=True), default=7), required=False),
        "tags": cs.typed_dict_field(cs.with_default_schema(
            cs.dict_schema(cs.str_schema(strict=True), cs.any_schema(), strict=True), default_factory=dict),
            required=False),
        "note": cs.typed_dict_field(cs.nullable_schema(cs.str_schema(strict=True)), required=False),
    }


def test_typed_dicts_fill_defaults_in_field_order_and_forbid_or_keep_unknown_keys() -> None:
    forbid = cs.typed_dict_schema(_fields(), extra_behavior="forbid", strict=True)
    allow = cs.typed_dict_schema(_fields(), extra_behavior="allow", extras_schema=cs.any_schema(), strict=True)
    values = [{"id": "x"}, {"note": None, "id": "x", "n": 1}, {"id": "x", "zz": [1], "aa": 2}, {"n": 1},
              {"id": 1}, {"id": "x", "tags": {"k": [1]}}, {"id": "x", 5: 1}, [("id", "x")], None]
    for value in values:
        _assert_agree(forbid, value)
        _assert_agree(allow, value)
    # Hand-derived: the fields first, in the schema's order, defaults filled; then unknown keys as sent.
    out = _run(StrictValidator(dict(allow)), {"zz": 1, "id": "x", "aa": 2})
    assert list(out.items()) == [("id", "x"), ("n", 7), ("tags", {}), ("zz", 1), ("aa", 2)]
    first, second = (_run(StrictValidator(dict(forbid)), {"id": "x"}) for _ in range(2))
    assert first["tags"] == {} and first["tags"] is not second["tags"]  # a factory's default is a fresh dict


def test_tagged_unions_pick_the_choice_by_its_key() -> None:
    schema = cs.tagged_union_schema({
        "a": cs.typed_dict_schema({"type": cs.typed_dict_field(cs.literal_schema(["a"]), required=True),
                                   "x": cs.typed_dict_field(cs.int_schema(strict=True), required=True)},
                                  extra_behavior="forbid", strict=True),
        "b": cs.typed_dict_schema({"type": cs.typed_dict_field(cs.literal_schema(["b"]), required=True)},
                                  extra_behavior="forbid", strict=True),
    }, discriminator="type")
    for value in [{"type": "a", "x": 1}, {"type": "a"}, {"type": "b"}, {"type": "b", "x": 1}, {"type": "c"},
                  {"type": 1}, {"x": 1}, [], None]:
        _assert_agree(schema, value)


def test_lists_are_new_lists_of_checked_items() -> None:
    schema = cs.list_schema(cs.nullable_schema(cs.int_schema(strict=True)))
    for value in [[], [1, None, 3], [1, "2"], (1, 2), None]:
        native, reference = _both(schema, value)
        if isinstance(value, tuple):
            assert native is DECLINED  # pydantic-core takes a tuple for a list (not strict): careful side
            continue
        assert _typed(native) == _typed(reference)


KIND_SCHEMA = cs.typed_dict_schema({
    "s": cs.typed_dict_field(cs.with_default_schema(cs.str_schema(max_length=3, pattern=r"^[a-y]*$", strict=True),
                                                    default=""), required=False),
    "i": cs.typed_dict_field(cs.with_default_schema(cs.nullable_schema(cs.int_schema(ge=0, le=99, strict=True)),
                                                    default=None), required=False),
    "m": cs.typed_dict_field(cs.dict_schema(cs.str_schema(max_length=4, strict=True), cs.any_schema(), max_length=3,
                                            strict=True), required=True),
}, extra_behavior="forbid", strict=True)


@settings(max_examples=500, deadline=None)
@given(value=st.dictionaries(st.sampled_from(["s", "i", "m", "x"]), json_values, max_size=4) | json_values)
def test_random_values_agree_on_every_kind(value: Any) -> None:
    _assert_agree(KIND_SCHEMA, value)


# -- what the crate does not compile --------------------------------------------------------------------------


@pytest.mark.parametrize(("schema", "named"), [
    (cs.float_schema(), '"float"'),
    (cs.str_schema(to_lower=True), '"to_lower"'),
    (cs.int_schema(gt=1), '"gt"'),
    (cs.union_schema([cs.int_schema(), cs.str_schema()]), "union"),
    (cs.with_default_schema(cs.any_schema(), default=[]), "the default []"),
    (cs.literal_schema([1]), "the literal 1"),
    (cs.typed_dict_schema({}, extra_behavior="ignore"), "extra_behavior"),
    (cs.list_schema(cs.str_schema(), max_length=3), '"max_length"'),
])
def test_a_schema_it_does_not_implement_fails_when_built(schema: cs.CoreSchema, named: str) -> None:
    with pytest.raises(ValueError, match="touchstream_native cannot compile") as failure:
        StrictValidator(dict(schema))
    assert named in str(failure.value)


def test_a_missing_extension_says_how_to_build_it() -> None:
    code = ("import sys\nsys.modules['touchstream_native'] = None  # as if it were not built\n"
            "try:\n    import schemas.fast_events\nexcept ImportError as exc:\n    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[3])
    assert done.stdout.strip() == ("touchstream_native is not built: run `make venv` (or `pip install ./native`), "
                                   "which needs Rust (cargo)")
