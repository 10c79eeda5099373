"""The inference features job checks its inputs (issue 14, item 10): a stale feed fails the job with
a named reason, or under the degrade policy runs on and records it in ``_summary.json``; either way
the feed's age reaches CloudWatch (``EDF/Inputs`` ``ProcessedDataAgeHours``) for the data-age alarm."""

from __future__ import annotations

import json

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from edf.jobs import features as features_job

pytestmark = [pytest.mark.spark, pytest.mark.slow]

BUILDINGS = ["citylearn-01", "citylearn-11"]
START = pd.Timestamp("2017-01-01", tz="UTC")
DAYS = 16  # data ends 2017-01-16 23:00 UTC


@pytest.fixture(scope="module")
def inputs(homes, topology, tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    df = homes[homes.building_id.isin(BUILDINGS) & (homes.timestamp_hour >= START)
               & (homes.timestamp_hour < START + pd.Timedelta(days=DAYS))]
    df.reset_index(drop=True).to_parquet(root / "processed.parquet")
    # citylearn-11 has no topology row: the completeness check must count it.
    topology[topology.building_id == BUILDINGS[0]].to_csv(root / "topology.csv", index=False)
    return root


def run_job(inputs, out, origin: str, overrides: dict | None = None) -> int:
    argv = ["--mode", "inference", "--processed", str(inputs / "processed.parquet"),
            "--topology", str(inputs / "topology.csv"), "--output", str(out), "--origin", origin,
            "--horizon-hours", "24"]
    if overrides:
        argv += ["--overrides", json.dumps(overrides)]
    return features_job.main(argv)


def age_metric(cloudwatch) -> list[float]:
    stats = cloudwatch.get_metric_statistics(
        Namespace="EDF/Inputs", MetricName="ProcessedDataAgeHours",
        Dimensions=[{"Name": "Environment", "Value": "dev"}], StartTime=pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=1),
        EndTime=pd.Timestamp.now(tz="UTC") + pd.Timedelta(hours=1), Period=3600, Statistics=["Maximum"])
    return [p["Maximum"] for p in stats["Datapoints"]]


@mock_aws
def test_stale_history_fails_the_job_with_the_reason(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt_ml"))
    code = run_job(inputs, tmp_path / "out", "2017-01-20T00:00:00Z")  # 72 h after the newest hour
    assert code == 1
    failure = (tmp_path / "opt_ml" / "output" / "failure").read_text()
    assert "history_freshness" in failure and "72.0 h old" in failure
    assert not (tmp_path / "out" / "inference").exists()
    assert age_metric(boto3.client("cloudwatch")) == [72.0]


@mock_aws
def test_stale_history_degrades_when_configured_and_is_recorded(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt_ml"))
    overrides = {"edf_inference": {"input_checks": {"on_stale_history": "degrade"}}}
    assert run_job(inputs, tmp_path / "out", "2017-01-20T00:00:00Z", overrides) == 0
    summary = json.loads((tmp_path / "out" / "_summary.json").read_text())
    checks = summary["input_checks"]
    assert checks["status"] == "degraded"
    assert checks["checks"]["history_freshness"]["status"] == "degraded"
    assert checks["checks"]["history_freshness"]["details"]["age_hours"] == 72.0
    topo = checks["checks"]["topology_completeness"]
    assert topo["status"] == "degraded" and topo["details"]["without_topology_examples"] == ["citylearn-11"]


@mock_aws
def test_fresh_history_passes(inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt_ml"))
    assert run_job(inputs, tmp_path / "out", "2017-01-17T00:00:00Z") == 0
    summary = json.loads((tmp_path / "out" / "_summary.json").read_text())
    assert summary["input_checks"]["checks"]["history_freshness"]["status"] == "ok"
    assert age_metric(boto3.client("cloudwatch")) == [0.0]
