"""One fetch run: topology -> grid cells -> provider -> validated Parquet under ``weather-forecast/``.

The run asks the provider once per cell (concurrently, ``edf_weather.concurrency``), expands each
cell's hours to its buildings, stamps the issue time, the location key and the provider, validates
the frame against ``edf.data.weather_forecast`` and writes one file per issue
(``issue_date=YYYY-MM-DD/weather_forecast_<issue>.parquet``).

Nothing is dropped silently: a cell that fails (retries exhausted, refused, malformed answer,
budget spent) is listed with its reason and its buildings get no row for this issue; buildings
without coordinates are listed too. Whether that matters is decided at inference by the freshness
rule (``edf.features.weather_inputs``), which sees exactly which buildings a fresh forecast covers.
A run where every cell failed writes nothing and is a failed run (the Lambda raises after emitting
its metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from edf.data import contract as c
from edf.data.io import DataNotFoundError, list_files
from edf.data.weather_forecast import (
    GRID_LAT,
    GRID_LON,
    ISSUE_TIME,
    PROVIDER,
    issue_time_from_name,
    write_weather_forecast,
)
from edf.weather.grid import CellAssignment, assign_cells
from edf.weather.http import RequestStats
from edf.weather.providers import CellForecast, GridCell, ProviderError, WeatherProvider

log = logging.getLogger(__name__)


class WeatherFetchError(RuntimeError):
    """The run produced no forecast at all (every cell failed, or no building has coordinates)."""


@dataclass
class FetchResult:
    issue_time: pd.Timestamp
    provider: str
    cells: int = 0
    cells_fetched: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # cell key -> "kind: message"
    failure_kinds: Counter = field(default_factory=Counter)
    buildings: int = 0  # buildings with rows in this issue
    buildings_without_location: list[str] = field(default_factory=list)
    rows: int = 0
    uri: str | None = None
    warnings: list[str] = field(default_factory=list)
    stats: RequestStats = field(default_factory=RequestStats)
    requests_budget: int = 0
    seconds: float = 0.0
    newest_issue_time: pd.Timestamp | None = None  # newest issue under the prefix after this run

    @property
    def failed(self) -> bool:
        """Any cell failed or nothing was written: the fetch-failure metric is 1. (Buildings without
        coordinates are a topology problem, counted in their own metric and the summary.)"""
        return bool(self.failures) or self.uri is None

    def newest_age_hours(self, now: pd.Timestamp) -> float | None:
        if self.newest_issue_time is None:
            return None
        return round((now - self.newest_issue_time) / pd.Timedelta(hours=1), 3)

    def summary(self, now: pd.Timestamp | None = None) -> dict[str, Any]:
        now = now or pd.Timestamp.now(tz="UTC")
        return {
            "issue_time": self.issue_time.isoformat(), "provider": self.provider, "cells": self.cells,
            "cells_fetched": self.cells_fetched, "cells_failed": len(self.failures),
            "failure_kinds": dict(self.failure_kinds), "failures": dict(list(self.failures.items())[:10]),
            "buildings": self.buildings, "buildings_without_location": len(self.buildings_without_location),
            "buildings_without_location_examples": self.buildings_without_location[:5],
            "rows": self.rows, "uri": self.uri, "requests": self.stats.attempts,
            "request_errors": self.stats.errors, "request_error_kinds": dict(self.stats.error_kinds),
            "requests_budget": self.requests_budget, "warnings": self.warnings[:10], "seconds": round(self.seconds, 2),
            "newest_issue_time": self.newest_issue_time.isoformat() if self.newest_issue_time is not None else None,
            "newest_forecast_age_hours": self.newest_age_hours(now),
        }


def fetch_cells(provider: WeatherProvider, cells: list[GridCell], issue_time: pd.Timestamp, hours: int,
                concurrency: int) -> tuple[list[CellForecast], dict[GridCell, ProviderError]]:
    """Every cell once; provider errors are collected per cell (anything else is a bug and raises)."""
    done: list[CellForecast] = []
    failed: dict[GridCell, ProviderError] = {}
    step = max(1, len(cells) // 10)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = {pool.submit(provider.fetch, cell, issue_time, hours): cell for cell in cells}
        for i, future in enumerate(as_completed(futures), 1):
            cell = futures[future]
            try:
                done.append(future.result())
            except ProviderError as exc:
                failed[cell] = exc
            if i % step == 0 or i == len(cells):
                log.info("weather fetch: %d/%d cells answered (%d failed)", i, len(cells), len(failed))
    return done, failed


def cells_to_rows(forecasts: list[CellForecast], assignment: CellAssignment, issue_time: pd.Timestamp,
                  provider: str) -> pd.DataFrame:
    """Each cell's hours repeated for its buildings, with the issue time, location key and provider."""
    parts = []
    for f in forecasts:
        parts.append(f.frame.assign(**{GRID_LAT: f.cell.latitude, GRID_LON: f.cell.longitude}))
    if not parts:
        return pd.DataFrame()
    hours = pd.concat(parts, ignore_index=True)
    rows = assignment.buildings.merge(hours, on=[GRID_LAT, GRID_LON], how="inner")
    rows[ISSUE_TIME] = issue_time
    rows[PROVIDER] = provider
    return rows.sort_values([c.BUILDING_ID, c.TIMESTAMP]).reset_index(drop=True)


