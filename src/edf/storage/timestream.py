"""Amazon Timestream for LiveAnalytics forecast store.

Timestream rejects records more than 15 minutes in the future, and forecasts are future values.
So a record's *time is its issue time* and the target hour travels twice: as the ``target_time``
TIMESTAMP measure (what range predicates use) and as the ``target_hour`` dimension (Timestream
identifies a record by dimensions + time + measure name; all 72 hours of one run share the issue
time, so without a per-hour dimension they would be one record overwriting itself). Records are
multi-measure (``yhat``, ``yhat_lower``, ``yhat_upper``, ``target_time``, ``origin_time``,
``model_version``, ``strategy``, ``weather_source``), one per building, series and target hour. ``origin_time`` (the
run's forecast origin; omitted when unknown) decides first which forecast wins an hour
(:func:`edf.storage.base.forecast_rank`), and a building's current grid area is the area of its
newest-origin records: the portfolio picks each building's winning record per hour before the
area filter, and ``list_buildings``/``get_building``/``recommendations`` follow the current area.

Writes go through awswrangler, one call per chunk of at most 100 records (the ``WriteRecords``
limit; 10,000 rows -> 100 calls, the floor), chunks in a small thread pool. awswrangler retries
throttling itself and *returns* rejected records instead of raising; this module maps each
rejection back to its row, retries the transient ones and raises :class:`RejectedRecordsError`
with counts and reasons for the rest — nothing is dropped silently.

Atomic loads (issue 14, item 8). Timestream cannot delete records, so a write never replaces
another's: every record carries the write's ``write_id`` (a random id, a *dimension*, so a re-write
of a run creates new records beside the old ones), and after all of them are written one more
single-record ``WriteRecords`` adds the run's *commit record* (measure name ``commit``, dimension
``run_id``, measures ``committed_write_id``, ``committed_at``, counts) to the forecasts table. Every
read keeps only records whose ``write_id`` is the ``committed_write_id`` of its run's newest commit
(``max_by(committed_write_id, committed_at)``, a subquery in the same statement, so no extra call).
Until the commit record lands readers see the previous write whole; a failed write is never read,
and a re-write with fewer rows hides the rows it dropped. Superseded records stay until the
table's retention removes them (storage, not correctness). The commit record lives in the
forecasts table rather than in DynamoDB/SSM/S3 so the API reads it in the same query and needs no
other service or permission; its time rules are in :meth:`TimestreamForecastStore._commit`.

Queries: Timestream has no bind parameters, so every literal is checked against a strict pattern
(:func:`_lit`) or produced from a validated ``datetime`` before it is put in the text; identifiers
come from the config and are checked too. The read path uses boto3's ``timestream-query`` client
directly (no pandas/awswrangler on the API Lambdas' hot path).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edf.data.outputs import WEATHER_SOURCE_UNKNOWN
from edf.storage.base import (
    BuildingInfo,
    ForecastPoint,
    ForecastRow,
    PortfolioPoint,
    RecommendationRow,
    RejectedRecordsError,
    RunStream,
    StoreError,
    WriteResult,
    check_building_id,
    check_grid_area,
    check_range,
    check_series,
    iso_z,
    newest_run_recommendations,
)

log = logging.getLogger(__name__)
MAX_RECORDS_PER_CALL = 100
WRITE_CHUNK_ROWS = 10_000  # rows turned into records at a time (bounded memory; 100 calls of 100)
_IDENT_RE = re.compile(r"^[A-Za-z0-9_.-]{3,256}$")
_LITERAL_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_TRANSIENT = ("throttl", "internal", "timeout", "timed out", "try again", "unavailable")
F_DIMS = ["building_id", "grid_area", "series", "target_hour", "run_id", "write_id"]
F_MEASURES = ["target_time", "origin_time", "yhat", "yhat_lower", "yhat_upper", "model_version", "strategy",
              "weather_source"]
# Which record wins a target hour: newest origin, then issue (record time), then run id.
NEWEST_ORDER = "origin_time DESC NULLS LAST, time DESC, run_id DESC"
R_DIMS = ["building_id", "grid_area", "kind", "action", "target_hour", "run_id", "write_id"]
R_MEASURES = ["target_time", "kw", "expected_reduction_kwh", "expected_saving"]
# The commit record (one per run and commit time, in the forecasts table): the run's committed write.
C_DIMS = ["run_id"]
C_MEASURES = ["committed_write_id", "committed_at", "forecasts", "recommendations"]


def _lit(value: str) -> str:
    """A string literal for Timestream SQL, only from values that cannot carry SQL."""
    if not isinstance(value, str) or not _LITERAL_RE.fullmatch(value):
        raise StoreError(f"refusing to put {value!r} into a Timestream query")
    return f"'{value}'"


def _ts(value: dt.datetime) -> str:
    return f"from_iso8601_timestamp('{iso_z(value)}')"


def _ident(value: str) -> str:
    if not _IDENT_RE.fullmatch(value):
        raise StoreError(f"invalid Timestream database/table name {value!r}")
    return f'"{value}"'


def is_transient(reason: str) -> bool:
    return any(word in reason.lower() for word in _TRANSIENT)


def _parse_time(text: str) -> dt.datetime:
    # Timestream returns "2026-11-21 05:00:00.000000000"
    return dt.datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)


class TimestreamForecastStore:
    """:class:`edf.storage.base.ForecastStore` on Timestream (write: awswrangler, read: boto3)."""

    backend = "TIMESTREAM"

    def __init__(self, database: str, table: str, recommendations_table: str, *, max_lead_hours: int = 168,
                 retention_days: int = 90, threads: int = 4, max_retries: int = 3,
                 boto3_session: Any | None = None, query_client: Any | None = None):
        import boto3

        self.database, self.table, self.rec_table = database, table, recommendations_table
        for name in (database, table, recommendations_table):
            _ident(name)
        self.max_lead = dt.timedelta(hours=max_lead_hours)
        self.retention_days = retention_days
        self.threads, self.max_retries = threads, max_retries
        self.session = boto3_session or boto3.Session()
        self._query_client = query_client
        self.sleep: Callable[[float], None] = time.sleep

    @property
    def query_client(self) -> Any:
        if self._query_client is None:
            self._query_client = self.session.client("timestream-query")
        return self._query_client

    # ---------------------------------------------------------------- schema
    def ensure_schema(self, create: bool = False) -> None:
        client = self.session.client("timestream-write")
        try:
            client.describe_database(DatabaseName=self.database)
        except client.exceptions.ResourceNotFoundException:
            if not create:
                raise StoreError(f"Timestream database {self.database!r} does not exist") from None
            client.create_database(DatabaseName=self.database)
        for table in (self.table, self.rec_table):
            try:
                client.describe_table(DatabaseName=self.database, TableName=table)
            except client.exceptions.ResourceNotFoundException:
                if not create:
                    raise StoreError(f"Timestream table {self.database}.{table} does not exist") from None
                client.create_table(DatabaseName=self.database, TableName=table, RetentionProperties={
                    "MemoryStoreRetentionPeriodInHours": 24 * 7,
                    "MagneticStoreRetentionPeriodInDays": self.retention_days})

    # ---------------------------------------------------------------- writes
    def _write_chunk(self, table: str, rows: list[dict[str, Any]], dims: list[str], measures: list[str],
                     measure_name: str, version: int) -> list[dict[str, Any]]:
        """One WriteRecords call via awswrangler; returns rejections as dicts with the row attached."""
        import awswrangler as wr
        import pandas as pd

        df = pd.DataFrame(rows, columns=["issue_time", *measures, *dims])
        for col in ("issue_time", "target_time", "origin_time", "committed_at"):
            if col in df.columns:
                df[col] = pd.to_datetime(df[col], utc=True).dt.tz_localize(None)
        rejected = wr.timestream.write(
            df=df, database=self.database, table=table, time_col="issue_time", measure_col=measures,
            dimensions_cols=dims, measure_name=measure_name, version=version, use_threads=False,
            boto3_session=self.session)
        out = []
        for rej in rejected or []:
            index = int(rej.get("RecordIndex", -1))
            out.append({"reason": str(rej.get("Reason", "unknown")),
                        "row": rows[index] if 0 <= index < len(rows) else None})
        return out

    def _write_rows(self, table: str, rows: list[dict[str, Any]], dims: list[str], measures: list[str],
                    measure_name: str, version: int) -> tuple[int, int]:
        """Write in ≤100-record calls; retry transient rejections; raise on the rest. Returns (rows, calls)."""
        calls = 0
        pending = rows
        permanent: list[dict[str, Any]] = []
        for attempt in range(self.max_retries + 1):
            chunks = [pending[i:i + MAX_RECORDS_PER_CALL] for i in range(0, len(pending), MAX_RECORDS_PER_CALL)]
            calls += len(chunks)
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                results = list(pool.map(
                    lambda chunk: self._write_chunk(table, chunk, dims, measures, measure_name, version), chunks))
            rejections = [r for chunk_result in results for r in chunk_result]
            transient = [r for r in rejections if is_transient(r["reason"]) and r["row"] is not None]
            permanent += [r for r in rejections if not (is_transient(r["reason"]) and r["row"] is not None)]
            pending = [r["row"] for r in transient]
            if not pending:
                break
            if attempt < self.max_retries:
                delay = min(5.0, 0.2 * 2 ** attempt)
                log.warning("Timestream rejected %d record(s) transiently; retry %d in %.1fs",
                            len(pending), attempt + 1, delay)
                self.sleep(delay)
        else:
            permanent += [{"reason": "still rejected after retries (transient)", "row": r} for r in pending]
        if permanent:
            reasons: dict[str, int] = {}
            for r in permanent:
                reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
            examples = [{"reason": r["reason"], **{k: str(v) for k, v in (r["row"] or {}).items()
                                                   if k in ("building_id", "series", "target_hour", "run_id")}}
                        for r in permanent[:5]]
            raise RejectedRecordsError(len(permanent), len(rows), reasons, examples)
        return len(rows), calls

    def _write_stream(self, table: str, rows: Iterator[dict[str, Any]], dims: list[str], measures: list[str],
                      measure_name: str, version: int) -> tuple[int, int]:
        """Write rows in chunks of WRITE_CHUNK_ROWS (each in <= 100-record calls): memory bounded by the chunk."""
        written = calls = 0
        while chunk := list(itertools.islice(rows, WRITE_CHUNK_ROWS)):
            n, c = self._write_rows(table, chunk, dims, measures, measure_name, version)
            written, calls = written + n, calls + c
        return written, calls

    def write_run(self, run_id: str, forecasts: Iterable[ForecastRow],
                  recommendations: Iterable[RecommendationRow] | None = None) -> WriteResult:
        """Write the run's records under a new ``write_id``, then its commit record naming that write.

        Records cannot be deleted, so a write never touches an earlier one's records: readers follow
        the run's newest commit record, so until it lands they see the previous write whole, and a
        failed write stays invisible (its records age out with the table's retention).
        """
        stream, write_id = RunStream(run_id), uuid.uuid4().hex
        version = int(time.time() * 1000)
        newest: list[dt.datetime] = []

        def f_rows() -> Iterator[dict[str, Any]]:
            for r in stream.forecast_rows(forecasts):
                if not newest or r.issue_time > newest[0]:
                    newest[:] = [r.issue_time]
                yield {"issue_time": r.issue_time, "target_time": r.timestamp_hour, "origin_time": r.origin_time,
                       "yhat": float(r.yhat), "yhat_lower": float(r.yhat_lower), "yhat_upper": float(r.yhat_upper),
                       "model_version": r.model_version or "unknown", "strategy": r.strategy or "unknown",
                       "building_id": r.building_id, "grid_area": r.grid_area, "series": r.series,
                       "target_hour": iso_z(r.timestamp_hour), "run_id": r.run_id, "write_id": write_id,
                       "weather_source": r.weather_source}

        r_rows = ({"issue_time": r.issue_time, "target_time": r.timestamp_hour, "kw": float(r.kw),
                   "expected_reduction_kwh": float(r.expected_reduction_kwh),
                   "expected_saving": float(r.expected_saving), "building_id": r.building_id,
                   "grid_area": r.grid_area, "kind": r.kind, "action": r.action,
                   "target_hour": iso_z(r.timestamp_hour), "run_id": r.run_id, "write_id": write_id}
                  for r in stream.recommendation_rows(recommendations))
        nf, calls = self._write_stream(self.table, f_rows(), F_DIMS, F_MEASURES, "forecast", version)
        nr, calls_r = self._write_stream(self.rec_table, r_rows, R_DIMS, R_MEASURES, "recommendation", version)
        stream.check_duplicates()
        self._commit(run_id, write_id, stream, newest[0] if newest else None)
        return WriteResult(forecasts_written=nf, recommendations_written=nr, backend=self.backend,
                           calls=calls + calls_r + 1)

    def _commit(self, run_id: str, write_id: str, stream: RunStream, newest: dt.datetime | None) -> None:
        """One single-record WriteRecords: the moment the run changes for readers.

        The record's time is the run's newest issue time, never earlier than the run's previous commit
        record: every record a read window can meet was issued before its run's commit time, so a
        read bounds its commit lookup by its own issue window (``time >= start - max_lead``), and the
        newest commit of a run is always inside that bound when an older one is. A second commit at the
        same time replaces the first (same dimensions and time, higher ``Version``).
        """
        now = dt.datetime.now(dt.UTC)
        last = self.query(f"SELECT max(time) AS t FROM {self._from(self.table)} WHERE measure_name = 'commit'"
                          f" AND run_id = {_lit(run_id)} AND {self._recent()}")
        previous = _parse_time(last[0]["t"]) if last and last[0].get("t") else None
        at = max((t for t in (newest, previous) if t is not None), default=now)
        row = {"issue_time": at, "committed_write_id": write_id, "committed_at": now,
               "forecasts": stream.forecasts, "recommendations": stream.recommendations, "run_id": run_id}
        self._write_rows(self.table, [row], C_DIMS, C_MEASURES, "commit", int(time.time() * 1000))

    # ---------------------------------------------------------------- reads
    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run a query (built by this class from validated values) and return rows as dicts."""
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"QueryString": sql}
        while True:
            resp = self.query_client.query(**kwargs)
            names = [c["Name"] for c in resp["ColumnInfo"]]
            for row in resp["Rows"]:
                out.append({n: self._datum(d) for n, d in zip(names, row["Data"], strict=True)})
            token = resp.get("NextToken")
            if not token:
                return out
            kwargs["NextToken"] = token

    @staticmethod
    def _datum(d: dict[str, Any]) -> Any:
        if d.get("NullValue"):
            return None
        if "ArrayValue" in d:
            return [TimestreamForecastStore._datum(x) for x in d["ArrayValue"]]
        return d.get("ScalarValue")

    def _from(self, table: str) -> str:
        return f"{_ident(self.database)}.{_ident(table)}"

    def _recent(self) -> str:
        return f"time >= ago({int(self.retention_days)}d)"

    def _committed(self, since: str) -> str:
        """Only records of their run's committed write: the write its newest commit record names.

        ``since`` bounds the commit records read (a read's own issue-time bound is valid: see
        :meth:`_commit`). Write ids are unique, so the run need not be matched too.
        """
        return (f"write_id IN (SELECT max_by(committed_write_id, committed_at) FROM {self._from(self.table)}"
                f" WHERE measure_name = 'commit' AND time >= {since} GROUP BY run_id)")

    def building_series_sql(self, building_id: str, series: str, start: dt.datetime, end: dt.datetime) -> str:
        check_building_id(building_id)
        check_series(series)
        start, end = check_range(start, end)
        return (
            "SELECT target_hour, yhat, yhat_lower, yhat_upper, time AS issue_time, model_version, run_id,"
            " origin_time, weather_source FROM ("
            " SELECT target_hour, yhat, yhat_lower, yhat_upper, time, model_version, run_id, origin_time, weather_source,"
            f" ROW_NUMBER() OVER (PARTITION BY target_hour ORDER BY {NEWEST_ORDER}) AS rn"
            f" FROM {self._from(self.table)} WHERE measure_name = 'forecast'"
            f" AND building_id = {_lit(building_id)} AND series = {_lit(series)}"
            f" AND time BETWEEN {_ts(start - self.max_lead)} AND {_ts(end)}"
            f" AND target_time >= {_ts(start)} AND target_time < {_ts(end)}"
            f" AND {self._committed(_ts(start - self.max_lead))}"
            ") WHERE rn = 1 ORDER BY target_hour")

    def building_series(self, building_id: str, series: str, start: dt.datetime,
                        end: dt.datetime) -> list[ForecastPoint]:
        rows = self.query(self.building_series_sql(building_id, series, start, end))
        return [ForecastPoint(dt.datetime.strptime(r["target_hour"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                              float(r["yhat"]), float(r["yhat_lower"]), float(r["yhat_upper"]),
                              _parse_time(r["issue_time"]), r["model_version"], r["run_id"],
                              _parse_time(r["origin_time"]) if r.get("origin_time") else None,
                              r.get("weather_source") or WEATHER_SOURCE_UNKNOWN) for r in rows]

    def portfolio_series_sql(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                             end: dt.datetime) -> str:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        if not areas:
            raise StoreError("portfolio query needs at least one grid area")
        check_series(series)
        start, end = check_range(start, end)
        in_areas = f"grid_area IN ({', '.join(_lit(a) for a in areas)})"
        window = (f"measure_name = 'forecast' AND series = {_lit(series)}"
                  f" AND time BETWEEN {_ts(start - self.max_lead)} AND {_ts(end)}"
                  f" AND target_time >= {_ts(start)} AND target_time < {_ts(end)}"
                  f" AND {self._committed(_ts(start - self.max_lead))}")
        # each candidate building's winning record per hour over all its areas, then the area filter:
        # a building that moved is counted once, in the area of the record that wins the hour
        return (
            "SELECT target_hour, count(*) AS n, sum(yhat) AS y,"
            " sum(yhat) - sqrt(sum(power(yhat - yhat_lower, 2))) AS lo,"
            " sum(yhat) + sqrt(sum(power(yhat_upper - yhat, 2))) AS hi,"
            " sum(yhat_lower) AS clo, sum(yhat_upper) AS chi FROM ("
            " SELECT building_id, grid_area, target_hour, yhat, yhat_lower, yhat_upper,"
            f" ROW_NUMBER() OVER (PARTITION BY building_id, target_hour ORDER BY {NEWEST_ORDER}) AS rn"
            f" FROM {self._from(self.table)} WHERE {window} AND building_id IN ("
            f" SELECT DISTINCT building_id FROM {self._from(self.table)} WHERE {window} AND {in_areas})"
            f") WHERE rn = 1 AND {in_areas} GROUP BY target_hour ORDER BY target_hour")

    def portfolio_series(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                         end: dt.datetime) -> list[PortfolioPoint]:
        rows = self.query(self.portfolio_series_sql(grid_areas, series, start, end))
        return [PortfolioPoint(dt.datetime.strptime(r["target_hour"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                               int(r["n"]), float(r["y"]), float(r["lo"]), float(r["hi"]), float(r["clo"]),
                               float(r["chi"])) for r in rows]

    def current_buildings_sql(self, candidates: str, areas: list[str] | None) -> str:
        """Buildings in ``candidates`` (a subquery of ids) with their *current* area (that of their
        newest-origin record) and series; only those currently in ``areas`` when given."""
        recent = f"measure_name = 'forecast' AND {self._recent()} AND {self._committed(f'ago({int(self.retention_days)}d)')}"
        keep = f" WHERE c.grid_area IN ({', '.join(_lit(a) for a in areas)})" if areas is not None else ""
        return (
            f"WITH recs AS (SELECT building_id, grid_area, series, origin_time, time, run_id"
            f" FROM {self._from(self.table)} WHERE {recent} AND building_id IN ({candidates})),"
            " cur AS (SELECT building_id, grid_area FROM (SELECT building_id, grid_area,"
            f" ROW_NUMBER() OVER (PARTITION BY building_id ORDER BY {NEWEST_ORDER}) AS rn FROM recs) WHERE rn = 1),"
            " kinds AS (SELECT building_id, array_agg(DISTINCT series) AS series FROM recs GROUP BY building_id)"
            " SELECT c.building_id AS building_id, c.grid_area AS grid_area, k.series AS series"
            f" FROM cur c JOIN kinds k ON c.building_id = k.building_id{keep} ORDER BY c.building_id")

    def list_buildings(self, grid_areas: Iterable[str]) -> list[BuildingInfo]:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        if not areas:
            return []
        candidates = (f"SELECT DISTINCT building_id FROM {self._from(self.table)} WHERE measure_name = 'forecast'"
                      f" AND {self._recent()} AND grid_area IN ({', '.join(_lit(a) for a in areas)})"
                      f" AND {self._committed(f'ago({int(self.retention_days)}d)')}")
        rows = self.query(self.current_buildings_sql(candidates, areas))
        return [BuildingInfo(r["building_id"], r["grid_area"], tuple(sorted(r["series"] or []))) for r in rows]

    def get_building(self, building_id: str) -> BuildingInfo | None:
        rows = self.query(self.current_buildings_sql(_lit(check_building_id(building_id)), None))
        if not rows:
            return None
        return BuildingInfo(rows[0]["building_id"], rows[0]["grid_area"], tuple(sorted(rows[0]["series"] or [])))

    def recommendations(self, grid_areas: Iterable[str], start: dt.datetime,
                        end: dt.datetime) -> list[RecommendationRow]:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        start, end = check_range(start, end)
        if not areas:
            return []
        in_areas = f"grid_area IN ({', '.join(_lit(a) for a in areas)})"
        window = (f"measure_name = 'recommendation' AND {in_areas}"
                  f" AND time BETWEEN {_ts(start - self.max_lead)} AND {_ts(end)}"
                  f" AND target_time >= {_ts(start)} AND target_time < {_ts(end)}"
                  f" AND {self._committed(_ts(start - self.max_lead))}")
        current = self.current_buildings_sql(
            f"SELECT DISTINCT building_id FROM {self._from(self.rec_table)} WHERE {window}", areas)
        # only buildings whose current area is asked for: one that moved away takes its rows along
        rows = self.query(
            "SELECT building_id, grid_area, kind, action, target_hour, kw, expected_reduction_kwh,"
            f" expected_saving, run_id, time AS issue_time FROM {self._from(self.rec_table)}"
            f" WHERE {window}")
        members = {r["building_id"] for r in self.query(current)} if rows else set()
        rows = [r for r in rows if r["building_id"] in members]
        return newest_run_recommendations(
            RecommendationRow(r["building_id"], r["grid_area"], r["kind"],
                              dt.datetime.strptime(r["target_hour"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC),
                              r["action"], float(r["kw"]), float(r["expected_reduction_kwh"]),
                              float(r["expected_saving"]), r["run_id"], _parse_time(r["issue_time"]))
            for r in rows)
