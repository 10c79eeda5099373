"""Shared store semantics: validation of rows, newest-issue selection, the portfolio interval rule."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from edf.storage import open_store, resolve_backend
from edf.storage.base import (
    ForecastPoint,
    ForecastRow,
    InvalidValueError,
    StoreError,
    aggregate,
    newest_per_hour,
    validate_run,
)

T = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def row(**kw):
    base = dict(building_id="b-1", grid_area="north", series="consumption", timestamp_hour=T, yhat=1.0,
                yhat_lower=0.5, yhat_upper=1.5, issue_time=T - dt.timedelta(hours=1), run_id="run-1",
                model_version="mv", strategy="xgboost")
    base.update(kw)
    return ForecastRow(**base)


@pytest.mark.parametrize("bad", [dict(building_id="b 1"), dict(series="wind"), dict(grid_area="a'b"),
                                 dict(yhat=math.nan), dict(yhat_lower=2.0), dict(timestamp_hour=T.replace(tzinfo=None)),
                                 dict(run_id="run/1"), dict(model_version="x\n")])
def test_invalid_rows_are_refused(bad):
    with pytest.raises(InvalidValueError):
        validate_run("run-1", [row(**bad)], None)


def test_duplicates_and_foreign_runs_are_refused():
    with pytest.raises(InvalidValueError, match="duplicate"):
        validate_run("run-1", [row(), row()], None)
    with pytest.raises(InvalidValueError, match="run_id"):
        validate_run("run-2", [row()], None)


def pt(hour, y, lo, hi, issue_h=0, run="r"):
    return ForecastPoint(T + dt.timedelta(hours=hour), y, lo, hi, T + dt.timedelta(hours=issue_h), "mv", run)


def test_newest_issue_wins_per_hour():
    got = newest_per_hour([pt(0, 1, 0, 2, issue_h=0), pt(0, 5, 4, 6, issue_h=3), pt(1, 2, 1, 3, issue_h=0)])
    assert [p.yhat for p in got] == [5, 2]


def test_portfolio_interval_in_quadrature_and_comonotonic():
    agg = aggregate({"a": [pt(0, 10, 7, 14)], "b": [pt(0, 20, 16, 23)]})
    (p,) = agg
    assert p.buildings == 2 and p.yhat == 30
    assert math.isclose(p.yhat_lower, 30 - math.hypot(3, 4)) and math.isclose(p.yhat_upper, 30 + math.hypot(4, 3))
    assert (p.yhat_lower_comonotonic, p.yhat_upper_comonotonic) == (23, 37)


def test_backend_resolution(cfg, monkeypatch):
    monkeypatch.delenv("EDF_FORECAST_DB_TYPE", raising=False)
    assert resolve_backend(cfg) == cfg.edf_inference.forecast_db_type
    assert resolve_backend(cfg, local=True) == cfg.edf_storage.local_backend
    monkeypatch.setenv("EDF_FORECAST_DB_TYPE", "rds")
    assert resolve_backend(cfg, local=True) == "RDS"
    with pytest.raises(StoreError, match="unknown"):
        resolve_backend(cfg, backend="MONGO")
    monkeypatch.setenv("EDF_PG_DSN", "host=127.0.0.1 dbname=x")
    assert open_store(cfg).backend == "RDS"
