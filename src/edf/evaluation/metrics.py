"""Forecast metrics per building and their median over buildings.

Only hours with a known actual are scored (a missing reading is never a zero). Definitions, for a
building with scored hours ``i = 1..n``, actual ``a``, forecast ``f`` and mean actual ``m``:

* ``mape_pct``    100 * mean(|f - a| / |a|) over hours with |a| >= share * |m| (near-zero hours —
                  night-time PV, an empty home — would otherwise dominate)
* ``rmse``        sqrt(mean((f - a)^2));  ``mae`` mean(|f - a|)
* ``cv_rmse_pct`` 100 * rmse / m (ASHRAE Guideline 14's CV(RMSE))
* ``nmbe_pct``    100 * sum(f - a) / (n * m)
* ``pinball``     mean pinball loss of yhat_lower at q=(1-w)/2 and yhat_upper at q=(1+w)/2
* ``coverage``    share of actuals inside [yhat_lower, yhat_upper]

Coverage and pinball are also reported per lead bucket (``by_lead_bucket``), because an interval
calibrated on average can still be too narrow three days ahead and too wide an hour ahead.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from edf.data import contract as c

METRICS = ("mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct", "pinball", "coverage")
LOWER_IS_BETTER = ("mape_pct", "rmse", "mae", "cv_rmse_pct", "pinball")


def pinball_loss(actual: np.ndarray, forecast: np.ndarray, q: float) -> float:
    diff = np.asarray(actual, dtype="float64") - np.asarray(forecast, dtype="float64")
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def series_metrics(actual, yhat, lower, upper, interval_width: float = 0.8, mape_min_share: float = 0.05) -> dict[str, float]:
    """All metrics for one building's scored hours (NaN actuals are dropped first)."""
    a, f, lo, hi = (np.asarray(x, dtype="float64") for x in (actual, yhat, lower, upper))
    keep = np.isfinite(a) & np.isfinite(f)
    a, f, lo, hi = a[keep], f[keep], lo[keep], hi[keep]
    n = len(a)
    if n == 0:
        return {m: math.nan for m in METRICS} | {"n": 0}
    err = f - a
    mean = float(np.mean(a))
    rmse = float(np.sqrt(np.mean(err ** 2)))
    big = np.abs(a) >= mape_min_share * abs(mean)
    big &= np.abs(a) > 0
    q_lo = (1.0 - interval_width) / 2.0
    return {
        "mape_pct": float(100.0 * np.mean(np.abs(err[big]) / np.abs(a[big]))) if big.any() else math.nan,
        "rmse": rmse,
        "mae": float(np.mean(np.abs(err))),
        "cv_rmse_pct": 100.0 * rmse / mean if mean else math.nan,
        "nmbe_pct": float(100.0 * np.sum(err) / (n * mean)) if mean else math.nan,
        "pinball": (pinball_loss(a, lo, q_lo) + pinball_loss(a, hi, 1.0 - q_lo)) / 2.0,
        "coverage": float(np.mean((a >= lo) & (a <= hi))),
        "n": n,
    }


def evaluate_forecasts(forecasts: pd.DataFrame, actuals: pd.DataFrame, target: str, interval_width: float = 0.8,
                       mape_min_share: float = 0.05, bucket_hours: int = 24) -> dict:
    """Per-building metrics and their median, overall and per lead bucket.

    Returns ``{"aggregate": {...}, "per_building": {id: {...}}, "by_lead_bucket": {"0-24": {...}}}``.
    ``forecasts`` holds the key columns and yhat/yhat_lower/yhat_upper; ``actuals`` the key
    columns and the target. They are joined on building, origin and target hour. A forecast hour
    whose actual is null (a meter gap) is counted in ``n_missing`` and never scored.
    """
    keys = [c.BUILDING_ID, "origin_time", c.TIMESTAMP]
    joined = forecasts.merge(actuals[[*keys, target]], on=keys, how="inner")
    per_building = _per_building(joined, target, interval_width, mape_min_share)
    out = {"aggregate": aggregate(per_building), "per_building": per_building}
    out["aggregate"]["scored_hours"] = int(sum(m["n"] for m in per_building.values()))
    out["aggregate"]["missing_hours"] = int(joined[target].isna().sum())
    if "lead_hours" in joined.columns and len(joined):
        bucket = joined["lead_hours"].astype("int64") // bucket_hours
        out["by_lead_bucket"] = {}
        for b, grp in joined.groupby(bucket, sort=True):
            agg = aggregate(_per_building(grp, target, interval_width, mape_min_share))
            out["by_lead_bucket"][f"{b * bucket_hours}-{(b + 1) * bucket_hours}"] = {
                "coverage": agg["coverage"], "pinball": agg["pinball"], "cv_rmse_pct": agg["cv_rmse_pct"],
                "scored_hours": int(grp[target].notna().sum()), "missing_hours": int(grp[target].isna().sum())}
    return out


def _per_building(joined: pd.DataFrame, target: str, interval_width: float, mape_min_share: float) -> dict:
    per_building = {}
    for building, grp in joined.groupby(c.BUILDING_ID, sort=True):
        m = series_metrics(grp[target], grp["yhat"], grp["yhat_lower"], grp["yhat_upper"], interval_width, mape_min_share)
        m["n_missing"] = int(grp[target].isna().sum())
        if m["n"]:
            per_building[str(building)] = m
    return per_building


def aggregate(per_building: dict[str, dict]) -> dict[str, float]:
    """Median over buildings of every metric (NaNs ignored), plus the building count."""
    out: dict[str, float] = {}
    for m in METRICS:
        vals = [v[m] for v in per_building.values() if v.get(m) is not None and np.isfinite(v[m])]
        out[m] = float(np.median(vals)) if vals else math.nan
    out["buildings"] = len(per_building)
    return out


def skill(model: dict[str, float], baseline: dict[str, float], metric: str = "cv_rmse_pct") -> float:
    """1 - model/baseline on a lower-is-better metric (positive = better than the baseline)."""
    mv, bv = model.get(metric), baseline.get(metric)
    if mv is None or bv is None or not np.isfinite(mv) or not np.isfinite(bv) or bv == 0:
        return math.nan
    return float(1.0 - mv / bv)


def clean(value):
    """JSON-safe numbers (NaN -> None), rounded for reports."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value
