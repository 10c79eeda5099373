"""Global XGBoost model: one booster across all buildings and leads.

Why global: residential meters are short and noisy; pooling buildings gives the trees enough data,
and building-level inputs (PV size, battery, location) plus a per-row *scale* let one model serve
homes of different sizes. The target and every target-valued feature (lags, windows, profiles,
same-hour-last-week) are divided by that scale — the trailing 7-day mean before the origin for
demand, the PV capacity for solar (``edf.models.base.building_scale``) — so the trees learn
shapes, not sizes. Missing inputs stay NaN (XGBoost routes them), never zero.

Training uses three time slices of the training origins (``edf.models.calibration.time_split``):

* **validation** — the ``xgb_validation_days`` before the calibration slice pick the number of
  boosting rounds by early stopping (and, with ``xgb_tuning_grid``, the best of a few
  depth/learning-rate/min-child-weight settings by validation RMSE);
* **calibration** — the last ``xgb_calibration_days``: a model fitted on everything before it
  predicts it, and its residuals, divided by the level and a local volatility known at the origin
  (``calibration.volatility``), give split-conformal quantiles per lead bucket and local hour;
* then the booster is refitted on every row with the chosen settings.

Intervals (``xgb_interval_method``): ``conformal`` (default, above) or ``quantile`` — XGBoost's
multi-quantile objective (``reg:quantileerror``); ``bench/models.py`` measures both. Either way
``ForecastModel.predict`` then recalibrates online from the most recent scored errors.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import KEY_COLUMNS, LEAD, prefix
from edf.models.base import ForecastModel, ModelError, building_scale
from edf.models.calibration import ConformalCalibrator, interval_scale, time_split

MODEL_FILE = "xgboost_model.ubj"
STATE_FILE = "xgboost_state.json"
_NON_FEATURES = {*KEY_COLUMNS, *c.TARGET_COLUMNS}


def target_valued(target: str, column: str) -> bool:
    """Columns measured in the target's units (scaled together with the target)."""
    return re.match(rf"^{prefix(target)}_(lag_|roll_(avg|min|max|sum|stddev)_|profile_(mean|std)_|same_hour)",
                    column) is not None


