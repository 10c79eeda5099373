"""The one forecasting interface every strategy and baseline implements.

A model is fitted on the feature pipeline's rows (``edf.features.pipeline.features_for_origins``:
one row per building, origin and lead) plus, optionally, the cleaned hourly ``series`` for models
that read raw history (the LSTM). It predicts ``yhat``, ``yhat_lower`` and ``yhat_upper`` (the
central interval of ``interval_width``) for exactly the rows it is given, keyed by
``building_id, origin_time, timestamp_hour, lead_hours``.

Saving writes the strategy's own artifact plus ``model_metadata.json`` (strategy, target, feature
list, config hash, training window, library versions). Loading refuses an artifact written by a
different version of the serialising library: pickled/serialised models from another version can
load "fine" and give silently different numbers, which is worse than a clear error.
"""

from __future__ import annotations

import abc
import datetime as dt
import importlib.metadata
import json
import logging
import platform
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import KEY_COLUMNS
from edf.models.calibration import recalibrate

log = logging.getLogger(__name__)

METADATA_FILE = "model_metadata.json"
PREDICTION_COLUMNS = ("yhat", "yhat_lower", "yhat_upper")
# Sun below the horizon at mid-hour: a PV array produces nothing (the solar forecast is exactly 0).
NIGHT_ELEVATION_DEG = 0.0


class ModelError(ValueError):
    """A model cannot be fitted, saved or loaded; the message says why."""


class ModelVersionError(ModelError):
    """The artifact was written by a different version of a library that serialises it."""