def newest_issue_time(prefix: str, now: pd.Timestamp, days: int = 8) -> pd.Timestamp | None:
    """The newest issue at or before ``now`` among the last ``days`` issue-date partitions of ``prefix``."""
    newest = None
    for back in range(days):
        day = (now - pd.Timedelta(days=back)).strftime("%Y-%m-%d")
        try:
            files = list_files(f"{prefix.rstrip('/')}/issue_date={day}/")
        except DataNotFoundError:
            continue
        issues = [t for t in (issue_time_from_name(f) for f in files) if t is not None and t <= now]
        if issues:
            newest = max(issues)
            break
    return newest


def run_fetch(cfg: Any, provider: WeatherProvider, topology: pd.DataFrame, issue_time: dt.datetime | pd.Timestamp,
              prefix: str, stats: RequestStats | None = None, requests_budget: int = 0) -> FetchResult:
    """Fetch every cell of the topology's buildings for ``issue_time`` and write the validated file."""
    t0 = time.perf_counter()
    w = cfg.edf_weather
    issue = pd.Timestamp(issue_time)
    issue = issue.tz_localize("UTC") if issue.tzinfo is None else issue.tz_convert("UTC")
    assignment = assign_cells(topology, w.grid_degrees)
    result = FetchResult(issue_time=issue, provider=provider.name, cells=len(assignment.cells),
                         buildings_without_location=assignment.without_location,
                         stats=stats or RequestStats(), requests_budget=requests_budget)
    log.info("weather fetch: %d building(s) in %d cell(s) of %.3g degrees from %s, issue %s (%d without location)",
             len(assignment.buildings), len(assignment.cells), w.grid_degrees, provider.name, issue.isoformat(),
             len(assignment.without_location))
    forecasts, failed = fetch_cells(provider, assignment.cells, issue, w.fetch_hours, w.concurrency)
    result.cells_fetched = len(forecasts)
    for cell, exc in sorted(failed.items()):
        result.failures[cell.key] = f"{exc.kind}: {exc}"
        result.failure_kinds[exc.kind] += 1
    result.warnings = [f"cell {f.cell.key}: {msg}" for f in forecasts for msg in f.warnings]
    rows = cells_to_rows(forecasts, assignment, issue, provider.name)
    if len(rows):
        result.uri = write_weather_forecast(rows, prefix)
        result.rows, result.buildings = len(rows), int(rows[c.BUILDING_ID].nunique())
    listed = newest_issue_time(prefix, pd.Timestamp.now(tz="UTC"))
    result.newest_issue_time = max([t for t in (listed, issue if result.uri else None) if t is not None], default=None)
    result.seconds = time.perf_counter() - t0
    log.info("weather fetch done", extra={"weather_fetch": result.summary()})
    return result