class XGBoostModel(ForecastModel):
    strategy = "xgboost"
    artifact_libraries = ("xgboost",)

    def _select_features(self, rows: pd.DataFrame) -> list[str]:
        wanted = self.params.get("feature_columns") or [col for col in rows.columns if col not in _NON_FEATURES]
        chosen = [col for col in wanted if col in rows.columns and col not in _NON_FEATURES
                  and pd.api.types.is_numeric_dtype(rows[col])]
        if not chosen:
            raise ModelError("no usable numeric feature columns for XGBoost")
        return chosen

    def _matrix(self, rows: pd.DataFrame, scale: np.ndarray) -> np.ndarray:
        x = np.empty((len(rows), len(self.features)), dtype="float32")
        for j, col in enumerate(self.features):
            vals = rows[col].to_numpy(dtype="float64") if col in rows.columns else np.full(len(rows), np.nan)
            x[:, j] = vals / scale if target_valued(self.target, col) else vals
        return x

    def _scale(self, rows: pd.DataFrame) -> np.ndarray:
        return building_scale(rows, self.target, self._building_mean, self._global_mean)

    def _booster_params(self, quantile: bool) -> dict:
        p = {**self.params, **self.params.get("tuned", {})}
        params = {
            "eta": p.get("xgb_eta", 0.1), "max_depth": int(p.get("xgb_max_depth", 5)),
            "min_child_weight": p.get("xgb_min_child_weight", 1.0), "lambda": p.get("xgb_lambda", 1.0),
            "subsample": p.get("xgb_subsample", 0.7), "colsample_bytree": p.get("xgb_colsample_bytree", 0.7),
            "tree_method": "hist", "seed": self.seed, "nthread": int(os.environ.get("EDF_MODEL_THREADS", "2")),
        }
        if quantile:
            params.update(objective="reg:quantileerror", quantile_alpha=np.array([self.lower_q, 0.5, self.upper_q]))
        else:
            params["objective"] = "reg:squarederror"
        return params

    def _margin(self, rows: pd.DataFrame, scale: np.ndarray, quantile: bool) -> np.ndarray | None:
        """Solar: the trees learn the correction to the physical forecast (recent performance ratio x
        POA irradiance), so a sunnier or more efficient day than any in training extrapolates
        through the physics instead of being capped by the largest leaf."""
        if self.target != c.SOLAR or "physical_forecast" not in rows.columns:
            return None
        margin = np.nan_to_num(rows["physical_forecast"].to_numpy(dtype="float64") / scale, nan=0.0)
        return np.repeat(margin[:, None], 3, axis=1) if quantile else margin

    def _dmatrix(self, rows: pd.DataFrame, quantile: bool, label: bool = True):
        import xgboost as xgb

        scale = self._scale(rows)
        y = rows[self.target].to_numpy(dtype="float64") / scale if label else None
        return xgb.DMatrix(self._matrix(rows, scale), label=y, feature_names=self.features,
                           base_margin=self._margin(rows, scale, quantile))

    def _train(self, rows: pd.DataFrame, quantile: bool, rounds: int | None = None):
        import xgboost as xgb

        n = rounds or int(self.params.get("tuned", {}).get("rounds", self.params.get("xgb_num_boost_round", 150)))
        return xgb.train(self._booster_params(quantile), self._dmatrix(rows, quantile), num_boost_round=n)

    def _tune(self, rows: pd.DataFrame, quantile: bool) -> dict:
        """Early stopping (and the optional grid) on the validation slice before ``rows``' last days."""
        import xgboost as xgb

        p = self.params
        days = int(p.get("xgb_validation_days", 0))
        fit, val, honest = time_split(rows, days) if days else (rows, rows, False)
        if not honest:
            return {"rounds": int(p.get("xgb_num_boost_round", 150)), "validated": False}
        grid = p.get("xgb_tuning_grid") or [(p.get("xgb_max_depth", 5), p.get("xgb_eta", 0.1),
                                             p.get("xgb_min_child_weight", 1.0))]
        dfit, dval = self._dmatrix(fit, quantile), self._dmatrix(val, quantile)
        best: dict = {}
        for depth, eta, mcw in grid:
            self.params["tuned"] = {"xgb_max_depth": int(depth), "xgb_eta": float(eta), "xgb_min_child_weight": float(mcw)}
            booster = xgb.train(self._booster_params(quantile), dfit, num_boost_round=int(p.get("xgb_num_boost_round", 150)),
                                evals=[(dval, "validation")], early_stopping_rounds=int(p.get("xgb_early_stopping_rounds", 30)),
                                verbose_eval=False)
            score = float(booster.best_score)
            if not best or score < best["validation_score"]:
                best = {**self.params["tuned"], "rounds": int(booster.best_iteration) + 1, "validation_score": score}
        return {**best, "validated": True}

    def _raw(self, booster, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        import xgboost as xgb

        scale = self._scale(rows)
        quantile = self.method == "quantile"
        pred = booster.predict(xgb.DMatrix(self._matrix(rows, scale), feature_names=self.features,
                                           base_margin=self._margin(rows, scale, quantile)))
        return np.asarray(pred, dtype="float64"), scale

    def _prepare(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> pd.DataFrame:
        """Solar: plane-of-array irradiance for each building's learned orientation (pvlib) and the
        recent performance ratio before the origin (``edf.models.solar``)."""
        if self.target != c.SOLAR:
            return rows
        from edf.models.solar import add_poa_features, add_recent_performance

        return add_recent_performance(add_poa_features(rows, self._orientations), series, self._orientations,
                                      self.target)

    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        self._orientations: dict[str, list[float]] = {}
        if self.target == c.SOLAR:
            from edf.models.solar import fit_orientations

            self._orientations = fit_orientations(rows, self.target)
        rows = self._prepare(rows, series)
        self.features = self._select_features(rows)
        self._building_mean = {str(b): float(v) for b, v in rows.groupby(c.BUILDING_ID)[self.target].mean().items()}
        self._global_mean = float(rows[self.target].mean())
        self.method = self.params.get("xgb_interval_method", "conformal")
        quantile = self.method == "quantile"
        self._calibrator: ConformalCalibrator | None = None
        fit_part, cal_part, _ = time_split(rows, int(self.params.get("xgb_calibration_days", 14)))
        self.params.pop("tuned", None)
        self.params["tuned"] = self._tune(fit_part, quantile)
        if not quantile and not self.params.get("point_only"):
            pred, scale = self._raw(self._train(fit_part, quantile=False), cal_part)
            resid = (cal_part[self.target].to_numpy(dtype="float64") / scale - pred) / interval_scale(cal_part, self.target, scale, self.params.get("calibration"))
            bucket_hours = int((self.params.get("calibration") or {}).get("bucket_hours", 24))
            self._calibrator = ConformalCalibrator(self.lower_q, self.upper_q, bucket_hours).fit(
                resid, cal_part[LEAD].to_numpy(), _hours(cal_part))
        self._booster = self._train(rows, quantile=quantile)

    def _predict(self, rows, series):
        rows = self._prepare(rows, series)
        pred, scale = self._raw(self._booster, rows)
        if self.method == "quantile":
            q = np.sort(pred.reshape(len(rows), 3), axis=1)
            return q[:, 1] * scale, q[:, 0] * scale, q[:, 2] * scale
        if self._calibrator is None:  # a point-only member of an ensemble
            return pred * scale, pred * scale, pred * scale
        lo, hi = self._calibrator.bounds(rows[LEAD].to_numpy(), _hours(rows))
        vol = interval_scale(rows, self.target, scale, self.params.get("calibration"))
        return pred * scale, (pred + lo * vol) * scale, (pred + hi * vol) * scale

    def _save(self, path: Path) -> None:
        self._booster.save_model(str(path / MODEL_FILE))
        (path / STATE_FILE).write_text(json.dumps({
            "method": self.method, "calibrator": self._calibrator.to_state() if self._calibrator else None,
            "building_mean": self._building_mean, "global_mean": self._global_mean,
            "orientations": self._orientations}))

    def _load(self, path: Path) -> None:
        import xgboost as xgb

        if not (path / MODEL_FILE).is_file():
            raise ModelError(f"{path} lacks {MODEL_FILE}")
        self._booster = xgb.Booster()
        self._booster.load_model(str(path / MODEL_FILE))
        state = json.loads((path / STATE_FILE).read_text())
        self.method = state["method"]
        self._calibrator = ConformalCalibrator.from_state(state["calibrator"]) if state.get("calibrator") else None
        self._building_mean = state["building_mean"]
        self._global_mean = state["global_mean"]
        self._orientations = state.get("orientations", {})


def _hours(rows: pd.DataFrame) -> np.ndarray:
    if "hour_of_day" in rows.columns and rows["hour_of_day"].notna().all():
        return rows["hour_of_day"].to_numpy(dtype="int64")
    return pd.to_datetime(rows[c.TIMESTAMP], utc=True).dt.hour.to_numpy()
