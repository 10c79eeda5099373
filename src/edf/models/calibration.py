"""Calibrated prediction intervals: lead-conditional split conformal on scaled residuals, and an
online quantile tracker over the most recent scored errors (adaptive conformal inference).

Why NumPy and not MAPIE: MAPIE wraps one scikit-learn estimator on exchangeable data (or one series
for its time-series regressor) and owns the fit/refit. EDF's models are global over buildings and
lead times, fit by their own code, and the two things that matter here — quantiles per lead bucket
and local time of day of residuals divided by a volatility known at the origin, and a per-origin
tracker fed only by errors scored before that origin — are a few array operations around the
model, not an estimator wrapper. Keeping them here also keeps the artifact a small JSON.

Split conformal (:class:`ConformalCalibrator`): on the held-out calibration window the model's
residuals ``r = (y - yhat) / scale`` (``scale``: a level or volatility known at the origin, so a quiet
building and a volatile one each get their own width) give the interval's lower and upper quantiles
per (lead bucket, hour of day), falling back to the lead bucket and then to all residuals when a
cell has too few.

Online (:func:`recalibrate`): before each origin ``o``, every forecast of the previous
``window_days`` origins whose target hour is before ``o`` and after the model's training window
(in-sample errors would be optimistic) and whose actual is known is scored with
``s = max((yhat - y) / (yhat - lower), (y - yhat) / (upper - yhat))`` — the smallest multiplier of
the interval's half-widths that would have covered it. A quantile tracker (Gibbs & Candes 2021,
in the score form of Angelopoulos, Candes & Tibshirani 2023) then runs over those days in order,
per building and lead bucket: ``log m <- log m + step * (miss_rate(s > m) - alpha)``, starting at
``m = 1`` (the calibrated interval). The origin's intervals are widened or narrowed by the final
``m``. Stateless: the same rows give the same multipliers, so a re-run of a day's inference, a
backtest and the daily job agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import LEAD, ORIGIN

MIN_CELL = 30  # residuals a (bucket, hour) cell needs for its own quantiles
_EPS = 1e-9


def lead_buckets(leads: np.ndarray | pd.Series, bucket_hours: int) -> np.ndarray:
    return (np.asarray(leads, dtype="int64") // int(bucket_hours)).astype("int64")


@dataclass
class ConformalCalibrator:
    """Empirical quantiles of scaled residuals per (lead bucket, hour of day), with fallbacks."""

    lower_q: float
    upper_q: float
    bucket_hours: int = 24
    cells: dict[str, list[float]] | None = None

    def fit(self, resid: np.ndarray, leads: np.ndarray, hours: np.ndarray) -> ConformalCalibrator:
        frame = pd.DataFrame({"b": lead_buckets(leads, self.bucket_hours), "h": np.asarray(hours, dtype="int64"),
                              "r": np.asarray(resid, dtype="float64")}).dropna()
        frame = frame[np.isfinite(frame["r"])]
        if frame.empty:
            raise ValueError("no finite residuals to calibrate the interval on")
        cells = {"*": self._q(frame["r"])}
        for b, grp in frame.groupby("b"):
            if len(grp) >= MIN_CELL:
                cells[f"{b}"] = self._q(grp["r"])
        for (b, h), grp in frame.groupby(["b", "h"]):
            if len(grp) >= MIN_CELL:
                cells[f"{b}|{h}"] = self._q(grp["r"])
        self.cells = cells
        return self

    def _q(self, r: pd.Series) -> list[float]:
        return [float(np.quantile(r, self.lower_q)), float(np.quantile(r, self.upper_q))]

    def bounds(self, leads: np.ndarray, hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper scaled-residual quantiles for each row (most specific cell available)."""
        if not self.cells:
            raise ValueError("the calibrator is not fitted")
        buckets = lead_buckets(leads, self.bucket_hours)
        hrs = np.asarray(hours, dtype="int64")
        last_bucket = max((int(k) for k in self.cells if k.isdigit()), default=None)
        out = np.empty((len(buckets), 2))
        for i, (b, h) in enumerate(zip(buckets, hrs, strict=True)):
            if last_bucket is not None and b > last_bucket:
                b = last_bucket  # a lead beyond the calibrated horizon takes the longest calibrated bucket
            out[i] = self.cells.get(f"{b}|{h}") or self.cells.get(f"{b}") or self.cells["*"]
        return out[:, 0], out[:, 1]

    def to_state(self) -> dict[str, Any]:
        return {"lower_q": self.lower_q, "upper_q": self.upper_q, "bucket_hours": self.bucket_hours,
                "cells": self.cells}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ConformalCalibrator:
        return cls(float(state["lower_q"]), float(state["upper_q"]), int(state["bucket_hours"]),
                   {str(k): [float(x) for x in v] for k, v in state["cells"].items()})


