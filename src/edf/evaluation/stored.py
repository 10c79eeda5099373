"""Explain a stored forecast: find the inference run behind it and the features it was computed from.

``edf models explain VERSION --building ID --date D`` needs the exact inputs the model saw. They are
in S3, written by the inference workflow (``pipelines/inference.asl.json``)::

    s3://<processed>/forecast-output/<machine>/<execution>/forecasts/forecasts.parquet   what was stored
    s3://<processed>/features/edf/inference/<machine>/<execution>/inference/             its feature rows
    s3://<processed>/features/edf/inference/<machine>/<execution>/series/                history (solar)

The forecast for a building-day is the one from the run with the latest origin whose forecasts made by
this package cover that UTC day (the forecast store serves the newest issue); ``execution`` pins a run.
The model is loaded from the package's ``ModelDataUrl``, re-predicts the day from those feature rows
(checked against the stored numbers) and splits each hour into per-feature SHAP contributions.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edf.config import EDFConfig
from edf.data import contract as c
from edf.data.io import list_files, read_one, read_parquet
from edf.data.outputs import SERIES_OF_TARGET

log = logging.getLogger(__name__)
FORECAST_FILE = "forecasts.parquet"


class ExplainError(ValueError):
    """The forecast or its inputs cannot be found; the message says where it looked."""


@dataclass
class StoredForecast:
    execution: str
    forecasts_uri: str
    origin: pd.Timestamp
    rows: pd.DataFrame  # the stored forecast rows of the building-day (every series)
    runs_searched: int


def _day_rows(frame: pd.DataFrame, building: str, day: dt.date) -> pd.DataFrame:
    ts = pd.to_datetime(frame[c.TIMESTAMP], utc=True)
    start = pd.Timestamp(day, tz="UTC")
    keep = (frame[c.BUILDING_ID].astype(str) == building) & (ts >= start) & (ts < start + pd.Timedelta(days=1))
    out = frame[keep].copy()
    out[c.TIMESTAMP] = ts[keep]
    out["origin_time"] = pd.to_datetime(out["origin_time"], utc=True)
    return out


def forecast_runs(cfg: EDFConfig, machine: str, execution: str | None = None) -> list[str]:
    """URIs of the stored ``forecasts.parquet`` of the machine's runs (one run when ``execution`` is given)."""
    return list_files(_runs_prefix(cfg, machine, execution), name=FORECAST_FILE)


def _runs_prefix(cfg: EDFConfig, machine: str, execution: str | None) -> str:
    return cfg.s3_path("s3_forecast_output_base", sfn_name=machine, exec_id=execution or "").rstrip("/") + "/"


def find_forecast(cfg: EDFConfig, machine: str, model_arn: str, building: str, day: dt.date,
                  execution: str | None = None) -> StoredForecast:
    """The stored forecast of ``building`` on ``day`` made by ``model_arn`` (latest origin wins)."""
    runs = forecast_runs(cfg, machine, execution)
    best: StoredForecast | None = None
    other_models: set[str] = set()
    for uri in runs:
        rows = _day_rows(read_one(uri), building, day)
        other_models |= set(rows.loc[rows["model_version"] != model_arn, "model_version"].astype(str))
        rows = rows[rows["model_version"] == model_arn]
        if rows.empty:
            continue
        origin = rows["origin_time"].max()
        if best is None or origin > best.origin:
            exec_name = uri.rstrip("/").split("/")[-3]
            best = StoredForecast(exec_name, uri, origin, rows[rows["origin_time"] == origin], len(runs))
    if best is None:
        where = _runs_prefix(cfg, machine, execution)
        hint = f"; forecasts for that building-day came from {', '.join(sorted(other_models))}" if other_models else ""
        raise ExplainError(f"no stored forecast of {model_arn} for building {building} on {day} (UTC) under "
                           f"{where} ({len(runs)} run(s) searched){hint}")
    best.runs_searched = len(runs)
    return best


def feature_rows(cfg: EDFConfig, machine: str, stored: StoredForecast, building: str,
                 day: dt.date) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The feature rows the run predicted for the building-day, and the building's history series."""
    from edf.models.base import utc_keys

    base = cfg.s3_path("s3_feature_output_base", workflow_type="inference", sfn_name=machine,
                       exec_id=stored.execution)
    rows = utc_keys(read_parquet(base + "inference/", required=False))
    if rows is None:
        raise ExplainError(f"the inference features of run {stored.execution} are gone ({base}inference/): "
                           "they are needed to explain its forecasts")
    rows = _day_rows(rows, building, day)
    rows = rows[rows["origin_time"] == stored.origin]
    series = utc_keys(read_parquet(base + "series/", required=False))
    if series is not None:
        series = series[series[c.BUILDING_ID].astype(str) == building]
    return rows.reset_index(drop=True), series


def explain_day(models: dict[str, Any], stored: StoredForecast, rows: pd.DataFrame, series: pd.DataFrame | None,
                top: int) -> dict[str, Any]:
    """Per stored series: the day's top contributing features, and the re-prediction check."""
    from edf.evaluation.explain import day_contributions

    out: dict[str, Any] = {}
    for target, model in models.items():
        stored_rows = stored.rows[stored.rows["series"] == SERIES_OF_TARGET[target]]
        if stored_rows.empty:
            continue
        wanted = rows.merge(stored_rows[[c.TIMESTAMP]], on=c.TIMESTAMP, how="inner")
        if not model.supports_contributions:
            out[target] = {"supported": False, "strategy": model.strategy,
                           "reason": f"the {model.strategy} strategy has no per-feature contributions"}
            continue
        check = model.predict(wanted, series).merge(stored_rows[[c.TIMESTAMP, "yhat"]], on=c.TIMESTAMP,
                                                    suffixes=("", "_stored"))
        day = day_contributions(model, wanted, series)
        day["features"] = dict(list(day["features"].items())[:top])
        out[target] = {"supported": True, "strategy": model.strategy, **day,
                       "stored_total": float(stored_rows["yhat"].sum()),
                       "recomputed_max_abs_diff": float(np.max(np.abs(check["yhat"] - check["yhat_stored"])))
                       if len(check) else None}
    return out
