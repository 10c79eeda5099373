"""Choice-state comparison operators of the Amazon States Language, shared by the interpreter and the validator.

Kept apart so :mod:`edf_local.asl` (static checks) and :mod:`edf_local.stepfunctions` (execution)
agree on the operator set without importing each other.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

COMPARATORS = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
TYPE_TESTS = {
    "String": lambda v: isinstance(v, str),
    "Numeric": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "Boolean": lambda v: isinstance(v, bool),
    "Timestamp": lambda v: parse_ts(v) is not None,
}
COMPARISON_OPERATORS = frozenset(
    [f"{t}{c}{p}" for t in ("String", "Numeric", "Boolean", "Timestamp") for c in COMPARATORS for p in ("", "Path")
     if not (t == "Boolean" and c != "Equals")]
    + ["StringMatches", "IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"]
)


def parse_ts(v: Any) -> datetime | None:
    if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", v):
        return None
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return None


def string_matches(value: str, pattern: str) -> bool:
    """ASL StringMatches: ``*`` matches any run of characters, ``\\*`` is a literal star."""
    pieces = re.split(r"(?<!\\)\*", pattern)
    regex = ".*".join(re.escape(p.replace("\\*", "*")) for p in pieces)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None
