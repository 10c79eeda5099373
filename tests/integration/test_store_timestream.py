"""Timestream store: the write path against moto (batching, record layout, rejected records), and the
shared store contract executed.

moto stores ``WriteRecords`` but cannot run Timestream queries. The read path is checked two ways: as
SQL text and by parsing Timestream-shaped responses, and (issue 14, item 8) by running the store's
own SQL on a local engine over the records the store wrote (``timestream_local``: DuckDB, with the
translations it lists), so ``store_contract.py`` runs on Timestream as on the other backends.
Rejections are injected with a botocore ``before-call`` hook that answers ``WriteRecords`` the way
the service does, so awswrangler's and our handling run unchanged.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from store_contract import check_moved_building, check_origin_first, check_store

from edf.storage.base import InvalidValueError, RejectedRecordsError, StoreError
from edf.storage.sample import synthetic_rows
from edf.storage.timestream import TimestreamForecastStore, is_transient

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUE = T0 - dt.timedelta(hours=1)


@pytest.fixture
def ts():
    with mock_aws():
        session = boto3.Session(region_name="eu-central-1")
        store = TimestreamForecastStore("edf_db", "forecasts", "recs", boto3_session=session, threads=2)
        store.sleep = lambda _s: None
        store.ensure_schema(create=True)
        calls: list[int] = []
        session.events.register("provide-client-params.timestream-write.WriteRecords",
                                lambda params, **kw: calls.append((len(params["Records"]), params)))
        yield store, session, calls


def _moto_records(table: str) -> list[dict]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.timestreamwrite.models import timestreamwrite_backends

    backend = timestreamwrite_backends[DEFAULT_ACCOUNT_ID]["eu-central-1"]
    return backend.databases["edf_db"].tables[table].records


def test_write_batches_of_at_most_100(ts):
    store, _, calls = ts
    rows = synthetic_rows(["b-1", "b-2", "b-3"], "north", "run-1", ISSUE, T0, 42)  # 252 rows
    res = store.write_run("run-1", rows)
    assert res.forecasts_written == 252 and res.calls == 4  # 3 data calls, then the commit record
    assert [n for n, _ in calls][-1] == 1 and sorted(n for n, _ in calls[:-1]) == [52, 100, 100]
    assert {m["Name"]: m["Value"] for m in calls[0][1]["Records"][0]["MeasureValues"]}["weather_source"] == "unknown"
    recs = _moto_records("forecasts")
    assert len(recs) == 253
    r = recs[0]
    common = calls[0][1]["CommonAttributes"]
    assert common["MeasureName"] == "forecast" and common["Version"] > 0
    assert r["MeasureValueType"] == "MULTI"
    assert int(r["Time"]) == int(ISSUE.timestamp() * 1000)  # record time = issue time, never the future
    dims = {d["Name"] for d in r["Dimensions"]}
    assert dims == {"building_id", "grid_area", "series", "target_hour", "run_id", "write_id"}
    measures = {m["Name"]: m["Type"] for m in r["MeasureValues"]}
    assert measures["target_time"] == "TIMESTAMP" and measures["yhat"] == "DOUBLE"


def _reject(session, plan):
    """Answer WriteRecords with RejectedRecords for the record indices ``plan(call_no)`` returns."""
    state = {"n": 0}

    def hook(params, **kw):
        state["n"] += 1
        rejected = plan(state["n"], json.loads(params["body"])["Records"])
        if not rejected:
            return None
        body = {"Error": {"Code": "RejectedRecordsException", "Message": "One or more records have been rejected."},
                "RejectedRecords": [{"RecordIndex": i, "Reason": reason} for i, reason in rejected],
                "ResponseMetadata": {"HTTPStatusCode": 419}}
        return AWSResponse("https://ingest", 419, {}, None), body

    session.events.register_first("before-call.timestream-write.WriteRecords", hook)
    return state


def test_permanent_rejections_raise_with_counts_and_reasons(ts):
    store, session, _ = ts
    _reject(session, lambda n, recs: [(1, "The record timestamp is outside the time range of the data ingestion window."),
                                      (5, "The record timestamp is outside the time range of the data ingestion window."),
                                      (7, "A record with the same dimensions, timestamp and measure name exists with "
                                          "a different value; Version must be higher.")] if n == 1 else [])
    rows = synthetic_rows(["b-1"], "north", "run-1", ISSUE, T0, 20)
    with pytest.raises(RejectedRecordsError) as info:
        store.write_run("run-1", rows)
    err = info.value
    assert err.rejected == 3 and err.total == 40
    assert sorted(err.reasons.values()) == [1, 2]
    assert "3 of 40 records were rejected" in str(err)
    assert err.examples[0]["building_id"] == "b-1" and "target_hour" in err.examples[0]


def test_transient_rejections_are_retried(ts):
    store, session, calls = ts
    state = _reject(session, lambda n, recs: [(0, "Internal service error, try again")] if n == 1 else [])
    rows = synthetic_rows(["b-1"], "north", "run-1", ISSUE, T0, 30)
    res = store.write_run("run-1", rows)
    assert res.forecasts_written == 60 and res.calls == 3 and state["n"] == 3  # + the commit record
    assert calls[-2][0] == 1  # only the rejected record was sent again


def test_transient_forever_is_raised(ts):
    store, session, _ = ts
    _reject(session, lambda n, recs: [(0, "Throttling: try again")])
    with pytest.raises(RejectedRecordsError, match="1 of 2"):
        store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE, T0, 1))


def test_transient_classification():
    assert is_transient("ThrottlingException: rate exceeded")
    assert not is_transient("The record timestamp is outside the time range")


def test_queries_take_only_validated_values():
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", boto3_session=boto3.Session(region_name="eu-central-1"))
    sql = store.building_series_sql("b-1", "consumption", T0, T0 + dt.timedelta(hours=24))
    assert "building_id = 'b-1'" in sql and "series = 'consumption'" in sql
    assert "time BETWEEN from_iso8601_timestamp('2026-05-25T00:00:00Z')" in sql  # issue window bounded
    assert "ROW_NUMBER() OVER (PARTITION BY target_hour ORDER BY origin_time DESC NULLS LAST, time DESC" in sql
    with pytest.raises(InvalidValueError):
        store.building_series_sql("b-1' OR '1'='1", "consumption", T0, T0 + dt.timedelta(hours=1))
    with pytest.raises(InvalidValueError):
        store.portfolio_series_sql(["north'--"], "consumption", T0, T0 + dt.timedelta(hours=1))
    with pytest.raises(InvalidValueError):
        store.building_series_sql("b-1", "consumption", T0.replace(tzinfo=None), T0 + dt.timedelta(hours=1))
    with pytest.raises(StoreError):
        TimestreamForecastStore('db"; --', "t", "r", boto3_session=boto3.Session(region_name="eu-central-1"))


class _FakeQuery:
    def __init__(self, pages):
        self.pages, self.sql = pages, []

    def query(self, QueryString, NextToken=None):
        self.sql.append(QueryString)
        return self.pages[int(NextToken or 0)]


def _page(rows, token=None):
    cols = ["target_hour", "yhat", "yhat_lower", "yhat_upper", "issue_time", "model_version", "run_id"]
    page = {"ColumnInfo": [{"Name": c} for c in cols],
            "Rows": [{"Data": [{"ScalarValue": str(v)} for v in r]} for r in rows]}
    if token:
        page["NextToken"] = token
    return page


def test_query_results_are_parsed_across_pages():
    fake = _FakeQuery([
        _page([("2026-06-01T00:00:00Z", 1.5, 1.0, 2.0, "2026-05-31 23:00:00.000000000", "mv", "run-1")], token="1"),
        _page([("2026-06-01T01:00:00Z", 2.5, 2.0, 3.0, "2026-05-31 23:00:00.000000000", "mv", "run-1")]),
    ])
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", query_client=fake,
                                    boto3_session=boto3.Session(region_name="eu-central-1"))
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=2))
    assert [p.yhat for p in pts] == [1.5, 2.5] and pts[0].issue_time == ISSUE
    assert len(fake.sql) == 2


# ---------------------------------------------------------------- issue 14, items 6 and 7 (SQL text + parsing)
NEWEST = "ORDER BY origin_time DESC NULLS LAST, time DESC, run_id DESC"


def test_write_carries_the_forecast_origin(ts):
    store, _, calls = ts
    origin = T0 - dt.timedelta(hours=5)
    store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE, origin, 3, series=("consumption",)))
    measures = {m["Name"]: m for m in _moto_records("forecasts")[0]["MeasureValues"]}
    assert measures["origin_time"]["Type"] == "TIMESTAMP"
    assert int(measures["origin_time"]["Value"]) == int(origin.timestamp() * 1000)


def test_reads_rank_by_origin_first():
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", boto3_session=boto3.Session(region_name="eu-central-1"))
    end = T0 + dt.timedelta(hours=24)
    assert NEWEST in store.building_series_sql("b-1", "consumption", T0, end)
    portfolio = store.portfolio_series_sql(["north"], "consumption", T0, end)
    assert f"PARTITION BY building_id, target_hour {NEWEST}" in portfolio
    # the winning record per building and hour is chosen before the area filter (a moved building
    # counts once), among every building that had a record in the areas
    assert "WHERE rn = 1 AND grid_area IN ('north')" in portfolio
    assert "building_id IN ( SELECT DISTINCT building_id" in portfolio


class _Answers:
    """A timestream-query client answering by the first matching fragment of the SQL."""

    def __init__(self, answers: list[tuple[str, list[dict]]]):
        self.answers, self.sql = answers, []

    def query(self, QueryString, NextToken=None):
        self.sql.append(QueryString)
        rows = next(rows for fragment, rows in self.answers if fragment in QueryString)
        cols = list(rows[0]) if rows else ["building_id"]
        return {"ColumnInfo": [{"Name": c} for c in cols],
                "Rows": [{"Data": [{"ArrayValue": [{"ScalarValue": x} for x in v]} if isinstance(v, list)
                                   else {"ScalarValue": str(v)} for v in r.values()]} for r in rows]}


def test_buildings_follow_their_current_area():
    current = [{"building_id": "b-1", "grid_area": "north", "series": ["consumption"]}]
    fake = _Answers([("WITH recs AS", current)])
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", query_client=fake,
                                    boto3_session=boto3.Session(region_name="eu-central-1"))
    assert [b.building_id for b in store.list_buildings(["north"])] == ["b-1"]
    sql = fake.sql[-1]
    assert f"PARTITION BY building_id {NEWEST}" in sql and "WHERE c.grid_area IN ('north')" in sql
    assert store.get_building("b-1").grid_area == "north"
    assert f"PARTITION BY building_id {NEWEST}" in fake.sql[-1] and "max(grid_area)" not in fake.sql[-1]


def test_recommendations_follow_the_current_area():
    def rec(b):
        return {"building_id": b, "grid_area": "north", "kind": "demand_response", "action": "curtail",
                "target_hour": "2026-06-01T17:00:00Z", "kw": 1.0, "expected_reduction_kwh": 0.5,
                "expected_saving": 0.1, "run_id": "run-1", "issue_time": "2026-05-31 05:00:00.000000000"}

    # b-2 has old rows under north but now belongs to south: the current-area query returns b-1 only
    fake = _Answers([("WITH recs AS", [{"building_id": "b-1", "grid_area": "north", "series": ["consumption"]}]),
                     ("measure_name = 'recommendation'", [rec("b-1"), rec("b-2")])])
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", query_client=fake,
                                    boto3_session=boto3.Session(region_name="eu-central-1"))
    got = store.recommendations(["north"], T0, T0 + dt.timedelta(days=1))
    assert [r.building_id for r in got] == ["b-1"]


def test_weather_source_is_read_back_and_legacy_records_say_unknown():
    cols = ["target_hour", "yhat", "yhat_lower", "yhat_upper", "issue_time", "model_version", "run_id", "weather_source"]
    row = ["2026-06-01T00:00:00Z", "1.5", "1.0", "2.0", "2026-05-31 23:00:00.000000000", "mv", "run-1"]
    page = {"ColumnInfo": [{"Name": c} for c in cols], "Rows": [
        {"Data": [{"ScalarValue": v} for v in row] + [{"ScalarValue": "stale:27h"}]},
        {"Data": [{"ScalarValue": v} for v in [row[0].replace("T00", "T01"), *row[1:]]] + [{"NullValue": True}]}]}
    store = TimestreamForecastStore("edf_db", "forecasts", "recs", query_client=_FakeQuery([page]),
                                    boto3_session=boto3.Session(region_name="eu-central-1"))
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=2))
    assert [p.weather_source for p in pts] == ["stale:27h", "unknown"]
    assert "weather_source" in store.building_series_sql("b-1", "consumption", T0, T0 + dt.timedelta(hours=2))


# ---------------------------------------------------------------- issue 14, item 8: the shared contract, executed
@pytest.fixture
def local_ts():
    """The store writing to moto (awswrangler's real calls) and querying a local engine over the same records."""
    from timestream_local import LocalTimestream

    with mock_aws():
        session = boto3.Session(region_name="eu-central-1")
        local = LocalTimestream(session, clock=T0 + dt.timedelta(days=3))
        store = TimestreamForecastStore("edf_db", "forecasts", "recs", boto3_session=session, threads=2,
                                        query_client=local.query_client)
        store.sleep = lambda _s: None
        yield store, local


def test_contract_executed(local_ts):
    check_store(local_ts[0])


def test_rerun_of_an_older_day_does_not_hide_fresher_forecasts(local_ts):
    check_origin_first(local_ts[0])


def test_moved_building_follows_the_current_topology(local_ts):
    check_moved_building(local_ts[0])


def test_a_run_is_switched_by_its_commit_record(local_ts):
    """Records are never deleted: each write is a new write_id, and the run's commit record names the one
    readers see. A re-write stamped earlier than the first still wins (the commit time never goes back)."""
    store, local = local_ts
    store.ensure_schema(create=True)
    later = ISSUE + dt.timedelta(hours=5)
    store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", later, T0, 4, series=("consumption",)))
    store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE, T0, 4, series=("consumption",),
                                            scale=2.0))
    rows = local.rows("edf_db", "forecasts")
    commits = [r for r in rows if r["measure_name"] == "commit"]
    writes = {r["write_id"] for r in rows if r["measure_name"] == "forecast"}
    assert len(writes) == 2 and len([r for r in rows if r["measure_name"] == "forecast"]) == 8  # both kept
    # one commit record (the second replaced the first: same run and time, higher version)
    assert len(commits) == 1 and commits[0]["committed_write_id"] in writes
    assert commits[0]["time"] == later.replace(tzinfo=None) and commits[0]["forecasts"] == 4
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=4))
    assert [p.issue_time for p in pts] == [ISSUE] * 4  # the second write, although issued earlier
    assert all("write_id IN (SELECT max_by(committed_write_id, committed_at)" in sql for sql in local.sql
               if "measure_name = 'forecast'" in sql or "measure_name = 'recommendation'" in sql)


def test_a_write_that_fails_before_its_commit_is_never_read(local_ts):
    store, local = local_ts
    store.ensure_schema(create=True)
    store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE, T0, 4, series=("consumption",)))
    store._commit = lambda *a, **k: (_ for _ in ()).throw(StoreError("injected: the commit record was not written"))
    with pytest.raises(StoreError, match="injected"):
        store.write_run("run-2", synthetic_rows(["b-1"], "north", "run-2", ISSUE + dt.timedelta(hours=1), T0, 4,
                                                series=("consumption",), scale=5.0))
    assert len({r["write_id"] for r in local.rows("edf_db", "forecasts") if r["measure_name"] == "forecast"}) == 2
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=4))
    assert {p.run_id for p in pts} == {"run-1"}
    assert store.list_buildings(["north"])[0].building_id == "b-1" and store.get_building("b-1") is not None
