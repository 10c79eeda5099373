"""The ``weather-forecast/`` contract: schema, units and validation, written down once.

What lands under ``edf-inputs/weather-forecast/`` (the fetcher writes it, ``edf.weather``; anyone
else may too) is one row per building, target hour and forecast issue:

=========================  =========  ========  ==========================================================
column                     type       nullable  meaning (unit)
=========================  =========  ========  ==========================================================
``building_id``            string     no        ``[A-Za-z0-9_-]{1,64}``
``timestamp_hour``         timestamp  no        target hour (start), UTC
``forecast_issue_time``    timestamp  no        when the forecast was obtained, UTC (the features use only
                                                forecasts issued at or before the origin)
``grid_latitude``          double     no        location key: the grid cell's centre, degrees north
``grid_longitude``         double     no        location key: the grid cell's centre, degrees east
``weather_provider``       string     no        who produced it (``open_meteo``, ``file:<name>`` ...)
``temperature_c``          double     yes       air temperature at 2 m at the start of the hour, °C
``solar_irradiance_ghi``   double     yes       global horizontal irradiance, mean over the hour, W/m²
``humidity``               double     yes       relative humidity at 2 m, %
``wind_speed_ms``          double     yes       optional column: wind speed at 10 m, m/s
``cloud_cover_pct``        double     yes       optional column: total cloud cover, %
=========================  =========  ========  ==========================================================

The weather columns carry the ``processed_edf_data`` names and units, so the feature code joins
them unchanged. ``wind_speed_ms``/``cloud_cover_pct`` are extra covariates (the calibrated-forecasts
issue); they may be absent. Unit ranges are checked because the usual feed bug is a unit (°F or K
for °C, a 0-1 fraction for %, kWh/m² for W/m²), and such a value passes every type check.

Validation is :func:`validate_weather_forecast` with the same :class:`~edf.data.validation.Finding`
rules and messages as ``processed_edf_data`` (rule, column, up to five offending rows); the fetcher
calls it before writing, the inference features after reading. When a building-hour has several
issues, the newest issued at or before the origin wins (:func:`newest_issue_per_hour`, the pandas
twin of ``edf.features.pipeline.latest_weather_forecast``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.validation import (
    ContractViolation,
    Finding,
    ValidationReport,
    _examples,
    _type_ok,
)

ISSUE_TIME = c.FORECAST_ISSUE_TIME
GRID_LAT = "grid_latitude"
GRID_LON = "grid_longitude"
PROVIDER = "weather_provider"
WIND_SPEED = "wind_speed_ms"
CLOUD_COVER = "cloud_cover_pct"
EXTRA_COVARIATES = (WIND_SPEED, CLOUD_COVER)
KEY = (c.BUILDING_ID, c.TIMESTAMP, ISSUE_TIME)


@dataclass(frozen=True)
class WeatherColumn:
    name: str
    kind: str  # "string" | "timestamp" | "double"
    nullable: bool
    unit: str
    low: float | None = None  # physically plausible range, inclusive (catches unit mix-ups)
    high: float | None = None
    optional: bool = False  # the column may be absent altogether


COLUMNS: tuple[WeatherColumn, ...] = (
    WeatherColumn(c.BUILDING_ID, "string", False, ""),
    WeatherColumn(c.TIMESTAMP, "timestamp", False, "UTC"),
    WeatherColumn(ISSUE_TIME, "timestamp", False, "UTC"),
    WeatherColumn(GRID_LAT, "double", False, "degrees", -90.0, 90.0),
    WeatherColumn(GRID_LON, "double", False, "degrees", -180.0, 180.0),
    WeatherColumn(PROVIDER, "string", False, ""),
    WeatherColumn(c.TEMPERATURE, "double", True, "°C", -90.0, 60.0),
    WeatherColumn(c.GHI, "double", True, "W/m²", 0.0, 1400.0),
    WeatherColumn(c.HUMIDITY, "double", True, "%", 0.0, 100.0),
    WeatherColumn(WIND_SPEED, "double", True, "m/s", 0.0, 113.0, optional=True),
    WeatherColumn(CLOUD_COVER, "double", True, "%", 0.0, 100.0, optional=True),
)
COLUMN_NAMES = tuple(col.name for col in COLUMNS)
WEATHER_VALUE_COLUMNS = (*c.WEATHER_COLUMNS, *EXTRA_COVARIATES)
FILE_RE = re.compile(r"weather_forecast_(\d{8}T\d{6}Z)\.parquet$")


class WeatherContractViolation(ContractViolation):
    """A weather-forecast frame broke the contract: ``<where>: <rendered report>``."""

    def __init__(self, report: ValidationReport, where: str = "weather forecast"):
        ValueError.__init__(self, f"{where}: {report.render()}")
        self.report = report


def _utc_ok(series: pd.Series) -> bool:
    tz = getattr(series.dt, "tz", None)
    return tz is not None and str(tz) in ("UTC", "utc", "UTC+00:00")


def _check_types(df: pd.DataFrame, report: ValidationReport) -> set[str]:
    """Missing/ill-typed columns as errors; returns the columns whose type is right."""
    typed: set[str] = set()
    for col in COLUMNS:
        if col.name not in df.columns:
            if not col.optional:
                report.errors.append(Finding("missing_column", col.name, "required column is absent", len(df)))
            continue
        s = df[col.name]
        if col.nullable and s.isna().all() or _type_ok(s, col.kind):
            typed.add(col.name)
        else:
            report.errors.append(Finding("wrong_type", col.name, f"expected {col.kind}, found dtype {s.dtype}",
                                         len(df), _examples(df, s.notna(), [col.name])))
    return typed


def _check_values(df: pd.DataFrame, typed: set[str], report: ValidationReport) -> None:
    """Nulls in required columns, non-finite numbers and values outside the unit's range."""
    err = report.errors.append
    for col in COLUMNS:
        if col.name not in typed:
            continue
        s = df[col.name]
        if not col.nullable and s.isna().any():
            err(Finding("null_in_required", col.name, "required column has nulls", int(s.isna().sum()),
                        _examples(df, s.isna(), [col.name])))
        if col.kind != "double":
            continue
        values = pd.to_numeric(s, errors="coerce").astype("float64")
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        nonfinite = values.notna() & ~np.isfinite(arr)
        if nonfinite.any():
            err(Finding("non_finite", col.name, "values must be finite (no inf)", int(nonfinite.sum()),
                        _examples(df, nonfinite, [col.name])))
        finite = values.notna() & ~nonfinite
        outside = finite & ((values < col.low) | (values > col.high))
        if outside.any():
            err(Finding("out_of_range", col.name, f"must lie in [{col.low:g}, {col.high:g}] {col.unit} "
                        "(a unit mix-up?)", int(outside.sum()), _examples(df, outside, [col.name])))


