"""Inference input checks (issue 14, item 10): stale history and incomplete topology fail or degrade
explicitly, per the configured policy, and the verdict is recorded."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from edf.config import load_config
from edf.data.input_checks import (
    StaleInputError,
    apply_policy,
    check_history_freshness,
    check_topology_completeness,
)

ORIGIN = dt.datetime(2024, 3, 10, 0, 0)


def topo(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["building_id", "timezone", "latitude", "longitude", "grid_area"])


def full_row(bid: str) -> dict:
    return {"building_id": bid, "timezone": "Europe/Berlin", "latitude": 52.5, "longitude": 13.4, "grid_area": "a"}


def test_fresh_history_is_ok():
    newest = {"b1": pd.Timestamp("2024-03-09 23:00"), "b2": pd.Timestamp("2024-03-09 22:00")}
    check = check_history_freshness(newest, ORIGIN, max_age_hours=48)
    assert not check.problem and check.details["age_hours"] == 0.0
    assert apply_policy([check], {"history_freshness": "fail"})["status"] == "ok"


def test_stale_feed_fails_under_fail_policy_and_names_the_age():
    newest = {"b1": pd.Timestamp("2024-03-06 23:00"), "b2": pd.Timestamp("2024-03-06 10:00")}
    check = check_history_freshness(newest, ORIGIN, max_age_hours=48)
    assert check.problem and check.details["age_hours"] == 72.0
    with pytest.raises(StaleInputError, match=r"history_freshness.*72\.0 h old.*max 48 h"):
        apply_policy([check], {"history_freshness": "fail"})


def test_stale_feed_degrades_under_degrade_policy_and_is_recorded():
    newest = {"b1": pd.Timestamp("2024-03-06 23:00")}
    record = apply_policy([check_history_freshness(newest, ORIGIN, 48)], {"history_freshness": "degrade"})
    assert record["status"] == "degraded"
    assert record["checks"]["history_freshness"]["status"] == "degraded"
    assert record["checks"]["history_freshness"]["details"]["newest_hour"] == "2024-03-06T23:00:00Z"


def test_one_dead_meter_degrades_even_under_fail_policy():
    newest = {"b1": pd.Timestamp("2024-03-09 23:00"), "dead": pd.Timestamp("2024-02-01 00:00")}
    check = check_history_freshness(newest, ORIGIN, 48)
    record = apply_policy([check], {"history_freshness": "fail"})
    assert record["status"] == "degraded"
    assert check.details["stale_buildings"] == 1 and check.details["stale_examples"][0]["building_id"] == "dead"


def test_no_history_at_all_is_a_problem():
    assert check_history_freshness({}, ORIGIN, 48).problem


def test_timezone_aware_inputs_are_compared_in_utc():
    newest = {"b1": pd.Timestamp("2024-03-10 00:00", tz="Europe/Berlin")}  # 2024-03-09 23:00 UTC
    check = check_history_freshness(newest, dt.datetime(2024, 3, 10, tzinfo=dt.UTC), 48)
    assert check.details["age_hours"] == 0.0


def test_complete_topology_is_ok():
    check = check_topology_completeness(["b1", "b2"], topo([full_row("b1"), full_row("b2")]),
                                        ["timezone", "latitude", "longitude"])
    assert not check.problem


def test_building_without_topology_row_or_with_null_fields_is_counted():
    rows = [full_row("b1"), {**full_row("b2"), "timezone": None}, {**full_row("b3"), "latitude": None}]
    check = check_topology_completeness(["b1", "b2", "b3", "b4"], topo(rows), ["timezone", "latitude", "longitude"])
    assert check.problem
    assert check.details["without_topology"] == 1 and check.details["without_topology_examples"] == ["b4"]
    assert check.details["incomplete"] == 2
    assert check.details["null_fields"]["timezone"]["examples"] == ["b2"]
    assert apply_policy([check], {"topology_completeness": "degrade"})["status"] == "degraded"
    with pytest.raises(StaleInputError, match="topology_completeness"):
        apply_policy([check], {"topology_completeness": "fail"})


def test_topology_without_a_required_column_is_a_problem():
    check = check_topology_completeness(["b1"], topo([full_row("b1")]).drop(columns=["timezone"]), ["timezone"])
    assert check.problem and check.details["missing_columns"] == ["timezone"]


def test_unconfigured_check_fails_rather_than_being_ignored():
    check = check_history_freshness({}, ORIGIN, 48)
    with pytest.raises(StaleInputError):
        apply_policy([check], {})


def test_policies_are_configurable_and_validated():
    cfg = load_config(None, {"edf_inference": {"input_checks": {"on_stale_history": "degrade",
                                                                "history_max_age_hours": 12}}})
    assert cfg.edf_inference.input_checks.on_stale_history == "degrade"
    assert cfg.edf_inference.input_checks.history_max_age_hours == 12
    with pytest.raises(Exception, match="on_stale_history"):
        load_config(None, {"edf_inference": {"input_checks": {"on_stale_history": "ignore"}}})
