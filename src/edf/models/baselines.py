"""The two baselines every model must beat (ARCHITECTURE principle 4).

* ``seasonal_naive`` — the same hour one week earlier (the pipeline's ``*_same_hour_last_week``).
  Its interval comes from the empirical quantiles of its own training errors per local hour.
* ``persistence`` — the mean of the same hour over the 7 days before the origin
  (``*_profile_mean_7d``), with the spread of those 7 values (``*_profile_std_7d``) for a normal
  interval.

Both read only columns the feature pipeline already made origin-aware, so they cannot look ahead.
Where a building lacks that history (a gap), they fall back to its training mean for that hour —
a forecast is still produced, and it is honest about being a weak one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import profile_names, seasonal_naive_name
from edf.models.base import ForecastModel, normal_z

STATE_FILE = "baseline_state.json"


class _Baseline(ForecastModel):
    def _fallback_fit(self, rows: pd.DataFrame) -> None:
        hod = _hour(rows)
        frame = pd.DataFrame({"b": rows[c.BUILDING_ID].to_numpy(), "h": hod, "y": rows[self.target].to_numpy()})
        self._hourly_mean = {f"{b}|{h}": float(v) for (b, h), v in frame.groupby(["b", "h"])["y"].mean().items()}
        self._global_mean = float(np.nanmean(frame["y"])) if len(frame) else 0.0

    def _fallback(self, rows: pd.DataFrame) -> np.ndarray:
        keys = rows[c.BUILDING_ID].astype(str) + "|" + pd.Series(_hour(rows), index=rows.index).astype(str)
        return keys.map(self._hourly_mean).fillna(self._global_mean).to_numpy(dtype="float64")

    def _state(self) -> dict:
        return {"hourly_mean": self._hourly_mean, "global_mean": self._global_mean}

    def _set_state(self, state: dict) -> None:
        self._hourly_mean = state["hourly_mean"]
        self._global_mean = state["global_mean"]

    def _save(self, path: Path) -> None:
        (path / STATE_FILE).write_text(json.dumps(self._state()))

    def _load(self, path: Path) -> None:
        self._set_state(json.loads((path / STATE_FILE).read_text()))


class SeasonalNaive(_Baseline):
    strategy = "seasonal_naive"

    def _point(self, rows: pd.DataFrame) -> np.ndarray:
        col = seasonal_naive_name(self.target)
        point = rows[col].to_numpy(dtype="float64") if col in rows.columns else np.full(len(rows), np.nan)
        return np.where(np.isnan(point), self._fallback(rows), point)

    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        self.features = [seasonal_naive_name(self.target)]
        self._fallback_fit(rows)
        err = rows[self.target].to_numpy(dtype="float64") - self._point(rows)
        frame = pd.DataFrame({"h": _hour(rows), "e": err}).dropna()
        q = frame.groupby("h")["e"].quantile([self.lower_q, self.upper_q]).unstack()
        self._err_q = {int(h): (float(r.iloc[0]), float(r.iloc[1])) for h, r in q.iterrows()}
        self._err_all = (float(np.nanquantile(err, self.lower_q)), float(np.nanquantile(err, self.upper_q))) \
            if np.isfinite(err).any() else (0.0, 0.0)

    def _predict(self, rows, series):
        point = self._point(rows)
        q = np.array([self._err_q.get(int(h), self._err_all) for h in _hour(rows)]).reshape(-1, 2)
        return point, point + q[:, 0], point + q[:, 1]

    def _state(self) -> dict:
        return {**super()._state(), "err_q": {str(k): v for k, v in self._err_q.items()}, "err_all": self._err_all}

    def _set_state(self, state: dict) -> None:
        super()._set_state(state)
        self._err_q = {int(k): tuple(v) for k, v in state["err_q"].items()}
        self._err_all = tuple(state["err_all"])


class Persistence(_Baseline):
    strategy = "persistence"

    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        mean_col, std_col, _ = profile_names(self.target)
        self.features = [mean_col, std_col]
        self._fallback_fit(rows)

    def _predict(self, rows, series):
        mean_col, std_col, _ = profile_names(self.target)
        mean = rows[mean_col].to_numpy(dtype="float64") if mean_col in rows else np.full(len(rows), np.nan)
        std = rows[std_col].to_numpy(dtype="float64") if std_col in rows else np.full(len(rows), np.nan)
        point = np.where(np.isnan(mean), self._fallback(rows), mean)
        half = normal_z(self.interval_width) * np.nan_to_num(std, nan=0.0)
        return point, point - half, point + half


def _hour(rows: pd.DataFrame) -> np.ndarray:
    """Local hour of day when the pipeline provides it, else the UTC hour."""
    if "hour_of_day" in rows.columns and rows["hour_of_day"].notna().all():
        return rows["hour_of_day"].to_numpy(dtype="int64")
    return pd.to_datetime(rows[c.TIMESTAMP], utc=True).dt.hour.to_numpy()