def _check_keys(df: pd.DataFrame, typed: set[str], report: ValidationReport) -> None:
    """Building ids, UTC hour-aligned target hours, UTC issue times, one row per key."""
    err = report.errors.append
    if c.BUILDING_ID in typed:
        ids = df[c.BUILDING_ID].astype("string")
        bad = ids.notna() & ~ids.fillna("").str.fullmatch(c.BUILDING_ID_PATTERN.pattern)
        if bad.any():
            err(Finding("invalid_building_id", c.BUILDING_ID, "must match [A-Za-z0-9_-]{1,64}", int(bad.sum()),
                        _examples(df, bad, [])))
    for name in (c.TIMESTAMP, ISSUE_TIME):
        if name not in typed:
            continue
        if not _utc_ok(df[name]):
            tz = getattr(df[name].dt, "tz", None)
            err(Finding("timestamp_not_utc", name, "timestamps must be timezone-aware UTC, found "
                        f"{'naive' if tz is None else tz}", len(df), _examples(df, df[name].notna(), [name])))
        elif name == c.TIMESTAMP:
            ts = df[name]
            misaligned = ts.notna() & (ts != ts.dt.floor("h"))
            if misaligned.any():
                err(Finding("timestamp_not_hour_aligned", name, "must be the start of an hour",
                            int(misaligned.sum()), _examples(df, misaligned, [])))
    if all(k in df.columns for k in KEY):
        dup = df.duplicated(list(KEY), keep=False) & df[c.TIMESTAMP].notna()
        if dup.any():
            err(Finding("duplicate_key", ",".join(KEY), "more than one row for a building, hour and issue",
                        int(dup.sum()), _examples(df, dup, [ISSUE_TIME])))


