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
import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from edf.data import contract as c
from edf.data.io import write_parquet
from edf.data.outputs import FORECAST_COLUMNS

log = logging.getLogger(__name__)


class SourceError(RuntimeError):
    """Input that cannot be read (missing path, no objects, unreadable Parquet)."""


def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[5:].partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise SourceError(f"malformed S3 URI {uri!r}; expected s3://bucket/key")
    return bucket, key


def _s3():
    import boto3

    return boto3.client("s3")


def _list_s3(uri: str, modified_after: dt.datetime | None = None) -> Iterator[str]:
    bucket, prefix = split_s3(uri)
    paginator = _s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith(".parquet"):
                continue
            if modified_after is not None and obj["LastModified"] < modified_after:
                continue
            yield f"s3://{bucket}/{obj['Key']}"


def _read_one(uri: str, columns: list[str] | None = None) -> pd.DataFrame:
    if uri.startswith("s3://"):
        bucket, key = split_s3(uri)
        body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return pd.read_parquet(io.BytesIO(body), columns=columns)
    return pd.read_parquet(uri, columns=columns)


def parquet_files(location: str | Path, modified_after: dt.datetime | None = None,
                  name: str | None = None) -> list[str]:
    """Parquet files at a file path, under a folder (recursive) or under an S3 prefix."""
    text = str(location)
    if text.startswith("s3://"):
        files = list(_list_s3(text if text.endswith((".parquet", "/")) else text + "/", modified_after))
    else:
        path = Path(text)
        if path.is_file():
            files = [str(path)]
        elif path.is_dir():
            files = sorted(str(p) for p in path.rglob("*.parquet") if p.is_file())
        else:
            raise SourceError(f"{path} does not exist")
        if modified_after is not None:
            cutoff = modified_after.timestamp()
            files = [f for f in files if Path(f).stat().st_mtime >= cutoff]
    if name:
        files = [f for f in files if f.rsplit("/", 1)[-1] == name]
    return files


def read_forecasts_parquet(location: str | Path, window_start: pd.Timestamp, window_end: pd.Timestamp,
                           max_lead_hours: int) -> pd.DataFrame:
    """Every issued forecast for target hours in ``[window_start, window_end)`` (FORECAST_COLUMNS)."""
    cutoff = (pd.Timestamp(window_start) - pd.Timedelta(hours=max_lead_hours + 24)).to_pydatetime()
    files = parquet_files(location, modified_after=cutoff, name="forecasts.parquet")
    if not files and not str(location).startswith("s3://"):
        files = parquet_files(location)  # a single renamed file or a folder of parts
    frames = []
    for uri in files:
        df = _read_one(uri)
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
                             "issue_time": issue, "run_id": p.run_id})
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


def read_actuals(source: str | Path | pd.DataFrame, window_start: pd.Timestamp,
                 window_end: pd.Timestamp) -> pd.DataFrame:
    """processed_edf_data rows from a week before the window (baseline) to its end."""
    columns = [c.BUILDING_ID, c.TIMESTAMP, c.CONSUMPTION, c.SOLAR]
    if isinstance(source, pd.DataFrame):
        df = source
    else:
        files = parquet_files(source)
        if not files:
            raise SourceError(f"no processed_edf_data Parquet under {source}")
        frames = []
        for uri in files:
            part = _read_one(uri)
            frames.append(part[[col for col in columns if col in part.columns]])
        df = pd.concat(frames, ignore_index=True)
    df = df[[col for col in columns if col in df.columns]].copy()
    if c.SOLAR not in df.columns:
        df[c.SOLAR] = float("nan")
    ts = pd.to_datetime(df[c.TIMESTAMP], utc=True)
    lo = pd.Timestamp(window_start) - pd.Timedelta(hours=168)
    df[c.TIMESTAMP] = ts
    return df[(ts >= lo) & (ts < pd.Timestamp(window_end))].reset_index(drop=True)


def read_topology(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Topology CSV/Parquet (file, folder or S3 prefix); needs building_id and grid_area."""
    if isinstance(source, pd.DataFrame):
        return source
    text = str(source)
    if text.startswith("s3://"):
        bucket, prefix = split_s3(text)
        keys = [o["Key"] for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                for o in page.get("Contents", []) if o["Key"].endswith((".csv", ".parquet"))]
        if not keys:
            raise SourceError(f"no topology file under {text}")
        body = _s3().get_object(Bucket=bucket, Key=keys[0])["Body"].read()
        return pd.read_csv(io.BytesIO(body)) if keys[0].endswith(".csv") else pd.read_parquet(io.BytesIO(body))
    path = Path(text)
    if path.is_dir():
        found = sorted([*path.glob("*.csv"), *path.glob("*.parquet")])
        if not found:
            raise SourceError(f"no topology file in {path}")
        path = found[0]
    if not path.is_file():
        raise SourceError(f"{path} does not exist")
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def write_table(table: pd.DataFrame, location: str) -> str:
    """Write a DataFrame as Parquet to a local path or S3 URI (microsecond timestamps)."""
    if location.startswith("s3://"):
        bucket, key = split_s3(location)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "part.parquet"
            write_parquet(table, path)
            _s3().upload_file(str(path), bucket, key)
    else:
        write_parquet(table, location)
    return location


def daily_key(prefix: str, day: dt.date) -> str:
    """``<prefix>date=YYYY-MM-DD/accuracy.parquet`` (Hive-style, so Athena can partition on date)."""
    return f"{prefix.rstrip('/')}/date={day.isoformat()}/accuracy.parquet"
