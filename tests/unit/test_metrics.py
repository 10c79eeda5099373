"""Metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from edf.evaluation.metrics import aggregate, clean, evaluate_forecasts, pinball_loss, series_metrics, skill


def test_series_metrics_hand_computed():
    actual = [1.0, 2.0, 3.0, 0.01]
    yhat = [2.0, 2.0, 2.0, 0.01]
    lower = [0.5, 1.5, 2.5, 0.0]
    upper = [1.5, 2.5, 2.9, 0.02]
    m = series_metrics(actual, yhat, lower, upper, interval_width=0.8, mape_min_share=0.05)
    mean = (1 + 2 + 3 + 0.01) / 4  # 1.5025; 5% of it = 0.075 -> the 0.01 hour is excluded from MAPE
    assert m["mape_pct"] == pytest.approx(100 * (1 / 1 + 0 + 1 / 3) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 1 + 0) / 4))
    assert m["mae"] == pytest.approx(0.5)
    assert m["cv_rmse_pct"] == pytest.approx(100 * math.sqrt(0.5) / mean)
    assert m["nmbe_pct"] == pytest.approx(100 * (1 + 0 - 1 + 0) / (4 * mean))
    assert m["coverage"] == pytest.approx(3 / 4)  # 3.0 is above its upper bound 2.9
    lo = np.mean([max(0.1 * d, -0.9 * d) for d in (0.5, 0.5, 0.5, 0.01)])
    hi = np.mean([max(0.9 * d, -0.1 * d) for d in (-0.5, -0.5, 0.1, -0.01)])
    assert m["pinball"] == pytest.approx((lo + hi) / 2)
    assert m["n"] == 4


def test_missing_actuals_are_not_scored_as_zero():
    with_gap = series_metrics([1.0, np.nan, 3.0], [1.0, 5.0, 3.0], [0, 0, 0], [9, 9, 9])
    assert with_gap["n"] == 2 and with_gap["rmse"] == 0.0 and with_gap["mae"] == 0.0


def test_pinball_loss_asymmetry():
    assert pinball_loss(np.array([10.0]), np.array([8.0]), 0.9) == pytest.approx(1.8)
    assert pinball_loss(np.array([10.0]), np.array([12.0]), 0.9) == pytest.approx(0.2)


def test_evaluate_forecasts_median_over_buildings():
    ts = pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC")
    rows = []
    for b, err in (("a", 1.0), ("b", 2.0), ("c", 4.0)):
        for t in ts:
            rows.append({"building_id": b, "origin_time": ts[0], "timestamp_hour": t, "y": 10.0, "yhat": 10.0 + err,
                         "yhat_lower": 9.0, "yhat_upper": 11.0})
    frame = pd.DataFrame(rows)
    out = evaluate_forecasts(frame.drop(columns="y"), frame, "y")
    assert out["per_building"]["b"]["rmse"] == pytest.approx(2.0)
    assert out["aggregate"]["rmse"] == pytest.approx(2.0)
    assert out["aggregate"]["buildings"] == 3


def test_skill_and_clean():
    assert skill({"cv_rmse_pct": 40.0}, {"cv_rmse_pct": 50.0}) == pytest.approx(0.2)
    assert math.isnan(skill({"cv_rmse_pct": 40.0}, {"cv_rmse_pct": float("nan")}))
    assert clean({"x": float("nan"), "y": [np.float64(1.5)]}) == {"x": None, "y": [1.5]}
    assert aggregate({})["buildings"] == 0


def test_missing_actuals_are_counted_and_buckets_report_coverage_next_to_pinball():
    origin = pd.Timestamp("2024-01-01", tz="UTC")
    leads = np.arange(72)
    keys = pd.DataFrame({"building_id": "b", "origin_time": origin, "timestamp_hour": origin + pd.to_timedelta(leads, "h"),
                         "lead_hours": leads})
    actual = np.ones(72)
    actual[[3, 30, 31]] = np.nan  # meter gaps
    # the interval covers the first day, misses the later ones
    fc = keys.assign(yhat=1.0, yhat_lower=np.where(leads < 24, 0.0, 1.5), yhat_upper=np.where(leads < 24, 2.0, 3.0))
    out = evaluate_forecasts(fc, keys.assign(consumption_kwh=actual), "consumption_kwh")
    assert out["per_building"]["b"]["n"] == 69 and out["per_building"]["b"]["n_missing"] == 3
    assert out["aggregate"]["missing_hours"] == 3 and out["aggregate"]["scored_hours"] == 69
    buckets = out["by_lead_bucket"]
    assert list(buckets) == ["0-24", "24-48", "48-72"]
    assert buckets["0-24"]["coverage"] == 1.0 and buckets["24-48"]["coverage"] == 0.0
    assert buckets["24-48"]["missing_hours"] == 2 and buckets["0-24"]["scored_hours"] == 23
    assert buckets["24-48"]["pinball"] > buckets["0-24"]["pinball"]
