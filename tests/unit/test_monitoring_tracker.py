"""Tracker numbers against hand-computed ones, late data, EMF validity (issue 8 §1, §6)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from edf.monitoring import emf
from edf.monitoring.tracker import (
    TrackerInputError,
    TrackerSettings,
    assign_lead_bucket,
    bucket_labels,
    lead_profile,
    track,
)

D = pd.Timestamp("2026-11-10", tz="UTC")
H = pd.Timedelta(hours=1)
WEEK = pd.Timedelta(hours=168)
SETTINGS = TrackerSettings((0, 24, 48, 72), 0.8, 0.05)


def _fc(building, area, ts, lead, yhat, lo, hi, series="consumption"):
    return {"building_id": building, "grid_area": area, "series": series, "timestamp_hour": ts,
            "origin_time": ts - lead * H, "lead_hours": lead, "yhat": yhat, "yhat_lower": lo, "yhat_upper": hi,
            "strategy": "xgboost", "model_version": "pkg/1", "issue_time": ts - lead * H + 5 * H, "run_id": "r"}


@pytest.fixture()
def case():
    """A (G1): two hours, two leads; B (G2): second hour's actual is null (late); C (G3): no actuals at all."""
    t0, t1 = D, D + H
    forecasts = pd.DataFrame([
        _fc("A", "G1", t0, 0, 2.5, 2.0, 3.0), _fc("A", "G1", t1, 1, 3.0, 2.5, 3.5),
        _fc("A", "G1", t0, 24, 3.0, 2.0, 4.0), _fc("A", "G1", t1, 25, 4.0, 3.0, 5.0),
        _fc("B", "G2", t0, 0, 11.0, 9.0, 12.0), _fc("B", "G2", t1, 1, 12.0, 10.0, 13.0),
        _fc("C", "G3", t0, 0, 5.0, 4.0, 6.0),
        _fc("A", "G1", t0 + 80 * H, 80, 1.0, 0.0, 2.0),  # lead beyond the last bucket: ignored
    ])
    actuals = pd.DataFrame({
        "building_id": ["A", "A", "A", "A", "B", "B", "B", "B"],
        "timestamp_hour": [t0, t1, t0 - WEEK, t1 - WEEK, t0, t1, t0 - WEEK, t1 - WEEK],
        "consumption_kwh": [2.0, 4.0, 1.0, 5.0, 10.0, np.nan, 8.0, 9.0],
        "solar_generation_kwh": [np.nan] * 8,
    })
    table, joined = track(forecasts, actuals, SETTINGS, D, D + pd.Timedelta(days=1))
    return table, joined


def _row(table, level, key, bucket, series="consumption"):
    sel = table[(table.level == level) & (table.key == key) & (table.lead_bucket == bucket) & (table.series == series)]
    assert len(sel) == 1, (level, key, bucket)
    return sel.iloc[0]


def test_building_metrics_match_hand_computation(case):
    table, _ = case
    a = _row(table, "building", "A", "0-24")
    # errors +0.5, -1.0; actuals 2, 4 (mean 3); naive errors -1, +1
    assert a.n_scored == 2 and a.n_missing_actual == 0 and a.status == "ok"
    assert a.rmse == pytest.approx(math.sqrt(0.625))
    assert a.mae == pytest.approx(0.75)
    assert a.cv_rmse_pct == pytest.approx(100 * math.sqrt(0.625) / 3)
    assert a.nmbe_pct == pytest.approx(100 * -0.5 / 6)
    assert a.mape_pct == pytest.approx(25.0)
    assert a.coverage == pytest.approx(0.5)
    assert a.naive_rmse == pytest.approx(1.0)
    assert a.naive_cv_rmse_pct == pytest.approx(100 / 3)
    assert a.skill_vs_seasonal_naive == pytest.approx(1 - math.sqrt(0.625))
    a2 = _row(table, "building", "A", "24-48")
    assert a2.rmse == pytest.approx(math.sqrt(0.5))
    assert a2.mape_pct == pytest.approx(25.0)
    assert a2.coverage == pytest.approx(1.0)
    assert a2.nmbe_pct == pytest.approx(100 / 6)
    a_all = _row(table, "building", "A", "all")
    assert a_all.n_scored == 4


def test_late_actuals_are_missing_not_zero(case):
    table, joined = case
    b = _row(table, "building", "B", "0-24")
    assert (b.n_forecast, b.n_scored, b.n_missing_actual, b.status) == (2, 1, 1, "partial")
    # scored on the one hour with an actual: error 1 on actual 10. A zero actual would give rmse ~8.5.
    assert b.rmse == pytest.approx(1.0)
    assert b.mape_pct == pytest.approx(10.0)
    assert b.naive_n == 1 and b.naive_rmse == pytest.approx(2.0)
    assert b.skill_vs_seasonal_naive == pytest.approx(0.5)
    c = _row(table, "building", "C", "0-24")
    assert (c.n_scored, c.n_missing_actual, c.status) == (0, 1, "missing")
    assert all(pd.isna(c[m]) for m in ("mape_pct", "rmse", "cv_rmse_pct", "nmbe_pct", "coverage"))
    g3 = _row(table, "grid_area", "G3", "0-24")
    assert g3.status == "missing" and pd.isna(g3.rmse)
    assert int(joined["actual"].isna().sum()) == 2