def time_split(rows: pd.DataFrame, days: int, min_rows: int = 50) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Split training rows by time: the last ``days`` days of origins are held out; the rest keeps
    only rows whose target hour is before the held-out slice (no overlap). Returns ``(fit, held_out,
    honest)``; with too little data both are all rows and ``honest`` is False."""
    origins = pd.to_datetime(rows[ORIGIN], utc=True)
    cut = origins.max() - pd.Timedelta(days=int(days) - 1)
    ts = pd.to_datetime(rows[c.TIMESTAMP], utc=True)
    fit, held = rows[(origins < cut) & (ts < cut)], rows[origins >= cut]
    if fit.empty or len(held) < min_rows:
        return rows, rows, False
    return fit, held, True


def interval_scale(rows: pd.DataFrame, target: str, level: np.ndarray, settings: dict[str, Any] | None) -> np.ndarray:
    """The residual scale of the conformal interval: :func:`volatility`, or 1 when
    ``volatility_scaling`` is off (the level alone; ``bench/models.py --ablation`` compares them)."""
    if settings is not None and not settings.get("volatility_scaling", True):
        return np.ones(len(rows))
    return volatility(rows, target, level)


def volatility(rows: pd.DataFrame, target: str, level: np.ndarray) -> np.ndarray:
    """A local spread known at the origin, in units of ``level``: the std of the same hour over the
    7 days before the origin, blended with the trailing week's hourly std, relative to the level.

    Dividing residuals by it lets a quiet building and a volatile one get their own width. Solar:
    the clear-sky irradiance of the hour (on the array's plane when known, kW/m2) — PV errors scale
    with how much sun there can be, so one set of quantiles serves dawn and noon.
    """
    from edf.data.feature_names import profile_names, roll_name

    n = len(rows)
    if target == c.SOLAR:
        col = next((name for name in ("poa_clearsky", "clearsky_ghi") if name in rows.columns), None)
        if col is None:
            return np.ones(n)
        sun = rows[col].to_numpy(dtype="float64") / 1000.0
        return np.clip(np.where(np.isfinite(sun), sun, 1.0), 0.02, 2.0)
    if target != c.CONSUMPTION:
        return np.ones(n)
    parts = []
    for col in (profile_names(target)[1], roll_name(target, "stddev", 168)):
        if col in rows.columns:
            parts.append(rows[col].to_numpy(dtype="float64") / level)
    if not parts:
        return np.ones(n)
    stacked = np.vstack(parts) ** 2
    count = np.isfinite(stacked).sum(axis=0)
    vol = np.sqrt(np.nansum(stacked, axis=0) / np.maximum(count, 1))
    vol = np.where(count > 0, vol, np.nan)
    vol = np.where(np.isfinite(vol), vol, np.nan)
    fallback = np.nanmedian(vol) if np.isfinite(vol).any() else 1.0
    return np.clip(np.where(np.isnan(vol), fallback, vol), 0.05, 5.0)


def coverage_scores(actual: np.ndarray, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Smallest multiplier of the half-widths that covers the actual (NaN for a zero-width interval)."""
    a, f, lo, hi = (np.asarray(x, dtype="float64") for x in (actual, yhat, lower, upper))
    below, above = f - lo, hi - f
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(a < f, (f - a) / np.maximum(below, _EPS), (a - f) / np.maximum(above, _EPS))
    s = np.where(a == f, 0.0, s)
    degenerate = (hi - lo) <= _EPS * np.maximum(np.abs(f), 1.0)  # e.g. solar at night: carries no information
    return np.where(degenerate | ~np.isfinite(a), np.nan, s)


def track_multiplier(daily_scores: list[np.ndarray], alpha: float, step: float) -> float:
    """Run the quantile tracker over days of scores in time order; returns the width multiplier."""
    log_m = 0.0
    for scores in daily_scores:
        if len(scores):
            miss = float(np.mean(scores > np.exp(log_m)))
            log_m += step * (miss - alpha)
    return float(np.exp(log_m))


def recalibrate(rows: pd.DataFrame, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: str,
                training_end: str | None, settings: dict[str, Any], interval_width: float
                ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Rescale each origin's intervals from the errors scored before it (see the module docstring).

    ``rows`` are the feature rows predicted (any number of origins); their ``target`` column is the
    actual where it was measured. Returns the new bounds and a summary (multipliers per bucket).
    """
    summary: dict[str, Any] = {"origins_adjusted": 0, "scored_errors": 0}
    if not settings.get("online", False) or target not in rows.columns or rows.empty:
        return lower, upper, summary
    frame = _scored_frame(rows, yhat, lower, upper, target, training_end, int(settings.get("bucket_hours", 24)))
    if frame.empty:
        return lower, upper, summary
    window = pd.Timedelta(days=int(settings.get("window_days", 7)))
    alpha, step = 1.0 - interval_width, float(settings.get("step", 0.5))
    origins = pd.to_datetime(rows[ORIGIN], utc=True)
    mult = np.ones(len(rows))
    keys = pd.MultiIndex.from_arrays([rows[c.BUILDING_ID].astype(str).to_numpy(),
                                      lead_buckets(rows[LEAD], int(settings.get("bucket_hours", 24)))])
    for origin in origins.unique():
        recent = frame[(frame["origin"] >= origin - window) & (frame["origin"] < origin) & (frame["ts"] < origin)]
        if recent.empty:
            continue
        summary["origins_adjusted"] += 1
        summary["scored_errors"] += len(recent)
        this = (origins == origin).to_numpy()
        found = _multipliers(recent, alpha, step).reindex(keys[this]).to_numpy()
        mult[this] = np.where(np.isfinite(found), found, 1.0)
    f = np.asarray(yhat, dtype="float64")
    new_lower = f - mult * (f - np.asarray(lower, dtype="float64"))
    new_upper = f + mult * (np.asarray(upper, dtype="float64") - f)
    summary["multiplier_median"] = float(np.median(mult))
    return new_lower, new_upper, summary


def _multipliers(recent: pd.DataFrame, alpha: float, step: float) -> pd.Series:
    """:func:`track_multiplier` for every (building, lead bucket) at once: one vectorised update per
    day of target hours (a group without scores that day keeps its multiplier), so the daily job
    stays cheap at portfolio size."""
    recent = recent.assign(day=recent["ts"].dt.floor("D"))
    log_m = pd.Series(0.0, index=pd.MultiIndex.from_frame(recent[["building", "bucket"]].drop_duplicates()))
    for _, grp in recent.groupby("day", sort=True):
        idx = pd.MultiIndex.from_frame(grp[["building", "bucket"]])
        current = np.exp(log_m.reindex(idx).to_numpy())
        miss = pd.Series(grp["s"].to_numpy() > current, index=idx).groupby(level=[0, 1]).mean()
        log_m.loc[miss.index] += step * (miss.to_numpy() - alpha)
    return np.exp(log_m)


def _scored_frame(rows: pd.DataFrame, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: str,
                  training_end: str | None, bucket_hours: int) -> pd.DataFrame:
    """One row per forecast whose actual is known and lies after the training window, with its score."""
    frame = pd.DataFrame({
        "building": rows[c.BUILDING_ID].astype(str).to_numpy(),
        # .array keeps datetime64 (to_numpy of a tz-aware column builds a Timestamp object per row)
        "origin": pd.to_datetime(rows[ORIGIN], utc=True).array,
        "ts": pd.to_datetime(rows[c.TIMESTAMP], utc=True).array,
        "bucket": lead_buckets(rows[LEAD], bucket_hours),
        "s": coverage_scores(rows[target].to_numpy(dtype="float64"), yhat, lower, upper),
    })
    frame["origin"] = pd.to_datetime(frame["origin"], utc=True)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame = frame[frame["s"].notna()]
    if training_end:
        frame = frame[frame["ts"] > pd.Timestamp(training_end)]
    return frame
