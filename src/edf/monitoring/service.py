"""The tracker end to end: the daily run (Lambda) and the local report (``edf monitor``).

``run_daily`` scores one UTC day of target hours: every stored forecast for those hours (all
issues, so every lead bucket), joined with the actuals and the seasonal-naive baseline, written as
``<report_prefix>date=YYYY-MM-DD/accuracy.parquet``, emitted as EMF and judged by the drift policy.
Run it the morning after the day's actuals land (``edf_monitoring.scheduler_expression``).

``run_report`` scores a whole window (default: every target hour the given forecasts cover) and
writes the local report folder (``edf.monitoring.report``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from edf.data import contract as c
from edf.data.io import write_parquet
from edf.data.topology import read_topology
from edf.monitoring import drift as drift_mod
from edf.monitoring import emf, report, sources
from edf.monitoring.tracker import TrackerSettings, track

log = logging.getLogger(__name__)


@dataclass
class MonitorResult:
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    table: pd.DataFrame
    joined: pd.DataFrame
    emf_docs: list[dict[str, Any]] = field(default_factory=list)
    parquet_uri: str | None = None
    decision: drift_mod.DriftDecision | None = None
    files: dict[str, str] = field(default_factory=dict)
    weather_sources: dict[str, int] = field(default_factory=dict)  # forecast rows per weather_source label

    def summary(self) -> dict[str, Any]:
        """JSON-able summary (what the Lambda returns)."""
        from edf.evaluation.metrics import clean

        overall = self.table[(self.table["level"] == "overall")]
        return clean({
            "window_start": self.window_start.isoformat(), "window_end": self.window_end.isoformat(),
            "forecast_rows": int(len(self.joined)),
            "scored_rows": int(self.joined["actual"].notna().sum()) if len(self.joined) else 0,
            "missing_actual_rows": int(self.joined["actual"].isna().sum()) if len(self.joined) else 0,
            "overall": overall[["series", "lead_bucket", "status", "n_scored", "n_missing_actual", "mape_pct",
                                "rmse", "cv_rmse_pct", "nmbe_pct", "coverage", "naive_cv_rmse_pct",
                                "skill_vs_seasonal_naive"]].to_dict("records"),
            "parquet_uri": self.parquet_uri,
            "emf_documents": len(self.emf_docs),
            "weather_sources": self.weather_sources,
            "drift": self.decision.as_dict() if self.decision else None,
            "files": self.files,
        })


def day_window(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(day.isoformat(), tz="UTC")
    return start, start + pd.Timedelta(days=1)


def max_lead_hours(cfg: Any) -> int:
    return max(cfg.edf_monitoring.lead_bucket_edges_hours[-1], cfg.edf_inference.forecast_horizon_hours)


def load_forecasts(cfg: Any, start: pd.Timestamp, end: pd.Timestamp, location: str | None = None,
                   store: Any = None, grid_areas: list[str] | None = None) -> pd.DataFrame:
    """Stored forecasts for target hours in ``[start, end)`` from the configured source."""
    mon = cfg.edf_monitoring
    if mon.forecast_source == "store" and location is None:
        if store is None:
            from edf.storage import open_store

            store = open_store(cfg)
        if grid_areas is None:
            topo = read_topology(cfg.s3_path("s3_raw_calendar_path"))
            grid_areas = sorted(set(topo["grid_area"].astype(str)))
        return sources.read_forecasts_store(store, grid_areas, start, end)
    prefix = location or mon.forecast_output_prefix.format(processed_bucket=cfg.processed_bucket,
                                                           raw_bucket=cfg.raw_bucket)
    return sources.read_forecasts_parquet(prefix, start, end, max_lead_hours(cfg))


def run_daily(cfg: Any, day: dt.date, *, forecasts: pd.DataFrame | None = None, forecast_location: str | None = None,
              actuals: str | pd.DataFrame | None = None, store: Any = None, report_prefix: str | None = None,
              emit: Callable[[str], Any] | None = print, drift: bool = True, dry_run: bool = False,
              starter: drift_mod.Starter = drift_mod.start_training,
              notifier: drift_mod.Notifier = drift_mod.publish_alert) -> MonitorResult:
    """Score ``day`` (UTC), write its Parquet, emit EMF, apply the drift policy."""
    mon = cfg.edf_monitoring
    start, end = day_window(day)
    if forecasts is None:
        forecasts = load_forecasts(cfg, start, end, forecast_location, store)
    act = sources.read_actuals(actuals if actuals is not None else cfg.s3_path("s3_processed_edf_path"), start, end)
    table, joined = track(forecasts, act, TrackerSettings.from_config(cfg), start, end)
    prefix = report_prefix or mon.report_prefix.format(processed_bucket=cfg.processed_bucket, raw_bucket=cfg.raw_bucket)
    result = MonitorResult(start, end, table, joined)
    if len(table):
        result.parquet_uri = write_parquet(table, sources.daily_key(prefix, day))
    result.emf_docs = emf.emf_documents(table, mon.metrics_namespace, mon.emf_series, day.isoformat())
    # how many of the day's forecasts were made with which weather (forecast / stale / none)
    result.weather_sources = emf.weather_source_counts(forecasts)
    result.emf_docs += emf.weather_source_documents(forecasts, mon.metrics_namespace, day.isoformat())
    if emit is not None:
        for line in emf.emf_lines(result.emf_docs):
            emit(line)
    missing = int(joined["actual"].isna().sum()) if len(joined) else 0
    log.info("scored %s: %d forecast rows, %d missing actuals (late data, not scored)", day, len(joined), missing,
             extra={"scored_day": day.isoformat(), "forecast_rows": len(joined), "missing_actual_rows": missing,
                    "parquet_uri": result.parquet_uri})
    if drift:
        training_arn, alerts_arn = drift_mod.resolve_arns(cfg)
        store_uri = f"{prefix.rstrip('/')}/drift_state.json"
        result.decision = drift_mod.apply_drift_policy(
            table, day, mon.drift, drift_mod.state_store(store_uri), training_arn, alerts_arn,
            starter=starter, notifier=notifier, dry_run=dry_run)
    return result


def run_report(cfg: Any, forecasts: pd.DataFrame | str, actuals: pd.DataFrame | str, output_dir: str | Path,
               start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
               title: str = "EDF forecast accuracy") -> MonitorResult:
    """Score a window and write the local report folder; returns the result with ``files``."""
    mon = cfg.edf_monitoring
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(forecasts, str | Path):
        lo = start if start is not None else pd.Timestamp("1970-01-01", tz="UTC")
        hi = end if end is not None else pd.Timestamp("2200-01-01", tz="UTC")
        forecasts = sources.read_forecasts_parquet(str(forecasts), lo, hi, max_lead_hours(cfg))
    if forecasts.empty:
        raise sources.SourceError("no forecasts to score in the given location and window")
    ts = pd.to_datetime(forecasts[c.TIMESTAMP], utc=True)
    start = start if start is not None else ts.min().floor("D")
    end = end if end is not None else (ts.max() + pd.Timedelta(hours=1)).ceil("D")
    act = sources.read_actuals(actuals, start, end)
    table, joined = track(forecasts, act, TrackerSettings.from_config(cfg), start, end)
    result = MonitorResult(start, end, table, joined)
    result.weather_sources = emf.weather_source_counts(forecasts)
    files = {"table_parquet": str(out / "accuracy.parquet"), "table_csv": str(out / "accuracy.csv")}
    write_parquet(table, files["table_parquet"])
    table.to_csv(files["table_csv"], index=False)
    result.emf_docs = emf.emf_documents(table, mon.metrics_namespace, mon.emf_series,
                                        f"{start.date().isoformat()}..{end.date().isoformat()}")
    (out / "emf.jsonl").write_text("\n".join(emf.emf_lines(result.emf_docs)) + "\n")
    files["emf"] = str(out / "emf.jsonl")
    if report.plot_error_by_lead(joined, out / "error_by_lead.png"):
        files["error_by_lead_png"] = str(out / "error_by_lead.png")
    worst = report.worst_buildings(table, mon.worst_buildings)
    if report.plot_worst_buildings(joined, list(worst["key"]), out / "worst_buildings.png"):
        files["worst_buildings_png"] = str(out / "worst_buildings.png")
    # what the drift rule would say about each whole day in the window (no trigger from a report)
    verdicts = []
    for day in pd.date_range(start, end - pd.Timedelta(days=1), freq="D"):
        d_start, d_end = day_window(day.date())
        day_table, _ = track(forecasts, act, TrackerSettings.from_config(cfg), d_start, d_end)
        v = drift_mod.judge_day(day_table, mon.drift, day.date())
        verdicts.append({"day": v.day, "status": v.status, "reasons": v.reasons})
    missing = int(joined["actual"].isna().sum())
    notes = [f"window {start.isoformat()} .. {end.isoformat()} (target hours, UTC)",
             f"{len(joined)} forecast rows scored against actuals; {missing} with missing actuals (not scored)",
             f"models: {', '.join(sorted(set(joined.get('model_version', pd.Series(dtype=str)).dropna().astype(str)))) or 'unknown'}"]
    notes += [f"drift rule on {v['day']}: {v['status']}" + (f" ({'; '.join(v['reasons'])})" if v["reasons"] else "")
              for v in verdicts]
    (out / "report.md").write_text(report.render_markdown(table, worst, title, notes))
    files["report_md"] = str(out / "report.md")
    result.files = files
    summary = result.summary() | {"drift_verdicts": verdicts}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    files["summary"] = str(out / "summary.json")
    return result
