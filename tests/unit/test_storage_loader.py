"""LoadForecastsToDB: Parquet in the edf.data.outputs schema from S3 -> the store, idempotent per run."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from edf.data.io import write_parquet
from edf.data.outputs import FORECAST_COLUMNS, RECOMMENDATION_COLUMNS
from edf.lambda_events import InvalidEvent
from edf.storage.base import InvalidValueError
from edf.storage.loader import forecast_rows

ROOT = Path(__file__).resolve().parents[2]
T0 = pd.Timestamp("2026-06-01", tz="UTC")


def forecasts_frame(run_id="run-1", hours=24, buildings=("b-1", "b-2")) -> pd.DataFrame:
    rows = []
    for b in buildings:
        for series in ("consumption", "solar"):
            for h in range(hours):
                y = 1.0 + h / 10
                rows.append({"building_id": b, "grid_area": "north", "series": series,
                             "timestamp_hour": T0 + pd.Timedelta(hours=h), "origin_time": T0, "lead_hours": h,
                             "yhat": y, "yhat_lower": y - 0.3, "yhat_upper": y + 0.4, "strategy": "xgboost",
                             "model_version": "arn:aws:sagemaker:eu-central-1:1:model-package/g/3",
                             "issue_time": T0 - pd.Timedelta(hours=1), "run_id": run_id,
                             "weather_source": "forecast" if b == "b-1" else "stale:26h"})
    df = pd.DataFrame(rows)
    assert list(df.columns) == list(FORECAST_COLUMNS)
    df["lead_hours"] = df["lead_hours"].astype("int32")
    return df


def recs_frame(run_id="run-1") -> pd.DataFrame:
    df = pd.DataFrame([{"building_id": "b-1", "grid_area": "north", "kind": "demand_response",
                        "timestamp_hour": T0 + pd.Timedelta(hours=18), "action": "curtail", "kw": 1.2,
                        "expected_reduction_kwh": 0.9, "expected_saving": 0.3, "run_id": run_id,
                        "issue_time": T0 - pd.Timedelta(hours=1)}])
    assert list(df.columns) == list(RECOMMENDATION_COLUMNS)
    return df


def _handler():
    spec = importlib.util.spec_from_file_location("load_forecasts_handler", ROOT / "lambdas/load_forecasts/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_load_lambda_is_idempotent_per_run(tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_FORECAST_DB_TYPE", "DYNAMODB")
    monkeypatch.setenv("EDF_STORAGE_CREATE_MISSING", "1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="out", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        write_parquet(forecasts_frame(), tmp_path / "f.parquet")
        write_parquet(recs_frame(), tmp_path / "r.parquet")
        s3.upload_file(str(tmp_path / "f.parquet"), "out", "run-1/forecasts.parquet")
        s3.upload_file(str(tmp_path / "r.parquet"), "out", "run-1/recommendations.parquet")
        event = {"forecasts_uri": "s3://out/run-1/forecasts.parquet",
                 "recommendations_uri": "s3://out/run-1/recommendations.parquet", "run_id": "run-1",
                 "model_version": "v3"}
        handler = _handler()
        first = handler(event, None)
        assert first == {"run_id": "run-1", "forecasts_written": 96, "recommendations_written": 1,
                         "backend": "DYNAMODB", "forecasts_removed": 0, "recommendations_removed": 0}
        second = handler(event, None)
        assert second["forecasts_written"] == 96 and second["forecasts_removed"] == 0
        table = boto3.client("dynamodb", region_name="eu-central-1")
        items = table.query(TableName="EDFForecasts-dev", KeyConditionExpression="PK = :p",
                            ExpressionAttributeValues={":p": {"S": "F#b-1#solar"}})["Items"]
        assert len(items) == 24  # re-run replaced, never duplicated
        no_recs = handler({**event, "recommendations_uri": None}, None)
        assert no_recs["recommendations_written"] == 0 and no_recs["recommendations_removed"] == 1


@pytest.mark.parametrize("event,match", [
    ({"run_id": "r"}, "forecasts_uri: missing"),
    ({"forecasts_uri": "s3://b/k", "run_id": "bad id"}, "run_id"),
    ({"forecasts_uri": "", "run_id": "r"}, "forecasts_uri"),
    ({"forecasts_uri": "s3://b/k", "run_id": "r", "forecast_uri": "s3://b/k"}, "forecast_uri: unknown key"),
])
def test_load_lambda_rejects_bad_events(event, match):
    with pytest.raises(InvalidEvent, match=match):
        _handler()(event, None)


def test_loader_names_missing_columns_and_foreign_runs():
    df = forecasts_frame()
    with pytest.raises(InvalidValueError, match="yhat_upper"):
        forecast_rows(df.drop(columns=["yhat_upper"]), "run-1")
    with pytest.raises(InvalidValueError, match="run-2"):
        forecast_rows(forecasts_frame(run_id="run-2"), "run-1")
    df.loc[3, "yhat"] = None
    with pytest.raises(InvalidValueError, match="null"):
        forecast_rows(df, "run-1")


def test_loader_keeps_utc_instants():
    rows = forecast_rows(forecasts_frame(hours=2, buildings=("b-1",)), "run-1")
    assert rows[1].timestamp_hour == dt.datetime(2026, 6, 1, 1, tzinfo=dt.UTC)
    assert rows[0].model_version.endswith("/3") and rows[0].lead_hours == 0


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_loader_keeps_instants_of_any_timestamp_unit(unit):
    """Parquet from Spark or pyarrow reads back in microseconds; the instant must not change."""
    df = forecasts_frame(hours=2, buildings=("b-1",))
    for name in ("timestamp_hour", "issue_time", "origin_time"):
        df[name] = pd.to_datetime(df[name], utc=True).dt.as_unit(unit)
    rows = forecast_rows(df, "run-1")
    assert rows[1].timestamp_hour == dt.datetime(2026, 6, 1, 1, tzinfo=dt.UTC)
    assert rows[1].origin_time == pd.Timestamp(df["origin_time"].iloc[1]).to_pydatetime()


@pytest.mark.parametrize("area", [None, "", "  ", "None", "nan"])
def test_rows_without_a_grid_area_are_refused_before_anything_is_written(tmp_path, area):
    """Issue 14, item 9: such rows used to be stored as 'None'/'nan', invisible to every tenant."""
    from edf.storage.loader import FORECAST_KEY, precheck

    df = forecasts_frame()
    df["grid_area"] = df["grid_area"].astype(object)
    df.loc[5, "grid_area"] = area
    write_parquet(df, tmp_path / "forecasts.parquet")
    with pytest.raises(InvalidValueError, match="grid_area"):
        precheck([tmp_path / "forecasts.parquet"], "run-1", FORECAST_COLUMNS, FORECAST_KEY, "forecasts.parquet")
    write_parquet(forecasts_frame(), tmp_path / "forecasts.parquet")
    assert precheck([tmp_path / "forecasts.parquet"], "run-1", FORECAST_COLUMNS, FORECAST_KEY,
                    "forecasts.parquet") == len(forecasts_frame())


def test_topology_is_read_from_every_file_of_its_folder(tmp_path):
    """Issue 14, item 9: only the first file of the prefix was read; the rest of the buildings vanished."""
    from edf.data.topology import read_topology

    (tmp_path / "topo").mkdir()
    pd.DataFrame({"building_id": ["1", "2"], "grid_area": ["north", "north"]}).to_csv(tmp_path / "topo/a.csv",
                                                                                      index=False)
    pd.DataFrame({"building_id": [3], "grid_area": ["south"]}).to_csv(tmp_path / "topo/b.csv", index=False)
    topo = read_topology(tmp_path / "topo")
    assert sorted(topo["building_id"]) == ["1", "2", "3"]  # ids as text, whatever the file's type


def test_loader_carries_the_weather_source_and_says_unknown_for_older_outputs(caplog):
    rows = forecast_rows(forecasts_frame(hours=2), "run-1")
    assert {(r.building_id, r.weather_source) for r in rows} == {("b-1", "forecast"), ("b-2", "stale:26h")}
    legacy = forecast_rows(forecasts_frame(hours=2).drop(columns=["weather_source"]), "run-1")
    assert {r.weather_source for r in legacy} == {"unknown"}
    assert "older job image" in caplog.text
    bad = forecast_rows(forecasts_frame(hours=2).assign(weather_source="sunny"), "run-1")
    with pytest.raises(InvalidValueError, match="weather_source"):  # every store validates rows before writing
        bad[0].validated()


def test_streaming_load_stores_weather_sources_and_accepts_files_from_before_the_column(tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_FORECAST_DB_TYPE", "DYNAMODB")
    monkeypatch.setenv("EDF_STORAGE_CREATE_MISSING", "1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-central-1")
        s3.create_bucket(Bucket="out", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
        write_parquet(forecasts_frame(), tmp_path / "new.parquet")
        write_parquet(forecasts_frame(run_id="run-0").drop(columns=["weather_source"]), tmp_path / "old.parquet")
        s3.upload_file(str(tmp_path / "new.parquet"), "out", "run-1/forecasts.parquet")
        s3.upload_file(str(tmp_path / "old.parquet"), "out", "run-0/forecasts.parquet")
        handler = _handler()
        for run in ("run-0", "run-1"):
            handler({"forecasts_uri": f"s3://out/{run}/forecasts.parquet", "recommendations_uri": None,
                     "run_id": run, "model_version": "v3"}, None)
        table = boto3.client("dynamodb", region_name="eu-central-1")
        items = [it for page in table.get_paginator("scan").paginate(TableName="EDFForecasts-dev")
                 for it in page["Items"] if it["PK"]["S"].startswith("F#")]
        by_run = {(it["r"]["S"], it["b"]["S"], it["ws"]["S"]) for it in items}
        assert by_run == {("run-1", "b-1", "forecast"), ("run-1", "b-2", "stale:26h"),
                          ("run-0", "b-1", "unknown"), ("run-0", "b-2", "unknown")}
