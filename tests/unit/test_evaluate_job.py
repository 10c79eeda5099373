"""The evaluation job end to end on real XGBoost bundles: champion on the same rows, decision document, importance.

The champion comes from the real registry path (moto: newest Approved package, model.tar.gz in S3) or
from ``--champion-model``; both models are real boosters of known relative quality (a 1-round booster
is worse than a 40-round one on the same data).
"""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from xgb_fixtures import fast_config, feature_rows, train_bundle

from edf.data import contract as c
from edf.data.io import write_parquet
from edf.jobs import evaluate

pytestmark = pytest.mark.slow  # seven evaluation-job runs (plots, SHAP): ~1.5 min on the shared 2 cores
REGION = "eu-central-1"
LENIENT = {"max_mape": 1000.0, "max_rmse": 100.0, "max_cv_rmse_pct": 1000.0, "min_coverage": 0.0, "max_coverage": 1.0}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate-job")
    train, evaluation = feature_rows("2017-03-01", 21, seed=1), feature_rows("2017-03-22", 5, seed=2)
    write_parquet(train, root / "features" / "train" / "part-0.parquet")
    write_parquet(evaluation, root / "features" / "eval" / "part-0.parquet")
    series = train.drop_duplicates([c.BUILDING_ID, c.TIMESTAMP])[[c.BUILDING_ID, c.TIMESTAMP, c.CONSUMPTION]]
    write_parquet(series, root / "features" / "series" / "part-0.parquet")
    strong = train_bundle(root / "strong", train, fast_config(rounds=40))
    weak = train_bundle(root / "weak", train, fast_config(rounds=1))
    return {"features": root / "features", "strong": strong, "weak": weak, "eval_rows": len(evaluation)}


def run_job(data, tmp_path, challenger: str, champion_model: str | None, **evaluation) -> tuple[dict, dict]:
    out = tmp_path / "out"
    overrides = {"edf_evaluation": {"metrics_thresholds": LENIENT, **evaluation}}
    argv = ["--model", str(data[challenger]), "--features", str(data["features"]), "--output", str(out),
            "--overrides", json.dumps(overrides)]
    if champion_model:
        argv += ["--champion-model", str(data[champion_model])]
    assert evaluate.main(argv) == 0
    decision_text = (out / "evaluation_decision_edf.json").read_text()
    assert len(decision_text.encode()) < 8192
    return json.loads((out / "evaluation_report_edf.json").read_text()), json.loads(decision_text)


def test_challenger_and_champion_are_scored_on_identical_rows(data, tmp_path):
    report, decision = run_job(data, tmp_path, "strong", "weak")
    comp = report["champion"]["targets"][c.CONSUMPTION]
    assert comp["rows_fingerprint"]["challenger"] == comp["rows_fingerprint"]["champion"]
    assert comp["same_rows"] is True and comp["rows"] == report["targets"][c.CONSUMPTION]["rows_scored"] > 0
    assert comp["rows_without_champion_forecast"] == 0
    assert comp["verdict"] == "better" and comp["metrics"]["rmse"]["better"] == "challenger"
    assert set(comp["champion_per_building"]) == {"b1", "b2", "b3"}
    assert report["champion"]["verdict"] == "better" and report["passed"] is True
    assert decision["champion"]["verdict"] == "better" and decision["passed"] is True
    assert decision["champion"]["targets"][c.CONSUMPTION]["same_rows"] is True
    # what `edf models compare` needs to tell windows apart
    assert report["eval_start"].startswith("2017-03-22") and report["eval_end"].startswith("2017-03-26T23")
    assert len(report["data_fingerprint"]) == 20 and decision["data_fingerprint"] == report["data_fingerprint"]


def test_a_challenger_worse_than_the_champion_does_not_pass_when_the_config_asks(data, tmp_path):
    # baselines off: the champion alone decides
    report, decision = run_job(data, tmp_path, "weak", "strong", champion={"require_not_worse": True},
                               require_beat_baselines=False)
    assert decision["champion"]["verdict"] == "worse" and decision["champion_not_worse"] is False
    assert decision["passed"] is False and decision["failed_targets"] == [c.CONSUMPTION]
    assert decision["failures"] == [f for f in report["failures"] if "worse than the champion (v" in f]
    _, relaxed = run_job(data, tmp_path, "weak", "strong", champion={"require_not_worse": False},
                         require_beat_baselines=False)
    assert relaxed["passed"] is True and relaxed["champion_not_worse"] is False


def test_report_has_feature_importance_and_its_plot(data, tmp_path):
    report, _ = run_job(data, tmp_path, "strong", None, champion={"enabled": False})
    importance = report["targets"][c.CONSUMPTION]["importance"]
    assert importance["supported"] is True and importance["rows_sampled"] == data["eval_rows"]
    ranked = list(importance["mean_abs_shap"])
    assert ranked.index("noise") > ranked.index("consumption_lag_24h")  # signal ranks above pure noise
    shap = importance["mean_abs_shap"]
    assert shap["noise"] < 0.5 * max(shap.values())
    assert abs(sum(importance["gain_share"].values()) - 1.0) < 1e-4  # shares, rounded in the report
    assert "consumption_feature_importance.png" in report["plots"]
    png = tmp_path / "out" / "consumption_feature_importance.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["champion"]["status"] == "disabled"


def test_the_champion_is_the_newest_approved_package_of_the_group(data, tmp_path, monkeypatch, cfg):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from edf.registry import APPROVED, register_model_package, set_approval

        sm, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": REGION})
        sm.create_model_package_group(ModelPackageGroupName="edf-group")
        monkeypatch.setenv("EDF_MODEL_PACKAGE_GROUP", "edf-group")
        first, _ = run_job(data, tmp_path, "strong", None)
        assert first["champion"]["status"] == "none" and first["passed"] is True  # a first run has no champion
        s3.upload_file(str(data["weak"]), "models", "champion/model.tar.gz")
        s3.put_object(Bucket="models", Key="eval/evaluation_report_edf.json", Body=json.dumps(first).encode())
        arn = register_model_package("edf-group", "img", "s3://models/champion/model.tar.gz",
                                     "s3://models/eval/evaluation_report_edf.json")["model_package_arn"]
        set_approval(arn, APPROVED, "test champion")
        second, decision = run_job(data, tmp_path, "strong", None)
    assert second["champion"]["status"] == "compared" and second["champion"]["model_package_arn"] == arn
    assert decision["champion"]["model_package_version"] == 1 and decision["champion"]["verdict"] == "better"
    assert second["champion"]["targets"][c.CONSUMPTION]["same_rows"] is True
