"""Prophet: one model per building, fitted in parallel on Spark.

Prophet cannot share parameters across series, so each building gets its own fit on its most
recent ``prophet_training_days`` of hourly history. The fits fan out with
``groupBy(building_id).applyInPandas`` — each executor fits its buildings and returns the model
as Prophet's own JSON (``model_to_json``) — so more executors mean proportionally less wall time
(``bench/models.py`` measures 1 vs 2 local executors). The driver then writes one
``buildings/<id>/prophet_model.json`` per building.

Regressors come from ``prophet_regressors``; a building uses only those that are fully present
and not constant in its training window (the bundled homes have no weather, so they train on
calendar, holidays and history alone). Missing regressor values at prediction time are filled
with the training mean rather than zero. Prophet works in naive UTC time.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.models.base import ForecastModel, ModelError

MODEL_FILE = "prophet_model.json"
STATE_FILE = "prophet_state.json"
FIT_SCHEMA = "building_id string, model_json string, regressors string, error string"
log = logging.getLogger(__name__)


def _naive_utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).dt.tz_convert("UTC").dt.tz_localize(None)


def fit_one_building(pdf: pd.DataFrame, hp: dict, interval_width: float, seed: int) -> pd.DataFrame:
    """Fit one building's Prophet (runs on a Spark executor); returns its JSON or the error text."""
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.ERROR)
    bid = str(pdf[c.BUILDING_ID].iloc[0])
    try:
        from prophet import Prophet
        from prophet.serialize import model_to_json

        frame = pdf.sort_values("ds").dropna(subset=["y"])
        regressors = {}
        for name in hp.get("prophet_regressors", []):
            if name in frame.columns and frame[name].notna().all() and frame[name].nunique() > 1:
                regressors[name] = float(frame[name].mean())
        np.random.seed(seed)
        model = Prophet(
            changepoint_prior_scale=hp.get("prophet_changepoint_prior_scale", 0.05),
            seasonality_prior_scale=hp.get("prophet_seasonality_prior_scale", 10.0),
            holidays_prior_scale=hp.get("prophet_holidays_prior_scale", 10.0),
            daily_seasonality=hp.get("prophet_daily_seasonality", True),
            weekly_seasonality=hp.get("prophet_weekly_seasonality", True),
            yearly_seasonality=hp.get("prophet_yearly_seasonality", "auto"),
            interval_width=interval_width,
            uncertainty_samples=int(hp.get("prophet_uncertainty_samples", 300)),
        )
        for name in regressors:
            model.add_regressor(name)
        model.fit(frame[["ds", "y", *regressors]])
        return pd.DataFrame({"building_id": [bid], "model_json": [model_to_json(model)],
                             "regressors": [json.dumps(regressors)], "error": [""]})
    except Exception as exc:  # reported per building on the driver
        return pd.DataFrame({"building_id": [bid], "model_json": [""], "regressors": ["{}"],
                             "error": [f"{type(exc).__name__}: {exc}"]})


