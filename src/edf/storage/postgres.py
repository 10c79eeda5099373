"""RDS PostgreSQL forecast store (psycopg 3).

* Schema: created idempotently (``CREATE ... IF NOT EXISTS``) in its own schema, so the load
  Lambda can run it on every cold start.
* Writes: one transaction per run. Rows are ``COPY``-ed into a temporary staging table and
  upserted with ``INSERT ... ON CONFLICT DO UPDATE`` (fast for 100k rows, still a real upsert);
  every upserted row carries the write's id, and the run's rows with another write id — rows an
  earlier write of the run had that this one does not — are deleted in the same transaction.
* Reads: parameterised queries only (``%s`` placeholders; identifiers are validated and quoted
  with ``psycopg.sql``). ``DISTINCT ON (hour) ... ORDER BY hour, origin_time DESC NULLS LAST,
  issue_time DESC, run_id DESC`` picks the forecast of the newest origin, then issue, per target hour
  (:func:`edf.storage.base.forecast_rank`), served by the index ``(building_id, series,
  timestamp_hour, issue_time)``; the portfolio aggregate is computed in SQL.
* Topology: ``buildings`` holds each building's current grid area and the rank (origin, issue) of
  the run that set it; a run only moves a building when it ranks at least as high, so a late re-run
  of an older day does not move it back. The portfolio takes each building's newest forecast per
  hour *before* filtering by area (a building that moved is counted once, in the area of the
  chosen forecast); recommendations keep only buildings whose current area is asked for.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from edf.storage.base import (
    BuildingInfo,
    ForecastPoint,
    ForecastRow,
    PortfolioPoint,
    RecommendationRow,
    RunStream,
    StoreError,
    WriteResult,
    check_building_id,
    check_grid_area,
    check_range,
    check_series,
    newest_run_recommendations,
)
from edf.storage.pg_roles import SecretDsn, is_auth_failure, resolve_ca_bundle, secrets_manager_loader

log = logging.getLogger(__name__)

DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.forecasts (
    building_id    text NOT NULL,
    series         text NOT NULL CHECK (series IN ('consumption', 'solar')),
    timestamp_hour timestamptz NOT NULL,
    run_id         text NOT NULL,
    grid_area      text NOT NULL,
    issue_time     timestamptz NOT NULL,
    origin_time    timestamptz,
    lead_hours     integer,
    yhat           double precision NOT NULL,
    yhat_lower     double precision NOT NULL,
    yhat_upper     double precision NOT NULL,
    strategy       text NOT NULL DEFAULT '',
    model_version  text NOT NULL,
    write_id       uuid NOT NULL,
    PRIMARY KEY (building_id, series, timestamp_hour, run_id)
);
CREATE INDEX IF NOT EXISTS forecasts_newest_idx
    ON {schema}.forecasts (building_id, series, timestamp_hour, issue_time DESC);
CREATE INDEX IF NOT EXISTS forecasts_area_idx
    ON {schema}.forecasts (grid_area, series, timestamp_hour);
CREATE INDEX IF NOT EXISTS forecasts_run_idx ON {schema}.forecasts (run_id);
ALTER TABLE {schema}.forecasts ADD COLUMN IF NOT EXISTS weather_source text NOT NULL DEFAULT 'unknown';
CREATE TABLE IF NOT EXISTS {schema}.recommendations (
    run_id                 text NOT NULL,
    building_id            text NOT NULL,
    kind                   text NOT NULL,
    timestamp_hour         timestamptz NOT NULL,
    action                 text NOT NULL,
    grid_area              text NOT NULL,
    kw                     double precision NOT NULL,
    expected_reduction_kwh double precision NOT NULL,
    expected_saving        double precision NOT NULL,
    issue_time             timestamptz NOT NULL,
    write_id               uuid NOT NULL,
    PRIMARY KEY (run_id, building_id, kind, timestamp_hour, action)
);
CREATE INDEX IF NOT EXISTS recommendations_area_idx
    ON {schema}.recommendations (grid_area, timestamp_hour);
CREATE TABLE IF NOT EXISTS {schema}.buildings (
    building_id text PRIMARY KEY,
    grid_area   text NOT NULL,
    series      text[] NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS buildings_area_idx ON {schema}.buildings (grid_area);
ALTER TABLE {schema}.buildings ADD COLUMN IF NOT EXISTS origin_time timestamptz;
ALTER TABLE {schema}.buildings ADD COLUMN IF NOT EXISTS issue_time timestamptz;
"""

