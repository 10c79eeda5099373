"""Explanations: XGBoost SHAP contributions add up to the forecast; `edf models explain` on a stored forecast (moto)."""

from __future__ import annotations

import json

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws
from xgb_fixtures import fast_config, feature_rows, train_bundle

from edf.cli import main
from edf.data import contract as c
from edf.data.io import write_parquet
from edf.models import ModelError, make_model
from edf.models.bundle import load_bundle

REGION = "eu-central-1"
DAY = "2017-03-25"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    cfg = fast_config(rounds=30)
    tarball = train_bundle(root, feature_rows("2017-03-01", 18, seed=1), cfg)
    return tarball, load_bundle(tarball)[1][c.CONSUMPTION]


def test_contributions_add_up_to_the_forecast(trained):
    _, model = trained
    rows = feature_rows("2017-03-20", 2, seed=5)
    contrib = model.contributions(rows)
    parts = contrib[[*model.features, "bias"]].to_numpy().sum(axis=1)
    assert np.allclose(parts, model.predict(rows)["yhat"].to_numpy(), atol=1e-4)
    assert list(contrib[["building_id", "origin_time"]].itertuples(index=False)) == \
        list(rows[["building_id", "origin_time"]].itertuples(index=False))
    gain = model.gain_importance()
    assert set(gain) == set(model.features) and abs(sum(gain.values()) - 1) < 1e-9


def test_strategies_without_contributions_say_so(cfg):
    rows = feature_rows("2017-03-01", 9, seed=1)
    baseline = make_model("persistence", c.CONSUMPTION, cfg).fit(rows)
    assert baseline.supports_contributions is False
    with pytest.raises(ModelError, match="does not provide per-feature contributions"):
        baseline.contributions(rows)


def _stored_run(s3, cfg, machine: str, execution: str, origin: str, model, arn: str) -> pd.DataFrame:
    """What the inference workflow leaves in S3: the feature rows and the forecasts made from them."""
    from edf.jobs.forecast import forecast_frame

    rows = feature_rows(origin, 1, seed=7).assign(lead_hours=lambda f: f["lead_hours"].astype("int32"))
    rows = pd.concat([rows, rows.assign(origin_time=rows["origin_time"], timestamp_hour=rows["timestamp_hour"]
                                        + pd.Timedelta(hours=24), lead_hours=rows["lead_hours"] + 24)])
    features = rows.drop(columns=[c.CONSUMPTION])
    base = f"s3://{cfg.processed_bucket}/features/edf/inference/{machine}/{execution}/"
    write_parquet(features, base + "inference/part-0.parquet")
    write_parquet(rows[[c.BUILDING_ID, c.TIMESTAMP, c.CONSUMPTION]], base + "series/part-0.parquet")
    frame = forecast_frame({c.CONSUMPTION: model}, features, None, f"edf-{origin[:10]}", arn,
                           pd.Timestamp(origin, tz="UTC"))
    write_parquet(frame, f"s3://{cfg.processed_bucket}/forecast-output/{machine}/{execution}/forecasts/forecasts.parquet")
    return frame


def test_explain_prints_the_top_features_of_a_stored_building_day(trained, cfg, monkeypatch, capsys):
    tarball, model = trained
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    machine = cfg.name(cfg.edf_inference_sfn_base)
    with mock_aws():
        from edf.registry import APPROVED, register_model_package, set_approval

        s3, sm = boto3.client("s3", region_name=REGION), boto3.client("sagemaker", region_name=REGION)
        s3.create_bucket(Bucket=cfg.processed_bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        sm.create_model_package_group(ModelPackageGroupName=cfg.model_package_group)
        s3.upload_file(str(tarball), cfg.processed_bucket, "model-artifacts/x/model.tar.gz")
        s3.put_object(Bucket=cfg.processed_bucket, Key="evaluation-output/x/evaluation_report_edf.json",
                      Body=json.dumps({"passed": True, "strategy": "xgboost"}).encode())
        arn = register_model_package(cfg.model_package_group, "img", f"s3://{cfg.processed_bucket}/model-artifacts/x/"
                                     "model.tar.gz", f"s3://{cfg.processed_bucket}/evaluation-output/x/"
                                     "evaluation_report_edf.json")["model_package_arn"]
        set_approval(arn, APPROVED, "ok")
        # two runs cover the day: the later origin is the forecast the store serves
        _stored_run(s3, cfg, machine, "run-older", "2017-03-24", model, arn)
        newer = _stored_run(s3, cfg, machine, "run-newer", DAY, model, arn)
        _stored_run(s3, cfg, machine, "run-other-model", DAY, model, "arn:other-package")
        assert main(["models", "explain", "1", "--building", "b2", "--date", DAY, "--top", "5"]) == 0
        text = capsys.readouterr().out
        assert main(["models", "explain", "1", "--building", "b2", "--date", DAY, "--top", "100", "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert main(["models", "explain", "1", "--building", "nope", "--date", DAY]) == 2
        assert "no stored forecast" in capsys.readouterr().err
    assert f"building b2 on {DAY} (UTC)" in text and "run run-newer" in text
    body = result["targets"][c.CONSUMPTION]
    assert result["run"] == "run-newer" and result["runs_searched"] == 3 and body["hours"] == 24
    day = newer[(newer.building_id == "b2") & (newer.timestamp_hour.dt.strftime("%Y-%m-%d") == DAY)]
    assert body["stored_total"] == pytest.approx(day["yhat"].sum())
    assert body["recomputed_max_abs_diff"] < 1e-6  # the model re-predicts exactly what was stored
    total = body["bias_total"] + sum(f["sum_kwh"] for f in body["features"].values())
    assert total == pytest.approx(body["raw_total"], abs=1e-3) and body["raw_total"] == pytest.approx(
        body["stored_total"], abs=1e-3)
    top = list(body["features"])[:5]
    assert all(name in text for name in top) and "noise" not in top[:2]
