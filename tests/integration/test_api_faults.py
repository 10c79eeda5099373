"""The API handlers under faults (issue 14, items 2, 4, 5): bad claims, store errors, a broken registry.

The handlers are called in-process with API Gateway proxy events, against moto DynamoDB (and a
real PostgreSQL server for the RDS read error). An exception escaping ``lambda_handler`` is what
API Gateway turns into a 502 (and what the Lambda error alarm pages on); each test asserts the
documented answer instead.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from moto import mock_aws

from edf.serving import b2b, b2c
from edf.serving.api import Dependencies, set_dependencies
from edf.serving.tenants import CachedRegistry, TenantRegistry, key_hash
from edf.storage.dynamodb import DynamoDBForecastStore
from edf.storage.sample import synthetic_rows

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUE = T0 - dt.timedelta(hours=19)
GOOD_KEY, OTHER_KEY = "key-north-0123456789", "key-south-0123456789"
REGISTRY = {"tenants": [
    {"tenant_id": "dso-north", "grid_areas": ["north"], "api_key_sha256": [key_hash(GOOD_KEY)]},
    {"tenant_id": "dso-south", "grid_areas": ["south"], "api_key_sha256": [key_hash(OTHER_KEY)]}]}
TOPOLOGY = pd.DataFrame({"building_id": ["n-1", "n-2"], "grid_area": ["north", "north"],
                         "timezone": ["Europe/Paris", None]})


def _event(path: str, resource: str, query: dict[str, str] | None = None, *, api_key: str | None = None,
           claims: dict | None = None, path_params: dict | None = None) -> dict:
    return {"resource": resource, "path": path, "httpMethod": "GET", "headers": {},
            "multiValueHeaders": {}, "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
            "pathParameters": path_params, "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource, "httpMethod": "GET", "stage": "test",
                               "requestId": str(uuid.uuid4()),
                               "identity": {"apiKey": api_key, "apiKeyId": None},
                               "authorizer": {"claims": claims} if claims is not None else None}}


def forecast(building: str = "n-1", key: str = GOOD_KEY) -> dict:
    ev = _event(f"/v1/buildings/{building}/forecast", "/v1/buildings/{building_id}/forecast",
                {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}, api_key=key,
                path_params={"building_id": building})
    return b2b.handle(ev, None)


def _headers(resp: dict) -> dict[str, str]:
    return {**(resp.get("headers") or {}), **{k: v[0] for k, v in (resp.get("multiValueHeaders") or {}).items()}}


def me(claims: dict, date: str = "2026-06-01") -> dict:
    return b2c.handle(_event("/v1/me/solar-vs-demand", "/v1/me/solar-vs-demand", {"date": date},
                                     claims=claims), None)


@pytest.fixture
def store():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-central-1", config=Config(retries={"max_attempts": 1}))
        s = DynamoDBForecastStore("edf-faults", ttl_days=30, client=client)
        s.ensure_schema(create=True)
        rows = (synthetic_rows(["n-1", "n-2"], "north", "run-1", ISSUE, T0 - dt.timedelta(hours=5), 72)
                + synthetic_rows(["s-1"], "south", "run-1", ISSUE, T0 - dt.timedelta(hours=5), 72))
        s.write_run("run-1", rows)
        yield s
    set_dependencies(None)


def _deps(cfg, store, registry=None, zones=None) -> Dependencies:
    deps = Dependencies(cfg, store, registry or TenantRegistry(REGISTRY))
    deps.zones = zones  # set as an attribute: the field is new
    set_dependencies(deps)
    return deps


# ---------------------------------------------------------------- item 2: the resident's zoneinfo claim
class _Zones:
    """The ``lookup`` interface of :class:`edf.serving.zones.TopologyZones` over a fixed table."""

    def __init__(self, table: dict[str, str]):
        self.lookup = table.get


@pytest.mark.parametrize("claim", ["A" * 300, "America", "../../etc/passwd", "Europe/Nowhere", "", None])
def test_invalid_zoneinfo_falls_back_to_the_topology_zone(cfg, store, claim):
    _deps(cfg, store, zones=_Zones({"n-1": "Europe/Paris"}))
    claims = {"custom:building_id": "n-1", **({"zoneinfo": claim} if claim is not None else {})}
    resp = me(claims)
    assert resp["statusCode"] == 200, resp["body"]
    body = json.loads(resp["body"])
    assert body["timezone"] == "Europe/Paris" and body["timezone_source"] == "topology"
    assert body["timezone_note"] and (claim or "§") not in body["timezone_note"]
    # the day is Paris's: 2026-06-01 00:00 CEST is 2026-05-31 22:00 UTC
    assert body["hours"][0]["timestamp_hour"] == "2026-05-31T22:00:00Z" and len(body["hours"]) == 24


def test_zone_falls_back_to_utc_without_topology_zone(cfg, store):
    from edf.serving.zones import TopologyZones

    zones = TopologyZones(TOPOLOGY)
    assert zones.lookup("n-1") == "Europe/Paris" and zones.lookup("n-2") is None
    _deps(cfg, store, zones=zones)
    body = json.loads(me({"custom:building_id": "n-2", "zoneinfo": "A" * 300})["body"])
    assert (body["timezone"], body["timezone_source"]) == ("UTC", "utc")
    assert body["hours"][0]["timestamp_hour"] == "2026-06-01T00:00:00Z"
    # an unreadable topology is the same fallback, never a 5xx
    _deps(cfg, store, zones=TopologyZones("/nonexistent/topology/"))
    resp = me({"custom:building_id": "n-1", "zoneinfo": "America"})
    assert resp["statusCode"] == 200 and json.loads(resp["body"])["timezone_source"] == "utc"


def test_valid_zoneinfo_claim_is_used(cfg, store):
    _deps(cfg, store, zones=_Zones({"n-1": "Europe/Paris"}))
    body = json.loads(me({"custom:building_id": "n-1", "zoneinfo": "America/New_York"})["body"])
    assert (body["timezone"], body["timezone_source"], body["timezone_note"]) == ("America/New_York", "token", None)


# ---------------------------------------------------------------- item 4: store errors are 503, not 502
def _throttle(client, operation: str) -> None:
    def hook(**kwargs):
        body = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400}}
        return AWSResponse("https://dynamodb", 400, {}, None), body

    client.meta.events.register_first(f"before-call.dynamodb.{operation}", hook)


@pytest.mark.parametrize("operation", ["GetItem", "Query"])
def test_dynamodb_throttling_answers_503_with_retry_after(cfg, store, operation):
    _deps(cfg, store)
    _throttle(store.client, operation)
    resp = forecast()
    assert resp["statusCode"] == 503, resp
    assert json.loads(resp["body"])["error"]["code"] == "store_unavailable"
    assert int(_headers(resp)["Retry-After"]) == cfg.edf_serving.retry_after_seconds
    assert "Rate exceeded" not in resp["body"] and "ProvisionedThroughput" not in resp["body"]


def test_dynamodb_throttling_on_the_resident_api_answers_503(cfg, store):
    _deps(cfg, store)
    _throttle(store.client, "Query")
    resp = me({"custom:building_id": "n-1", "zoneinfo": "Europe/Paris"})
    assert resp["statusCode"] == 503


@pytest.mark.slow
@pytest.mark.postgres
def test_postgres_read_error_answers_503(cfg):
    import psycopg

    from edf.storage.postgres import PostgresForecastStore
    from edf_local.postgres import start_local_postgres

    server = start_local_postgres()
    try:
        pg = PostgresForecastStore(server.dsn, schema="faults")
        pg.ensure_schema()
        pg.write_run("run-1", synthetic_rows(["n-1"], "north", "run-1", ISSUE, T0, 24))
        _deps(cfg, pg)
        assert forecast()["statusCode"] == 200
        # the backend dies under the open connection (RDS failover, admin kill): the next read fails
        with psycopg.connect(server.dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE pid <> pg_backend_pid() AND datname = current_database()")
        resp = forecast()
        assert resp["statusCode"] == 503 and "Retry-After" in _headers(resp)
        assert forecast()["statusCode"] == 200  # the store reconnects on the next request
        pg.close()
    finally:
        set_dependencies(None)
        server.stop()


# ---------------------------------------------------------------- item 5: the tenant registry
def _emf(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def test_one_malformed_entry_breaks_no_other_tenant(cfg, store, tmp_path, capsys):
    bad = {"tenant_id": "broken", "grid_areas": ["secret area of dso-east'"], "api_key_sha256": ["abc"]}
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": [bad, *REGISTRY["tenants"]]}))
    _deps(cfg, store, registry=CachedRegistry(str(path), 300))
    resp = forecast()
    assert resp["statusCode"] == 200, resp["body"]
    assert forecast(building="s-1", key=OTHER_KEY)["statusCode"] == 200
    metrics = [d for d in _emf(capsys) if "TenantRegistryRejectedEntries" in d]
    assert metrics and metrics[-1]["TenantRegistryRejectedEntries"] == [1.0]
    assert metrics[-1]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == cfg.edf_serving.metrics_namespace
    assert metrics[-1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]


def test_registry_content_is_never_echoed(cfg, store, tmp_path):
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": [{"tenant_id": "x", "grid_areas": ["dso-east private'"]}]}))
    _deps(cfg, store, registry=CachedRegistry(str(path), 300))
    resp = forecast()
    assert resp["statusCode"] == 503  # no valid entry at all: unavailable, not a 400 quoting the file
    assert "dso-east" not in resp["body"] and "tenant" not in resp["body"]


def test_missing_registry_at_refresh_keeps_the_last_good_copy(cfg, store, capsys):
    s3 = boto3.client("s3", region_name="eu-central-1")
    s3.create_bucket(Bucket="edf-scripts", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="edf-scripts", Key="tenants.json", Body=json.dumps(REGISTRY).encode())
    _deps(cfg, store, registry=CachedRegistry("s3://edf-scripts/tenants.json", 0))
    assert forecast()["statusCode"] == 200
    s3.delete_object(Bucket="edf-scripts", Key="tenants.json")
    resp = forecast()
    assert resp["statusCode"] == 200, resp["body"]
    assert any(d.get("TenantRegistryRefreshFailures") == [1.0] for d in _emf(capsys))


def test_registry_never_loaded_answers_503(cfg, store):
    _deps(cfg, store, registry=CachedRegistry("s3://no-such-bucket/tenants.json", 300))
    resp = forecast()
    assert resp["statusCode"] == 503 and json.loads(resp["body"])["error"]["code"] == "service_unavailable"
    assert "no-such-bucket" not in resp["body"]


def test_a_key_claimed_by_two_tenants_serves_neither():
    reg = TenantRegistry({"tenants": [
        {"tenant_id": "a", "grid_areas": ["north"], "api_key_sha256": [key_hash("shared")]},
        {"tenant_id": "b", "grid_areas": ["south"], "api_key_sha256": [key_hash("shared"), key_hash("own-b")]}]})
    assert reg.lookup(None, "shared") is None and reg.lookup(None, "own-b").tenant_id == "b"
    assert reg.rejected == 1
