"""The accuracy monitor Lambda on moto: daily Parquet, EMF on stdout, exactly one drift retraining."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from edf.data.io import write_parquet
from edf.monitoring.emf import validate_emf

REPO = Path(__file__).resolve().parents[2]
FIRST = pd.Timestamp("2026-11-01", tz="UTC")
SCORED_DAYS = ["2026-11-08", "2026-11-09", "2026-11-10", "2026-11-11"]
BUILDINGS = {"b1": "area-north", "b2": "area-south"}
WITHOUT_WEATHER = "b2"  # its forecasts say weather_source "none"


def _handler():
    spec = importlib.util.spec_from_file_location("accuracy_monitor_handler", REPO / "lambdas/accuracy_monitor/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _actuals() -> pd.DataFrame:
    hours = pd.date_range(FIRST, periods=11 * 24, freq="h")
    rng = np.random.default_rng(7)
    frames = []
    for i, b in enumerate(BUILDINGS):
        base = 1.0 + i + 0.5 * np.sin(2 * np.pi * hours.hour / 24)
        frames.append(pd.DataFrame({"building_id": b, "timestamp_hour": hours,
                                    "consumption_kwh": base + rng.normal(0, 0.05, len(hours)),
                                    "solar_generation_kwh": np.nan, "temperature_c": np.nan,
                                    "solar_irradiance_ghi": np.nan, "humidity": np.nan, "is_holiday_flag": 0}))
    df = pd.concat(frames, ignore_index=True)
    # late data: b2's last six hours have not landed yet
    late = (df.building_id == "b2") & (df.timestamp_hour >= pd.Timestamp("2026-11-11T18:00", tz="UTC"))
    return df[~late].reset_index(drop=True)


def _forecasts(actuals: pd.DataFrame, day: str, factor: float, noise: float = 0.0) -> pd.DataFrame:
    """Forecasts = truth * factor + N(0, noise), with an interval calibrated to 80 % for the noise."""
    origin = pd.Timestamp(day, tz="UTC")
    rng = np.random.default_rng(int(origin.day))
    half = 1.2816 * noise if noise else 0.3
    rows = []
    full = actuals.set_index(["building_id", "timestamp_hour"])["consumption_kwh"]
    for b, area in BUILDINGS.items():
        for lead in range(24):
            ts = origin + pd.Timedelta(hours=lead)
            truth = full.get((b, ts), 1.0 + list(BUILDINGS).index(b))
            yhat = float(truth) * factor + float(rng.normal(0, noise)) if noise else float(truth) * factor
            rows.append({"building_id": b, "grid_area": area, "series": "consumption", "timestamp_hour": ts,
                         "origin_time": origin, "lead_hours": lead, "yhat": yhat, "yhat_lower": yhat - half,
                         "yhat_upper": yhat + half, "strategy": "xgboost", "model_version": "pkg/3",
                         "issue_time": origin + pd.Timedelta(hours=5), "run_id": f"edf-{day}",
                         "weather_source": "none" if b == WITHOUT_WEATHER else "forecast"})
    df = pd.DataFrame(rows)
    df["lead_hours"] = df["lead_hours"].astype("int32")
    return df


@pytest.fixture()
def aws(cfg, monkeypatch, tmp_path):
    import logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    for var in ("AWS_ENDPOINT_URL", "EDF_FORECAST_DB_TYPE", "EDF_CORRELATION_ID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("EDF_CONFIG_URI", str(REPO / "config" / "edf_config.yaml"))
    with mock_aws():
        region = cfg.aws_region
        s3 = boto3.client("s3", region_name=region)
        s3.create_bucket(Bucket=cfg.processed_bucket, CreateBucketConfiguration={"LocationConstraint": region})
        sns = boto3.client("sns", region_name=region)
        topic = sns.create_topic(Name="edf-alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name=region)
        queue = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        sfn = boto3.client("stepfunctions", region_name=region)
        machine = sfn.create_state_machine(
            name="EDFTrainingWorkflow-dev", roleArn="arn:aws:iam::123456789012:role/sfn",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
        monkeypatch.setenv("EDF_TRAINING_STATE_MACHINE_ARN", machine)
        monkeypatch.setenv("EDF_ALERTS_TOPIC_ARN", topic)
        yield {"s3": s3, "sfn": sfn, "machine": machine, "bucket": cfg.processed_bucket, "tmp": tmp_path,
               "sqs": sqs, "queue": queue}
    for handler in list(root.handlers):  # the Lambda installed the JSON handler on the root logger
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


def _upload(aws, actuals: pd.DataFrame, forecasts_by_day: dict[str, pd.DataFrame]) -> None:
    path = aws["tmp"] / "homes.parquet"
    write_parquet(actuals, path)
    aws["s3"].upload_file(str(path), aws["bucket"], "processed_edf_data/homes.parquet")
    for day, df in forecasts_by_day.items():
        p = aws["tmp"] / f"f-{day}.parquet"
        write_parquet(df, p)
        aws["s3"].upload_file(str(p), aws["bucket"],
                              f"forecast-output/EDFInferenceWorkflow-dev/exec-{day}/forecasts/forecasts.parquet")


def _run_days(handler, capsys, days):
    out = []
    for day in days:
        out.append(handler({"date": day, "correlation_id": f"test-{day}"}, None))
    return out, capsys.readouterr().out


def test_degraded_accuracy_starts_exactly_one_retraining(aws, capsys):
    actuals = _actuals()
    _upload(aws, actuals, {d: _forecasts(actuals, d, factor=2.5) for d in SCORED_DAYS})
    handler = _handler()
    results, stdout = _run_days(handler, capsys, SCORED_DAYS)

    executions = aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]
    assert len(executions) == 1
    assert executions[0]["name"] == "edf-drift-retrain-2026-11-10"
    assert [r["drift"]["fire"] for r in results] == [False, False, True, False]
    assert "cool-down" in results[3]["drift"]["reason"] or "since the last trigger" in results[3]["drift"]["reason"]
    run_input = json.loads(aws["sfn"].describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert run_input["trigger"]["source"] == "accuracy_drift"
    assert set(run_input["trigger"]["evidence"]) == {"2026-11-08", "2026-11-09", "2026-11-10"}

    # daily Parquet per day, drift state next to it
    keys = {o["Key"] for o in aws["s3"].list_objects_v2(Bucket=aws["bucket"], Prefix="accuracy/")["Contents"]}
    assert {f"accuracy/date={d}/accuracy.parquet" for d in SCORED_DAYS} <= keys
    assert "accuracy/drift_state.json" in keys
    body = aws["s3"].get_object(Bucket=aws["bucket"], Key="accuracy/date=2026-11-11/accuracy.parquet")["Body"].read()
    table = pd.read_parquet(io.BytesIO(body))
    b2 = table[(table.level == "building") & (table.key == "b2") & (table.lead_bucket == "0-24")].iloc[0]
    assert (b2.n_forecast, b2.n_scored, b2.n_missing_actual, b2.status) == (24, 18, 6, "partial")
    assert results[3]["missing_actual_rows"] == 6

    # EMF documents on stdout, valid, dimensioned by grid area and lead bucket
    docs = [json.loads(line) for line in stdout.splitlines() if line.startswith('{"_aws"')]
    assert docs
    for doc in docs:
        validate_emf(doc)
    dims = {(d["GridArea"], d["LeadBucket"]) for d in docs if "GridArea" in d}
    assert {("ALL", "0-24"), ("area-north", "0-24"), ("area-south", "0-24"), ("ALL", "all")} <= dims
    # weather sources of the scored rows are counted (summary and a WeatherSource-dimensioned metric)
    assert results[0]["weather_sources"] == {"forecast": 24 * (len(BUILDINGS) - 1), "none": 24}
    by_source = {d["WeatherSource"]: np.ravel(d["forecast_rows"]).tolist() for d in docs
                 if "WeatherSource" in d and d.get("scored_day") == SCORED_DAYS[0]}
    assert by_source == {"forecast": [24.0 * (len(BUILDINGS) - 1)], "none": [24.0]}
    # structured logs carry the correlation id
    logs = [json.loads(line) for line in stdout.splitlines() if '"correlation_id"' in line and '"level"' in line]
    assert any(rec["correlation_id"] == "test-2026-11-10" and "drift decision" in rec["message"] for rec in logs)

    # one alert, carrying the decision and its evidence
    messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    alert = json.loads(json.loads(messages[0]["Body"])["Message"])
    assert alert["fire"] is True and alert["streak_days"] == ["2026-11-10", "2026-11-09", "2026-11-08"]

    # the Lambda retried for the trigger day starts nothing new
    handler({"date": "2026-11-10"}, None)
    assert len(aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"]) == 1


def test_healthy_forecasts_start_nothing(aws, capsys):
    actuals = _actuals()
    _upload(aws, actuals, {d: _forecasts(actuals, d, factor=1.0, noise=0.04) for d in SCORED_DAYS[:3]})
    results, _ = _run_days(_handler(), capsys, SCORED_DAYS[:3])
    assert [r["drift"]["verdict"]["status"] for r in results] == ["ok", "ok", "ok"], [r["drift"]["verdict"] for r in results]
    assert aws["sfn"].list_executions(stateMachineArn=aws["machine"])["executions"] == []
    overall = [o for o in results[0]["overall"] if o["lead_bucket"] == "0-24"][0]
    assert overall["cv_rmse_pct"] < 5 and overall["skill_vs_seasonal_naive"] > 0


def test_bad_event_is_rejected():
    import datetime as dt

    from edf.lambda_events import InvalidEvent
    from edf.monitoring.lambda_handler import AccuracyMonitorEvent

    with pytest.raises(InvalidEvent, match="ISO date"):
        AccuracyMonitorEvent.parse({"date": "yesterday"})
    with pytest.raises(InvalidEvent, match="dry_run"):
        AccuracyMonitorEvent.parse({"dry_run": "yes"})
    with pytest.raises(InvalidEvent, match="not finished"):
        AccuracyMonitorEvent.parse({"date": "2999-01-01"}).day()
    today = dt.date(2026, 11, 21)
    assert AccuracyMonitorEvent.parse({}).day(today) == dt.date(2026, 11, 20)
    assert AccuracyMonitorEvent.parse({"date": ""}).day(today) == dt.date(2026, 11, 20)
    assert AccuracyMonitorEvent.parse({"date": "2026-11-19", "dry_run": True}).dry_run is True
