"""``ensemble``: a weighted combination of member strategies, weights fitted on the calibration window.

Why: the members make different mistakes — the global XGBoost learns shapes across buildings, the
persistence baseline follows the building's own last week, the LSTM reads the raw sequence — so a
convex combination beats each of them when their errors are not perfectly correlated. The weights
are fitted where no member has seen the answer:

1. the last ``ensemble_calibration_days`` of training origins are held out
   (``calibration.time_split``); every member is fitted on the rows before them;
2. per lead bucket, non-negative weights summing to 1 minimise the squared error of the members'
   forecasts on the held-out slice, in units of each building's level (so big buildings do not
   decide the weights alone);
3. the combined forecast's residuals on that slice, divided by level and local volatility, give the
   split-conformal interval per lead bucket and hour (``ConformalCalibrator``);
4. every member is refitted on all training rows.

Artifacts: ``members/<strategy>/`` (each a saved model, with its own version check) and
``ensemble_state.json`` (weights per lead bucket, calibrator, levels).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import LEAD
from edf.models.base import ForecastModel, ModelError, building_scale
from edf.models.calibration import ConformalCalibrator, interval_scale, lead_buckets, time_split

STATE_FILE = "ensemble_state.json"
MEMBERS_DIR = "members"


def convex_weights(preds: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise ||preds @ w - y||^2 (rows with NaN ignored)."""
    from scipy.optimize import minimize

    ok = np.isfinite(y) & np.isfinite(preds).all(axis=1)
    k = preds.shape[1]
    if ok.sum() < k * 10:
        return np.full(k, 1.0 / k)
    p, t = preds[ok], y[ok]
    res = minimize(lambda w: float(np.mean((p @ w - t) ** 2)), np.full(k, 1.0 / k), method="SLSQP",
                   bounds=[(0.0, 1.0)] * k, constraints=[{"type": "eq", "fun": lambda w: float(np.sum(w) - 1.0)}])
    w = np.clip(res.x, 0.0, 1.0)
    return w / w.sum() if w.sum() > 0 else np.full(k, 1.0 / k)


class EnsembleModel(ForecastModel):
    strategy = "ensemble"

    def _member(self, name: str) -> ForecastModel:
        from edf.models import model_class

        params = dict((self.params.get("member_params") or {}).get(name, {}))
        params["calibration"] = {"online": False}  # the ensemble's own interval is recalibrated instead
        params["point_only"] = True  # members need no interval of their own
        return model_class(name)(target=self.target, interval_width=self.interval_width, params=params,
                                 seed=self.seed, config_hash=self.config_hash)

    def _level(self, rows: pd.DataFrame) -> np.ndarray:
        return building_scale(rows, self.target, self._building_mean, self._global_mean)

    def _points(self, members: dict[str, ForecastModel], rows: pd.DataFrame, series) -> np.ndarray:
        return np.column_stack([members[m].predict(rows, series)["yhat"].to_numpy(dtype="float64")
                                for m in self._names])

    def _combine(self, points: np.ndarray, leads: np.ndarray) -> np.ndarray:
        buckets = lead_buckets(leads, self._bucket_hours)
        last = max(int(b) for b in self._weights)
        w = np.vstack([self._weights[str(min(int(b), last))] if str(min(int(b), last)) in self._weights
                       else self._weights[str(last)] for b in buckets])
        filled = np.where(np.isfinite(points), points, np.nanmean(points, axis=1, keepdims=True))
        return np.sum(filled * w, axis=1)

    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        self._names = list(self.params.get("ensemble_members") or ["xgboost", "persistence"])
        self._bucket_hours = int((self.params.get("calibration") or {}).get("bucket_hours", 24))
        self._building_mean = {str(b): float(v) for b, v in rows.groupby(c.BUILDING_ID)[self.target].mean().items()}
        self._global_mean = float(rows[self.target].mean())
        fit_part, cal_part, _ = time_split(rows, int(self.params.get("ensemble_calibration_days", 14)))
        held_out = {m: self._member(m).fit(fit_part, series) for m in self._names}
        points = self._points(held_out, cal_part, series)
        level = self._level(cal_part)
        y = cal_part[self.target].to_numpy(dtype="float64")
        buckets = lead_buckets(cal_part[LEAD], self._bucket_hours)
        self._weights = {str(b): convex_weights(points[buckets == b] / level[buckets == b, None],
                                                y[buckets == b] / level[buckets == b]).tolist()
                         for b in np.unique(buckets)}
        combined = self._combine(points, cal_part[LEAD].to_numpy())
        resid = (y - combined) / level / interval_scale(cal_part, self.target, level, self.params.get("calibration"))
        from edf.models.xgboost_strategy import _hours

        self._calibrator = ConformalCalibrator(self.lower_q, self.upper_q, self._bucket_hours).fit(
            resid, cal_part[LEAD].to_numpy(), _hours(cal_part))
        self._members = {m: self._member(m).fit(rows, series) for m in self._names}
        self.features = sorted({f for m in self._members.values() for f in m.features})
        self.params["fitted_weights"] = self._weights

    def _predict(self, rows, series):
        from edf.models.xgboost_strategy import _hours

        yhat = self._combine(self._points(self._members, rows, series), rows[LEAD].to_numpy())
        level = self._level(rows)
        lo, hi = self._calibrator.bounds(rows[LEAD].to_numpy(), _hours(rows))
        spread = level * interval_scale(rows, self.target, level, self.params.get("calibration"))
        return yhat, yhat + lo * spread, yhat + hi * spread

    def _save(self, path: Path) -> None:
        for name, member in self._members.items():
            member.save(path / MEMBERS_DIR / name)
        (path / STATE_FILE).write_text(json.dumps({
            "members": self._names, "weights": self._weights, "bucket_hours": self._bucket_hours,
            "calibrator": self._calibrator.to_state(), "building_mean": self._building_mean,
            "global_mean": self._global_mean}))

    def _load(self, path: Path) -> None:
        from edf.models import load_model

        if not (path / STATE_FILE).is_file():
            raise ModelError(f"{path} lacks {STATE_FILE}")
        state = json.loads((path / STATE_FILE).read_text())
        self._names, self._weights = list(state["members"]), state["weights"]
        self._bucket_hours = int(state["bucket_hours"])
        self._calibrator = ConformalCalibrator.from_state(state["calibrator"])
        self._building_mean, self._global_mean = state["building_mean"], state["global_mean"]
        self._members = {name: load_model(path / MEMBERS_DIR / name) for name in self._names}