class ProphetModel(ForecastModel):
    strategy = "prophet"
    artifact_libraries = ("prophet",)

    def _training_frame(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> pd.DataFrame:
        regs = [r for r in self.params.get("prophet_regressors", []) if r != self.target]
        if series is not None and not series.empty and self.target in series.columns:
            src = series[series[c.BUILDING_ID].isin(rows[c.BUILDING_ID].unique())]
        else:  # features only: one row per building-hour (leads overlap across origins)
            src = rows.sort_values(["lead_hours"]).drop_duplicates([c.BUILDING_ID, c.TIMESTAMP])
        frame = pd.DataFrame({c.BUILDING_ID: src[c.BUILDING_ID].astype(str).to_numpy(),
                              "ds": _naive_utc(src[c.TIMESTAMP]).to_numpy(),
                              "y": src[self.target].to_numpy(dtype="float64")})
        for r in regs:
            frame[r] = src[r].to_numpy(dtype="float64") if r in src.columns else np.nan
        frame = frame.dropna(subset=["y"])
        days = int(self.params.get("prophet_training_days", 120))
        start = frame.groupby(c.BUILDING_ID)["ds"].transform("max") - pd.Timedelta(days=days)
        return frame[frame["ds"] > start]

    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None:
        from edf.features.spark_session import from_pandas, get_spark

        frame = self._training_frame(rows, series)
        self.features = ["ds", *[r for r in self.params.get("prophet_regressors", []) if r in frame.columns]]
        hp, width, seed = dict(self.params), self.interval_width, self.seed
        spark = get_spark()
        sdf = from_pandas(spark, frame)
        n_buildings = frame[c.BUILDING_ID].nunique()
        sdf = sdf.repartition(max(1, min(n_buildings, spark.sparkContext.defaultParallelism * 4)), c.BUILDING_ID)
        fitted = sdf.groupBy(c.BUILDING_ID).applyInPandas(
            lambda pdf: fit_one_building(pdf, hp, width, seed), schema=FIT_SCHEMA).toPandas()
        failed = fitted[fitted["error"] != ""]
        if len(failed):
            raise ModelError("Prophet failed for " + "; ".join(f"{b}: {e}" for b, e in
                                                             failed[["building_id", "error"]].head(5).itertuples(index=False)))
        self._models_json = dict(zip(fitted["building_id"], fitted["model_json"], strict=True))
        self._regressors = {b: json.loads(r) for b, r in zip(fitted["building_id"], fitted["regressors"], strict=True)}
        self._models: dict = {}

    def _model(self, building: str):
        from prophet.serialize import model_from_json

        if building not in self._models:
            if building not in self._models_json:
                raise ModelError(f"no Prophet model for building {building!r} (it was not in the training data)")
            self._models[building] = model_from_json(self._models_json[building])
        return self._models[building]

    def _predict(self, rows, series):
        for name in ("cmdstanpy", "prophet"):
            logging.getLogger(name).setLevel(logging.ERROR)
        unknown = sorted(set(rows[c.BUILDING_ID].astype(str)) - set(self._models_json))
        if unknown:
            raise ModelError(f"no Prophet model for building(s) {', '.join(unknown[:5])}: they were not in the training data")
        yhat, lower, upper = (np.full(len(rows), np.nan) for _ in range(3))
        ds_all = _naive_utc(rows[c.TIMESTAMP])
        for building, idx in rows.groupby(c.BUILDING_ID).indices.items():
            model, regs = self._model(str(building)), self._regressors[str(building)]
            sub = rows.iloc[idx]
            future = pd.DataFrame({"ds": ds_all.iloc[idx].to_numpy()})
            for name, mean in regs.items():
                vals = sub[name].to_numpy(dtype="float64") if name in sub.columns else np.full(len(sub), np.nan)
                future[name] = np.where(np.isnan(vals), mean, vals)
            unique = future.drop_duplicates("ds").sort_values("ds")
            np.random.seed(self.seed)  # Prophet's interval sampling draws from numpy's global RNG
            fc = model.predict(unique).set_index("ds")
            aligned = fc.reindex(future["ds"])
            yhat[idx] = aligned["yhat"].to_numpy()
            lower[idx] = aligned["yhat_lower"].to_numpy()
            upper[idx] = aligned["yhat_upper"].to_numpy()
        return yhat, lower, upper

    def _save(self, path: Path) -> None:
        for building, text in self._models_json.items():
            folder = path / "buildings" / building
            folder.mkdir(parents=True, exist_ok=True)
            (folder / MODEL_FILE).write_text(text)
        (path / STATE_FILE).write_text(json.dumps({"regressors": self._regressors}))

    def _load(self, path: Path) -> None:
        state = json.loads((path / STATE_FILE).read_text())
        self._regressors = state["regressors"]
        self._models_json = {}
        for building in self._regressors:
            file = path / "buildings" / building / MODEL_FILE
            if not file.is_file():
                raise ModelError(f"{file} is missing")
            self._models_json[building] = file.read_text()
        self._models = {}
