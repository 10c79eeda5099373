"""Issue 14, item 8: a load that fails half-way never leaves the API serving a mix of two runs.

The real ``LoadForecastsToDB`` state (rendered from ``pipelines/inference.asl.json``, its Retry and
Catch as deployed) runs in the local Step Functions interpreter; the load Lambda handler
(``lambdas/load_forecasts``) reads the run's Parquet from S3 (moto) and streams it into the store.
The first attempt's write fails at call (or row) ``k``; the state's retry runs the load again.

After every write call the B2B API handlers (building forecasts, portfolio, recommendations,
building list) are asked what they serve, and once more between the failed attempt and the retry.
Every answer must be the old run's answer or the new run's answer, in that order, never a mix; the
answer after the failure must be the old run's, the final answer the new run's.

Faults, per backend: DynamoDB ``BatchWriteItem`` raises at call ``k`` (as after botocore's retries
gave up); PostgreSQL's server terminates the writer's connection after ``25 k`` rows of the COPY (as
in a fail-over); Timestream ``WriteRecords`` raises at call ``k`` (queries on the local engine of
``timestream_local``).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import boto3
import pandas as pd
import pytest
from api_events import b2b_get_event
from botocore.exceptions import ClientError
from moto import mock_aws

from edf.config import load_config
from edf.data.io import write_parquet
from edf.serving import b2b
from edf.serving.api import Dependencies, set_dependencies
from edf.serving.tenants import TenantRegistry, key_hash
from edf.storage.base import ForecastRow, RecommendationRow
from edf.storage.sample import synthetic_rows
from edf_local.dispatch import make_dispatch
from edf_local.errors import TaskFailed
from edf_local.functions import workflow_functions
from edf_local.lambdas import LocalLambdaInvoker
from edf_local.runtime import asl_variables, template_path
from edf_local.stepfunctions import LocalStepFunctions
from edf_local.templates import render_asl_file

REGION, ACCOUNT, KEY = "eu-central-1", "123456789012", "key-north"
BUILDINGS = [f"b-{i:02d}" for i in range(10)]
D = dt.datetime(2026, 6, 2, tzinfo=dt.UTC)
D_1 = D - dt.timedelta(days=1)
OLD_RUN = "edf-2026-06-01"


def _run(run_id: str, origin: dt.datetime, issue: dt.datetime, scale: float) -> tuple[list, list]:
    rows = synthetic_rows(BUILDINGS, "north", run_id, issue, origin, 48, series=("consumption",), scale=scale)
    recs = [RecommendationRow(b, "north", "demand_response", D + dt.timedelta(hours=18), "curtail", scale, 0.5 * scale,
                              0.1 * scale, run_id, issue) for b in BUILDINGS]
    return rows, recs


OLD = _run(OLD_RUN, D_1, D_1 + dt.timedelta(hours=5), 1.0)
# a new day's run, and a re-run of the old day (same run id, new values)
NEW = {"new-run": ("edf-2026-06-02", *_run("edf-2026-06-02", D, D + dt.timedelta(hours=5), 2.0)),
       "same-run": (OLD_RUN, *_run(OLD_RUN, D_1, D_1 + dt.timedelta(hours=9), 3.0))}


# ---------------------------------------------------------------- the API as a tenant sees it
def _get(path: str, query: dict[str, str]) -> tuple[int, dict]:
    event = b2b_get_event(path, query, KEY)
    resp = b2b.handle(event, None)
    return resp["statusCode"], json.loads(resp["body"])


def snapshot() -> str:
    """Everything the tenant's API answers about day D, as one comparable text."""
    window = {"start": D.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": (D + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    out: dict[str, Any] = {}
    for b in BUILDINGS:
        out[b] = _get(f"/v1/buildings/{b}/forecast", {**window, "series": "consumption"})
    out["portfolio"] = _get("/v1/portfolio/forecast", {**window, "series": "consumption"})
    out["recommendations"] = _get("/v1/portfolio/recommendations", {"date": D.date().isoformat(), "limit": "1000"})
    out["buildings"] = _get("/v1/buildings", {"limit": "1000"})
    return json.dumps(out, sort_keys=True)


def assert_serves(text: str, rows: list[ForecastRow], recs: list[RecommendationRow]) -> None:
    """The snapshot shows exactly this run: every building, hour, total and recommendation."""
    snap = json.loads(text)
    want = {(r.building_id, r.timestamp_hour.strftime("%Y-%m-%dT%H:%M:%SZ")): r for r in rows
            if D <= r.timestamp_hour < D + dt.timedelta(days=1)}
    for b in BUILDINGS:
        status, body = snap[b]
        assert status == 200, body
        points = body["series"]["consumption"]
        assert len(points) == 24
        for p in points:
            r = want[(b, p["timestamp_hour"])]
            assert abs(p["yhat"] - round(r.yhat, 4)) < 1e-9 and p["issue_time"] == r.issue_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body = snap["portfolio"]
    assert status == 200 and len(body["points"]) == 24
    for p in body["points"]:
        total = sum(r.yhat for (_, hour), r in want.items() if hour == p["timestamp_hour"])
        assert p["buildings"] == 10 and abs(p["yhat"] - round(total, 4)) < 1e-9
    status, body = snap["recommendations"]
    assert status == 200 and sorted((r["building_id"], r["kw"]) for r in body["recommendations"]) == sorted(
        (r.building_id, r.kw) for r in recs)
    assert [b["building_id"] for b in snap["buildings"][1]["buildings"]] == BUILDINGS


# ---------------------------------------------------------------- the state machine
def _machine(cfg) -> dict:
    variables = asl_variables(cfg, account=ACCOUNT, region=REGION, image_uri="img:test",
                              config_uri="s3://scripts/config/edf_config.yaml",
                              sagemaker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/sm",
                              alerts_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:edf-alerts-dev")
    state = render_asl_file(template_path("inference"), variables)["States"]["LoadForecastsToDB"]
    state = {**state, "Next": "Loaded",
             "Catch": [{**c, "Next": "LoadFailed"} for c in state.get("Catch", [])]}
    return {"StartAt": "LoadForecastsToDB", "States": {
        "LoadForecastsToDB": state, "Loaded": {"Type": "Succeed"},
        "LoadFailed": {"Type": "Fail", "Error": "LoadFailed", "Cause": "the load failed after its retries"}}}


def _upload(cfg, execution: str, rows: list[ForecastRow], recs: list[RecommendationRow], tmp) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=cfg.processed_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    prefix = f"forecast-output/EDFInferenceWorkflow-dev/{execution}"
    for name, frame in (("forecasts", pd.DataFrame([_row(r) for r in rows])),
                        ("recommendations", pd.DataFrame([_row(r) for r in recs]))):
        write_parquet(frame, tmp / f"{name}.parquet")
        s3.upload_file(str(tmp / f"{name}.parquet"), cfg.processed_bucket, f"{prefix}/{name}/{name}.parquet")


def _row(r: Any) -> dict:
    return {name: getattr(r, name) for name in r.__slots__}


def run_load(cfg, store, run_id: str, rows, recs, tmp, monkeypatch, probes: list) -> Any:
    """Run the LoadForecastsToDB state for ``run_id``; snapshot the API whenever an attempt fails."""
    import edf.storage.lambda_load as lambda_load

    monkeypatch.setattr(lambda_load, "open_store", lambda _cfg: store)
    _upload(cfg, "exec-1", rows, recs, tmp)
    invoker = LocalLambdaInvoker(workflow_functions(cfg), region=REGION, account=ACCOUNT)
    inner = make_dispatch(None, invoker)

    def dispatch(resource, params, context):
        try:
            return inner(resource, params, context)
        except TaskFailed:
            probes.append(("after the failed attempt", snapshot()))
            raise

    sfn = LocalStepFunctions(dispatch, retry_time_scale=0.0, printer=None, region=REGION)
    return sfn.run(_machine(cfg), {"run_id": run_id, "model": {"model_package_arn": "arn:pkg/3"}},
                   execution_name="exec-1", state_machine_name="EDFInferenceWorkflow-dev")


def check_never_mixed(cfg, store, api_store, arm, scenario: str, tmp, monkeypatch) -> None:
    """The whole scenario: old run served; the load fails at ``k`` and is retried; new run served."""
    set_dependencies(Dependencies(cfg, api_store, TenantRegistry({"tenants": [
        {"tenant_id": "t-north", "grid_areas": ["north"], "api_key_sha256": [key_hash(KEY)]}]})))
    try:
        store.ensure_schema(create=True)
        store.write_run(OLD_RUN, *OLD)
        old = snapshot()
        assert_serves(old, *OLD)
        probes: list[tuple[str, str]] = []
        lock = threading.Lock()

        def probe(when: str) -> None:
            with lock:  # the resolver's current event is global: one API call at a time
                probes.append((when, snapshot()))

        run_id, rows, recs = NEW[scenario]
        armed = arm(probe)
        exe = run_load(cfg, store, run_id, rows, recs, tmp, monkeypatch, probes)
        assert exe.status == "SUCCEEDED", exe.cause
        assert armed["failed"], "the fault was never injected"
        assert [e["state"] for e in exe.events("StateRetry")] == ["LoadForecastsToDB"]
        assert exe.output["load"]["forecasts_written"] == len(rows)
        new = snapshot()
        assert_serves(new, rows, recs)
        _assert_old_then_new(probes, old, new)
    finally:
        set_dependencies(None)


def _assert_old_then_new(probes: list[tuple[str, str]], old: str, new: str) -> None:
    assert old != new and len(probes) > 3
    seen = [("old" if text == old else "new" if text == new else "MIX") for _, text in probes]
    mixed = [when for (when, _), what in zip(probes, seen, strict=True) if what == "MIX"]
    assert not mixed, f"{len(mixed)} of {len(probes)} answers were a mix of two runs, first {mixed[0]}"
    failed = [what for (when, _), what in zip(probes, seen, strict=True) if when == "after the failed attempt"]
    assert failed == ["old"], "after the failed attempt the API must serve the old run entirely"
    first_new = seen.index("new") if "new" in seen else len(seen)
    assert set(seen[first_new:]) <= {"new"}, f"the API went back to the old run: {seen}"


# ---------------------------------------------------------------- DynamoDB
# (scenario, k): a new day's run failing half-way through its forecasts, a re-run of the same day failing
# late (in the aggregates and building items of a 22-call write)
@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "k"), [("new-run", 8), ("same-run", 21)])
def test_dynamodb_failed_load_never_serves_a_mix(scenario, k, tmp_path, monkeypatch):
    from edf.storage.dynamodb import DynamoDBForecastStore

    cfg = load_config()
    with mock_aws():
        store = DynamoDBForecastStore("edf-atomic", ttl_days=30, region=REGION, write_threads=4)
        store.sleep = lambda _s: None
        api_store = DynamoDBForecastStore("edf-atomic", ttl_days=30, region=REGION)

        def arm(probe):
            client, state, count = store.client, {"calls": 0, "failed": False}, threading.Lock()
            real = {name: getattr(client, name) for name in ("batch_write_item", "put_item", "delete_item")}

            def batch_write_item(**kwargs):
                with count:
                    state["calls"] += 1
                    call, fail = state["calls"], not state["failed"] and state["calls"] == k
                    state["failed"] |= fail
                if fail:  # as when botocore's own retries gave up
                    raise ClientError({"Error": {"Code": "InternalServerError", "Message": f"injected at call {k}"}},
                                      "BatchWriteItem")
                answer = real["batch_write_item"](**kwargs)
                probe(f"after BatchWriteItem {call}")
                return answer

            def other(name):
                def call(**kwargs):
                    answer = real[name](**kwargs)
                    probe(f"after {name}")
                    return answer
                return call

            client.batch_write_item = batch_write_item
            client.put_item, client.delete_item = other("put_item"), other("delete_item")
            return state

        check_never_mixed(cfg, store, api_store, arm, scenario, tmp_path, monkeypatch)
        # the failed attempt's items were removed by the retry's cleanup: one generation per run is left
        gens = {(it["RPK"]["S"], it["g"]["S"]) for it in store.client.scan(TableName="edf-atomic")["Items"]
                if "RPK" in it}
        assert len(gens) == len({run for run, _ in gens})


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg():
    from edf_local.postgres import start_local_postgres

    server = start_local_postgres()
    yield server
    server.stop()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize(("scenario", "k"), [("new-run", 8), ("same-run", 19)])
