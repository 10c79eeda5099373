"""PostgreSQL store against a real server started by the fixture (initdb/pg_ctl)."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from store_contract import ISSUE1, T0, check_moved_building, check_origin_first, check_store

from edf.storage.postgres import PostgresForecastStore
from edf.storage.sample import synthetic_rows
from edf_local.postgres import start_local_postgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def pg():
    server = start_local_postgres()
    yield server
    server.stop()


@pytest.fixture
def store(pg, request):
    schema = "t_" + request.node.name.lower().replace("[", "_").replace("]", "")[:40]
    s = PostgresForecastStore(pg.dsn, schema=schema)
    yield s
    s.close()


def test_contract(store):
    check_store(store)


def test_schema_is_idempotent_and_indexed(store, pg):
    store.ensure_schema()
    store.ensure_schema()
    with psycopg.connect(pg.dsn) as conn:
        idx = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                          (store.schema.as_string(conn).strip('"'),))}
    assert {"forecasts_newest_idx", "forecasts_area_idx", "recommendations_area_idx"} <= idx


def test_rewrite_same_run_twice_no_duplicates(store, pg):
    store.ensure_schema()
    rows = synthetic_rows(["b-1"], "north", "run-1", ISSUE1, T0, 24)
    store.write_run("run-1", rows)
    store.write_run("run-1", rows)
    with psycopg.connect(pg.dsn) as conn:
        n = conn.execute(f"SELECT count(*) FROM {store.schema.as_string(conn)}.forecasts").fetchone()[0]
    assert n == 48


def test_injection_in_values_is_inert(store):
    store.ensure_schema()
    store.write_run("run-1", synthetic_rows(["b-1"], "north", "run-1", ISSUE1, T0, 4))
    from edf.storage.base import InvalidValueError

    with pytest.raises(InvalidValueError):
        store.building_series("b-1' OR '1'='1", "consumption", T0, T0 + dt.timedelta(hours=4))
    with pytest.raises(InvalidValueError):
        store.portfolio_series(["north'; DROP TABLE x; --"], "consumption", T0, T0 + dt.timedelta(hours=4))
    assert len(store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=4))) == 4


def test_rerun_of_an_older_day_does_not_hide_fresher_forecasts(store):
    check_origin_first(store)


def test_moved_building_follows_the_current_topology(store):
    check_moved_building(store)


def test_a_table_from_before_weather_sources_gains_the_column(store, pg):
    """Deployed databases predate weather_source: ensure_schema adds it; old rows read back as unknown."""
    from dataclasses import replace

    store.ensure_schema()
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        conn.execute(f"ALTER TABLE {store.schema.as_string(conn)}.forecasts DROP COLUMN weather_source")
    old = synthetic_rows(["b-old"], "north", "run-0", ISSUE1, T0, 2)
    with psycopg.connect(pg.dsn, autocommit=True) as conn:  # a row as the previous version wrote it
        r = old[0]
        conn.execute(f"INSERT INTO {store.schema.as_string(conn)}.forecasts (building_id, series, timestamp_hour, "
                     "run_id, grid_area, issue_time, yhat, yhat_lower, yhat_upper, model_version, write_id) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, gen_random_uuid())",
                     (r.building_id, r.series, r.timestamp_hour, r.run_id, r.grid_area, r.issue_time, r.yhat,
                      r.yhat_lower, r.yhat_upper, r.model_version))
    store.ensure_schema()
    store.write_run("run-1", [replace(x, weather_source="stale:13h")
                              for x in synthetic_rows(["b-1"], "north", "run-1", ISSUE1, T0, 2)])
    assert {p.weather_source for p in store.building_series("b-old", r.series, T0, T0 + dt.timedelta(hours=1))} == {"unknown"}
    assert {p.weather_source for p in store.building_series("b-1", "solar", T0, T0 + dt.timedelta(hours=2))} == {"stale:13h"}
