"""Weather for one inference origin: the freshness rule and each building's weather source.

Inference may use a building's weather forecast only if it is trustworthy for the whole horizon.
For every topology building this module picks *one* forecast issue and labels the building:

* ``forecast`` — an issue at most ``edf_weather.freshness.max_age_hours`` before the origin whose
  rows cover every hour of ``[origin, origin + horizon)`` (an hour counts when at least one of
  ``temperature_c``, ``solar_irradiance_ghi``, ``humidity`` has a value);
* otherwise, by ``on_stale``: ``fail`` raises :class:`WeatherFreshnessError` naming the buildings
  and why; ``without_weather`` labels them ``none`` and gives them no weather rows; ``use_stale``
  takes the newest covering issue up to ``stale_limit_hours`` old (``stale:<age>h``, whole hours)
  and ``none`` when there is none.

Only the chosen issue's rows reach the features, so the label says exactly what the model saw. The
labels travel with the run (``<features>/weather/sources/``) to the forecast rows
(``weather_source``), the store and the API; the rows used are kept next to them
(``<features>/weather/forecast_used/``) for audit.

Reading is bounded: files are taken newest issue first (the issue time is in the fetcher's file
names; other files are asked for their issue times) and only within the look-back the rule can use;
reading stops as soon as every building has a fresh forecast. Every file read is validated against
``edf.data.weather_forecast``; a file that breaks the contract fails the run with the named rules.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from edf.data import contract as c
from edf.data.io import DataNotFoundError, list_files, read_one
from edf.data.outputs import WEATHER_SOURCE_FORECAST, WEATHER_SOURCE_NONE, stale_source, weather_source_kind
from edf.data.weather_forecast import ISSUE_TIME, conform, issue_time_from_name, read_weather_file

log = logging.getLogger(__name__)
SOURCE = "weather_source"
SOURCES_DIR = ("weather", "sources")
USED_DIR = ("weather", "forecast_used")


class WeatherFreshnessError(RuntimeError):
    """``on_stale: fail`` and some building has no fresh forecast covering the horizon."""


@dataclass
class InferenceWeather:
    """The rows the features may use (one issue per building) and every building's label."""

    frame: pd.DataFrame | None
    sources: pd.DataFrame  # building_id, weather_source, forecast_issue_time (NaT for none), age_hours
    files_read: int = 0
    reasons: dict[str, str] = field(default_factory=dict)  # building -> why it is not "forecast"

    def summary(self) -> dict[str, Any]:
        kinds = Counter(weather_source_kind(s) for s in self.sources[SOURCE])
        return {"buildings": len(self.sources), "sources": dict(sorted(kinds.items())),
                "labels": dict(Counter(self.sources[SOURCE]).most_common(10)), "files_read": self.files_read,
                "rows_used": 0 if self.frame is None else len(self.frame),
                "not_fresh_examples": dict(list(self.reasons.items())[:5])}


def _candidates(location: str | Path | None, oldest: pd.Timestamp,
                origin: pd.Timestamp) -> tuple[list[tuple[pd.Timestamp, str]], pd.Timestamp | None]:
    """(newest issue in window, file) for the files that may hold an issue in ``[oldest, origin]``, newest
    first; and the newest issue at or before the origin in any file (for the error message)."""
    if not location:
        return [], None
    try:
        files = list_files(location)
    except DataNotFoundError:
        return [], None
    out, newest = [], None
    for f in files:
        issue = issue_time_from_name(f)
        if issue is None:  # not named by the fetcher: ask the file for its issues
            issues = pd.to_datetime(read_one(f, columns=[ISSUE_TIME])[ISSUE_TIME], utc=True)
            issues = issues[issues <= origin]
            newest = max([t for t in (newest, issues.max() if len(issues) else None) if t is not None], default=None)
            issues = issues[issues >= oldest]
            issue = issues.max() if len(issues) else None
        elif issue <= origin:
            newest = max(newest, issue) if newest is not None else issue
        if issue is not None and oldest <= issue <= origin:
            out.append((issue, f))
    return sorted(out, key=lambda x: (x[0], x[1]), reverse=True), newest


