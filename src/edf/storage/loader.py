"""Turn the inference workflow's Parquet outputs into store rows and load a run (LoadForecastsToDB).

This is the only storage module that uses pandas/awswrangler: it runs in the load Lambda, not in
the API Lambdas. Column schemas are ``edf.data.outputs.FORECAST_COLUMNS`` and
``RECOMMENDATION_COLUMNS``; a missing column is an error naming it.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Any

import pandas as pd

from edf.data.io import read_parquet
from edf.data.outputs import FORECAST_COLUMNS, RECOMMENDATION_COLUMNS, WEATHER_SOURCE_UNKNOWN
from edf.storage.base import ForecastRow, ForecastStore, InvalidValueError, RecommendationRow, WriteResult

log = logging.getLogger(__name__)


def _check_columns(df: pd.DataFrame, expected: dict[str, str], what: str) -> None:
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise InvalidValueError(f"{what} is missing column(s) {', '.join(missing)} "
                                f"(expected edf.data.outputs schema: {', '.join(expected)})")


def _utc(value: Any) -> dt.datetime:
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def forecast_rows(df: pd.DataFrame, run_id: str, model_version: str | None = None) -> list[ForecastRow]:
    """Rows from forecasts.parquet; rows of another run are refused, null yhat rows are an error.

    ``model_version`` (the workflow's) fills rows whose own ``model_version`` is empty.
    """
    df = _with_weather_source(df)
    _check_columns(df, FORECAST_COLUMNS, "forecasts.parquet")
    other = set(df["run_id"].astype(str)) - {run_id}
    if other:
        raise InvalidValueError(f"forecasts.parquet holds rows of run(s) {sorted(other)[:3]}, expected {run_id!r}")
    bad = df[df[["yhat", "yhat_lower", "yhat_upper"]].isna().any(axis=1)]
    if len(bad):
        raise InvalidValueError(f"{len(bad)} forecast row(s) have null yhat/yhat_lower/yhat_upper, e.g. "
                                f"{bad[['building_id', 'series', 'timestamp_hour']].head(3).to_dict('records')}")
    rows = []
    for r in df.itertuples(index=False):
        lead = getattr(r, "lead_hours", None)
        rows.append(ForecastRow(
            building_id=str(r.building_id), grid_area=str(r.grid_area), series=str(r.series),
            timestamp_hour=_utc(r.timestamp_hour), yhat=float(r.yhat), yhat_lower=float(r.yhat_lower),
            yhat_upper=float(r.yhat_upper), issue_time=_utc(r.issue_time), run_id=run_id,
            model_version=str(r.model_version if isinstance(r.model_version, str) and r.model_version else (model_version or "unknown")), strategy=str(r.strategy or ""),
            origin_time=_utc(r.origin_time) if not pd.isna(r.origin_time) else None,
            lead_hours=int(lead) if lead is not None and not (isinstance(lead, float) and math.isnan(lead)) else None,
            weather_source=str(r.weather_source)))
    return rows


def _with_weather_source(df: pd.DataFrame) -> pd.DataFrame:
    """Forecasts from a job image older than the weather_source column load as ``unknown`` (said, not guessed)."""
    if "weather_source" in df.columns:
        return df.assign(weather_source=df["weather_source"].fillna(WEATHER_SOURCE_UNKNOWN))
    log.warning("forecasts.parquet has no weather_source column (written by an older job image): rows load "
                "as %r", WEATHER_SOURCE_UNKNOWN)
    return df.assign(weather_source=WEATHER_SOURCE_UNKNOWN)


def recommendation_rows(df: pd.DataFrame, run_id: str) -> list[RecommendationRow]:
    _check_columns(df, RECOMMENDATION_COLUMNS, "recommendations.parquet")
    other = set(df["run_id"].astype(str)) - {run_id}
    if other:
        raise InvalidValueError(f"recommendations.parquet holds rows of run(s) {sorted(other)[:3]}, expected {run_id!r}")
    num = ["kw", "expected_reduction_kwh", "expected_saving"]
    df = df.assign(**{c: df[c].fillna(0.0) for c in num})
    return [RecommendationRow(
        building_id=str(r.building_id), grid_area=str(r.grid_area), kind=str(r.kind),
        timestamp_hour=_utc(r.timestamp_hour), action=str(r.action), kw=float(r.kw),
        expected_reduction_kwh=float(r.expected_reduction_kwh), expected_saving=float(r.expected_saving),
        run_id=run_id, issue_time=_utc(r.issue_time)) for r in df.itertuples(index=False)]


def load_run(store: ForecastStore, forecasts_uri: str, recommendations_uri: str | None, run_id: str,
             model_version: str | None = None) -> WriteResult:
    """Read a run's Parquet outputs and write them through ``store`` (idempotent per run)."""
    forecasts = forecast_rows(read_parquet(forecasts_uri), run_id, model_version)
    recs = recommendation_rows(read_parquet(recommendations_uri), run_id) if recommendations_uri else []
    result = store.write_run(run_id, forecasts, recs)
    log.info("run %s: %d forecasts, %d recommendations written to %s (%d stale removed)", run_id,
             result.forecasts_written, result.recommendations_written, result.backend,
             result.forecasts_removed + result.recommendations_removed)
    return result
