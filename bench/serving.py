"""Serving benchmark: API handler latency per backend, and Timestream WriteRecords calls per 10k rows.

    .venv/bin/python bench/serving.py [--buildings 1000] [--hours 72] [--iterations 100]
                                      [--backends rds,dynamodb,timestream]

* RDS: a throw-away local PostgreSQL server (initdb/pg_ctl), the real ``PostgresForecastStore``.
* DynamoDB: (a) an in-memory stand-in answering the store's Query/GetItem from sorted partitions
  at the full scale — the handler's and store's own cost with a zero-latency service, plus the
  number of Query pages a request needs (add the service's per-page time, typically a few ms);
  (b) moto's server at a small scale (``--moto-buildings``): moto scans every item per Query,
  so those latencies are an upper bound, not a prediction of DynamoDB in AWS.
* Timestream: moto cannot query Timestream; the figure is the number of ``WriteRecords`` calls
  for 10,000 forecast rows against the floor of 100 (100 records per call).

The handlers are called in-process with API Gateway proxy events (what the Lambda receives), so
the latency is handler + store, without API Gateway or Lambda overhead. One JSON line per case on
stdout (``case`` = ``<backend>/<query>``: ``p50_ms``/``p99_ms``; ``<backend>/write_run``:
``seconds`` and write calls; Query pages; Timestream calls); the same figures as prose on stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid

from _report import emit, note

from edf.config import load_config
from edf.serving import b2b
from edf.serving.api import Dependencies, set_dependencies
from edf.serving.tenants import TenantRegistry
from edf.storage.sample import synthetic_rows
from edf_local.gateway import local_registry

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUE = T0 - dt.timedelta(hours=1)
AREA = "bench-area"


def event(path: str, resource: str, query: dict[str, str], api_key: str, path_params=None) -> dict:
    return {"resource": resource, "path": path, "httpMethod": "GET", "headers": {"x-api-key": api_key},
            "multiValueHeaders": {"x-api-key": [api_key]}, "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()}, "pathParameters": path_params,
            "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": resource, "httpMethod": "GET", "stage": "bench",
                               "requestId": str(uuid.uuid4()), "identity": {"apiKey": api_key, "apiKeyId": None}}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(name: str, ev: dict, iterations: int) -> dict:
    b2b.handle(ev, None)  # warm (connection, caches), like a warm Lambda
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        resp = b2b.handle(ev, None)
        times.append((time.perf_counter() - t) * 1000)
        assert resp["statusCode"] == 200, resp["body"][:300]
    return {"query": name, "n": iterations, "p50_ms": statistics.median(times), "p99_ms": percentile(times, 0.99)}


def run_latency(cfg, store, buildings: int, hours: int, iterations: int, label: str, backend: str) -> list[dict]:
    ids = [f"bld-{i:05d}" for i in range(buildings)]
    t = time.perf_counter()
    rows = synthetic_rows(ids, AREA, "bench-run", ISSUE, T0, hours)
    store.ensure_schema(create=True)
    res = store.write_run("bench-run", rows)
    write_s = time.perf_counter() - t
    note(f"[{label}] wrote {res.forecasts_written} forecast rows ({buildings} buildings x {hours} h x 2 series) "
         f"in {write_s:.1f}s ({res.calls} write calls)")
    emit("serving", f"{backend}/write_run", seconds=round(write_s, 3), forecast_rows=res.forecasts_written,
         write_calls=res.calls, buildings=buildings, hours=hours)
    doc, keys = local_registry([AREA])
    set_dependencies(Dependencies(cfg, store, TenantRegistry(doc)))
    key = keys[f"tenant-{AREA}"]
    day = {"start": "2026-06-01T00:00:00Z", "end": "2026-06-02T00:00:00Z"}
    week = {"start": "2026-06-01T00:00:00Z", "end": "2026-06-08T00:00:00Z"}
    bid = ids[buildings // 2]
    path = f"/v1/buildings/{bid}/forecast"
    res_b = "/v1/buildings/{building_id}/forecast"
    out = [
        measure("building 1 day", event(path, res_b, day, key, {"building_id": bid}), iterations),
        measure("building 7 days", event(path, res_b, week, key, {"building_id": bid}), iterations),
        measure(f"portfolio {buildings} bldg x {hours} h",
                event("/v1/portfolio/forecast", "/v1/portfolio/forecast",
                      {"start": "2026-06-01T00:00:00Z", "end": (T0 + dt.timedelta(hours=hours)).strftime(
                          "%Y-%m-%dT%H:%M:%SZ"), "grid_area": AREA}, key), max(5, iterations // 10)),
    ]
    for r in out:
        note(f"[{label}] {r['query']:<32} p50 {r['p50_ms']:8.1f} ms   p99 {r['p99_ms']:8.1f} ms   (n={r['n']})")
        emit("serving", f"{backend}/{r['query'].replace(' ', '_')}", p50_ms=round(r["p50_ms"], 3),
             p99_ms=round(r["p99_ms"], 3), n=r["n"], buildings=buildings, hours=hours)
    return out


def bench_rds(cfg, args) -> None:
    from edf.storage.postgres import PostgresForecastStore
    from edf_local.postgres import start_local_postgres

    server = start_local_postgres()
    try:
        store = PostgresForecastStore(server.dsn, schema="bench")
        run_latency(cfg, store, args.buildings, args.hours, args.iterations, "RDS/PostgreSQL", "rds")
        store.close()
    finally:
        server.stop()


class InMemoryDynamoDB:
    """The subset of the DynamoDB API the store uses, answered from sorted in-memory partitions.

    Measures the handler's and store's own cost with a zero-latency service (moto's query engine
    scans every item, so it cannot hold 1,000 buildings x 72 h). Pages are cut at ~1 MB of item
    JSON like DynamoDB's, and calls/pages are counted so service time can be added per page.
    """

    PAGE_BYTES = 1_000_000

    def __init__(self) -> None:
        import bisect
        import json

        self._bisect, self._json = bisect, json
        self.tables: dict[str, dict[str, dict]] = {"": {}, "ByRun": {}}
        self.keys = {"": ("PK", "SK"), "ByRun": ("RPK", "RSK")}
        self.calls: dict[str, int] = {}

        class _Exc:
            ResourceNotFoundException = KeyError

        self.exceptions = _Exc

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def describe_table(self, TableName):  # noqa: N803 - boto3 argument names
        return {"Table": {"TableName": TableName}}

    def _put(self, item):
        for index, (pk, sk) in self.keys.items():
            if pk in item:
                part = self.tables[index].setdefault(item[pk]["S"], {"keys": [], "items": {}})
                key = item[sk]["S"]
                if key not in part["items"]:
                    self._bisect.insort(part["keys"], key)
                part["items"][key] = item

    def batch_write_item(self, RequestItems):  # noqa: N803
        self._count("BatchWriteItem")
        for reqs in RequestItems.values():
            for r in reqs:
                if "PutRequest" in r:
                    self._put(r["PutRequest"]["Item"])
        return {"UnprocessedItems": {}}

    def _get(self, key):
        part = self.tables[""].get(key["PK"]["S"])
        return part["items"].get(key["SK"]["S"]) if part else None

    def get_item(self, TableName, Key, ConsistentRead=False):  # noqa: N803
        self._count("GetItem")
        item = self._get(Key)
        return {"Item": item} if item else {}

    def batch_get_item(self, RequestItems):  # noqa: N803
        self._count("BatchGetItem")
        return {"Responses": {t: [i for i in map(self._get, r["Keys"]) if i] for t, r in RequestItems.items()}}

    def put_item(self, TableName, Item, **_condition):  # noqa: N803 - the bench writes each run once
        self._count("PutItem")
        self._put(Item)

    def query(self, TableName, KeyConditionExpression, ExpressionAttributeValues, IndexName="",  # noqa: N803
              ProjectionExpression=None, ExclusiveStartKey=None, ConsistentRead=False):
        self._count("Query")
        pk_name, sk_name = self.keys[IndexName]
        part = self.tables[IndexName].get(ExpressionAttributeValues[":p"]["S"], {"keys": [], "items": {}})
        keys = part["keys"]
        if "BETWEEN" in KeyConditionExpression:
            lo = self._bisect.bisect_left(keys, ExpressionAttributeValues[":a"]["S"])
            hi = self._bisect.bisect_right(keys, ExpressionAttributeValues[":b"]["S"])
        elif "begins_with" in KeyConditionExpression:
            prefix = ExpressionAttributeValues[":b"]["S"]
            lo = self._bisect.bisect_left(keys, prefix)
            hi = self._bisect.bisect_right(keys, prefix + "\uffff")
        else:
            lo, hi = 0, len(keys)
        if ExclusiveStartKey:
            lo = max(lo, self._bisect.bisect_right(keys, ExclusiveStartKey[sk_name]["S"]))
        out, size = [], 0
        for i in range(lo, hi):
            item = part["items"][keys[i]]
            size += len(self._json.dumps(item))
            out.append(item)
            if size >= self.PAGE_BYTES and i + 1 < hi:
                return {"Items": out, "LastEvaluatedKey": {sk_name: item[sk_name], pk_name: item[pk_name]}}
        return {"Items": out}


def bench_dynamodb_inmemory(cfg, args) -> None:
    from edf.storage.dynamodb import DynamoDBForecastStore

    client = InMemoryDynamoDB()
    store = DynamoDBForecastStore("edf-bench", ttl_days=30, client=client)
    run_latency(cfg, store, args.buildings, args.hours, args.iterations, "DynamoDB (in-memory)", "dynamodb-inmemory")
    before = dict(client.calls)
    b2b.handle(event("/v1/portfolio/forecast", "/v1/portfolio/forecast",
                             {"start": "2026-06-01T00:00:00Z", "end": (T0 + dt.timedelta(hours=args.hours)).strftime(
                                 "%Y-%m-%dT%H:%M:%SZ"), "grid_area": AREA},
                             local_registry([AREA])[1][f"tenant-{AREA}"]), None)
    pages = client.calls.get("Query", 0) - before.get("Query", 0)
    note(f"[DynamoDB (in-memory)] one portfolio request = {pages} Query pages (sequential) + 1 BatchGetItem of "
         "run pointers; a building request = 1 GetItem + 1 Query page per series + 1 BatchGetItem per read")
    emit("serving", "dynamodb-inmemory/portfolio_query_pages", query_pages=pages, buildings=args.buildings,
         hours=args.hours)


def bench_dynamodb(cfg, args) -> None:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    from edf.storage.dynamodb import DynamoDBForecastStore

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        client = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}", region_name="eu-central-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
        store = DynamoDBForecastStore("edf-bench", ttl_days=30, client=client)
        run_latency(cfg, store, args.moto_buildings, args.hours, args.iterations, "DynamoDB (moto)", "dynamodb-moto")
    finally:
        moto.stop()


def bench_timestream(cfg, args) -> None:
    import boto3
    from moto import mock_aws

    from edf.storage.timestream import MAX_RECORDS_PER_CALL, TimestreamForecastStore

    rows_n = 10_000
    with mock_aws():
        session = boto3.Session(region_name="eu-central-1")
        store = TimestreamForecastStore("edf_bench", "forecasts", "recs", boto3_session=session)
        store.ensure_schema(create=True)
        calls: list[int] = []
        session.events.register("provide-client-params.timestream-write.WriteRecords",
                                lambda params, **kw: calls.append(len(params["Records"])))
        ids = [f"bld-{i:05d}" for i in range(rows_n // (2 * 50))]
        rows = synthetic_rows(ids, AREA, "bench-run", ISSUE, T0, 50)
        assert len(rows) == rows_n
        t = time.perf_counter()
        store.write_run("bench-run", rows)
        elapsed = time.perf_counter() - t
    floor = -(-rows_n // MAX_RECORDS_PER_CALL)
    note(f"[Timestream (moto)] {rows_n} forecast rows -> {len(calls)} WriteRecords calls "
         f"(floor {floor}; largest {max(calls)} records, smallest {min(calls)}) in {elapsed:.1f}s")
    emit("serving", f"timestream-moto/write_{rows_n}_rows", seconds=round(elapsed, 3), write_calls=len(calls),
         floor_calls=floor, largest_call_records=max(calls), smallest_call_records=min(calls))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buildings", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=72)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--moto-buildings", type=int, default=50,
                        help="buildings for the moto DynamoDB run (moto scans every item per Query)")
    parser.add_argument("--backends", default="rds,dynamodb-inmemory,dynamodb,timestream")
    args = parser.parse_args()
    cfg = load_config()
    for name in args.backends.split(","):
        {"rds": bench_rds, "dynamodb": bench_dynamodb, "dynamodb-inmemory": bench_dynamodb_inmemory,
         "timestream": bench_timestream}[name.strip().lower()](cfg, args)


if __name__ == "__main__":
    main()
