"""`edf local monitor` for real: train -> approve -> infer with held-back days -> accuracy report.

Two homes and a 35-day training window keep it short (Spark start-up dominates). The bundled data
ends at 2017-08-01 06:00 UTC, so with three held-back days the forecast covers 2017-07-30 .. 08-01:
the first two days have all their actuals "released", the last one only 7 hours — its other hours
must be reported as missing, never scored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from edf.config import DEFAULT_CONFIG_PATH, deep_merge

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BUILDINGS = ["citylearn-01", "citylearn-11"]
HOLD_BACK_DAYS = 3
# Plumbing, not accuracy: a 4-week fit on two homes need not meet the production bar.
OVERRIDES = {
    "edf_feature_eng": {"eval_days": 7},
    "edf_training": {"hyperparameters": {"XGBoost": {"xgb_num_boost_round": 30}}},
    "edf_evaluation": {"require_beat_baselines": False,
                       "metrics_thresholds": {"max_mape": 1000.0, "max_rmse": 100.0, "max_cv_rmse_pct": 1000.0,
                                              "min_coverage": 0.0, "max_coverage": 1.0}},
}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from edf.cli import main

    tmp = tmp_path_factory.mktemp("monitor-local")
    config = tmp / "edf_config.yaml"
    config.write_text(yaml.safe_dump(deep_merge(yaml.safe_load(Path(DEFAULT_CONFIG_PATH).read_text()), OVERRIDES),
                                     sort_keys=False))
    out = tmp / "report"
    rc = main(["local", "monitor", "--config", str(config), "--buildings", *BUILDINGS,
               "--hold-back-days", str(HOLD_BACK_DAYS), "--train-days", "35", "--strategy", "xgboost",
               "--output", str(out), "--workdir", str(tmp / "work")])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def held_back(homes_module):
    frame = homes_module[homes_module["building_id"].isin(BUILDINGS)]
    last = frame["timestamp_hour"].max()
    first_day = (last.normalize() + pd.Timedelta(days=1)) - pd.Timedelta(days=HOLD_BACK_DAYS)
    return frame[frame["timestamp_hour"] >= first_day], first_day, last


@pytest.fixture(scope="module")
def homes_module():
    from edf.data.bundled import load_homes

    return load_homes()


def test_report_files_exist(report):
    for name in ("report.md", "accuracy.parquet", "accuracy.csv", "error_by_lead.png", "worst_buildings.png",
                 "emf.jsonl", "summary.json"):
        assert (report / name).is_file() and (report / name).stat().st_size > 0, name
    assert "inference date 2017-07-30" in (report / "report.md").read_text()


def test_the_held_back_days_are_scored_with_their_released_actuals(report, held_back):
    actuals, first_day, last = held_back
    summary = json.loads((report / "summary.json").read_text())
    assert pd.Timestamp(summary["window_start"]) == first_day
    assert summary["scored_rows"] > 0
    table = pd.read_parquet(report / "accuracy.parquet")
    cons = table[(table["series"] == "consumption") & (table["level"] == "building")]
    n_actual = actuals.groupby("building_id")["consumption_kwh"].count()
    for building in BUILDINGS:
        row = cons[(cons["key"] == building) & (cons["lead_bucket"] == "all")].iloc[0]
        # every held-back hour that has an actual is scored, and only those
        assert row["n_scored"] == n_actual[building] > 0
        assert row["n_forecast"] == 24 * HOLD_BACK_DAYS
        first = cons[(cons["key"] == building) & (cons["lead_bucket"] == "0-24")].iloc[0]
        assert first["status"] == "ok" and first["n_scored"] == 24 and first["rmse"] > 0
    overall = table[(table["level"] == "overall") & (table["series"] == "consumption")
                    & (table["lead_bucket"] == "0-24")].iloc[0]
    assert overall["n_scored"] == 24 * len(BUILDINGS) and overall["naive_n"] > 0
    assert pd.notna(overall["cv_rmse_pct"]) and pd.notna(overall["skill_vs_seasonal_naive"])


def test_missing_actuals_are_counted_not_scored(report, held_back):
    _, first_day, last = held_back
    hours_after_data = int((first_day + pd.Timedelta(hours=24 * HOLD_BACK_DAYS) - last) / pd.Timedelta(hours=1)) - 1
    assert hours_after_data > 0, "the bundled data no longer ends mid-day; pick a window with late hours"
    table = pd.read_parquet(report / "accuracy.parquet")
    late = table[(table["level"] == "overall") & (table["series"] == "consumption")
                 & (table["lead_bucket"] == "48-72")].iloc[0]
    assert late["status"] == "partial"
    assert late["n_missing_actual"] == hours_after_data * len(BUILDINGS)
    assert late["n_scored"] + late["n_missing_actual"] == late["n_forecast"]
    summary = json.loads((report / "summary.json").read_text())
    assert summary["missing_actual_rows"] > 0
    assert summary["scored_rows"] + summary["missing_actual_rows"] == summary["forecast_rows"]