def test_postgres_failed_load_never_serves_a_mix(pg, scenario, k, tmp_path, monkeypatch):
    """The server ends the writer's connection after 25 k rows of the COPY (as in a fail-over); the API,
    on its own connection, is asked every 25 rows, and after the forecasts were swapped in while the
    recommendations stream (the transaction still open)."""
    import psycopg

    from edf.storage.postgres import PostgresForecastStore

    schema = f"atomic_{scenario.replace('-', '_')}_{k}"
    store, api_store = PostgresForecastStore(pg.dsn, schema=schema), PostgresForecastStore(pg.dsn, schema=schema)

    def arm(probe):
        state, real_write = {"failed": False}, store.write_run

        def rows(items, kind):
            for i, row in enumerate(items or (), 1):
                if kind == "forecast" and not state["failed"] and i == 25 * k:
                    state["failed"] = True
                    with psycopg.connect(pg.dsn, autocommit=True) as admin:
                        admin.execute("SELECT pg_terminate_backend(%s)", (store.conn.info.backend_pid,))
                if i % 25 == 0 or kind == "recommendation":
                    probe(f"after {kind} row {i}")
                yield row

        store.write_run = lambda run_id, f, r=None: real_write(run_id, rows(f, "forecast"), rows(r, "recommendation"))
        return state

    try:
        with mock_aws():
            check_never_mixed(load_config(), store, api_store, arm, scenario, tmp_path, monkeypatch)
    finally:
        store.close()
        api_store.close()


