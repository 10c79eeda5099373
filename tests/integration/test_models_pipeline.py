"""Models on the real feature pipeline (Spark): Prophet on Spark, no look-ahead, the job entrypoints."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from edf.data import contract as c

pytestmark = [pytest.mark.slow, pytest.mark.spark]
BUILDINGS = ["citylearn-01", "citylearn-02", "citylearn-03"]
HORIZON = 24


@pytest.fixture(scope="module")
def small(homes):
    start = pd.Timestamp("2017-03-01", tz="UTC")
    sub = homes[homes.building_id.isin(BUILDINGS) & (homes.timestamp_hour >= start)
                & (homes.timestamp_hour < start + pd.Timedelta(days=30))]
    return sub.reset_index(drop=True)


@pytest.fixture(scope="module")
def fast_cfg(cfg):
    hp = cfg.edf_training.hyperparameters
    return cfg.model_copy(update={
        "edf_feature_eng": cfg.edf_feature_eng.model_copy(update={"training_horizon_hours": HORIZON, "eval_days": 5}),
        "edf_training": cfg.edf_training.model_copy(update={"hyperparameters": hp.model_copy(update={
            "XGBoost": hp.XGBoost.model_copy(update={"xgb_num_boost_round": 40, "xgb_calibration_days": 5}),
            "LSTM": hp.LSTM.model_copy(update={"lstm_epochs": 2, "lstm_hidden_size": 16}),
            "Prophet": hp.Prophet.model_copy(update={"prophet_uncertainty_samples": 50}),
        })})})


@pytest.fixture(scope="module")
def feats(spark, small, topology, fast_cfg):
    from edf.features.pipeline import build_training_features
    from edf.features.spark_session import from_pandas, to_pandas_utc

    tf = build_training_features(spark, from_pandas(spark, small), topology, fast_cfg.edf_feature_eng, HORIZON)
    return to_pandas_utc(tf.train), to_pandas_utc(tf.eval)


def test_prophet_on_spark_round_trip(feats, small, fast_cfg, tmp_path):
    from edf.models import load_model, make_model

    train, evaluation = feats
    model = make_model("prophet", c.CONSUMPTION, fast_cfg).fit(train, small)
    pred = model.predict(evaluation, small)
    assert pred.yhat.notna().all() and (pred.yhat_lower <= pred.yhat).all() and (pred.yhat <= pred.yhat_upper).all()
    model.save(tmp_path / "p")
    for b in BUILDINGS:
        assert (tmp_path / "p" / "buildings" / b / "prophet_model.json").is_file()
    pd.testing.assert_frame_equal(pred, load_model(tmp_path / "p").predict(evaluation, small))


@pytest.fixture(scope="module")
def origin_rows(spark, small, topology, fast_cfg):
    """Features for one origin from the data as is and with every measurement at/after it perturbed."""
    from edf.data.feature_names import ORIGIN
    from edf.features.pipeline import features_for_origins
    from edf.features.spark_session import from_pandas, to_pandas_utc

    origin = pd.Timestamp("2017-03-25", tz="UTC")
    perturbed = small.copy()
    after = perturbed.timestamp_hour >= origin
    perturbed.loc[after, c.CONSUMPTION] *= 7.0
    perturbed.loc[after, c.SOLAR] += 3.0
    out = []
    for data in (small, perturbed):
        origins = spark.createDataFrame([(b, origin.tz_localize(None).to_pydatetime()) for b in BUILDINGS],
                                        f"{c.BUILDING_ID} string, {ORIGIN} timestamp")
        rows = to_pandas_utc(features_for_origins(spark, from_pandas(spark, data), origins, topology,
                                                  fast_cfg.edf_feature_eng, HORIZON))
        out.append((rows.sort_values(["building_id", "lead_hours"]).reset_index(drop=True), data))
    return out


@pytest.mark.parametrize("strategy", ["xgboost", "lstm", "persistence", "seasonal_naive"])
def test_forecasts_do_not_move_when_data_after_origin_changes(strategy, feats, small, fast_cfg, origin_rows):
    """Principle 2: perturb every measurement at/after the origin; the forecast must not change."""
    from edf.models import make_model

    train, _ = feats
    model = make_model(strategy, c.CONSUMPTION, fast_cfg).fit(train, small)
    (rows_a, data_a), (rows_b, data_b) = origin_rows
    assert not np.allclose(data_a[c.CONSUMPTION], data_b[c.CONSUMPTION])  # the perturbation is real
    pd.testing.assert_frame_equal(model.predict(rows_a, data_a), model.predict(rows_b, data_b))


def _write_features(root, train, evaluation, series):
    from edf.data.io import write_parquet

    write_parquet(train, root / "train" / "part-0.parquet")
    write_parquet(evaluation, root / "eval" / "part-0.parquet")
    write_parquet(series, root / "series" / "part-0.parquet")


def test_train_evaluate_forecast_entrypoints(feats, small, fast_cfg, tmp_path, monkeypatch):
    from edf.data.outputs import FORECAST_COLUMNS
    from edf.jobs import evaluate, forecast, train
    from edf.models.bundle import make_tarball

    train_rows, evaluation = feats
    opt = tmp_path / "opt_ml"
    _write_features(opt / "input" / "data", train_rows, evaluation, small)
    overrides = {"edf_training": {"hyperparameters": {"XGBoost": {"xgb_num_boost_round": 40, "xgb_calibration_days": 5}}}}
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps(
        {"strategy": "XGBoost", "overrides": json.dumps(overrides)}))
    monkeypatch.setenv("EDF_OPT_ML", str(opt))
    assert train.main([]) == 0
    bundle = json.loads((opt / "model" / "bundle.json").read_text())
    assert bundle["targets"]["consumption_kwh"]["strategy"] == "xgboost"
    assert bundle["targets"]["solar_generation_kwh"]["strategy"] == "xgboost"
    tarball = make_tarball(opt / "model", tmp_path / "artifacts" / "model.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "bundle.json" in names and "consumption_kwh/xgboost_model.ubj" in names
    assert "solar_generation_kwh/model_metadata.json" in names

    feat_dir = tmp_path / "features"
    _write_features(feat_dir, train_rows, evaluation, small)
    assert evaluate.main(["--model", str(tmp_path / "artifacts"), "--features", str(feat_dir),
                          "--output", str(tmp_path / "eval_out"), "--champion-model", "none"]) == 0
    report = json.loads((tmp_path / "eval_out" / "evaluation_report_edf.json").read_text())
    for key in ("passed", "passes_thresholds", "beats_baselines", "strategy", "target", "headline", "targets",
                "weather", "thresholds"):
        assert key in report
    assert report["target"] == "consumption_kwh" and report["weather"] == "observed"
    assert set(report["headline"]) == {"mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct", "pinball", "coverage"}
    assert set(report["targets"]["consumption_kwh"]["baselines"]) == {"seasonal_naive", "persistence"}
    assert report["passed"] == (report["passes_thresholds"] and report["beats_baselines"] and report["champion_not_worse"])
    # both targets gated against their own baselines; the report says which failed
    assert set(report["targets"]) == {"consumption_kwh", "solar_generation_kwh"}
    for target, body in report["targets"].items():
        assert set(body["beats"]) == {"seasonal_naive", "persistence"}
        assert (target in report["failed_targets"]) == (not body["beats_baselines"] or (
            target == "consumption_kwh" and not report["passes_thresholds"]))
        assert body["importance"]["supported"] is True  # xgboost: SHAP + gain
    pngs = {p.name for p in (tmp_path / "eval_out").glob("*.png")}
    assert len(pngs) == 8 and {"consumption_feature_importance.png", "solar_generation_feature_importance.png"} <= pngs
    decision = json.loads((tmp_path / "eval_out" / "evaluation_decision_edf.json").read_text())
    assert decision["passed"] == report["passed"] and decision["failed_targets"] == report["failed_targets"]

    inference = evaluation[evaluation.origin_time == evaluation.origin_time.max()].drop(columns=[c.CONSUMPTION, c.SOLAR])
    inf_dir = tmp_path / "inf"
    from edf.data.io import write_parquet

    write_parquet(inference, inf_dir / "inference" / "part-0.parquet")
    write_parquet(small, inf_dir / "series" / "part-0.parquet")
    assert forecast.main(["--model", str(opt / "model"), "--features", str(inf_dir), "--output", str(tmp_path / "fc"),
                          "--run-id", "run-1", "--model-version", "v1", "--issue-time", "2017-03-30T05:00:00Z"]) == 0
    fc = pd.read_parquet(tmp_path / "fc" / "forecasts.parquet")
    assert list(fc.columns) == list(FORECAST_COLUMNS)
    assert set(fc.weather_source) == {"unknown"}  # these features were not made by the job: no weather sources recorded
    assert set(fc.series) == {"consumption", "solar"} and fc.building_id.nunique() == len(BUILDINGS)
    assert str(fc.timestamp_hour.dtype) == "datetime64[us, UTC]" and str(fc.lead_hours.dtype) == "int32"
    solar = fc[fc.series == "solar"].merge(inference[["building_id", "timestamp_hour", "solar_elevation_deg"]])
    assert (solar.loc[solar.solar_elevation_deg <= 0, ["yhat", "yhat_lower", "yhat_upper"]].to_numpy() == 0).all()
    assert (solar.loc[solar.solar_elevation_deg > 20, "yhat"] > 0).mean() > 0.5


def test_train_entrypoint_failure_writes_reason(tmp_path, monkeypatch):
    from edf.jobs import train

    opt = tmp_path / "opt_ml"
    (opt / "input" / "config").mkdir(parents=True)
    (opt / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"strategy": "arima"}))
    monkeypatch.setenv("EDF_OPT_ML", str(opt))
    assert train.main([]) == 1
    assert "unknown strategy 'arima'" in (opt / "output" / "failure").read_text()


def test_all_null_weather_building_trains(feats, small, fast_cfg):
    """The bundled homes carry no weather at all: every strategy still trains and forecasts."""
    from edf.models import make_model

    train, evaluation = feats
    assert train[list(c.WEATHER_COLUMNS)].isna().all().all()
    pred = make_model("xgboost", c.CONSUMPTION, fast_cfg).fit(train, small).predict(evaluation, small)
    assert np.isfinite(pred.yhat).all()