# A building's current area comes from its newest-origin run: a run ranking lower (a late re-run of
# an older day) adds its series but leaves the area and rank alone.
BUILDINGS_UPSERT = (
    "INSERT INTO {schema}.buildings (building_id, grid_area, series, updated_at, origin_time, issue_time) "
    "SELECT building_id, min(grid_area), array_agg(DISTINCT series ORDER BY series), now(), max(origin_time), "
    "max(issue_time) FROM stage_f GROUP BY building_id "
    "ON CONFLICT (building_id) DO UPDATE SET "
    "grid_area = CASE WHEN {newer} THEN EXCLUDED.grid_area ELSE buildings.grid_area END, "
    "origin_time = CASE WHEN {newer} THEN EXCLUDED.origin_time ELSE buildings.origin_time END, "
    "issue_time = CASE WHEN {newer} THEN EXCLUDED.issue_time ELSE buildings.issue_time END, "
    "series = ARRAY(SELECT DISTINCT unnest(buildings.series || EXCLUDED.series) ORDER BY 1), "
    "updated_at = EXCLUDED.updated_at").replace(
    "{newer}", "(coalesce(EXCLUDED.origin_time, '-infinity'), coalesce(EXCLUDED.issue_time, '-infinity')) >= "
    "(coalesce(buildings.origin_time, '-infinity'), coalesce(buildings.issue_time, '-infinity'))")
NEWEST_ORDER = "origin_time DESC NULLS LAST, issue_time DESC, run_id DESC"

F_COLS = ("building_id", "series", "timestamp_hour", "run_id", "grid_area", "issue_time", "origin_time",
          "lead_hours", "yhat", "yhat_lower", "yhat_upper", "strategy", "model_version", "write_id",
          "weather_source")
R_COLS = ("run_id", "building_id", "kind", "timestamp_hour", "action", "grid_area", "kw",
          "expected_reduction_kwh", "expected_saving", "issue_time", "write_id")


def dsn_provider_from_config(cfg: Any) -> str | SecretDsn:
    """Env DSN (local/tests) as is; else a provider reading the role's Secrets Manager secret.

    The secret id comes from env ``EDF_PG_SECRET_ID`` (Terraform sets the reader secret on the API
    Lambdas, the writer secret on the load) or ``edf_storage.postgres.secret_id``. TLS is
    ``sslmode``/``sslrootcert`` from the config (verify-full with the RDS CA bundle in AWS).
    """
    pg = cfg.edf_storage.postgres
    env_dsn = os.environ.get(pg.dsn_env)
    if env_dsn:
        return env_dsn
    base: dict[str, Any] = {"host": pg.host, "port": pg.port, "dbname": pg.dbname, "user": pg.user,
                            "sslmode": pg.sslmode, "connect_timeout": pg.connect_timeout_seconds}
    if pg.sslmode in ("verify-ca", "verify-full"):
        base["sslrootcert"] = resolve_ca_bundle(pg.sslrootcert)
    secret_id = os.environ.get("EDF_PG_SECRET_ID") or pg.secret_id
    return SecretDsn(base, secrets_manager_loader(secret_id) if secret_id else None)


def dsn_from_config(cfg: Any) -> str:
    """libpq connection string: env DSN (local/tests), else Secrets Manager credentials, else config."""
    source = dsn_provider_from_config(cfg)
    return source if isinstance(source, str) else source()


