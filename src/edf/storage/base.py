"""The ``ForecastStore`` protocol, the row types it speaks and the validation every backend shares.

Everything here is pure Python (no pandas): the API Lambdas import it on their hot path. The load
Lambda converts the Parquet written by ``GenerateForecastsEDF``/``OptimizePortfolioEDF`` into
:class:`ForecastRow`/:class:`RecommendationRow` with :mod:`edf.storage.loader`.

Semantics shared by all backends (the tests check each backend against them):

* a run (``run_id``) is the unit of writing: writing a run again *replaces* its rows (rows the
  new write does not contain are removed), it never adds duplicates;
* a run switches atomically: until a write of the run is complete, readers see the run's previous
  write (or nothing, for a new run) whole, and after it the new one whole, never a mix of the two;
  a write that failed part-way is invisible and may simply be run again (PostgreSQL: one
  transaction; DynamoDB: a run pointer flipped after the last item; Timestream: a commit record);
* rows arrive as iterables and are consumed once, in a stream (:class:`RunStream`): a
  10,000-building run is 1.44 million forecast rows, more than the load's memory should hold;
* a building's series over ``[start, end)`` returns one point per target hour: the forecast of
  the newest *forecast origin* (the run's date), then the newest ``issue_time``, then the largest
  ``run_id`` (:func:`forecast_rank`), so overlapping daily 72-hour runs do not double count and a
  late re-run of day D-1 (origin D-1, issued at 09:00 on D) does not replace the 05:00 forecasts
  of day D. A row without an origin ranks below every row with one;
* access follows the *current* topology: a building belongs to the grid area of its forecasts
  with the newest origin (:func:`forecast_rank` again), so after a move the old area no longer lists
  it, reads it or gets its recommendations, and a late re-run of an older day does not move it
  back. The portfolio aggregate counts each building once per hour, in the area of the forecast
  chosen for that hour (see :func:`aggregate_hour` for how the interval is combined).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from edf.data.outputs import WEATHER_SOURCE_RE, WEATHER_SOURCE_UNKNOWN

BACKENDS = ("TIMESTREAM", "DYNAMODB", "RDS")
SERIES = ("consumption", "solar")
BUILDING_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# Grid areas and run ids travel into keys and (for Timestream) query text: keep them boring.
GRID_AREA_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
TEXT_RE = re.compile(r"^[\x20-\x7e]{0,2048}$")  # printable ASCII (model ARNs, strategies, actions)


class StoreError(RuntimeError):
    """A store operation failed in a way the caller must see (connection, schema, write)."""


class InvalidValueError(ValueError):
    """A value that must never reach a key or query text (bad id, naive timestamp, unknown series)."""


class RejectedRecordsError(StoreError):
    """Records the database refused and retries could not place; nothing is dropped silently."""

    def __init__(self, rejected: int, total: int, reasons: dict[str, int], examples: list[dict]):
        self.rejected, self.total, self.reasons, self.examples = rejected, total, reasons, examples
        summary = "; ".join(f"{n} x {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
        super().__init__(f"{rejected} of {total} records were rejected: {summary}")


@functools.lru_cache(maxsize=65_536)  # ids repeat on every row of a run: check each once
def check_building_id(value: str) -> str:
    if not isinstance(value, str) or not BUILDING_ID_RE.fullmatch(value):
        raise InvalidValueError(f"building_id must match {BUILDING_ID_RE.pattern}, got {value!r}")
    return value


@functools.lru_cache(maxsize=65_536)  # ids repeat on every row of a run: check each once
def check_grid_area(value: str) -> str:
    if not isinstance(value, str) or not GRID_AREA_RE.fullmatch(value):
        raise InvalidValueError(f"grid_area must match {GRID_AREA_RE.pattern}, got {value!r}")
    return value


def check_series(value: str) -> str:
    if value not in SERIES:
        raise InvalidValueError(f"series must be one of {', '.join(SERIES)}, got {value!r}")
    return value


@functools.lru_cache(maxsize=65_536)  # ids repeat on every row of a run: check each once
def check_run_id(value: str) -> str:
    if not isinstance(value, str) or not RUN_ID_RE.fullmatch(value):
        raise InvalidValueError(f"run_id must match {RUN_ID_RE.pattern}, got {value!r}")
    return value


@functools.lru_cache(maxsize=4096)
def check_text(name: str, value: str) -> str:
    if not isinstance(value, str) or not TEXT_RE.fullmatch(value):
        raise InvalidValueError(f"{name} must be printable ASCII of at most 2048 characters, got {value!r}")
    return value


def check_weather_source(value: str) -> str:
    if not isinstance(value, str) or not WEATHER_SOURCE_RE.fullmatch(value):
        raise InvalidValueError(f"weather_source must match {WEATHER_SOURCE_RE.pattern}, got {value!r}")
    return value


def utc(value: dt.datetime, name: str = "timestamp") -> dt.datetime:
    """A timezone-aware datetime converted to UTC; naive datetimes are refused (ambiguous)."""
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(f"{name} must carry a timezone, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


def iso_z(value: dt.datetime) -> str:
    """Fixed-width UTC ISO text (``2026-11-21T05:00:00Z``): sorts lexically like the instant."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_z(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def check_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start, end = utc(start, "start"), utc(end, "end")
    if start >= end:
        raise InvalidValueError(f"start ({iso_z(start)}) must be before end ({iso_z(end)})")
    return start, end


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise InvalidValueError(f"{name} must be a finite number, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One forecast value: a building's series at one target hour, from one run."""

    building_id: str
    grid_area: str
    series: str
    timestamp_hour: dt.datetime
    yhat: float
    yhat_lower: float
    yhat_upper: float
    issue_time: dt.datetime
    run_id: str
    model_version: str
    strategy: str = ""
    origin_time: dt.datetime | None = None
    lead_hours: int | None = None
    # which weather the inference used: forecast | stale:<age>h | none | unknown (edf.data.outputs)
    weather_source: str = WEATHER_SOURCE_UNKNOWN

    def validated(self) -> ForecastRow:
        check_building_id(self.building_id)
        check_grid_area(self.grid_area)
        check_series(self.series)
        check_run_id(self.run_id)
        check_text("model_version", self.model_version)
        check_text("strategy", self.strategy)
        utc(self.timestamp_hour, "timestamp_hour")
        utc(self.issue_time, "issue_time")
        if self.origin_time is not None:
            utc(self.origin_time, "origin_time")
        for name in ("yhat", "yhat_lower", "yhat_upper"):
            _finite(name, getattr(self, name))
        check_weather_source(self.weather_source)
        if not self.yhat_lower <= self.yhat <= self.yhat_upper:
            raise InvalidValueError(
                f"{self.building_id} {self.series} {iso_z(self.timestamp_hour)}: interval "
                f"[{self.yhat_lower}, {self.yhat_upper}] does not contain yhat {self.yhat}")
        return self


@dataclass(frozen=True, slots=True)
class RecommendationRow:
    """One recommended action for a building and hour (demand response or resident)."""

    building_id: str
    grid_area: str
    kind: str
    timestamp_hour: dt.datetime
    action: str
    kw: float
    expected_reduction_kwh: float
    expected_saving: float
    run_id: str
    issue_time: dt.datetime

    def validated(self) -> RecommendationRow:
        check_building_id(self.building_id)
        check_grid_area(self.grid_area)
        check_run_id(self.run_id)
        check_text("kind", self.kind)
        check_text("action", self.action)
        utc(self.timestamp_hour, "timestamp_hour")
        utc(self.issue_time, "issue_time")
        for name in ("kw", "expected_reduction_kwh", "expected_saving"):
            _finite(name, getattr(self, name))
        return self


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    """What a read returns for one target hour (the newest origin, then issue: :func:`forecast_rank`)."""

    timestamp_hour: dt.datetime
    yhat: float
    yhat_lower: float
    yhat_upper: float
    issue_time: dt.datetime
    model_version: str
    run_id: str
    origin_time: dt.datetime | None = None
    weather_source: str = WEATHER_SOURCE_UNKNOWN  # stored before the source was recorded: unknown


@dataclass(frozen=True, slots=True)
class PortfolioPoint:
    """The aggregate over buildings for one target hour.

    ``yhat`` is the sum of the buildings' newest forecasts. Quantiles do not add, so two intervals
    are given: ``yhat_lower``/``yhat_upper`` assume independent building errors and combine each
    side's half-width in quadrature (``sqrt(sum(h_i^2))``, exact for Gaussian errors); the
    ``*_comonotonic`` bounds are the plain sums of the bounds, exact when all buildings' errors
    move together. The true interval lies between the two.
    """

    timestamp_hour: dt.datetime
    buildings: int
    yhat: float
    yhat_lower: float
    yhat_upper: float
    yhat_lower_comonotonic: float
    yhat_upper_comonotonic: float


@dataclass(frozen=True, slots=True)
class BuildingInfo:
    building_id: str
    grid_area: str
    series: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class WriteResult:
    forecasts_written: int
    recommendations_written: int
    backend: str
    forecasts_removed: int = 0
    recommendations_removed: int = 0
    calls: int = 0  # database write calls made (Timestream WriteRecords, DynamoDB BatchWriteItem, ...)


@runtime_checkable
class ForecastStore(Protocol):
    """One interface, three backends (``TIMESTREAM``, ``DYNAMODB``, ``RDS``)."""

    backend: str

    def ensure_schema(self, create: bool = False) -> None:
        """Check the tables exist; create them when ``create`` (local runs, tests)."""

    def write_run(self, run_id: str, forecasts: Iterable[ForecastRow],
                  recommendations: Iterable[RecommendationRow] | None = None) -> WriteResult:
        """Write one run's rows (consumed once, as a stream), replacing what an earlier write of ``run_id`` stored.

        Atomic for readers: nothing of this write is visible until all of it is; a failure leaves the
        previous write served, and running the write again is safe.
        """

    def list_buildings(self, grid_areas: Iterable[str]) -> list[BuildingInfo]:
        """Buildings with stored forecasts in the given grid areas."""

    def get_building(self, building_id: str) -> BuildingInfo | None:
        """The building's grid area and series, or None when nothing is stored for it."""

    def building_series(self, building_id: str, series: str, start: dt.datetime,
                        end: dt.datetime) -> list[ForecastPoint]:
        """Newest-issue forecast per target hour in ``[start, end)``, ordered by hour."""

    def portfolio_series(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                         end: dt.datetime) -> list[PortfolioPoint]:
        """Aggregate of the newest forecasts over all buildings of the grid areas, per hour."""

    def recommendations(self, grid_areas: Iterable[str], start: dt.datetime,
                        end: dt.datetime) -> list[RecommendationRow]:
        """Recommendations of the newest run per building for target hours in ``[start, end)``."""


NO_ORIGIN = dt.datetime(1, 1, 1, tzinfo=dt.UTC)  # ranks a row without an origin below all others


def forecast_rank(origin_time: dt.datetime | None, issue_time: dt.datetime, run_id: str) -> tuple:
    """Which of two forecasts for one hour wins: newest origin (the run's date), then issue, then run id.

    "Newest issue wins" alone let a re-run of day D-1 at 09:00 replace the 05:00 forecasts of day D;
    the origin says which day's information a forecast used, so it decides first.
    """
    return (origin_time or NO_ORIGIN, issue_time, run_id)


def newest_per_hour(rows: Iterable[ForecastPoint]) -> list[ForecastPoint]:
    """Keep, for each target hour, the point that ranks highest by :func:`forecast_rank`."""
    best: dict[dt.datetime, ForecastPoint] = {}
    for p in rows:
        cur = best.get(p.timestamp_hour)
        if cur is None or (forecast_rank(p.origin_time, p.issue_time, p.run_id)
                           > forecast_rank(cur.origin_time, cur.issue_time, cur.run_id)):
            best[p.timestamp_hour] = p
    return [best[h] for h in sorted(best)]


def aggregate_hour(hour: dt.datetime, points: Sequence[ForecastPoint]) -> PortfolioPoint:
    """Sum buildings' newest points for one hour (interval rule in :class:`PortfolioPoint`)."""
    yhat = sum(p.yhat for p in points)
    lo_sq = sum((p.yhat - p.yhat_lower) ** 2 for p in points)
    hi_sq = sum((p.yhat_upper - p.yhat) ** 2 for p in points)
    return PortfolioPoint(
        timestamp_hour=hour, buildings=len(points), yhat=yhat,
        yhat_lower=yhat - math.sqrt(lo_sq), yhat_upper=yhat + math.sqrt(hi_sq),
        yhat_lower_comonotonic=sum(p.yhat_lower for p in points),
        yhat_upper_comonotonic=sum(p.yhat_upper for p in points),
    )


def aggregate(points_by_building: dict[str, list[ForecastPoint]]) -> list[PortfolioPoint]:
    """Portfolio aggregate from per-building newest points (backends without SQL aggregation)."""
    by_hour: dict[dt.datetime, list[ForecastPoint]] = {}
    for points in points_by_building.values():
        for p in newest_per_hour(points):
            by_hour.setdefault(p.timestamp_hour, []).append(p)
    return [aggregate_hour(h, by_hour[h]) for h in sorted(by_hour)]


def newest_run_recommendations(rows: Iterable[RecommendationRow]) -> list[RecommendationRow]:
    """Per building, keep only the recommendations of its newest run (by issue time, then run id)."""
    rows = list(rows)
    newest: dict[str, tuple[dt.datetime, str]] = {}
    for r in rows:
        key = (r.issue_time, r.run_id)
        if r.building_id not in newest or key > newest[r.building_id]:
            newest[r.building_id] = key
    kept = [r for r in rows if (r.issue_time, r.run_id) == newest[r.building_id]]
    return sorted(kept, key=lambda r: (r.timestamp_hour, r.building_id, r.kind, r.action))


class RunStream:
    """Validate one run's rows as they stream past, in bounded memory, and count them.

    Each row is checked when it passes (fields, run id). Duplicated keys need every key seen; a set of
    1.44 million tuples would cost more than the load has, so 64-bit hashes of the keys are collected
    in compact arrays and checked by :meth:`check_duplicates` before the write is committed. (Two
    different keys sharing a hash would be reported as a duplicate: odds about 1e-7 at 1.44 M rows.)
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = check_run_id(run_id)
        self.forecasts = 0
        self.recommendations = 0
        self._hashes: dict[str, list] = {"forecast": [], "recommendation": []}
        self._buffer: dict[str, list[int]] = {"forecast": [], "recommendation": []}

    def _note(self, kind: str, key: tuple) -> None:
        buf = self._buffer[kind]
        buf.append(hash(key))
        if len(buf) >= 65_536:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
        import numpy as np

        if self._buffer[kind]:
            self._hashes[kind].append(np.asarray(self._buffer[kind], dtype=np.int64))
            self._buffer[kind] = []

    def forecast_rows(self, rows: Iterable[ForecastRow]) -> Iterator[ForecastRow]:
        for row in rows:
            row.validated()
            if row.run_id != self.run_id:
                raise InvalidValueError(f"forecast row carries run_id {row.run_id!r}, expected {self.run_id!r}")
            self._note("forecast", (row.building_id, row.series, row.timestamp_hour))
            self.forecasts += 1
            yield row

    def recommendation_rows(self, rows: Iterable[RecommendationRow] | None) -> Iterator[RecommendationRow]:
        for rec in rows or ():
            rec.validated()
            if rec.run_id != self.run_id:
                raise InvalidValueError(f"recommendation row carries run_id {rec.run_id!r}, expected {self.run_id!r}")
            self._note("recommendation", (rec.building_id, rec.kind, rec.timestamp_hour, rec.action))
            self.recommendations += 1
            yield rec

    def check_duplicates(self) -> None:
        """Raise when a key occurred twice in the run (call after the rows were consumed, before committing)."""
        import numpy as np

        for kind in self._hashes:
            self._flush(kind)
            if not self._hashes[kind]:
                continue
            hashes = np.sort(np.concatenate(self._hashes[kind]))
            repeats = int(np.count_nonzero(hashes[1:] == hashes[:-1]))
            if repeats:
                raise InvalidValueError(f"{repeats} duplicate {kind} key(s) in run {self.run_id} "
                                        "(a building, series/kind and hour may appear once per run)")


def validate_run(run_id: str, forecasts: Sequence[ForecastRow],
                 recommendations: Sequence[RecommendationRow] | None) -> None:
    """Every row valid and belonging to ``run_id``; duplicates within a run are refused (lists in memory)."""
    check_run_id(run_id)
    seen: set[tuple] = set()
    for row in forecasts:
        row.validated()
        if row.run_id != run_id:
            raise InvalidValueError(f"forecast row carries run_id {row.run_id!r}, expected {run_id!r}")
        key = (row.building_id, row.series, row.timestamp_hour)
        if key in seen:
            raise InvalidValueError(f"duplicate forecast for {row.building_id} {row.series} "
                                    f"{iso_z(row.timestamp_hour)} in run {run_id}")
        seen.add(key)
    seen.clear()
    for rec in recommendations or ():
        rec.validated()
        if rec.run_id != run_id:
            raise InvalidValueError(f"recommendation row carries run_id {rec.run_id!r}, expected {run_id!r}")
        key = (rec.building_id, rec.kind, rec.timestamp_hour, rec.action)
        if key in seen:
            raise InvalidValueError(f"duplicate recommendation {key} in run {run_id}")
        seen.add(key)
