"""`python -m edf.jobs.optimize` on forecasts built from the bundled homes (SageMaker Processing contract)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from edf.data.io import write_parquet
from edf.data.outputs import FORECAST_COLUMNS, RECOMMENDATION_COLUMNS
from edf.jobs import optimize as job

ORIGIN = pd.Timestamp("2017-07-10 07:00", tz="UTC")  # local midnight in Fontana
HOURS = 48


def _forecasts(homes: pd.DataFrame, topology: pd.DataFrame) -> pd.DataFrame:
    """Forecast-shaped frame: the homes' actuals as yhat with a +-20% interval (the optimizer's input shape)."""
    window = homes[(homes["timestamp_hour"] >= ORIGIN) & (homes["timestamp_hour"] < ORIGIN + pd.Timedelta(hours=HOURS))]
    area = topology.set_index("building_id")["grid_area"]
    parts = []
    for series, col in (("consumption", "consumption_kwh"), ("solar", "solar_generation_kwh")):
        d = window[["building_id", "timestamp_hour", col]].rename(columns={col: "yhat"}).copy()
        d["series"], d["grid_area"] = series, d["building_id"].map(area)
        d["yhat_lower"], d["yhat_upper"] = d["yhat"] * 0.8, d["yhat"] * 1.2
        parts.append(d)
    f = pd.concat(parts, ignore_index=True)
    f["origin_time"] = ORIGIN
    f["lead_hours"] = ((f["timestamp_hour"] - ORIGIN) / pd.Timedelta(hours=1)).astype("int32")
    f["strategy"], f["model_version"], f["issue_time"], f["run_id"] = "test", "v0", ORIGIN, "run-1"
    f["weather_source"] = "none"
    return f[list(FORECAST_COLUMNS)]


@pytest.fixture()
def layout(tmp_path, homes, topology, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "ml"))
    (tmp_path / "topology").mkdir()
    topology.to_csv(tmp_path / "topology" / "topology.csv", index=False)
    write_parquet(_forecasts(homes, topology), tmp_path / "forecasts" / "forecasts.parquet")
    return tmp_path


def _args(root, *extra: str) -> list[str]:
    return ["--forecasts", str(root / "forecasts"), "--topology", str(root / "topology"),
            "--output", str(root / "out"), "--run-id", "run-1", *extra]


def test_job_writes_recommendations_and_summary(layout):
    conditions = json.dumps({"fontana-south": {"local_hours": {"18": "critical", "19": "high"}}})
    assert job.main(_args(layout, "--grid-conditions", conditions)) == 0
    recs = pd.read_parquet(layout / "out" / "recommendations.parquet")
    assert list(recs.columns) == list(RECOMMENDATION_COLUMNS)
    assert str(recs["timestamp_hour"].dtype) == "datetime64[us, UTC]"
    assert set(recs["kind"]) == {"demand_response", "resident"}
    assert {"curtail", "charge_battery", "discharge_battery", "run_flexible_load"} <= set(recs["action"])
    assert (recs["run_id"] == "run-1").all()
    assert recs["issue_time"].iloc[0] == ORIGIN  # taken from the forecasts
    dr = recs[recs["kind"] == "demand_response"]
    assert (dr["kw"] > 0).all() and (dr["expected_reduction_kwh"] <= dr["kw"] + 1e-9).all()
    # resident appliance hours: top_n per PV home and local day
    flex = recs[recs["action"] == "run_flexible_load"]
    assert flex.groupby("building_id").size().eq(2 * 3).all()

    summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    areas = {a["grid_area"]: a for a in summary["grid_areas"]}
    assert set(areas) == {"fontana-north", "fontana-south"}  # the PV array has no consumption series
    north, south = areas["fontana-north"], areas["fontana-south"]
    assert north["solver_status"] == "optimal" and north["expected_peak_reduction_pct"] > 0
    assert [d["mode"] for d in north["days"]] == ["peak", "peak"]
    assert [d["mode"] for d in south["days"]] == ["required", "required"]
    for d in south["days"]:  # critical at 18 and high at 19 local: the participation floors are met
        assert d["strained_hours"] == 2 and d["status"] == "optimal"
        assert d["requested_kwh"] >= d["min_participation_request_kwh"] - 1e-4 > 0
    assert north["tariff"] == "exact"
    # strained hours in the south got curtailment, nothing else there
    south_dr = dr[dr["grid_area"] == "fontana-south"]
    local = south_dr["timestamp_hour"].dt.tz_convert("America/Los_Angeles").dt.hour
    assert set(local) <= {18, 19} and len(south_dr) > 0


def test_infeasible_requirement_is_a_status_not_a_failure(layout):
    hour = (ORIGIN + pd.Timedelta(hours=18)).isoformat()
    conditions = json.dumps({"*": {"conditions": {hour: "critical"}, "required_reduction_kwh": {hour: 1000.0}}})
    assert job.main(_args(layout, "--grid-conditions", conditions)) == 0
    summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    assert summary["status"] == "infeasible_requirement"
    for area in summary["grid_areas"]:
        day = area["days"][0]
        assert day["status"] == "infeasible_requirement"
        assert 0 < day["achieved_kwh"] < day["required_kwh"] == 1000.0
        assert "best achievable" in day["message"]
        assert area["infeasible_days"] == [area["days"][0]["day"]]


def test_nan_forecasts_fail_naming_the_buildings(layout):
    f = pd.read_parquet(layout / "forecasts" / "forecasts.parquet")
    f.loc[(f["building_id"] == "citylearn-03") & (f["series"] == "consumption"), "yhat_upper"] = np.nan
    f.loc[f.index[(f["building_id"] == "citylearn-12")][:1], "yhat"] = np.nan
    write_parquet(f, layout / "forecasts" / "forecasts.parquet")
    assert job.main(_args(layout)) == 1
    reason = (layout / "ml" / "output" / "failure").read_text()
    assert "citylearn-03" in reason and "citylearn-12" in reason and "NaN" in reason
    assert "citylearn-01" not in reason
    assert not (layout / "out" / "recommendations.parquet").exists()


def test_malformed_grid_conditions_fail_clearly(layout):
    assert job.main(_args(layout, "--grid-conditions", '{"*": {"local_hours": {"18": "meltdown"}}}')) == 1
    assert "meltdown" in (layout / "ml" / "output" / "failure").read_text()


def test_null_grid_conditions_from_the_workflow_mean_none(layout):
    assert job.main(_args(layout, "--grid-conditions", "null")) == 0
    summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    assert all(d["mode"] == "peak" for a in summary["grid_areas"] for d in a["days"])


def test_forecasts_outside_the_tariff_year_use_the_typical_profile(layout):
    f = pd.read_parquet(layout / "forecasts" / "forecasts.parquet")
    shift = pd.Timedelta(days=364 * 9)  # same weekday, 2026
    for col in ("timestamp_hour", "origin_time", "issue_time"):
        f[col] = f[col] + shift
    write_parquet(f, layout / "forecasts" / "forecasts.parquet")
    assert job.main(_args(layout)) == 0
    summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    assert all(a["tariff"].startswith("typical") for a in summary["grid_areas"])
    recs = pd.read_parquet(layout / "out" / "recommendations.parquet")
    assert recs["expected_saving"].notna().all()


def test_buildings_missing_from_the_topology_are_listed_not_planned(layout, topology):
    topology[topology["building_id"] != "citylearn-02"].to_csv(layout / "topology" / "topology.csv", index=False)
    assert job.main(_args(layout)) == 0
    summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    north = next(a for a in summary["grid_areas"] if a["grid_area"] == "fontana-north")
    assert north["not_in_topology"] == ["citylearn-02"]
    recs = pd.read_parquet(layout / "out" / "recommendations.parquet")
    assert "citylearn-02" not in set(recs["building_id"])  # no DR share, no battery, no PV known
    assert "citylearn-01" in set(recs["building_id"])


def test_weather_forecast_temperature_lowers_compliance_on_a_hot_day(layout, cfg):
    assert job.main(_args(layout)) == 0
    mild = json.loads((layout / "out" / "optimization_summary.json").read_text())
    f = pd.read_parquet(layout / "forecasts" / "forecasts.parquet")
    hot = cfg.edf_optimization.compliance_temperature_comfort_c + cfg.edf_optimization.compliance_temperature_band_c + 15
    weather = f[f["series"] == "consumption"][["building_id", "timestamp_hour"]].assign(
        temperature_c=hot, solar_irradiance_ghi=np.nan, humidity=np.nan, forecast_issue_time=ORIGIN)
    late = weather.assign(temperature_c=cfg.edf_optimization.compliance_temperature_comfort_c,
                          forecast_issue_time=ORIGIN + pd.Timedelta(hours=1))  # issued after the origin: ignored
    write_parquet(pd.concat([weather, late]), layout / "weather" / "wf.parquet")
    assert job.main(_args(layout, "--weather-forecast", str(layout / "weather"))) == 0
    hot_summary = json.loads((layout / "out" / "optimization_summary.json").read_text())
    for m, h in zip(mild["grid_areas"], hot_summary["grid_areas"], strict=True):
        assert m["temperature"] == "none" and h["temperature"].startswith("weather forecast")
        assert h["mean_compliance"] < m["mean_compliance"]
        assert h["expected_peak_reduction_pct"] <= m["expected_peak_reduction_pct"] + 1e-9