class PostgresForecastStore:
    """:class:`edf.storage.base.ForecastStore` on PostgreSQL (RDS in AWS, a local server in tests)."""

    backend = "RDS"

    def __init__(self, dsn: str | Callable[..., str], schema: str = "edf"):
        import psycopg
        from psycopg import sql

        self._psycopg, self._sql = psycopg, sql
        # A callable is asked for the DSN at the first connection and again, with refresh=True,
        # after an authentication failure (a rotated secret); a string is used as is.
        self._dsn_source = dsn
        self.schema = sql.Identifier(schema)
        self._conn: Any = None

    @property
    def dsn(self) -> str:
        source = self._dsn_source
        return source if isinstance(source, str) else source()

    # Lambda containers are reused: keep one connection and reopen it when it broke.
    @property
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.dsn, autocommit=True)
        except self._psycopg.OperationalError as exc:
            if isinstance(self._dsn_source, str) or not is_auth_failure(exc):
                raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from None
            log.warning("PostgreSQL rejected the cached credentials; re-reading the secret (rotation)")
        try:
            return self._psycopg.connect(self._dsn_source(refresh=True), autocommit=True)
        except self._psycopg.OperationalError as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}".strip()) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def _q(self, text: str, **parts: Any) -> Any:
        return self._sql.SQL(text).format(schema=self.schema, **parts)

    def ensure_schema(self, create: bool = True) -> None:
        # Idempotent DDL: always safe to run; `create` is accepted for protocol symmetry. The
        # least-privilege roles (edf.storage.pg_roles) may not run DDL: for them the schema the
        # bootstrap created must exist, which a zero-row read of each table proves.
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(hashtext('edf_forecast_schema'))")
                for statement in DDL.split(";"):
                    if statement.strip():
                        cur.execute(self._q(statement))
        except self._psycopg.errors.InsufficientPrivilege:
            try:
                with self.conn.cursor() as cur:
                    for table in ("forecasts", "recommendations", "buildings"):
                        cur.execute(self._q("SELECT 1 FROM {schema}.{t} LIMIT 0", t=self._sql.Identifier(table)))
            except self._psycopg.Error as exc:
                raise StoreError(f"the forecast schema is missing or unreadable for this role; run the "
                                 f"db_bootstrap Lambda: {exc}".strip()) from None

    def write_run(self, run_id: str, forecasts: Iterable[ForecastRow],
                  recommendations: Iterable[RecommendationRow] | None = None) -> WriteResult:
        """Stream the rows into staging tables with COPY, then swap the run in one transaction."""
        stream = RunStream(run_id)
        write_id = uuid.uuid4()
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(self._q("CREATE TEMP TABLE stage_f (LIKE {schema}.forecasts INCLUDING DEFAULTS) ON COMMIT DROP"))
            with cur.copy(self._q("COPY stage_f ({cols}) FROM STDIN",
                    cols=self._sql.SQL(", ").join(map(self._sql.Identifier, F_COLS)))) as copy:
                for r in stream.forecast_rows(forecasts):
                    copy.write_row((r.building_id, r.series, r.timestamp_hour, r.run_id, r.grid_area, r.issue_time,
                                    r.origin_time, r.lead_hours, r.yhat, r.yhat_lower, r.yhat_upper, r.strategy,
                                    r.model_version, write_id, r.weather_source))
            updates = self._sql.SQL(", ").join(
                self._sql.SQL("{c} = EXCLUDED.{c}").format(c=self._sql.Identifier(c))
                for c in F_COLS if c not in ("building_id", "series", "timestamp_hour", "run_id"))
            cur.execute(self._q(
                "INSERT INTO {schema}.forecasts SELECT * FROM stage_f "
                "ON CONFLICT (building_id, series, timestamp_hour, run_id) DO UPDATE SET {updates}", updates=updates))
            cur.execute(self._q("DELETE FROM {schema}.forecasts WHERE run_id = %s AND write_id <> %s"),
                        (run_id, write_id))
            f_removed = cur.rowcount
            cur.execute(self._q("CREATE TEMP TABLE stage_r (LIKE {schema}.recommendations) ON COMMIT DROP"))
            with cur.copy(self._q("COPY stage_r ({cols}) FROM STDIN",
                    cols=self._sql.SQL(", ").join(map(self._sql.Identifier, R_COLS)))) as copy:
                for r in stream.recommendation_rows(recommendations):
                    copy.write_row((r.run_id, r.building_id, r.kind, r.timestamp_hour, r.action, r.grid_area, r.kw,
                                    r.expected_reduction_kwh, r.expected_saving, r.issue_time, write_id))
            updates = self._sql.SQL(", ").join(
                self._sql.SQL("{c} = EXCLUDED.{c}").format(c=self._sql.Identifier(c))
                for c in R_COLS if c not in ("run_id", "building_id", "kind", "timestamp_hour", "action"))
            cur.execute(self._q(
                "INSERT INTO {schema}.recommendations SELECT * FROM stage_r "
                "ON CONFLICT (run_id, building_id, kind, timestamp_hour, action) DO UPDATE SET {updates}", updates=updates))
            cur.execute(self._q("DELETE FROM {schema}.recommendations WHERE run_id = %s AND write_id <> %s"),
                        (run_id, write_id))
            r_removed = cur.rowcount
            cur.execute(self._q(BUILDINGS_UPSERT))
            stream.check_duplicates()  # before the commit: a run with duplicated keys is rolled back whole
        return WriteResult(forecasts_written=stream.forecasts, recommendations_written=stream.recommendations,
                           backend=self.backend, forecasts_removed=max(f_removed, 0),
                           recommendations_removed=max(r_removed, 0), calls=1)

    # ---------------------------------------------------------------- reads
    def _rows(self, query: str, params: Sequence[Any]) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(self._q(query), params)
            return cur.fetchall()

    def get_building(self, building_id: str) -> BuildingInfo | None:
        check_building_id(building_id)
        rows = self._rows("SELECT building_id, grid_area, series FROM {schema}.buildings WHERE building_id = %s",
                          (building_id,))
        return BuildingInfo(rows[0][0], rows[0][1], tuple(rows[0][2])) if rows else None

    def list_buildings(self, grid_areas: Iterable[str]) -> list[BuildingInfo]:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        rows = self._rows("SELECT building_id, grid_area, series FROM {schema}.buildings "
                          "WHERE grid_area = ANY(%s) ORDER BY building_id", (areas,))
        return [BuildingInfo(b, a, tuple(s)) for b, a, s in rows]

    def building_series(self, building_id: str, series: str, start: dt.datetime,
                        end: dt.datetime) -> list[ForecastPoint]:
        check_building_id(building_id)
        check_series(series)
        start, end = check_range(start, end)
        rows = self._rows(
            "SELECT DISTINCT ON (timestamp_hour) timestamp_hour, yhat, yhat_lower, yhat_upper, issue_time, "
            "model_version, run_id, origin_time, weather_source FROM {schema}.forecasts "
            "WHERE building_id = %s AND series = %s AND timestamp_hour >= %s AND timestamp_hour < %s "
            f"ORDER BY timestamp_hour, {NEWEST_ORDER}", (building_id, series, start, end))
        return [ForecastPoint(h.astimezone(dt.UTC), y, lo, hi, it.astimezone(dt.UTC), mv, r,
                              ot.astimezone(dt.UTC) if ot is not None else None, ws)
                for h, y, lo, hi, it, mv, r, ot, ws in rows]

    def portfolio_series(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                         end: dt.datetime) -> list[PortfolioPoint]:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        check_series(series)
        start, end = check_range(start, end)
        # newest forecast per building and hour over *all* its areas, then the area filter: a building
        # that moved is counted once, in the area of the forecast that wins the hour
        rows = self._rows(
            "WITH cand AS (SELECT DISTINCT building_id FROM {schema}.forecasts WHERE grid_area = ANY(%s) "
            "AND series = %s AND timestamp_hour >= %s AND timestamp_hour < %s), "
            "newest AS (SELECT DISTINCT ON (building_id, timestamp_hour) grid_area, timestamp_hour, yhat, yhat_lower, "
            "yhat_upper FROM {schema}.forecasts WHERE building_id IN (SELECT building_id FROM cand) AND series = %s "
            "AND timestamp_hour >= %s AND timestamp_hour < %s "
            f"ORDER BY building_id, timestamp_hour, {NEWEST_ORDER}) "
            "SELECT timestamp_hour, count(*), sum(yhat), sum(yhat) - sqrt(sum((yhat - yhat_lower) ^ 2)), "
            "sum(yhat) + sqrt(sum((yhat_upper - yhat) ^ 2)), sum(yhat_lower), sum(yhat_upper) "
            "FROM newest WHERE grid_area = ANY(%s) GROUP BY timestamp_hour ORDER BY timestamp_hour",
            (areas, series, start, end, series, start, end, areas))
        return [PortfolioPoint(h.astimezone(dt.UTC), int(n), y, lo, hi, clo, chi)
                for h, n, y, lo, hi, clo, chi in rows]

    def recommendations(self, grid_areas: Iterable[str], start: dt.datetime,
                        end: dt.datetime) -> list[RecommendationRow]:
        areas = sorted({check_grid_area(a) for a in grid_areas})
        start, end = check_range(start, end)
        rows = self._rows(
            "SELECT r.building_id, r.grid_area, kind, timestamp_hour, action, kw, expected_reduction_kwh, "
            "expected_saving, run_id, r.issue_time FROM {schema}.recommendations r "
            "JOIN {schema}.buildings b ON b.building_id = r.building_id AND b.grid_area = ANY(%s) "
            "WHERE r.grid_area = ANY(%s) AND timestamp_hour >= %s AND timestamp_hour < %s",
            (areas, areas, start, end))
        return newest_run_recommendations(
            RecommendationRow(b, a, k, h.astimezone(dt.UTC), ac, kw, red, sav, r, it.astimezone(dt.UTC))
            for b, a, k, h, ac, kw, red, sav, r, it in rows)
