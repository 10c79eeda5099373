"""Small real XGBoost bundles on synthetic feature rows (no Spark): for the evaluation job, explain, registry tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from edf.config import load_config
from edf.data import contract as c

BUILDINGS = ("b1", "b2", "b3")


def fast_config(rounds: int = 20, **evaluation):
    lenient = {"max_mape": 1000.0, "max_rmse": 100.0, "max_cv_rmse_pct": 1000.0, "min_coverage": 0.0,
               "max_coverage": 1.0}
    return load_config(None, {
        "edf_training": {"hyperparameters": {"XGBoost": {"xgb_num_boost_round": rounds, "xgb_calibration_days": 3}}},
        "edf_evaluation": {"metrics_thresholds": lenient, **evaluation}})


def feature_rows(start: str, days: int, seed: int = 0, buildings=BUILDINGS) -> pd.DataFrame:
    """Daily origins at 00:00 UTC, leads 1..24, a demand with a daily shape, temperature and the lag/profile
    columns the baselines read (history from the same generator, so they carry signal)."""
    rng = np.random.default_rng(seed)
    out = []
    for i, building in enumerate(buildings):
        level = 1.0 + i
        for day in range(days):
            origin = pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=day)
            lead = np.arange(1, 25)
            ts = origin + pd.to_timedelta(lead - 1, unit="h")
            hour = ts.hour.to_numpy()
            temp = 10 + 5 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(0, 1, 24)
            shape = level * (1.0 + 0.6 * np.sin(2 * np.pi * (hour - 14) / 24))
            actual = shape + 0.05 * (temp - 10) * level + rng.normal(0, 0.15 * level, 24)
            out.append(pd.DataFrame({
                c.BUILDING_ID: building, "origin_time": origin, c.TIMESTAMP: ts, "lead_hours": lead.astype("int32"),
                "hour_of_day": hour, c.TEMPERATURE: temp, c.CONSUMPTION: actual, "pv_capacity_kw": 0.0,
                "grid_area": "area-1",
                "consumption_lag_24h": shape + rng.normal(0, 0.2 * level, 24),
                "consumption_same_hour_last_week": shape + rng.normal(0, 0.4 * level, 24),
                "consumption_profile_mean_7d": shape + rng.normal(0, 0.3 * level, 24),
                "consumption_profile_std_7d": 0.3 * level,
                "noise": rng.normal(0, 1, 24),  # carries no signal: explanations must rank it low
            }))
    return pd.concat(out, ignore_index=True)


def train_bundle(directory: Path, rows: pd.DataFrame, cfg) -> Path:
    """Fit the demand XGBoost on ``rows`` and save a one-target bundle; returns its model.tar.gz."""
    from edf.models import make_model
    from edf.models.bundle import make_tarball, save_bundle

    model = make_model("xgboost", c.CONSUMPTION, cfg).fit(rows)
    save_bundle(directory / "bundle", {c.CONSUMPTION: model}, cfg.config_hash())
    return make_tarball(directory / "bundle", directory / "artifacts" / "model.tar.gz")
