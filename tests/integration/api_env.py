"""A running local API (moto DynamoDB store, two tenants, two residents) for the API tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import boto3

from edf.storage.base import RecommendationRow
from edf.storage.dynamodb import DynamoDBForecastStore
from edf.storage.sample import synthetic_rows
from edf_local.gateway import local_token, start_server

DAY = dt.date(2026, 6, 1)
T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUE = T0 - dt.timedelta(hours=19)


# what each building's stored forecasts say about the weather they used (issue 15)
WEATHER_SOURCES = {"n-1": "forecast", "n-2": "none", "s-1": "stale:30h"}


@dataclass
class ApiEnv:
    base_url: str
    server: object
    keys: dict[str, str]  # tenant area -> api key
    tokens: dict[str, str]  # building -> resident token
    store: DynamoDBForecastStore


def start_api_env(cfg, endpoint_url: str) -> ApiEnv:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="eu-central-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    store = DynamoDBForecastStore("edf-api-test", ttl_days=30, client=client)
    store.ensure_schema(create=True)
    rows = (synthetic_rows(["n-1", "n-2"], "north", "run-1", ISSUE, T0 - dt.timedelta(hours=5), 72)
            + synthetic_rows(["s-1"], "south", "run-1", ISSUE, T0 - dt.timedelta(hours=5), 72))
    rows = [replace(r, weather_source=WEATHER_SOURCES[r.building_id]) for r in rows]
    recs = [RecommendationRow(b, a, "demand_response", T0 + dt.timedelta(hours=18), "curtail", 1.0, 0.5, 0.2,
                              "run-1", ISSUE) for b, a in (("n-1", "north"), ("s-1", "south"))]
    store.write_run("run-1", rows, recs)
    server, base_url = start_server(cfg, port=0, store=store, grid_areas=["north", "south"], endpoint_url=endpoint_url)
    tokens = {b: local_token(cfg, b, endpoint_url=endpoint_url) for b in ("n-1", "s-1", "ghost-9")}
    keys = {area: server.api_keys[f"tenant-{area}"] for area in ("north", "south")}
    return ApiEnv(base_url, server, keys, tokens, store)
