"""Pagination of the B2B list endpoints: ``limit`` (at most 1,000) and an opaque ``cursor``.

A 10,000-building portfolio has 30,000 recommendations a day (8.9 MB as one JSON answer), over
Lambda's 6 MB response limit: API Gateway would answer 502 and the DSO would get nothing. Every list
is therefore served in pages, in a stable order, with ``next_cursor`` pointing at the next one.

The cursor is base64url JSON holding the offset and a fingerprint of the query it belongs to (the
tenant and the filters), so a cursor replayed with other parameters is refused instead of silently
paging through a different list. Offsets are over the newest data at request time: a load that
lands between two pages can shift them; clients re-read from the first page after a new run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

from edf.serving.params import ApiError, bad

MAX_LIMIT = 1000
T = TypeVar("T")


def page_limit(value: str | None, default: int) -> int:
    """The ``limit`` query parameter: 1..1000 (absent -> ``default``)."""
    if value is None or value == "":
        return min(default, MAX_LIMIT)
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise bad("limit", f"must be an integer from 1 to {MAX_LIMIT}", value)
    return int(value)


def fingerprint(*parts: object) -> str:
    """What a cursor is bound to: the caller and the query's filters."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def encode_cursor(offset: int, query: str) -> str:
    raw = json.dumps({"o": offset, "q": query}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: str) -> int:
    """The offset a cursor points at (0 without one); 400 for a malformed or foreign cursor."""
    if cursor is None or cursor == "":
        return 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset, bound = int(doc["o"]), str(doc["q"])
    except (ValueError, KeyError, TypeError):
        raise bad("cursor", "is not a cursor this API issued", cursor) from None
    if bound != query or offset < 0:
        raise ApiError(400, "invalid_cursor", "cursor belongs to another query (same filters and caller needed)")
    return offset


def paginate(items: Sequence[T], limit: int, cursor: str | None, query: str) -> tuple[Sequence[T], str | None]:
    """One page of ``items`` (already in a stable order) and the cursor of the next page, if any."""
    offset = decode_cursor(cursor, query)
    page = items[offset:offset + limit]
    following = offset + limit
    return page, (encode_cursor(following, query) if following < len(items) else None)
