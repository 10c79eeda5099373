"""B2B list endpoints paginate: a 10,000-building day (30,000 recommendations) never makes a 6 MB answer.

The handler runs as the B2B Lambda runs (API Gateway proxy event, the Powertools resolver) against an
in-memory store holding a whole portfolio's recommendations; every page must stay under Lambda's
6 MB response limit, and walking the cursors must return every item exactly once.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from api_events import b2b_get_event

from edf.config import load_config
from edf.serving import b2b
from edf.serving.api import Dependencies, set_dependencies
from edf.serving.pagination import MAX_LIMIT, decode_cursor, encode_cursor, paginate
from edf.serving.params import ApiError
from edf.serving.tenants import TenantRegistry, key_hash
from edf.storage.base import BuildingInfo, RecommendationRow

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024
DAY = dt.date(2026, 6, 1)
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
KEY = "test-key-north"


class PortfolioStore:
    """The two reads the list endpoints make, over 10,000 buildings (ordered as the real stores order)."""

    def __init__(self, buildings: int = 10_000) -> None:
        self.ids = [f"b-{i:05d}" for i in range(buildings)]
        issue = T0 - dt.timedelta(hours=19)
        self.recs = sorted(
            (RecommendationRow(b, "north", kind, T0 + dt.timedelta(hours=h), action, 1.5, 0.75, 0.25,
                               "edf-2026-06-01", issue)
             for b in self.ids for kind, action, h in (("demand_response", "curtail", 18),
                                                       ("resident", "charge_battery", 11),
                                                       ("resident", "discharge_battery", 19))),
            key=lambda r: (r.timestamp_hour, r.building_id, r.kind, r.action))

    def recommendations(self, areas, start, end):
        return [r for r in self.recs if r.grid_area in areas and start <= r.timestamp_hour < end]

    def list_buildings(self, areas):
        return [BuildingInfo(b, "north", ("consumption", "solar")) for b in self.ids]


@pytest.fixture(scope="module")
def api():
    registry = TenantRegistry({"tenants": [{"tenant_id": "t-north", "grid_areas": ["north"],
                                            "api_key_sha256": [key_hash(KEY)]}]})
    store = PortfolioStore()
    set_dependencies(Dependencies(load_config(), store, registry))
    yield store
    set_dependencies(None)


def _get(path: str, query: dict[str, str]) -> tuple[int, dict, int]:
    event = b2b_get_event(path, query, KEY)
    resp = b2b.handle(event, None)
    size = len(json.dumps(resp).encode())
    return resp["statusCode"], json.loads(resp["body"]), size


def _walk(path: str, query: dict[str, str], field: str) -> tuple[list, list[int]]:
    items, sizes, cursor = [], [], None
    while True:
        status, body, size = _get(path, {**query, **({"cursor": cursor} if cursor else {})})
        assert status == 200, body
        items += body[field]
        sizes.append(size)
        cursor = body["next_cursor"]
        if cursor is None:
            return items, sizes


def test_30000_recommendations_come_in_pages_under_the_lambda_limit(api):
    items, sizes = _walk("/v1/portfolio/recommendations", {"date": DAY.isoformat()}, "recommendations")
    assert len(items) == len(api.recs) == 30_000
    assert len(sizes) == 30 and max(sizes) < LAMBDA_RESPONSE_LIMIT
    assert sum(sizes) > LAMBDA_RESPONSE_LIMIT  # as one answer Lambda would refuse it (API Gateway 502)
    keys = [(i["building_id"], i["kind"], i["action"]) for i in items]
    assert len(set(keys)) == len(keys)  # each exactly once


def test_buildings_list_pages(api):
    items, sizes = _walk("/v1/buildings", {"limit": "400"}, "buildings")
    assert [b["building_id"] for b in items] == api.ids and len(sizes) == 25


def test_limit_bounds_and_foreign_cursors_are_400(api):
    assert _get("/v1/buildings", {"limit": str(MAX_LIMIT + 1)})[0] == 400
    assert _get("/v1/buildings", {"limit": "0"})[0] == 400
    status, body, _ = _get("/v1/buildings", {"limit": "10"})
    assert status == 200 and body["total"] == 10_000 and len(body["buildings"]) == 10
    other_query = _get("/v1/portfolio/recommendations", {"date": DAY.isoformat(), "cursor": body["next_cursor"]})
    assert other_query[0] == 400 and other_query[1]["error"]["code"] == "invalid_cursor"
    assert _get("/v1/buildings", {"cursor": "not-a-cursor!"})[0] == 400


def test_paginate_and_cursor_round_trip():
    items = list(range(25))
    page, nxt = paginate(items, 10, None, "q")
    assert page == list(range(10)) and decode_cursor(nxt, "q") == 10
    page, nxt = paginate(items, 10, encode_cursor(20, "q"), "q")
    assert page == list(range(20, 25)) and nxt is None
    with pytest.raises(ApiError):
        decode_cursor(encode_cursor(5, "q"), "other")