def _horizon_rows(df: pd.DataFrame, buildings: set[str], origin: pd.Timestamp, horizon: int,
                  oldest: pd.Timestamp) -> pd.DataFrame:
    end = origin + pd.Timedelta(hours=horizon)
    keep = (df[c.BUILDING_ID].isin(buildings) & (df[ISSUE_TIME] <= origin) & (df[ISSUE_TIME] >= oldest)
            & (df[c.TIMESTAMP] >= origin) & (df[c.TIMESTAMP] < end))
    out = df[keep]
    return out[out[list(c.WEATHER_COLUMNS)].notna().any(axis=1)]


@dataclass
class _Choice:
    rule: Any  # WeatherFreshness settings
    origin: pd.Timestamp
    horizon: int
    undecided: set[str]
    chosen: dict[str, tuple[pd.Timestamp, str]] = field(default_factory=dict)
    stale: dict[str, pd.Timestamp] = field(default_factory=dict)
    rows: list[pd.DataFrame] = field(default_factory=list)
    stale_rows: dict[str, pd.DataFrame] = field(default_factory=dict)
    seen: dict[str, tuple[pd.Timestamp, int]] = field(default_factory=dict)  # newest issue and hours it covers
    newest_available: pd.Timestamp | None = None  # newest issue at or before the origin, in any file
    lookback: float = 0.0  # hours before the origin the rule looks at

    def take(self, rows: pd.DataFrame) -> None:
        """Decide what the rows of one file (already cut to the horizon and window) settle."""
        for issue, grp in sorted(rows.groupby(ISSUE_TIME), key=lambda kv: kv[0], reverse=True):
            hours = grp.groupby(c.BUILDING_ID)[c.TIMESTAMP].nunique()
            age = (self.origin - issue) / pd.Timedelta(hours=1)
            for b, n in hours.items():
                self.seen.setdefault(b, (issue, int(n)))
            covered = [b for b in hours[hours >= self.horizon].index if b in self.undecided]
            if age <= self.rule.max_age_hours:
                for b in covered:
                    self.chosen[b] = (issue, WEATHER_SOURCE_FORECAST)
                    self.undecided.discard(b)
                self.rows.append(grp[grp[c.BUILDING_ID].isin(covered)])
            elif self.rule.on_stale == "use_stale":
                for b in covered:
                    if b not in self.stale:
                        self.stale[b] = issue
                        self.stale_rows[b] = grp[grp[c.BUILDING_ID] == b]

    def reason(self, b: str) -> str:
        if b not in self.seen:
            if self.newest_available is None:
                return "no weather forecast issued by the origin at all"
            age = (self.origin - self.newest_available) / pd.Timedelta(hours=1)
            return (f"no row for this building's horizon in the issues of the last {self.lookback:g} h; the newest "
                    f"issue in the feed (any building) is {self.newest_available:%Y-%m-%dT%H:%MZ} "
                    f"({age:.1f} h before the origin)")
        issue, n = self.seen[b]
        age = (self.origin - issue) / pd.Timedelta(hours=1)
        return f"newest issue {issue:%Y-%m-%dT%H:%MZ} ({age:.1f} h before the origin) covers {n} of {self.horizon} hours"