def test_pooled_overall_and_grid_area(case):
    table, _ = case
    o = _row(table, "overall", "ALL", "0-24")
    # scored: A(2, 4), B(10): errors 0.5, -1, 1; naive errors -1, 1, -2
    assert (o.n_forecast, o.n_scored, o.n_missing_actual) == (5, 3, 2)
    assert o.rmse == pytest.approx(math.sqrt(0.75))
    assert o.cv_rmse_pct == pytest.approx(100 * math.sqrt(0.75) / (16 / 3))
    assert o.mape_pct == pytest.approx(20.0)
    assert o.coverage == pytest.approx(2 / 3)
    assert o.skill_vs_seasonal_naive == pytest.approx(1 - math.sqrt(0.75) / math.sqrt(2))
    g1 = _row(table, "grid_area", "G1", "0-24")
    a = _row(table, "building", "A", "0-24")
    assert g1.rmse == pytest.approx(a.rmse)
    # no 48-72 rows (nothing issued that far ahead), lead 80 never scored
    assert not (table.lead_bucket == "48-72").any()
    assert _row(table, "overall", "ALL", "all").n_forecast == 7


def test_lead_buckets():
    assert bucket_labels([0, 24, 48, 72]) == ["0-24", "24-48", "48-72"]
    got = assign_lead_bucket(pd.Series([0, 23, 24, 47, 71, 72, -1]), [0, 24, 48, 72]).tolist()
    assert got == ["0-24", "0-24", "24-48", "24-48", "48-72", None, None]


def test_lead_profile_counts_missing(case):
    _, joined = case
    prof = lead_profile(joined).set_index("lead_hours")
    assert prof.loc[0, "n_missing_actual"] == 1  # C
    assert prof.loc[1, "n_missing_actual"] == 1  # B's late hour
    assert prof.loc[24, "mae"] == pytest.approx(1.0)


def test_bad_input_is_named():
    fc = pd.DataFrame([_fc("A", "G1", D, 0, 1.0, 0.0, 2.0)]).drop(columns=["lead_hours"])
    with pytest.raises(TrackerInputError, match="lead_hours"):
        track(fc, pd.DataFrame(), SETTINGS, D, D + H)
    naive = pd.DataFrame([_fc("A", "G1", D, 0, 1.0, 0.0, 2.0)])
    naive["timestamp_hour"] = naive["timestamp_hour"].dt.tz_localize(None)
    with pytest.raises(TrackerInputError, match="timezone"):
        track(naive, pd.DataFrame({"building_id": ["A"], "timestamp_hour": [D], "consumption_kwh": [1.0]}),
              SETTINGS, D, D + H)


def _value(v):
    """EMF allows a number or an array of values (powertools sends arrays)."""
    if isinstance(v, list):
        assert len(v) == 1
        return v[0]
    return v


def test_emf_documents_are_valid_and_match_table(case):
    table, _ = case
    docs = emf.emf_documents(table, "EDF/Accuracy", ["consumption"], "2026-11-10")
    assert docs, "expected EMF documents"
    for doc in docs:
        emf.validate_emf(doc)
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "EDF/Accuracy"
        assert directive["Dimensions"] == [["GridArea", "LeadBucket"]]
        json.loads(json.dumps(doc))  # plain JSON
    by_key = {(d["GridArea"], d["LeadBucket"]): d for d in docs}
    overall = by_key[("ALL", "0-24")]
    names = {m["Name"] for m in overall["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"mape_pct", "rmse", "cv_rmse_pct", "nmbe_pct", "coverage", "pinball", "skill_vs_seasonal_naive"} <= names
    assert _value(overall["rmse"]) == pytest.approx(math.sqrt(0.75))
    assert _value(overall["n_missing_actual"]) == 2
    # an all-missing grid area sends its counts but no accuracy numbers (never a fake 0)
    g3 = by_key[("G3", "0-24")]
    g3_names = {m["Name"] for m in g3["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert "rmse" not in g3_names and _value(g3["n_missing_actual"]) == 1
    assert ("A", "0-24") not in by_key  # buildings are not dimensions (cardinality)
    line = emf.emf_lines([overall])[0]
    assert "\n" not in line and json.loads(line)["GridArea"] == "ALL"


def test_emf_dimensions_ignore_the_powertools_service_env(case, monkeypatch):
    """Terraform sets POWERTOOLS_SERVICE_NAME; it must not become a third dimension (alarms query two)."""
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "edf-accuracy-monitor")
    table, _ = case
    for doc in emf.emf_documents(table, "EDF/Accuracy"):
        assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["GridArea", "LeadBucket"]]
        assert doc["service"] == "edf-accuracy-monitor"
        emf.validate_emf(doc)


def test_validate_emf_rejects_broken_documents(case):
    table, _ = case
    doc = emf.emf_documents(table, "EDF/Accuracy")[0]
    broken = json.loads(json.dumps(doc))
    del broken["GridArea"]
    with pytest.raises(ValueError, match="GridArea"):
        emf.validate_emf(broken)
    broken = json.loads(json.dumps(doc))
    broken["rmse"] = "high"
    with pytest.raises(ValueError, match="rmse"):
        emf.validate_emf(broken)
    broken = json.loads(json.dumps(doc))
    broken["_aws"].pop("Timestamp")
    with pytest.raises(ValueError, match="Timestamp"):
        emf.validate_emf(broken)
