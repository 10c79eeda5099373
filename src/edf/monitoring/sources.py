"""Where the tracker reads stored forecasts and actuals from, and where it writes its Parquet.

Forecasts, two sources (``edf_monitoring.forecast_source``):

* ``parquet`` (default): every inference run's ``forecasts.parquet`` under
  ``forecast_output_prefix`` (S3 or a local folder). It is the complete record of what was issued
  — every run, every lead — which lead-bucket accuracy needs. Only objects written after
  ``window_start - max lead`` are read (older runs cannot target the window). If one run id was
  written twice (a re-run), its newest rows replace the older ones, as in the forecast store.
* ``store``: the ``ForecastStore`` read API. ``building_series`` returns the newest issue per
  target hour only, so every hour lands in the shortest lead bucket, and the lead is derived from
  ``issue_time`` (the store's ``ForecastPoint`` has no origin). Good enough for a 0–24 h rule;
  docs/monitoring.md names the store method that would make it exact.

Paths are local paths or ``s3://`` URIs; S3 goes through boto3 (honours ``AWS_ENDPOINT_URL``, so
the local runtime's emulated S3 works unchanged).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from edf.data import contract as c
from edf.data.io import DataNotFoundError, list_files, read_one
from edf.data.outputs import FORECAST_COLUMNS, WEATHER_SOURCE_UNKNOWN

log = logging.getLogger(__name__)


#: Input that cannot be read (missing path, no objects, unreadable Parquet).
SourceError = DataNotFoundError


def read_forecasts_parquet(location: str | Path, window_start: pd.Timestamp, window_end: pd.Timestamp,
                           max_lead_hours: int) -> pd.DataFrame:
    """Every issued forecast for target hours in ``[window_start, window_end)`` (FORECAST_COLUMNS)."""
    cutoff = (pd.Timestamp(window_start) - pd.Timedelta(hours=max_lead_hours + 24)).to_pydatetime()
    files = list_files(location, modified_after=cutoff, name="forecasts.parquet")
    if not files and not str(location).startswith("s3://"):
        files = list_files(location)  # a single renamed file or a folder of parts
    frames = []
    for uri in files:
        df = read_one(uri)
        if "weather_source" not in df.columns:  # runs from before the column existed: said, not guessed
            df = df.assign(weather_source=WEATHER_SOURCE_UNKNOWN)
        missing = [col for col in FORECAST_COLUMNS if col not in df.columns]
        if missing:
            log.warning("skipping %s: not a forecasts file (missing %s)", uri, ", ".join(missing))
            continue
        ts = pd.to_datetime(df[c.TIMESTAMP], utc=True)
        frames.append(df[(ts >= window_start) & (ts < window_end)])
    if not frames:
        return pd.DataFrame({col: pd.Series(dtype="object") for col in FORECAST_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    for col in (c.TIMESTAMP, "origin_time", "issue_time"):
        out[col] = pd.to_datetime(out[col], utc=True)
    # a re-run of a run id replaces its rows (same rule as the forecast store)
    out = out.sort_values("issue_time").drop_duplicates(["run_id", c.BUILDING_ID, "series", c.TIMESTAMP], keep="last")
    log.info("read %d forecast rows for %s..%s from %d file(s)", len(out), window_start, window_end, len(files))
    return out.reset_index(drop=True)


def read_forecasts_store(store: Any, grid_areas: Iterable[str], window_start: pd.Timestamp,
                         window_end: pd.Timestamp) -> pd.DataFrame:
    """Forecasts from a ``ForecastStore`` (newest issue per hour; lead derived from issue time)."""
    start = pd.Timestamp(window_start).to_pydatetime()
    end = pd.Timestamp(window_end).to_pydatetime()
    rows = []
    for info in store.list_buildings(sorted(set(grid_areas))):
        for series in info.series:
            for p in store.building_series(info.building_id, series, start, end):
                issue = pd.Timestamp(p.issue_time).tz_convert("UTC")
                origin = issue.floor("h")
                lead = int((pd.Timestamp(p.timestamp_hour) - origin) / pd.Timedelta(hours=1))
                rows.append({"building_id": info.building_id, "grid_area": info.grid_area, "series": series,
                             c.TIMESTAMP: pd.Timestamp(p.timestamp_hour).tz_convert("UTC"), "origin_time": origin,
                             "lead_hours": max(lead, 0), "yhat": p.yhat, "yhat_lower": p.yhat_lower,
                             "yhat_upper": p.yhat_upper, "strategy": "", "model_version": p.model_version,
                             "issue_time": issue, "run_id": p.run_id, "weather_source": p.weather_source})
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


def read_actuals(source: str | Path | pd.DataFrame, window_start: pd.Timestamp,
                 window_end: pd.Timestamp) -> pd.DataFrame:
    """processed_edf_data rows from a week before the window (baseline) to its end."""
    columns = [c.BUILDING_ID, c.TIMESTAMP, c.CONSUMPTION, c.SOLAR]
    if isinstance(source, pd.DataFrame):
        df = source
    else:
        files = list_files(source)
        if not files:
            raise SourceError(f"no processed_edf_data Parquet under {source}")
        frames = []
        for uri in files:
            part = read_one(uri)
            frames.append(part[[col for col in columns if col in part.columns]])
        df = pd.concat(frames, ignore_index=True)
    df = df[[col for col in columns if col in df.columns]].copy()
    if c.SOLAR not in df.columns:
        df[c.SOLAR] = float("nan")
    ts = pd.to_datetime(df[c.TIMESTAMP], utc=True)
    lo = pd.Timestamp(window_start) - pd.Timedelta(hours=168)
    df[c.TIMESTAMP] = ts
    return df[(ts >= lo) & (ts < pd.Timestamp(window_end))].reset_index(drop=True)


def daily_key(prefix: str, day: dt.date) -> str:
    """``<prefix>date=YYYY-MM-DD/accuracy.parquet`` (Hive-style, so Athena can partition on date)."""
    return f"{prefix.rstrip('/')}/date={day.isoformat()}/accuracy.parquet"