# ---------------------------------------------------------------- Timestream (queries on the local engine)
@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "k"), [("new-run", 3), ("same-run", 6)])
def test_timestream_failed_load_never_serves_a_mix(scenario, k, tmp_path, monkeypatch):
    """WriteRecords fails at call k (5 forecast calls, 1 recommendation call, then the commit record)."""
    from timestream_local import LocalTimestream

    from edf.storage.timestream import TimestreamForecastStore

    with mock_aws():
        session = boto3.Session(region_name=REGION)
        local = LocalTimestream(session, clock=D + dt.timedelta(days=2))
        store, api_store = (TimestreamForecastStore("edf_db", "forecasts", "recs", boto3_session=session, threads=2,
                                                    query_client=local.query_client) for _ in range(2))
        store.sleep = lambda _s: None

        def arm(probe):
            state = {"calls": 0, "failed": False}

            def fault(**_):
                state["calls"] += 1
                if not state["failed"] and state["calls"] == k:
                    state["failed"] = True
                    raise ClientError({"Error": {"Code": "InternalServerException", "Message": f"injected at call {k}"}},
                                      "WriteRecords")

            session.events.register_first("before-call.timestream-write.WriteRecords", fault)
            session.events.register("after-call.timestream-write.WriteRecords",
                                    lambda **_: probe(f"after WriteRecords {state['calls']}"))
            return state

        check_never_mixed(load_config(), store, api_store, arm, scenario, tmp_path, monkeypatch)