def _warnings(df: pd.DataFrame, typed: set[str], report: ValidationReport) -> None:
    for name in WEATHER_VALUE_COLUMNS:
        if name in typed and df[name].isna().all():
            report.warnings.append(Finding("no_weather", name, "column is entirely null", len(df)))
    if {c.TIMESTAMP, ISSUE_TIME} <= typed and _utc_ok(df[c.TIMESTAMP]) and _utc_ok(df[ISSUE_TIME]):
        past = df[c.TIMESTAMP] < df[ISSUE_TIME].dt.floor("h")
        if past.any():
            report.warnings.append(Finding(
                "hour_before_issue", c.TIMESTAMP, "target hour before its issue hour (not a forecast; "
                "never used for a later origin's horizon)", int(past.sum()), _examples(df, past, [ISSUE_TIME])))


def validate_weather_forecast(df: pd.DataFrame) -> ValidationReport:
    """Check a weather-forecast frame; never raises for bad data, returns every finding."""
    report = ValidationReport(rows=len(df), buildings=int(df[c.BUILDING_ID].nunique()) if c.BUILDING_ID in df else 0)
    typed = _check_types(df, report)
    if len(df) == 0:
        report.errors.append(Finding("empty", "*", "forecast has no rows", 0))
        return report
    _check_values(df, typed, report)
    _check_keys(df, typed, report)
    _warnings(df, typed, report)
    return report


def require_valid_weather_forecast(df: pd.DataFrame, where: str = "weather forecast") -> ValidationReport:
    """Validate and raise :class:`WeatherContractViolation` (message starts with ``where``) when invalid."""
    report = validate_weather_forecast(df)
    if not report.ok:
        raise WeatherContractViolation(report, where)
    return report


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Columns in contract order with contract dtypes (optional covariates kept only when present)."""
    out = df.copy()
    for name in (c.TIMESTAMP, ISSUE_TIME):
        if name in out.columns and pd.api.types.is_datetime64_any_dtype(out[name]) and _utc_ok(out[name]):
            out[name] = out[name].astype("datetime64[us, UTC]")
    for col in COLUMNS:
        if col.name in out.columns and col.kind == "double":
            out[col.name] = pd.to_numeric(out[col.name], errors="coerce").astype("float64")
        elif col.name in out.columns and col.kind == "string":
            out[col.name] = out[col.name].astype("object")
    return out[[name for name in COLUMN_NAMES if name in out.columns]]


def newest_issue_per_hour(df: pd.DataFrame, as_of: pd.Timestamp | dt.datetime | None = None) -> pd.DataFrame:
    """Per building and target hour, the newest forecast issued at or before ``as_of`` (all when None)."""
    out = df
    if as_of is not None:
        out = out[out[ISSUE_TIME] <= pd.Timestamp(as_of)]
    out = out.sort_values(ISSUE_TIME, kind="stable").drop_duplicates([c.BUILDING_ID, c.TIMESTAMP], keep="last")
    return out.sort_values([c.BUILDING_ID, c.TIMESTAMP]).reset_index(drop=True)


def file_name(issue_time: dt.datetime) -> str:
    """``issue_date=YYYY-MM-DD/weather_forecast_YYYYMMDDTHHMMSSZ.parquet``: one file per issue."""
    t = pd.Timestamp(issue_time).tz_convert("UTC")
    return f"issue_date={t:%Y-%m-%d}/weather_forecast_{t:%Y%m%dT%H%M%SZ}.parquet"


def issue_time_from_name(path: str | Path) -> pd.Timestamp | None:
    """The issue time encoded by :func:`file_name`, or None for a file named otherwise."""
    m = FILE_RE.search(str(path))
    return pd.Timestamp(dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%SZ"), tz="UTC") if m else None


def write_weather_forecast(df: pd.DataFrame, prefix: str) -> str:
    """Validate (raise on violation) and write one issue's rows under ``prefix``; returns the URI."""
    from edf.data.io import write_parquet

    frame = conform(df)
    require_valid_weather_forecast(frame, "refusing to write the weather forecast")
    issues = frame[ISSUE_TIME].unique()
    if len(issues) != 1:
        raise ValueError(f"one file holds one issue; got {len(issues)} forecast_issue_time values")
    uri = prefix.rstrip("/") + "/" + file_name(pd.Timestamp(issues[0]))
    return write_parquet(frame, uri)


def read_weather_file(location: str) -> pd.DataFrame:
    """One weather-forecast Parquet file, validated on read (raises naming the file and the rules)."""
    from edf.data.io import read_one

    frame = conform(read_one(location))
    require_valid_weather_forecast(frame, f"weather forecast {location}")
    return frame
