"""The one rule for values that are no values (schemas/macros.py), with the union of the cases the collector's
webhooks and the stream's channel resolution each tested, and both of them held to it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from collector.webhooks.platforms import clean_value as webhook_clean_value
from schemas.macros import MISSING_WORDS, clean_text, is_unfilled
from stream.channels import clean_value as channel_clean_value

LONG = 10_000  # longer than any test value: no bound applies

NO_VALUE = [
    # empty, blank, invisible
    "",
    "   ",
    "\u200b",
    "\x00\t\n",
    "\ufeff",
    # __NAME__ macros (Tencent, Ocean Engine)
    "__CLICKID__",
    "__CLICK_ID__",
    "__GDT_VID__",
    "__X9__",
    "__CAMPAIGN_NAME__",
    "__callback_param__",
    # brace macros, single, double, spaced, empty
    "{clickid}",
    "{gdt_vid}",
    "{{clickid}}",
    "{{weixinadinfo}}",
    "{{ click_id }}",
    "{}",
    # ${name} and a brace macro percent-encoded once more, in either case
    "${clickid}",
    "${source}",
    "%7Bclickid%7D",
    "%7bclickid%7d",
    "%7Baid%7D",
    # stringified missing values, any case
    "null",
    "NULL",
    "undefined",
    "Undefined",
    "none",
    "None",
    "nil",
    "NIL",
    # surrounded by what is trimmed or removed
    "  __CLICK_ID__  ",
    "\u200b{clickid}\u200b",
    "\tnull\n",
]

VALUES = [
    ("a__CLICK_ID__", "a__CLICK_ID__"),  # a macro inside a longer value is a value
    ("__CLICK_ID__x", "__CLICK_ID__x"),
    ("{clickid", "{clickid"),
    ("____", "____"),  # no name between the underscores
    ("nullable", "nullable"),
    ("none-of-these", "none-of-these"),
    ("0", "0"),
    ("false", "false"),
    ("24oi6xq2aaakvagnqu7a", "24oi6xq2aaakvagnqu7a"),
    ("  ab\u200bc\x07 ", "abc"),  # trimmed; zero-width space and BEL removed
    ("\tspring\u2028 sale\n", "spring\u2028 sale"),  # a line separator is not a control character: kept inside
    ("新年\u200d活动", "新年活动"),
]


def test_the_missing_words_are_the_union_of_both_former_sets() -> None:
    # Collector: null, undefined, none, nil. Stream: null, undefined.
    assert frozenset({"null", "undefined", "none", "nil"}) == MISSING_WORDS


@pytest.mark.parametrize("text", NO_VALUE)
def test_no_value(text: str) -> None:
    assert clean_text(text, LONG) == ""


@pytest.mark.parametrize(("text", "cleaned"), VALUES)
def test_values_are_kept_cleaned(text: str, cleaned: str) -> None:
    assert clean_text(text, LONG) == cleaned


def test_is_unfilled_judges_already_trimmed_text() -> None:
    assert is_unfilled("")
    assert is_unfilled("__CLICK_ID__")
    assert not is_unfilled(" __CLICK_ID__ ")  # not trimmed: that is clean_text's job
    assert not is_unfilled("click-1")


def test_the_bound_applies_before_the_rest() -> None:
    assert clean_text("abcdefgh", 3) == "abc"
    assert clean_text("ab   cd", 4) == "ab"  # cut, then trimmed
    assert clean_text("__CLICK_ID__tail", 12) == ""  # what is left after the cut is a macro


CLEANERS: list[Callable[[object], str]] = [webhook_clean_value, channel_clean_value]


@pytest.mark.parametrize("clean", CLEANERS, ids=["collector-webhooks", "stream-channels"])
@pytest.mark.parametrize("text", NO_VALUE)
def test_both_sides_treat_the_same_text_as_no_value(clean: Callable[[object], str], text: str) -> None:
    assert clean(text) == ""


@pytest.mark.parametrize("clean", CLEANERS, ids=["collector-webhooks", "stream-channels"])
@pytest.mark.parametrize(("text", "cleaned"), VALUES)
def test_both_sides_keep_the_same_values(clean: Callable[[object], str], text: str, cleaned: str) -> None:
    assert clean(text) == cleaned
