"""Score stored forecasts against the actuals that have since landed (issue 8 §1).

Input: forecasts in the ``edf.data.outputs.FORECAST_COLUMNS`` shape (every issue of every run
whose target hour falls in the scored window) and ``processed_edf_data`` rows. Output: one wide
table, one row per *level* (``building`` / ``grid_area`` / ``overall``), key, series and lead
bucket (plus ``all`` leads), with the served model's metrics and the seasonal-naive baseline's
metrics on the same hours.

Rules that matter operationally:

* A target hour whose actual has not landed (row absent or value null) is **missing**: it is
  counted in ``n_missing_actual`` and left out of every metric — never scored as zero. A group
  with no scored hour gets status ``missing`` and null metrics; some missing hours give ``partial``.
* The seasonal-naive baseline is the actual of the same hour one week (168 h) earlier, from the
  same processed data. Baseline metrics use the hours where both the actual and the baseline
  exist; ``skill_vs_seasonal_naive`` = 1 - RMSE(model) / RMSE(baseline) on exactly those hours
  (positive = the model beats the baseline).
* Grid-area and overall rows pool the hours of their buildings (one metric over all pooled hours,
  not a median of building metrics), so a big building weighs more — what the grid sees.

The metric formulas are ``edf.evaluation.metrics.series_metrics`` (one definition in the system).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.outputs import SERIES_OF_TARGET
from edf.evaluation.metrics import series_metrics

TARGET_OF_SERIES = {v: k for k, v in SERIES_OF_TARGET.items()}
LEVELS = ("building", "grid_area", "overall")
OVERALL_KEY = "ALL"
ALL_LEADS = "all"
SEASONAL_LAG = pd.Timedelta(hours=168)
METRIC_COLUMNS = ("mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct", "pinball", "coverage")
NAIVE_METRICS = ("mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct")
REQUIRED_FORECAST_COLUMNS = (c.BUILDING_ID, "grid_area", "series", c.TIMESTAMP, "lead_hours",
                             "yhat", "yhat_lower", "yhat_upper")
TABLE_COLUMNS = (
    "window_start", "window_end", "level", "key", "grid_area", "series", "lead_bucket", "status",
    "n_forecast", "n_scored", "n_missing_actual", *METRIC_COLUMNS,
    "naive_n", *(f"naive_{m}" for m in NAIVE_METRICS), "skill_vs_seasonal_naive", "model_versions",
)


class TrackerInputError(ValueError):
    """Forecast or actuals frames that cannot be scored (missing columns, naive timestamps)."""


@dataclass(frozen=True)
class TrackerSettings:
    """The knobs of a scoring run (from ``edf_monitoring``/``edf_training``/``edf_evaluation``)."""

    lead_bucket_edges_hours: tuple[int, ...] = (0, 24, 48, 72)
    interval_width: float = 0.8
    mape_min_share: float = 0.05

    @classmethod
    def from_config(cls, cfg) -> TrackerSettings:
        return cls(tuple(cfg.edf_monitoring.lead_bucket_edges_hours), cfg.edf_training.interval_width,
                   cfg.edf_evaluation.mape_min_actual_share)


def bucket_labels(edges: Sequence[int]) -> list[str]:
    """``[0, 24, 48, 72]`` -> ``["0-24", "24-48", "48-72"]`` (lower edge inclusive)."""
    return [f"{a}-{b}" for a, b in zip(edges, edges[1:], strict=False)]


def assign_lead_bucket(lead_hours: pd.Series, edges: Sequence[int]) -> pd.Series:
    """Bucket label per lead (``None`` for leads outside the edges — they are not scored)."""
    labels = bucket_labels(edges)
    cut = pd.cut(lead_hours.astype("float64"), bins=list(edges), right=False, labels=labels)
    return cut.astype("object").where(cut.notna(), None)


def _utc(series: pd.Series, name: str) -> pd.Series:
    s = pd.to_datetime(series)
    if getattr(s.dt, "tz", None) is None:
        raise TrackerInputError(f"{name} must be timezone-aware (UTC); got naive timestamps")
    return s.dt.tz_convert("UTC").astype("datetime64[us, UTC]")


def join_actuals(forecasts: pd.DataFrame, actuals: pd.DataFrame) -> pd.DataFrame:
    """Forecast rows with ``actual`` and ``seasonal_naive`` (both NaN where the data is missing).

    ``actuals`` is processed_edf_data (at least building_id, timestamp_hour and the target
    columns of the series present); it must reach 168 h before the first forecast hour for the
    baseline.
    """
    missing = [col for col in REQUIRED_FORECAST_COLUMNS if col not in forecasts.columns]
    if missing:
        raise TrackerInputError(f"forecasts lack column(s) {', '.join(missing)} "
                                "(expected edf.data.outputs.FORECAST_COLUMNS)")
    unknown = sorted(set(forecasts["series"].astype(str)) - set(TARGET_OF_SERIES))
    if unknown:
        raise TrackerInputError(f"unknown series {unknown}; expected {sorted(TARGET_OF_SERIES)}")
    fc = forecasts.copy()
    fc["actual"] = np.nan
    fc["seasonal_naive"] = np.nan
    if fc.empty:  # no run issued forecasts for the window: an empty table, not an error
        return fc
    fc[c.TIMESTAMP] = _utc(fc[c.TIMESTAMP], "forecasts.timestamp_hour")
    fc["building_id"] = fc["building_id"].astype(str)
    targets = [TARGET_OF_SERIES[s] for s in sorted(set(fc["series"]))]
    absent = [col for col in (c.BUILDING_ID, c.TIMESTAMP, *targets) if col not in actuals.columns]
    if absent:
        raise TrackerInputError(f"actuals lack column(s) {', '.join(absent)} (processed_edf_data contract)")
    act = actuals[[c.BUILDING_ID, c.TIMESTAMP, *targets]].copy()
    act[c.BUILDING_ID] = act[c.BUILDING_ID].astype(str)
    act[c.TIMESTAMP] = _utc(act[c.TIMESTAMP], "actuals.timestamp_hour")
    # duplicates in the processed zone would multiply forecast rows: keep the last reading
    act = act.drop_duplicates([c.BUILDING_ID, c.TIMESTAMP], keep="last")
    parts = []
    for series, grp in fc.groupby("series", sort=False):
        target = TARGET_OF_SERIES[str(series)]
        values = act[[c.BUILDING_ID, c.TIMESTAMP, target]]
        grp = grp.drop(columns=["actual", "seasonal_naive"])
        grp = grp.merge(values.rename(columns={target: "actual"}), on=[c.BUILDING_ID, c.TIMESTAMP], how="left")
        lagged = values.assign(**{c.TIMESTAMP: values[c.TIMESTAMP] + SEASONAL_LAG})
        grp = grp.merge(lagged.rename(columns={target: "seasonal_naive"}), on=[c.BUILDING_ID, c.TIMESTAMP], how="left")
        parts.append(grp)
    out = pd.concat(parts, ignore_index=True)
    out["actual"] = pd.to_numeric(out["actual"], errors="coerce").astype("float64")
    out["seasonal_naive"] = pd.to_numeric(out["seasonal_naive"], errors="coerce").astype("float64")
    return out


def _nan_metrics() -> dict[str, float]:
    return {m: math.nan for m in METRIC_COLUMNS}


def score_group(grp: pd.DataFrame, settings: TrackerSettings) -> dict[str, object]:
    """Metrics of one group of joined rows (model on hours with actuals; baseline on common hours)."""
    has_actual = grp["actual"].notna().to_numpy()
    n_forecast = len(grp)
    n_scored = int(has_actual.sum())
    row: dict[str, object] = {"n_forecast": n_forecast, "n_scored": n_scored,
                              "n_missing_actual": n_forecast - n_scored}
    scored = grp[has_actual]
    if n_scored:
        m = series_metrics(scored["actual"], scored["yhat"], scored["yhat_lower"], scored["yhat_upper"],
                           settings.interval_width, settings.mape_min_share)
        row.update({k: m[k] for k in METRIC_COLUMNS})
    else:
        row.update(_nan_metrics())
    common = scored[scored["seasonal_naive"].notna()]
    row["naive_n"] = len(common)
    skill = math.nan
    if len(common):
        naive = series_metrics(common["actual"], common["seasonal_naive"], common["seasonal_naive"],
                               common["seasonal_naive"], settings.interval_width, settings.mape_min_share)
        model_common = series_metrics(common["actual"], common["yhat"], common["yhat_lower"], common["yhat_upper"],
                                      settings.interval_width, settings.mape_min_share)
        for k in NAIVE_METRICS:
            row[f"naive_{k}"] = naive[k]
        if naive["rmse"] > 0:
            skill = 1.0 - model_common["rmse"] / naive["rmse"]
    else:
        for k in NAIVE_METRICS:
            row[f"naive_{k}"] = math.nan
    row["skill_vs_seasonal_naive"] = skill
    row["status"] = "missing" if n_scored == 0 else ("partial" if n_scored < n_forecast else "ok")
    versions = sorted({str(v) for v in grp.get("model_version", pd.Series(dtype=object)).dropna()})
    row["model_versions"] = ",".join(versions)
    return row


def score(joined: pd.DataFrame, settings: TrackerSettings, window_start: pd.Timestamp,
          window_end: pd.Timestamp) -> pd.DataFrame:
    """The accuracy table (``TABLE_COLUMNS``) for joined rows of one scoring window."""
    df = joined.copy()
    df["lead_bucket"] = assign_lead_bucket(df["lead_hours"], settings.lead_bucket_edges_hours)
    df = df[df["lead_bucket"].notna()]
    rows: list[dict[str, object]] = []
    groupings = {
        "building": [c.BUILDING_ID, "grid_area"],
        "grid_area": ["grid_area"],
        "overall": [],
    }
    buckets = [*bucket_labels(settings.lead_bucket_edges_hours), ALL_LEADS]
    for series, sgrp in df.groupby("series", sort=True):
        for bucket in buckets:
            bgrp = sgrp if bucket == ALL_LEADS else sgrp[sgrp["lead_bucket"] == bucket]
            if bgrp.empty:
                continue
            for level, keys in groupings.items():
                groups = [((OVERALL_KEY,), bgrp)] if not keys else bgrp.groupby(keys, sort=True)
                for key_values, grp in groups:
                    key_values = key_values if isinstance(key_values, tuple) else (key_values,)
                    if level == "building":
                        key, area = str(key_values[0]), str(key_values[1])
                    elif level == "grid_area":
                        key = area = str(key_values[0])
                    else:
                        key, area = OVERALL_KEY, OVERALL_KEY
                    rows.append({"level": level, "key": key, "grid_area": area, "series": str(series),
                                 "lead_bucket": bucket, **score_group(grp, settings)})
    table = pd.DataFrame(rows, columns=[col for col in TABLE_COLUMNS if col not in ("window_start", "window_end")])
    table.insert(0, "window_end", pd.Timestamp(window_end).tz_convert("UTC"))
    table.insert(0, "window_start", pd.Timestamp(window_start).tz_convert("UTC"))
    for col in ("n_forecast", "n_scored", "n_missing_actual", "naive_n"):
        table[col] = table[col].astype("int64")
    return table[list(TABLE_COLUMNS)]


def track(forecasts: pd.DataFrame, actuals: pd.DataFrame, settings: TrackerSettings,
          window_start: pd.Timestamp, window_end: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join and score the forecasts whose target hour is in ``[window_start, window_end)``.

    Returns ``(table, joined)``; ``joined`` (one row per forecast with actual and baseline) feeds
    the report's plots.
    """
    start, end = pd.Timestamp(window_start), pd.Timestamp(window_end)
    if start.tzinfo is None or end.tzinfo is None:
        raise TrackerInputError("window_start and window_end must be timezone-aware")
    if start >= end:
        raise TrackerInputError(f"window_start {start} must be before window_end {end}")
    fc = forecasts
    if not fc.empty:
        ts = _utc(fc[c.TIMESTAMP], "forecasts.timestamp_hour")
        fc = fc[(ts >= start) & (ts < end)]
    joined = join_actuals(fc, actuals)
    return score(joined, settings, start, end), joined


def lead_profile(joined: pd.DataFrame, series: str = "consumption") -> pd.DataFrame:
    """MAE of the model and the baseline per lead hour (pooled), with scored/missing counts."""
    df = joined[joined["series"] == series]
    rows = []
    for lead, grp in df.groupby("lead_hours", sort=True):
        scored = grp[grp["actual"].notna()]
        common = scored[scored["seasonal_naive"].notna()]
        rows.append({
            "lead_hours": int(lead),
            "n_scored": len(scored),
            "n_missing_actual": len(grp) - len(scored),
            "mae": float((scored["yhat"] - scored["actual"]).abs().mean()) if len(scored) else math.nan,
            "naive_mae": float((common["seasonal_naive"] - common["actual"]).abs().mean()) if len(common) else math.nan,
        })
    return pd.DataFrame(rows, columns=["lead_hours", "n_scored", "n_missing_actual", "mae", "naive_mae"])
