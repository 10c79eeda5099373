"""Forecasting models: one interface (``ForecastModel``), three strategies, two baselines.

``make_model(strategy, target, cfg)`` builds an unfitted model from the config;
``load_model(directory)`` loads any saved model (the strategy is read from its metadata).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

# OpenMP threads that busy-wait between parallel regions collapse when the cores are shared (Spark
# workers, other jobs): measured 10-20x slower XGBoost rounds on a loaded 2-core machine. Passive
# waiting costs nothing on a dedicated instance. Must be set before xgboost/torch load OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from edf.config import BASELINES, STRATEGIES  # the one list of strategies (config validates against it)
from edf.models.base import ForecastModel, ModelError, ModelVersionError, read_metadata

if TYPE_CHECKING:
    from edf.config import EDFConfig

ALL_STRATEGIES = (*STRATEGIES, *BASELINES)

__all__ = ["ALL_STRATEGIES", "BASELINES", "STRATEGIES", "ForecastModel", "ModelError", "ModelVersionError",
           "load_model", "make_model", "model_class"]


def model_class(strategy: str) -> type[ForecastModel]:
    key = str(strategy).strip().lower()
    if key == "prophet":
        from edf.models.prophet_strategy import ProphetModel

        return ProphetModel
    if key == "xgboost":
        from edf.models.xgboost_strategy import XGBoostModel

        return XGBoostModel
    if key == "lstm":
        from edf.models.lstm_strategy import LSTMModel

        return LSTMModel
    if key == "ensemble":
        from edf.models.ensemble import EnsembleModel

        return EnsembleModel
    if key in BASELINES:
        from edf.models.baselines import Persistence, SeasonalNaive

        return SeasonalNaive if key == "seasonal_naive" else Persistence
    raise ModelError(f"unknown strategy {strategy!r}; expected one of {', '.join(ALL_STRATEGIES)}")


def make_model(strategy: str, target: str, cfg: EDFConfig) -> ForecastModel:
    """An unfitted model with the config's hyperparameters, interval width and seed."""
    cls = model_class(strategy)
    tr = cfg.edf_training
    params: dict = {}
    if cls.strategy in STRATEGIES:
        params = tr.hyperparameters.for_strategy(cls.strategy).model_dump(mode="json")
    if cls.strategy == "xgboost":
        xgb = tr.hyperparameters.XGBoost
        params["feature_columns"] = xgb.feature_columns if xgb.xgb_feature_set == "listed" else []
    if cls.strategy in STRATEGIES:
        from edf.data.feature_names import covariate_feature_names

        params["calibration"] = tr.calibration.model_dump(mode="json")
        params["covariate_features"] = covariate_feature_names(cfg.edf_feature_eng)
    if cls.strategy == "prophet":  # known-ahead covariates are regressors like the weather
        params["prophet_regressors"] = list(dict.fromkeys(
            [*params.get("prophet_regressors", []), *cfg.edf_feature_eng.known_ahead_covariates]))
    if cls.strategy == "ensemble":  # members are built from the same config (their own settings)
        params["member_params"] = {m: make_model(m, target, cfg).params for m in params["ensemble_members"]}
    return cls(target=target, interval_width=tr.interval_width, params=params, seed=tr.random_seed,
               config_hash=cfg.config_hash())


def load_model(directory: str | Path) -> ForecastModel:
    meta = read_metadata(Path(directory))
    return model_class(meta.get("strategy", "")).load(directory)
