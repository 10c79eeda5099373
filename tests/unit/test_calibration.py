"""Calibrated intervals: lead-conditional scaled residuals and the online quantile tracker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edf.models.calibration import (
    ConformalCalibrator,
    coverage_scores,
    recalibrate,
    time_split,
    track_multiplier,
    volatility,
)

SETTINGS = {"online": True, "window_days": 7, "step": 0.5, "bucket_hours": 24}


def test_quantiles_widen_with_lead_bucket():
    """Residual spread that grows with lead time gets a wider interval for later buckets."""
    rng = np.random.default_rng(0)
    leads = np.tile(np.arange(72), 200)
    hours = leads % 24
    resid = rng.normal(0, 1 + leads // 24, len(leads))  # sd 1, 2, 3 per day ahead
    cal = ConformalCalibrator(0.1, 0.9, 24).fit(resid, leads, hours)
    lo, hi = cal.bounds(np.array([5, 30, 60, 100]), np.array([5, 6, 12, 4]))
    widths = hi - lo
    assert widths[0] < widths[1] < widths[2]
    assert widths[0] == pytest.approx(2 * 1.2816, rel=0.2) and widths[2] == pytest.approx(3 * 2 * 1.2816, rel=0.2)
    assert widths[3] == pytest.approx(widths[2], rel=0.3)  # beyond the calibrated horizon: the last bucket
    # state round trip
    again = ConformalCalibrator.from_state(cal.to_state())
    np.testing.assert_allclose(again.bounds(np.array([30]), np.array([6])), cal.bounds(np.array([30]), np.array([6])))


def test_volatility_gives_a_quiet_and_a_volatile_building_their_own_width():
    rows = pd.DataFrame({"consumption_profile_std_7d": [0.1, 1.0, np.nan],
                         "consumption_roll_stddev_168h": [0.1, 1.0, np.nan]})
    vol = volatility(rows, "consumption_kwh", np.array([1.0, 1.0, 1.0]))
    assert vol[1] == pytest.approx(10 * vol[0])
    assert np.isfinite(vol[2])  # no history: the median spread, not zero or NaN
    sun = volatility(pd.DataFrame({"clearsky_ghi": [0.0, 200.0, 900.0]}), "solar_generation_kwh", np.ones(3))
    assert sun[0] < sun[1] < sun[2] and sun[0] > 0  # PV errors scale with the sun there can be


def test_scores_are_the_multiplier_that_would_have_covered():
    s = coverage_scores(np.array([1.0, 3.0, 0.0, 2.0, np.nan]), np.full(5, 2.0), np.full(5, 1.0), np.full(5, 2.0))
    assert s[0] == pytest.approx(1.0) and s[2] == pytest.approx(2.0) and s[3] == 0.0
    assert s[1] > 1e6 and np.isnan(s[4])  # above a zero upper half-width: a miss; no actual: nothing
    flat = coverage_scores(np.array([0.0, 0.5]), np.zeros(2), np.zeros(2), np.zeros(2))
    assert np.isnan(flat).all()  # a zero-width interval (solar at night) carries no information


def test_tracker_settles_where_the_miss_rate_is_alpha():
    rng = np.random.default_rng(1)
    days = [np.abs(rng.normal(0, 2.0, 400)) / 1.2816 for _ in range(40)]  # intervals half as wide as needed
    m = track_multiplier(days, alpha=0.2, step=0.5)
    assert m == pytest.approx(2.0, rel=0.15)
    assert track_multiplier([], alpha=0.2, step=0.5) == 1.0


def _rows(days: int = 30, change_day: int = 15, noise_after: float = 3.0, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Daily origins x 24 leads for one building; the base interval is +-1.28 (80 % for N(0,1)) but after
    ``change_day`` the errors become N(0, noise_after): a regime change."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    recs = []
    for d in range(days):
        origin = start + pd.Timedelta(days=d)
        for lead in range(24):
            sd = noise_after if d >= change_day else 1.0
            recs.append({"building_id": "b", "origin_time": origin, "timestamp_hour": origin + pd.Timedelta(hours=lead),
                         "lead_hours": lead, "consumption_kwh": rng.normal(0, sd)})
    rows = pd.DataFrame(recs)
    return rows, np.zeros(len(rows))


def _coverage(rows, lo, hi, first_day):
    sel = rows.origin_time >= rows.origin_time.min() + pd.Timedelta(days=first_day)
    a = rows.loc[sel, "consumption_kwh"].to_numpy()
    return float(np.mean((a >= lo[sel]) & (a <= hi[sel])))


def test_online_recalibration_recovers_coverage_after_a_regime_change():
    rows, yhat = _rows()
    lo0, hi0 = yhat - 1.2816, yhat + 1.2816
    lo, hi, summary = recalibrate(rows, yhat, lo0, hi0, "consumption_kwh", None, SETTINGS, 0.8)
    assert _coverage(rows, lo0, hi0, 22) < 0.45  # the fixed interval is far too narrow after the change
    assert 0.65 <= _coverage(rows, lo, hi, 22) <= 0.95  # the tracked one has recovered a week later
    assert summary["origins_adjusted"] > 0
    # before the change the tracker keeps the calibrated width (multiplier near 1)
    early = (rows.origin_time >= rows.origin_time.min() + pd.Timedelta(days=8)) & (
        rows.origin_time < rows.origin_time.min() + pd.Timedelta(days=15))
    ratio = (hi - lo)[early.to_numpy()] / (hi0 - lo0)[early.to_numpy()]
    assert 0.6 < np.median(ratio) < 1.5
    off = recalibrate(rows, yhat, lo0, hi0, "consumption_kwh", None, {**SETTINGS, "online": False}, 0.8)
    np.testing.assert_array_equal(off[0], lo0)


def test_online_recalibration_reads_only_errors_before_each_origin_and_after_training():
    rows, yhat = _rows()
    lo0, hi0 = yhat - 1.2816, yhat + 1.2816
    lo, hi, _ = recalibrate(rows, yhat, lo0, hi0, "consumption_kwh", None, SETTINGS, 0.8)
    # perturb every actual at or after one origin: that origin's interval must not move
    origin = rows.origin_time.min() + pd.Timedelta(days=20)
    moved = rows.copy()
    moved.loc[moved.timestamp_hour >= origin, "consumption_kwh"] *= 50
    lo2, hi2, _ = recalibrate(moved, yhat, lo0, hi0, "consumption_kwh", None, SETTINGS, 0.8)
    this = (rows.origin_time == origin).to_numpy()
    np.testing.assert_array_equal(lo[this], lo2[this])
    np.testing.assert_array_equal(hi[this], hi2[this])
    assert not np.array_equal(hi[~this], hi2[~this])  # later origins do see those errors
    # errors inside the training window are in-sample: ignored, so every interval keeps its width
    end = rows.timestamp_hour.max().isoformat()
    lo3, hi3, summary = recalibrate(rows, yhat, lo0, hi0, "consumption_kwh", end, SETTINGS, 0.8)
    np.testing.assert_array_equal(hi3, hi0)
    assert summary["scored_errors"] == 0


def test_time_split_holds_out_the_last_days_without_overlap():
    rows, _ = _rows(days=20)
    fit, held, honest = time_split(rows, 5)
    assert honest and held.origin_time.nunique() == 5
    assert fit.timestamp_hour.max() < held.origin_time.min()
    small_fit, small_held, small_honest = time_split(rows.head(30), 5)
    assert not small_honest and len(small_fit) == len(small_held) == 30


def test_vectorised_tracker_equals_the_sequential_one():
    """The per-group vectorised update of the daily job is exactly track_multiplier per group."""
    from edf.models.calibration import _multipliers

    rng = np.random.default_rng(4)
    recs = []
    for b in ("a", "b"):
        for bucket in (0, 1):
            for day in range(6):
                if (b, bucket, day) == ("b", 1, 2):
                    continue  # a day without scores keeps the multiplier
                for s_val in np.abs(rng.normal(0, 1 + bucket, 24)):
                    recs.append({"building": b, "bucket": bucket, "s": s_val,
                                 "ts": pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day, hours=3)})
    frame = pd.DataFrame(recs)
    got = _multipliers(frame, 0.2, 1.0)
    for (b, bucket), grp in frame.groupby(["building", "bucket"]):
        days = [g.to_numpy() for _, g in grp.groupby(grp["ts"].dt.floor("D"))["s"]]
        assert got.loc[(b, bucket)] == pytest.approx(track_multiplier(days, 0.2, 1.0))