def _finish(ch: _Choice, buildings: list[str], files_read: int) -> InferenceWeather:
    """Labels for every building, the stale fall-backs, the rule's verdict."""
    reasons = {b: ch.reason(b) for b in buildings if b in ch.undecided}
    if ch.rule.on_stale == "fail" and reasons:
        examples = "; ".join(f"{b}: {r}" for b, r in list(reasons.items())[:10])
        raise WeatherFreshnessError(
            f"{len(reasons)} of {len(buildings)} building(s) have no weather forecast issued within "
            f"{ch.rule.max_age_hours:g} h of the origin {ch.origin:%Y-%m-%dT%H:%MZ} covering {ch.horizon} h "
            f"(edf_weather.freshness.on_stale = fail): {examples}")
    for b in sorted(ch.undecided):
        if b in ch.stale:
            age = (ch.origin - ch.stale[b]) / pd.Timedelta(hours=1)
            ch.chosen[b] = (ch.stale[b], stale_source(age))
            ch.rows.append(ch.stale_rows[b])
    records = []
    for b in buildings:
        issue, label = ch.chosen.get(b, (pd.NaT, WEATHER_SOURCE_NONE))
        age = None if pd.isna(issue) else round((ch.origin - issue) / pd.Timedelta(hours=1), 2)
        records.append({c.BUILDING_ID: b, SOURCE: label, ISSUE_TIME: issue, "age_hours": age})
    sources = pd.DataFrame(records, columns=[c.BUILDING_ID, SOURCE, ISSUE_TIME, "age_hours"])
    sources[ISSUE_TIME] = pd.to_datetime(sources[ISSUE_TIME], utc=True)
    parts = [r for r in ch.rows if len(r)]
    frame = conform(pd.concat(parts, ignore_index=True)) if parts else None
    return InferenceWeather(frame, sources, files_read, reasons)


def prepare_inference_weather(location: str | Path | None, buildings: list[str], origin: Any, horizon: int,
                              rule: Any) -> InferenceWeather:
    """Apply the freshness rule (``cfg.edf_weather.freshness``) for ``buildings`` at ``origin``."""
    origin = pd.Timestamp(origin)
    origin = origin.tz_localize("UTC") if origin.tzinfo is None else origin.tz_convert("UTC")
    lookback = rule.stale_limit_hours if rule.on_stale == "use_stale" else rule.max_age_hours
    oldest = origin - pd.Timedelta(hours=lookback)
    ch = _Choice(rule=rule, origin=origin, horizon=horizon, undecided=set(buildings), lookback=lookback)
    files_read = 0
    candidates, ch.newest_available = _candidates(location, oldest, origin)
    for _, path in candidates:
        if not ch.undecided:
            break
        ch.take(_horizon_rows(read_weather_file(path), ch.undecided, origin, horizon, oldest))
        files_read += 1
    result = _finish(ch, list(buildings), files_read)
    log.info("weather for origin %s: %s", origin.isoformat(), result.summary())
    return result


def inference_weather(spark: Any, location: str | Path | None, topology: pd.DataFrame, origin: Any, horizon: int,
                      rule: Any, out_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """The features job's step: decide, write the labels and the rows used, return the rows as Spark.

    ``out_dir`` is a local directory (SageMaker Processing) or an ``s3://`` URI (Glue): the small
    pandas outputs go through ``edf.data.io`` (boto3 for S3), and Spark reads the rows used back.
    """
    from edf.data.io import write_parquet
    from edf.features.io import join_path, spark_read_parquet

    buildings = sorted(topology[c.BUILDING_ID].astype(str).unique())
    prepared = prepare_inference_weather(location, buildings, origin, horizon, rule)
    write_parquet(prepared.sources, join_path(out_dir, *SOURCES_DIR, "weather_sources.parquet"))
    if prepared.frame is None:
        return None, prepared.summary()
    used = join_path(out_dir, *USED_DIR)
    write_parquet(prepared.frame, join_path(used, "forecast_used.parquet"))
    return spark_read_parquet(spark, used), prepared.summary()


def read_sources(features_dir: str | Path) -> dict[str, str] | None:
    """building -> weather_source from a features output folder; None when the run did not record them."""
    from edf.data.io import read_parquet

    try:
        frame = read_parquet(Path(features_dir).joinpath(*SOURCES_DIR), required=False)
    except DataNotFoundError:
        return None
    if frame is None:
        return None
    return dict(zip(frame[c.BUILDING_ID].astype(str), frame[SOURCE].astype(str), strict=True))
