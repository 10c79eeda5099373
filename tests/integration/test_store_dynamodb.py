"""DynamoDB store against moto: contract, batching with UnprocessedItems retries, Query-only reads."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws
from store_contract import ISSUE1, T0, check_moved_building, check_origin_first, check_store

from edf.storage.base import StoreError
from edf.storage.dynamodb import DynamoDBForecastStore
from edf.storage.sample import synthetic_rows


@pytest.fixture
def store():
    with mock_aws():
        s = DynamoDBForecastStore("edf-test", ttl_days=30, region="eu-central-1")
        s.sleep = lambda _s: None
        yield s


def test_contract(store):
    check_store(store)


def test_reads_never_scan(store):
    calls = []
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **kw: calls.append(model.name))
    check_store(store)
    assert "Scan" not in calls and "Query" in calls


def test_ttl_attribute_set(store):
    store.ensure_schema(create=True)
    ttl = store.client.describe_time_to_live(TableName="edf-test")["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "expires_at"
    rows = synthetic_rows(["b-1"], "north", "run-1", ISSUE1, T0, 2, series=("consumption",))
    store.write_run("run-1", rows)
    item = store.client.get_item(TableName="edf-test", Key={"PK": {"S": "B#b-1"}, "SK": {"S": "META"}})["Item"]
    assert int(item["expires_at"]["N"]) == int((ISSUE1 + dt.timedelta(days=30)).timestamp())


def test_unprocessed_items_are_retried(store):
    store.ensure_schema(create=True)
    real = store.client.batch_write_item
    state = {"calls": 0}

    def flaky(RequestItems):
        state["calls"] += 1
        items = RequestItems["edf-test"]
        if state["calls"] % 2 == 1 and len(items) > 1:  # every other call leaves half unprocessed
            half = len(items) // 2
            real(RequestItems={"edf-test": items[:half]})
            return {"UnprocessedItems": {"edf-test": items[half:]}}
        return real(RequestItems=RequestItems)

    store.client.batch_write_item = flaky
    rows = synthetic_rows(["b-1", "b-2"], "north", "run-1", ISSUE1, T0, 30)
    res = store.write_run("run-1", rows)
    assert res.forecasts_written == 120
    assert len(store.building_series("b-2", "solar", T0, T0 + dt.timedelta(hours=30))) == 30


def test_unprocessed_forever_raises(store):
    store.ensure_schema(create=True)
    store.client.batch_write_item = lambda RequestItems: {"UnprocessedItems": RequestItems}
    with pytest.raises(StoreError, match="unprocessed"):
        store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE1, T0, 2))


def test_missing_table_is_a_clear_error():
    with mock_aws():
        s = DynamoDBForecastStore("absent", ttl_days=30, client=boto3.client("dynamodb", region_name="eu-central-1"))
        with pytest.raises(StoreError, match="does not exist"):
            s.ensure_schema(create=False)


def test_rerun_of_an_older_day_does_not_hide_fresher_forecasts(store):
    check_origin_first(store)


def test_moved_building_follows_the_current_topology(store):
    check_moved_building(store)
