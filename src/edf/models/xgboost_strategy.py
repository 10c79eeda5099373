"""Global XGBoost model: one booster across all buildings and leads.

Why global: residential meters are short and noisy; pooling buildings gives the trees enough data,
and building-level inputs (PV size, battery, location) plus a per-row *scale* let one model serve
homes of different sizes. The target and every target-valued feature (lags, windows, profiles,
same-hour-last-week) are divided by that scale — the trailing 7-day mean before the origin for
demand, the PV capacity for solar (``edf.models.base.building_scale``) — so the trees learn
shapes, not sizes. Missing inputs stay NaN (XGBoost routes them), never zero.

Intervals (``xgb_interval_method``):

* ``conformal`` (default) — split-conformal: fit on all but the last ``xgb_calibration_days`` of
  training origins, take the empirical quantiles of the scaled residuals on that held-out slice per
  local hour of day, then refit on everything. One squared-error model, honest coverage.
* ``quantile`` — XGBoost's multi-quantile objective (``reg:quantileerror``) emitting the lower,
  median and upper quantile. ``bench/models.py`` measures both (cost and coverage).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import KEY_COLUMNS, ORIGIN, prefix
from edf.models.base import ForecastModel, ModelError, building_scale, utc_keys

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
        p = self.params
        params = {
            "eta": p.get("xgb_eta", 0.1), "max_depth": p.get("xgb_max_depth", 5),
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

    def _train(self, rows: pd.DataFrame, quantile: bool):
        import xgboost as xgb

        scale = self._scale(rows)
        dtrain = xgb.DMatrix(self._matrix(rows, scale), label=rows[self.target].to_numpy(dtype="float64") / scale,
                             feature_names=self.features, base_margin=self._margin(rows, scale, quantile))
        return xgb.train(self._booster_params(quantile), dtrain, num_boost_round=int(self.params.get("xgb_num_boost_round", 150)))

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
        self._residual_q: dict[int, list[float]] = {}
        if self.method == "quantile":
            self._booster = self._train(rows, quantile=True)
            return
        origins = pd.to_datetime(rows[ORIGIN], utc=True)
        cut = origins.max() - pd.Timedelta(days=int(self.params.get("xgb_calibration_days", 14)) - 1)
        fit_part, cal_part = rows[origins < cut], rows[origins >= cut]
        if fit_part.empty or len(cal_part) < 50:
            fit_part, cal_part = rows, rows  # too little data to hold out: in-sample (narrower) quantiles
        pred, scale = self._raw(self._train(fit_part, quantile=False), cal_part)
        resid = cal_part[self.target].to_numpy(dtype="float64") / scale - pred
        hours = _hours(cal_part)
        frame = pd.DataFrame({"h": hours, "r": resid}).dropna()
        self._residual_q = {int(h): [float(np.quantile(g, self.lower_q)), float(np.quantile(g, self.upper_q))]
                            for h, g in frame.groupby("h")["r"]}
        self._residual_q[-1] = [float(np.quantile(frame["r"], self.lower_q)), float(np.quantile(frame["r"], self.upper_q))]
        self._booster = self._train(rows, quantile=False)

    def _predict(self, rows, series):
        rows = self._prepare(rows, series)
        pred, scale = self._raw(self._booster, rows)
        if self.method == "quantile":
            q = np.sort(pred.reshape(len(rows), 3), axis=1)
            return q[:, 1] * scale, q[:, 0] * scale, q[:, 2] * scale
        q = np.array([self._residual_q.get(int(h), self._residual_q[-1]) for h in _hours(rows)]).reshape(-1, 2)
        return pred * scale, (pred + q[:, 0]) * scale, (pred + q[:, 1]) * scale

    supports_contributions = True

    def contributions(self, features: pd.DataFrame, series: pd.DataFrame | None = None) -> pd.DataFrame:
        """SHAP values from XGBoost's own ``pred_contribs`` (exact TreeSHAP), in the target's units.

        The trees work on the scaled target, so each row's contributions are multiplied by its scale;
        for solar the physical forecast (``base_margin``) lands in ``bias``. With the quantile
        objective the median's contributions are returned.
        """
        import xgboost as xgb

        if not self.fitted:
            raise ModelError("xgboost model is not fitted")
        rows = utc_keys(features.reset_index(drop=True))
        prepared = self._prepare(rows, series)
        scale = self._scale(prepared)
        quantile = self.method == "quantile"
        matrix = xgb.DMatrix(self._matrix(prepared, scale), feature_names=self.features,
                             base_margin=self._margin(prepared, scale, quantile))
        contrib = np.asarray(self._booster.predict(matrix, pred_contribs=True), dtype="float64")
        if contrib.ndim == 3:  # multi-quantile: (rows, quantiles, features + bias); explain the median
            contrib = contrib[:, 1, :]
        contrib = contrib * scale[:, None]
        frame = pd.DataFrame(contrib, columns=[*self.features, "bias"])
        return pd.concat([rows[list(KEY_COLUMNS)].reset_index(drop=True), frame], axis=1)

    def gain_importance(self) -> dict[str, float]:
        gains = self._booster.get_score(importance_type="total_gain")
        total = float(sum(gains.values()))
        return {f: (float(gains.get(f, 0.0)) / total if total else 0.0) for f in self.features}

    def _save(self, path: Path) -> None:
        self._booster.save_model(str(path / MODEL_FILE))
        (path / STATE_FILE).write_text(json.dumps({
            "method": self.method, "residual_quantiles": {str(k): v for k, v in self._residual_q.items()},
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
        self._residual_q = {int(k): v for k, v in state["residual_quantiles"].items()}
        self._building_mean = state["building_mean"]
        self._global_mean = state["global_mean"]
        self._orientations = state.get("orientations", {})


def _hours(rows: pd.DataFrame) -> np.ndarray:
    if "hour_of_day" in rows.columns and rows["hour_of_day"].notna().all():
        return rows["hour_of_day"].to_numpy(dtype="int64")
    return pd.to_datetime(rows[c.TIMESTAMP], utc=True).dt.hour.to_numpy()
