"""The functions analyst SQL may call: an allow-list derived from ClickHouse's own `system.functions`.

Derivation (`derive`): a built-in function (origin `System`) is allowed when its category, or the category of
the function it is an alias of, is one of SAFE_CATEGORIES (pure computations over their arguments: arithmetic,
strings, dates, arrays, JSON, hashes, aggregates, ...), or it is one of the REVIEWED_OTHER functions picked by
hand from the catch-all category "Other"; DENIED removes the few members of safe categories that reach outside
the query (the host, the server's configuration, other tables). Everything else is refused, in particular the
categories that touch the host, the network or the server: "Dictionary" and "Embedded Dictionary" (external
sources, files), "AI" (network calls), "Introspection", "Internal", "Machine Learning" (model files), and in
"Other" `file`, `joinGet`, `getSetting`, `getMacro`, `hostName`, `currentUser`, `sleep`, `filesystem*` ...

The result is committed as `sql_functions.txt` rather than derived at run time: an engine upgrade never widens
what analysts may call without a reviewed diff (tests/integration/test_sql_guard.py fails when the committed
list and the derivation from the running engine differ). Regenerate with
`TOUCHSTREAM_WRITE_SQL_FUNCTIONS=1 .venv/bin/python -m pytest -q tests/integration/test_sql_guard.py -k allow_list`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

SAFE_CATEGORIES = frozenset({
    "Aggregate Functions", "Arithmetic", "Arrays", "Bit", "Bitmap", "Comparison", "Conditional", "Dates and Times",
    "Distance", "Encoding", "Encryption", "Financial", "Geo", "Geo Polygon", "Hash", "IP Address", "JSON", "Logical",
    "Map", "Mathematical", "Null", "NumericIndexedVector", "QBit", "Random Number", "Rounding", "String",
    "String Replacement", "String Search", "String Splitting", "Time Series", "Time Window", "Tuple",
    "Type Conversion", "URL", "UUID",
})
# Pure helpers of the catch-all category: formatting, type inspection, block-local running values.
REVIEWED_OTHER = frozenset({
    "MACNumToString", "MACStringToNum", "MACStringToOUI", "bar", "blockNumber", "blockSerializedSize", "blockSize",
    "byteSize", "colorOKLABToSRGB", "colorOKLCHToSRGB", "colorSRGBToOKLAB", "colorSRGBToOKLCH", "countDigits",
    "currentDatabase", "defaultValueOfArgumentType", "defaultValueOfTypeName", "digits", "dumpColumnStructure",
    "errorCodeToName", "finalizeAggregation", "flipCoordinates", "formatQuery", "formatQueryOrNull",
    "formatQuerySingleLine", "formatQuerySingleLineOrNull", "formatReadableDecimalSize", "formatReadableQuantity",
    "formatReadableSize", "formatReadableTimeDelta", "getSizeOfEnumType", "getSubcolumn", "identity", "ignore",
    "indexHint", "initializeAggregation", "isConstant", "isDecimalOverflow", "lowCardinalityIndices",
    "lowCardinalityKeys", "materialize", "minSampleSizeContinuous", "minSampleSizeConversion", "neighbor",
    "normalizeQuery", "normalizeQueryKeepNames", "normalizedQueryHash", "normalizedQueryHashKeepNames",
    "parseISO8601Duration", "parseReadableSize", "parseReadableSizeOrNull", "parseReadableSizeOrZero",
    "parseTimeDelta", "rowNumberInAllBlocks", "rowNumberInBlock", "runningAccumulate", "runningConcurrency",
    "runningDifference", "runningDifferenceStartingWithFirstValue", "throwIf", "toColumnTypeName", "toTypeName",
    "transform", "variantElement", "variantType", "visibleWidth",
})
# In a safe category but not safe to hand an analyst: symbolises the server's own stack traces.
DENIED = frozenset({"flameGraph"})
# Written by the parser for SQL syntax (x -> ..., EXISTS (...), GROUPING, CASE x WHEN ...); not listed in
# system.functions under these names, or listed as internal.
SYNTAX_FUNCTIONS = frozenset({"lambda", "exists", "grouping", "caseWithExpression"})
AGGREGATE_COMBINATORS = (
    "SimpleState", "MergeState", "OrDefault", "Resample", "Distinct", "ForEach", "ArgMin", "ArgMax", "OrNull",
    "State", "Merge", "Array", "Map", "If",
)
_FILE = "sql_functions.txt"


@dataclass(frozen=True, slots=True)
class FunctionRow:
    """One row of `system.functions`."""

    name: str
    is_aggregate: bool
    alias_to: str
    categories: str
    origin: str


@dataclass(frozen=True, slots=True)
class FunctionAllowList:
    scalar: frozenset[str]  # lower-cased: the guard compares names case-insensitively (see test_sql_guard)
    aggregate: frozenset[str]

    def allows(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in self.scalar or lowered in self.aggregate or name in SYNTAX_FUNCTIONS:
            return True
        return self._combined_aggregate(name, depth=0)

    def _combined_aggregate(self, name: str, depth: int) -> bool:
        # sumIf, uniqExactState, groupArrayIfOrNull ...: an allowed aggregate with combinator suffixes.
        if depth > 4:
            return False
        for suffix in AGGREGATE_COMBINATORS:
            base = name.removesuffix(suffix)
            if base not in ("", name) and (
                base.lower() in self.aggregate or self._combined_aggregate(base, depth + 1)
            ):
                return True
        return False


def derive(rows: Iterable[FunctionRow]) -> FunctionAllowList:
    by_name = {row.name: row for row in rows if row.origin == "System"}
    scalar: set[str] = set()
    aggregate: set[str] = set()
    for row in by_name.values():
        target = by_name.get(row.alias_to, row) if row.alias_to else row
        if row.name in DENIED or target.name in DENIED:
            continue
        if target.categories in SAFE_CATEGORIES or target.name in REVIEWED_OTHER:
            (aggregate if target.is_aggregate else scalar).add(row.name.lower())
    return FunctionAllowList(frozenset(scalar), frozenset(aggregate))


def render(allow: FunctionAllowList) -> str:
    lines = ["# Generated from system.functions by stream/sql_functions.py (derive): what analyst SQL may call."]
    for title, names in (("aggregate", allow.aggregate), ("scalar", allow.scalar)):
        lines.append(f"[{title}]")
        row: list[str] = []
        for name in sorted(names):
            if sum(len(n) + 1 for n in row) + len(name) > 110:
                lines.append(" ".join(row))
                row = []
            row.append(name)
        if row:
            lines.append(" ".join(row))
    return "\n".join(lines) + "\n"


def parse(text: str) -> FunctionAllowList:
    sections: dict[str, set[str]] = {"aggregate": set(), "scalar": set()}
    current: set[str] | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections[line.strip("[] \t")]
            continue
        if current is None:
            msg = f"{_FILE}: a name before any [section]"
            raise ValueError(msg)
        current.update(line.split())
    return FunctionAllowList(frozenset(sections["scalar"]), frozenset(sections["aggregate"]))


@cache
def allowed_functions() -> FunctionAllowList:
    return parse(resources.files("stream").joinpath(_FILE).read_text(encoding="utf-8"))


FUNCTIONS_QUERY = "SELECT name, is_aggregate, alias_to, categories, toString(origin) FROM system.functions"


def rows_from(result_rows: Iterable[tuple[object, ...]]) -> list[FunctionRow]:
    return [FunctionRow(str(n), bool(a), str(t), str(c), str(o)) for n, a, t, c, o in result_rows]
