"""Validation of every API parameter; the only way request values reach a store.

Each function raises :class:`ApiError` (400, ``{"error": {"code", "message"}}``) naming the
parameter, the rule and (shortened) the offending value.
"""

from __future__ import annotations

import datetime as dt
import re

from edf.storage.base import BUILDING_ID_RE, GRID_AREA_RE, SERIES

_ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Forecasts exist for a few days around "now"; far-away years only invite overflow at the edges.
MIN_YEAR, MAX_YEAR = 1970, 2200


class ApiError(Exception):
    """An answer other than 200: status, machine-readable code, one human sentence."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def bad(name: str, rule: str, value: object) -> ApiError:
    return ApiError(400, f"invalid_{name}", f"{name} {rule}; got {_show(value)}")


def required(name: str, value: str | None) -> str:
    if value is None or value == "":
        raise ApiError(400, f"missing_{name}", f"query parameter {name} is required")
    return value


def building_id(value: str | None) -> str:
    value = required("building_id", value)
    if not BUILDING_ID_RE.fullmatch(value):
        raise bad("building_id", "must be 1-64 letters, digits, '_' or '-'", value)
    return value


def grid_area(value: str) -> str:
    if not GRID_AREA_RE.fullmatch(value):
        raise bad("grid_area", "must be 1-64 letters, digits, '_' or '-'", value)
    return value


def series(value: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    """``consumption``, ``solar`` or a comma-separated list of them; absent -> ``default``."""
    if value is None or value == "":
        return default
    parts = tuple(dict.fromkeys(p.strip() for p in value.split(",")))
    if not parts or any(p not in SERIES for p in parts):
        raise bad("series", f"must be one of {', '.join(SERIES)} (comma-separated)", value)
    return parts


def timestamp(name: str, value: str | None) -> dt.datetime:
    """ISO 8601 with an explicit offset (``Z`` or ``+01:00``); naive times are ambiguous -> 400."""
    value = required(name, value)
    if not _ISO_RE.fullmatch(value):
        raise bad(name, "must be an ISO 8601 timestamp with a timezone, e.g. 2026-06-01T00:00:00Z", value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "T")).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise bad(name, "is not a valid date and time", value) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise bad(name, f"must be between the years {MIN_YEAR} and {MAX_YEAR}", value)
    return parsed


def time_range(start: str | None, end: str | None, max_days: int) -> tuple[dt.datetime, dt.datetime]:
    s, e = timestamp("start", start), timestamp("end", end)
    if s >= e:
        raise ApiError(400, "invalid_range", f"start ({start}) must be before end ({end})")
    if e - s > dt.timedelta(days=max_days):
        raise ApiError(400, "range_too_long", f"start..end spans more than {max_days} days")
    return s, e


def date(value: str | None, name: str = "date") -> dt.date:
    value = required(name, value)
    if not _DATE_RE.fullmatch(value):
        raise bad(name, "must be a date as YYYY-MM-DD", value)
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise bad(name, "is not a valid calendar date", value) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise bad(name, f"must be between the years {MIN_YEAR} and {MAX_YEAR}", value)
    return parsed
