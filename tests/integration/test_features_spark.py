"""Origin-aware features on Spark: no look-ahead, train/inference parity, gaps, calendar.

These are the invariants the forecasting system rests on. The leakage tests perturb every
measurement at or after a forecast origin and require every feature of that origin to be
unchanged; the parity test requires the inference path (history + weather forecast) to produce
exactly the training path's features for the same building and hour.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from edf.data.feature_names import KEY_COLUMNS, MEASURED, feature_columns, lag_name
from edf.features.pipeline import build_inference_features, build_training_features, features_for_origins
from edf.features.spark_session import from_pandas, to_pandas_utc

pytestmark = [pytest.mark.spark, pytest.mark.slow]

BUILDINGS = ["citylearn-01", "citylearn-11"]
START = pd.Timestamp("2017-01-01", tz="UTC")
DAYS = 30
HORIZON = 72


@pytest.fixture(scope="module")
def subset(homes):
    """Two real homes, 30 days, with solar PV (serf-like weather filled in so weather paths are exercised)."""
    df = homes[homes.building_id.isin(BUILDINGS) & (homes.timestamp_hour >= START)
               & (homes.timestamp_hour < START + pd.Timedelta(days=DAYS))].copy()
    rng = np.random.default_rng(0)
    df["temperature_c"] = 12 + 5 * np.sin(np.arange(len(df)) / 24 * 2 * np.pi) + rng.normal(0, 1, len(df))
    df["solar_irradiance_ghi"] = np.clip(rng.normal(200, 150, len(df)), 0, None)
    df["humidity"] = rng.uniform(30, 90, len(df))
    return df.reset_index(drop=True)


@pytest.fixture(scope="module")
def origin() -> pd.Timestamp:
    return START + pd.Timedelta(days=20)


def origins_frame(spark, origin):
    return from_pandas(spark, pd.DataFrame({"building_id": BUILDINGS, "origin_time": [origin] * len(BUILDINGS)}))


def feature_rows(spark, data, topology, cfg, origin) -> pd.DataFrame:
    rows = features_for_origins(spark, from_pandas(spark, data), origins_frame(spark, origin), topology,
                                cfg.edf_feature_eng, HORIZON)
    return to_pandas_utc(rows).sort_values(["building_id", "timestamp_hour"]).reset_index(drop=True)


def assert_same_features(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> None:
    assert len(a) == len(b) > 0
    for col in columns:
        x, y = a[col], b[col]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), equal_nan=True, err_msg=col)
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), col


def model_features(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in MEASURED]


def test_training_path_features_ignore_measurements_after_origin(spark, subset, topology, cfg, origin):
    """Perturb consumption and solar at and after the origin: no feature of that origin moves."""
    baseline = feature_rows(spark, subset, topology, cfg, origin)
    perturbed = subset.copy()
    after = perturbed.timestamp_hour >= origin
    perturbed.loc[after, "consumption_kwh"] *= 7.0
    perturbed.loc[after, "solar_generation_kwh"] += 3.0
    moved = feature_rows(spark, perturbed, topology, cfg, origin)
    assert_same_features(baseline, moved, model_features(baseline))
    # ...while the actuals (targets) did change, so the perturbation really reached the pipeline
    assert not np.allclose(baseline.consumption_kwh, moved.consumption_kwh)
    # and a measurement just before the origin does move the features (the test can fail)
    before = subset.copy()
    before.loc[before.timestamp_hour == origin - pd.Timedelta(hours=1), "consumption_kwh"] += 5.0
    shifted = feature_rows(spark, before, topology, cfg, origin)
    assert not np.allclose(baseline["consumption_roll_avg_3h"], shifted["consumption_roll_avg_3h"])


def test_inference_path_ignores_history_after_origin(spark, subset, topology, cfg, origin):
    fe = cfg.edf_feature_eng

    def run(data):
        out = build_inference_features(spark, from_pandas(spark, data), topology, fe, origin.to_pydatetime(), HORIZON)
        return to_pandas_utc(out).sort_values(["building_id", "timestamp_hour"]).reset_index(drop=True)

    clean = run(subset)
    noisy = subset.copy()
    noisy.loc[noisy.timestamp_hour >= origin, ["consumption_kwh", "solar_generation_kwh"]] = 99.0
    assert_same_features(clean, run(noisy), list(clean.columns))
    assert clean.consumption_kwh.isna().all()  # no actuals leak into inference rows


def test_lags_shorter_than_lead_are_null(spark, subset, topology, cfg, origin):
    rows = feature_rows(spark, subset, topology, cfg, origin)
    for k in cfg.edf_feature_eng.lag_features["consumption_kwh"]:
        name = lag_name("consumption_kwh", k)
        assert rows.loc[rows.lead_hours >= k, name].isna().all(), name
        usable = rows.loc[rows.lead_hours < k]
        assert usable[name].notna().all(), name
        # the usable value is exactly the measurement k hours before the target hour
        r = usable.iloc[len(usable) // 2]
        src = subset[(subset.building_id == r.building_id)
                     & (subset.timestamp_hour == r.timestamp_hour - pd.Timedelta(hours=k))].consumption_kwh.item()
        assert r[name] == pytest.approx(src)
    # weather lags come from the (forecast) weather series, so they stay available at every lead
    assert rows[lag_name("temperature_c", 24)].notna().all()


def test_profile_uses_last_seven_days_before_origin(spark, subset, topology, cfg, origin):
    rows = feature_rows(spark, subset, topology, cfg, origin)
    r = rows[(rows.building_id == BUILDINGS[0]) & (rows.lead_hours == 50)].iloc[0]
    hist = subset[(subset.building_id == BUILDINGS[0]) & (subset.timestamp_hour < origin)
                  & (subset.timestamp_hour.dt.hour == r.timestamp_hour.hour)].sort_values("timestamp_hour").tail(7)
    assert r["consumption_profile_mean_7d"] == pytest.approx(hist.consumption_kwh.mean())
    assert r["consumption_profile_std_7d"] == pytest.approx(hist.consumption_kwh.std())
    assert r["consumption_profile_count_7d"] == 7


def test_training_and_inference_paths_agree(spark, subset, topology, cfg):
    """Parity: the same building-hour gets identical features from both paths."""
    fe = cfg.edf_feature_eng.model_copy(update={"eval_days": 3})
    training = build_training_features(spark, from_pandas(spark, subset), topology, fe, HORIZON)
    evaluation = to_pandas_utc(training.eval)
    origin = evaluation.origin_time.min()
    weather = subset[subset.timestamp_hour >= origin][["building_id", "timestamp_hour", "temperature_c",
                                                       "solar_irradiance_ghi", "humidity"]].assign(
        forecast_issue_time=origin - pd.Timedelta(hours=6))
    # an older, different forecast must be superseded by the newest one issued before the origin
    stale = weather.assign(temperature_c=weather.temperature_c + 10, forecast_issue_time=origin - pd.Timedelta(days=1))
    late = weather.assign(temperature_c=weather.temperature_c - 10, forecast_issue_time=origin + pd.Timedelta(hours=1))
    inference = to_pandas_utc(build_inference_features(
        spark, from_pandas(spark, subset), topology, fe, origin.to_pydatetime(), HORIZON,
        from_pandas(spark, pd.concat([weather, stale, late])), lookback_days=14))
    key = ["building_id", "timestamp_hour"]
    a = evaluation[evaluation.origin_time == origin].sort_values(key).reset_index(drop=True)
    b = inference.sort_values(key).reset_index(drop=True)
    assert len(a) == len(BUILDINGS) * HORIZON
    assert list(a.columns) == list(b.columns)
    assert_same_features(a, b, model_features(a))
    assert set(feature_columns(fe)) <= set(a.columns)


def test_training_split_has_no_overlap(spark, subset, topology, cfg):
    fe = cfg.edf_feature_eng.model_copy(update={"eval_days": 5})
    split = build_training_features(spark, from_pandas(spark, subset), topology, fe, HORIZON)
    train, evaluation = to_pandas_utc(split.train), to_pandas_utc(split.eval)
    boundary = pd.Timestamp(split.split_time, tz="UTC")
    assert train.timestamp_hour.max() < boundary <= evaluation.origin_time.min()
    assert evaluation.origin_time.nunique() == 5
    assert (train.origin_time.dt.hour == 0).all()
    first = subset.timestamp_hour.min()
    assert train.origin_time.min() >= first + pd.Timedelta(days=fe.min_history_days)
    assert set(KEY_COLUMNS) <= set(train.columns)


def test_missing_hours_stay_missing(spark, subset, topology, cfg, origin):
    gappy = subset[~((subset.building_id == BUILDINGS[0])
                     & (subset.timestamp_hour >= origin - pd.Timedelta(hours=30))
                     & (subset.timestamp_hour < origin - pd.Timedelta(hours=20)))]
    rows = feature_rows(spark, gappy, topology, cfg, origin)
    b0 = rows[rows.building_id == BUILDINGS[0]]
    # lag 24 of lead 0 points into the gap: null, not zero
    assert np.isnan(b0.loc[b0.lead_hours == 0, lag_name("consumption_kwh", 24)].item())
    # the 24 h window before the origin only averages the 20 measured hours
    expected = gappy[(gappy.building_id == BUILDINGS[0]) & (gappy.timestamp_hour >= origin - pd.Timedelta(hours=24))
                     & (gappy.timestamp_hour < origin)].consumption_kwh.mean()
    assert b0["consumption_roll_avg_24h"].iloc[0] == pytest.approx(expected)


def test_calendar_in_local_time_with_holidays(spark, subset, topology, cfg):
    # 2017-01-02 was the observed New Year holiday in California; 08:00 UTC is midnight local (PST)
    origin = pd.Timestamp("2017-01-02 08:00", tz="UTC")
    rows = features_for_origins(spark, from_pandas(spark, subset), origins_frame(spark, origin), topology,
                                cfg.edf_feature_eng, 24)
    rows = to_pandas_utc(rows)
    first = rows[(rows.building_id == BUILDINGS[0]) & (rows.lead_hours == 0)].iloc[0]
    assert first.hour_of_day == 0 and first.day_of_week == 0 and first.is_holiday_flag == 1
    last = rows[(rows.building_id == BUILDINGS[0]) & (rows.lead_hours == 23)].iloc[0]
    assert last.hour_of_day == 23 and last.is_holiday_flag == 1
    # solar geometry from pvlib: the sun is down at local midnight, up at local noon
    noon = rows[(rows.building_id == BUILDINGS[0]) & (rows.hour_of_day == 12)].iloc[0]
    assert first.solar_elevation_deg < 0 and first.clearsky_ghi == 0
    assert noon.solar_elevation_deg > 20 and noon.clearsky_ghi > 300


def test_imputation_value_is_applied_only_when_configured(spark, subset, topology, cfg, origin):
    fe = cfg.edf_feature_eng.model_copy(update={"imputation_value": 0.0})
    rows = to_pandas_utc(features_for_origins(spark, from_pandas(spark, subset), origins_frame(spark, origin),
                                              topology, fe, HORIZON))
    assert (rows.loc[rows.lead_hours >= 24, lag_name("consumption_kwh", 24)] == 0.0).all()


def test_inference_origin_must_have_history(spark, subset, topology, cfg):
    far = dt.datetime(2030, 1, 1)
    with pytest.raises(ValueError, match="no forecast origins"):
        build_inference_features(spark, from_pandas(spark, subset), topology, cfg.edf_feature_eng, far, 24)


# --- extra covariates declared in config (edf_feature_eng.covariates) ---------------------------

def _with_covariates(cfg):
    from edf.config import CovariateSpec

    return cfg.edf_feature_eng.model_copy(update={"covariates": {
        "wind_speed_ms": CovariateSpec(availability="known_ahead", lags=[24]),
        "grid_load_mw": CovariateSpec(availability="measured", lags=[24], rolling_windows=[24]),
    }})


@pytest.fixture(scope="module")
def covariate_subset(subset):
    rng = np.random.default_rng(3)
    out = subset.copy()
    out["wind_speed_ms"] = rng.uniform(0, 15, len(out))
    out["grid_load_mw"] = rng.uniform(50, 90, len(out))
    # demand that really responds to the wind (e.g. heat loss), so a model has something to learn
    out["consumption_kwh"] = out["consumption_kwh"] + 0.2 * out["wind_speed_ms"]
    return out


def test_declared_covariates_flow_through_without_look_ahead(spark, covariate_subset, subset, topology, cfg, origin):
    fe = _with_covariates(cfg)

    def rows_of(data):
        out = features_for_origins(spark, from_pandas(spark, data), origins_frame(spark, origin), topology, fe, HORIZON)
        return to_pandas_utc(out).sort_values(["building_id", "timestamp_hour"]).reset_index(drop=True)

    rows = rows_of(covariate_subset)
    assert set(feature_columns(fe)) <= set(rows.columns)
    assert "grid_load_mw" not in rows.columns  # a measured covariate's own value is never a feature
    # known ahead: its value at the target hour (the observation in training = perfect forecast)
    src = covariate_subset.set_index(["building_id", "timestamp_hour"])
    expected = src.loc[list(zip(rows.building_id, rows.timestamp_hour, strict=True)), "wind_speed_ms"].to_numpy()
    np.testing.assert_allclose(rows.wind_speed_ms.to_numpy(), expected)
    assert rows.loc[rows.lead_hours >= 24, "grid_load_mw_lag_24h"].isna().all()
    assert rows.loc[rows.lead_hours < 24, "grid_load_mw_lag_24h"].notna().all()
    before = covariate_subset[(covariate_subset.building_id == BUILDINGS[0])
                              & (covariate_subset.timestamp_hour < origin)].tail(24).grid_load_mw.mean()
    assert rows.loc[rows.building_id == BUILDINGS[0], "grid_load_mw_roll_avg_24h"].iloc[0] == pytest.approx(before)
    # the measured covariate after the origin moves nothing
    moved = covariate_subset.copy()
    moved.loc[moved.timestamp_hour >= origin, "grid_load_mw"] += 1000.0
    assert_same_features(rows, rows_of(moved), model_features(rows))
    # a file without the declared columns still works: the covariate features are simply missing
    plain = rows_of(subset)
    assert plain.wind_speed_ms.isna().all() and plain.grid_load_mw_roll_avg_24h.isna().all()


def test_known_ahead_covariate_after_origin_is_read_only_from_the_forecast_and_changes_forecasts(
        spark, covariate_subset, topology, cfg, origin):
    from edf.models import make_model

    fe = _with_covariates(cfg)
    horizon = 24
    future = covariate_subset[(covariate_subset.timestamp_hour >= origin)
                              & (covariate_subset.timestamp_hour < origin + pd.Timedelta(hours=horizon))]
    forecast = future[["building_id", "timestamp_hour"]].assign(
        temperature_c=future.temperature_c, solar_irradiance_ghi=future.solar_irradiance_ghi,
        humidity=future.humidity, wind_speed_ms=2.0 + (future.timestamp_hour.dt.hour % 5),
        forecast_issue_time=origin - pd.Timedelta(hours=6))
    late = forecast.assign(wind_speed_ms=99.0, forecast_issue_time=origin + pd.Timedelta(hours=2))

    def inference(history, feed):
        out = build_inference_features(spark, from_pandas(spark, history), topology, fe, origin.to_pydatetime(), horizon,
                                       from_pandas(spark, feed), lookback_days=14)
        return to_pandas_utc(out).sort_values(["building_id", "timestamp_hour"]).reset_index(drop=True)

    rows = inference(covariate_subset, pd.concat([forecast, late]))
    feed = forecast.set_index(["building_id", "timestamp_hour"]).wind_speed_ms
    np.testing.assert_allclose(rows.wind_speed_ms, feed.loc[list(zip(rows.building_id, rows.timestamp_hour,
                                                                      strict=True))].to_numpy())
    # measured wind after the origin (e.g. late-arriving observations) is never read: only the forecast is
    observed = covariate_subset.copy()
    observed.loc[observed.timestamp_hour >= origin, "wind_speed_ms"] = 55.0
    assert_same_features(rows, inference(observed, forecast), model_features(rows))

    # the column changes forecasts: a model trained with it answers a windier forecast differently
    fe_train = fe.model_copy(update={"eval_days": 3})
    train = to_pandas_utc(build_training_features(spark, from_pandas(spark, covariate_subset), topology, fe_train,
                                                  horizon).train)
    model = make_model("xgboost", "consumption_kwh", cfg.model_copy(update={"edf_feature_eng": fe}))
    model.params.update(xgb_num_boost_round=60, xgb_tuning_grid=[], xgb_validation_days=0)
    model.fit(train, covariate_subset)
    assert "wind_speed_ms" in model.features
    calm = model.predict(rows, covariate_subset)
    windy = model.predict(inference(covariate_subset, forecast.assign(wind_speed_ms=14.0)), covariate_subset)
    assert windy.yhat.mean() > calm.yhat.mean() + 0.3