def library_versions(libraries: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of the given distributions, plus Python, numpy and pandas."""
    out = {"python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__}
    for name in libraries:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not-installed"
    return out


def _xgboost_dist() -> str:
    for dist in ("xgboost", "xgboost-cpu"):
        try:
            importlib.metadata.version(dist)
            return dist
        except importlib.metadata.PackageNotFoundError:
            continue
    return "xgboost"


def normal_z(interval_width: float) -> float:
    """Two-sided standard-normal quantile for a central interval (no scipy needed)."""
    from statistics import NormalDist

    return float(NormalDist().inv_cdf(0.5 + interval_width / 2.0))


class ForecastModel(abc.ABC):
    """Base class: fit / predict / save / load with metadata and output guarantees.

    Subclasses implement ``_fit``, ``_predict`` (returning three aligned arrays), ``_save`` and
    ``_load``; this class handles validation, the training window, interval ordering, the solar
    night mask, and the metadata/version check.
    """

    strategy: ClassVar[str]
    artifact_libraries: ClassVar[tuple[str, ...]] = ()  # distributions whose version must match on load

    def __init__(self, target: str = c.CONSUMPTION, interval_width: float = 0.8,
                 params: dict[str, Any] | None = None, seed: int = 42, config_hash: str = "") -> None:
        if target not in c.TARGET_COLUMNS:
            raise ModelError(f"unknown target {target!r}; expected one of {', '.join(c.TARGET_COLUMNS)}")
        if not 0 < interval_width < 1:
            raise ModelError(f"interval_width must be in (0, 1), got {interval_width}")
        self.target = target
        self.interval_width = float(interval_width)
        self.params: dict[str, Any] = dict(params or {})
        self.seed = int(seed)
        self.config_hash = config_hash
        self.features: list[str] = []
        self.training_window: dict[str, str | None] = {"start": None, "end": None}
        self.fitted = False
        self.recalibration: dict[str, Any] = {}  # what the last predict's online recalibration did

    # -- quantile levels of the interval ---------------------------------------------------------
    @property
    def lower_q(self) -> float:
        return (1.0 - self.interval_width) / 2.0

    @property
    def upper_q(self) -> float:
        return 1.0 - self.lower_q

    # -- public API ------------------------------------------------------------------------------
    def fit(self, features: pd.DataFrame, series: pd.DataFrame | None = None) -> ForecastModel:
        """Fit on feature rows whose target actual is known (rows with a null actual are dropped)."""
        missing = [k for k in KEY_COLUMNS if k not in features.columns] + (
            [self.target] if self.target not in features.columns else [])
        if missing:
            raise ModelError(f"training features lack required columns: {', '.join(missing)}")
        rows = utc_keys(features[features[self.target].notna()])
        if rows.empty:
            raise ModelError(f"no training rows with a known {self.target}")
        ts = pd.to_datetime(rows[c.TIMESTAMP], utc=True)
        self.training_window = {"start": ts.min().isoformat(), "end": ts.max().isoformat()}
        # a target never negative in training (no net export) gets no negative forecasts or bounds
        self.params["nonnegative"] = bool(rows[self.target].min() >= 0)
        self._fit(rows.reset_index(drop=True), _cut_series(series, ts.max()))
        self.fitted = True
        return self

    def predict(self, features: pd.DataFrame, series: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast every row of ``features``: key columns + yhat, yhat_lower, yhat_upper."""
        if not self.fitted:
            raise ModelError(f"{self.strategy} model is not fitted")
        missing = [k for k in KEY_COLUMNS if k not in features.columns]
        if missing:
            raise ModelError(f"features lack key columns: {', '.join(missing)}")
        rows = utc_keys(features.reset_index(drop=True))
        out = rows[list(KEY_COLUMNS)].copy()
        if rows.empty:
            for col in PREDICTION_COLUMNS:
                out[col] = pd.Series(dtype="float64")
            return out
        yhat, lower, upper = (np.asarray(a, dtype="float64") for a in self._predict(rows, series))
        lower, upper = np.minimum(lower, yhat), np.maximum(upper, yhat)
        # online recalibration from the errors scored before each origin (edf.models.calibration)
        lower, upper, self.recalibration = recalibrate(rows, yhat, lower, upper, self.target,
                                                       self.training_window.get("end"),
                                                       self.params.get("calibration") or {}, self.interval_width)
        if self.params.get("nonnegative"):
            yhat, lower, upper = (np.clip(a, 0.0, None) for a in (yhat, lower, upper))
        lower, upper = np.minimum(lower, yhat), np.maximum(upper, yhat)
        if self.target == c.SOLAR:
            yhat, lower, upper = apply_solar_physics(rows, yhat, lower, upper)
        out["yhat"], out["yhat_lower"], out["yhat_upper"] = yhat, lower, upper
        return out

    def save(self, directory: str | Path) -> Path:
        if not self.fitted:
            raise ModelError("cannot save an unfitted model")
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self._save(path)
        (path / METADATA_FILE).write_text(json.dumps(self.metadata(), indent=2, default=str))
        return path

    def metadata(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "target": self.target,
            "interval_width": self.interval_width,
            "features": self.features,
            "params": self.params,
            "seed": self.seed,
            "config_hash": self.config_hash,
            "training_window": self.training_window,
            "library_versions": library_versions(self._libraries()),
            "saved_at": dt.datetime.now(dt.UTC).isoformat(),
        }

    @classmethod
    def load(cls, directory: str | Path) -> ForecastModel:
        path = Path(directory)
        meta = read_metadata(path)
        if meta.get("strategy") != cls.strategy:
            raise ModelError(f"{path} holds a {meta.get('strategy')!r} model, not {cls.strategy!r}")
        check_versions(meta, cls._libraries(), path)
        model = cls(target=meta["target"], interval_width=meta["interval_width"], params=meta.get("params"),
                    seed=meta.get("seed", 42), config_hash=meta.get("config_hash", ""))
        model.features = list(meta.get("features", []))
        model.training_window = meta.get("training_window", {})
        model._load(path)
        model.fitted = True
        return model

    @classmethod
    def _libraries(cls) -> tuple[str, ...]:
        return tuple(_xgboost_dist() if lib == "xgboost" else lib for lib in cls.artifact_libraries)

    # -- strategy hooks ----------------------------------------------------------------------------
    @abc.abstractmethod
    def _fit(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> None: ...

    @abc.abstractmethod
    def _predict(self, rows: pd.DataFrame, series: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    @abc.abstractmethod
    def _save(self, path: Path) -> None: ...

    @abc.abstractmethod
    def _load(self, path: Path) -> None: ...


def read_metadata(path: Path) -> dict[str, Any]:
    meta_file = Path(path) / METADATA_FILE
    if not meta_file.is_file():
        raise ModelError(f"{path} is not a saved EDF model: {METADATA_FILE} is missing")
    try:
        return json.loads(meta_file.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_file} is not valid JSON: {exc}") from None


def check_versions(meta: dict[str, Any], libraries: tuple[str, ...], path: Path) -> None:
    """Refuse to load when a serialising library's version differs from the one that saved it."""
    saved = meta.get("library_versions", {})
    current = library_versions(libraries)
    diffs = [f"{lib} {saved.get(lib)} (saved) vs {current[lib]} (installed)"
             for lib in libraries if saved.get(lib) != current[lib]]
    if diffs:
        raise ModelVersionError(
            f"the {meta.get('strategy')} model in {path} was saved with different library versions: "
            f"{'; '.join(diffs)}. Retrain the model or run it with the versions it was saved with.")


def apply_solar_physics(rows: pd.DataFrame, yhat: np.ndarray, lower: np.ndarray, upper: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PV output is never negative and exactly zero when the sun is down (pvlib elevation)."""
    yhat, lower, upper = (np.clip(a, 0.0, None) for a in (yhat, lower, upper))
    if "solar_elevation_deg" in rows.columns:
        night = rows["solar_elevation_deg"].to_numpy(dtype="float64") <= NIGHT_ELEVATION_DEG
        for a in (yhat, lower, upper):
            a[night] = 0.0
    if "pv_capacity_kw" in rows.columns:
        no_pv = rows["pv_capacity_kw"].to_numpy(dtype="float64") == 0.0
        for a in (yhat, lower, upper):
            a[no_pv] = 0.0
    return yhat, lower, upper


def _cut_series(series: pd.DataFrame | None, end: pd.Timestamp) -> pd.DataFrame | None:
    """History a model may learn from: nothing after the last training target hour."""
    if series is None or series.empty:
        return series
    ts = pd.to_datetime(series[c.TIMESTAMP], utc=True)
    return series.loc[ts <= end].assign(**{c.TIMESTAMP: ts[ts <= end]})


def building_scale(rows: pd.DataFrame, target: str, fallback: dict[str, float], default: float) -> np.ndarray:
    """A per-row level of the target known at the origin, so one global model fits all building sizes.

    Demand: the trailing 7-day mean before the origin (falling back to the same-hour profile, then
    to the building's training mean). Solar: the PV capacity when known. Never below 1e-3.
    """
    n = len(rows)
    scale = np.full(n, np.nan)
    if target == c.CONSUMPTION:
        for col in ("consumption_roll_avg_168h", "consumption_profile_mean_7d"):
            if col in rows.columns:
                vals = rows[col].to_numpy(dtype="float64")
                scale = np.where(np.isnan(scale), vals, scale)
    elif "pv_capacity_kw" in rows.columns:
        cap = rows["pv_capacity_kw"].to_numpy(dtype="float64")
        scale = np.where(cap > 0, cap, np.nan)
    fb = rows[c.BUILDING_ID].map(fallback).to_numpy(dtype="float64")
    scale = np.where(np.isnan(scale), fb, scale)
    scale = np.where(np.isnan(scale), default, scale)
    return np.maximum(np.abs(scale), 1e-3)


def utc_keys(rows: pd.DataFrame | None) -> pd.DataFrame | None:
    """Timestamps as tz-aware UTC whichever reader produced the frame (Spark, pyarrow, pandas)."""
    if rows is None:
        return None
    out = rows.copy()
    for col in (c.TIMESTAMP, "origin_time"):
        if col in out.columns:
            out[col] = pd.to_datetime(out[col], utc=True)
    return out
