"""The ``OptimizePortfolioEDF`` step's logic: forecasts in, recommendations and a summary out.

For every grid area and local day of the forecast horizon it solves the demand-response
portfolio (``portfolio.plan_portfolio``) on the consumption forecasts' upper bound, the battery
schedules of homes that have one (``resident.schedule_battery``) and the appliance-hour ranking
of homes with PV, then writes rows in ``edf.data.outputs.RECOMMENDATION_COLUMNS``. The job
entrypoint (``edf.jobs.optimize``) only parses arguments and does the I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from edf.config import OptimizationConfig
from edf.data.outputs import RECOMMENDATION_COLUMNS
from edf.optimization.compliance import compliance_probability
from edf.optimization.portfolio import LEVELS, STATUS_INFEASIBLE_REQUIREMENT, PortfolioPlan, plan_portfolio
from edf.optimization.resident import appliance_hour_scores, rank_appliance_hours, schedule_battery

log = logging.getLogger(__name__)

REQUIRED_FORECAST_COLUMNS = ("building_id", "grid_area", "series", "timestamp_hour", "yhat", "yhat_lower", "yhat_upper")
STATUS_RANK = {"nothing_to_curtail": 0, "optimal": 1, "optimal_inaccurate": 2, STATUS_INFEASIBLE_REQUIREMENT: 3}


class OptimizationInputError(ValueError):
    """Inputs the optimizer cannot use; the message names the buildings or keys at fault."""


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------

def check_forecasts(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Validate the forecast frame; NaN values raise an error naming the buildings at fault."""
    missing = [c for c in REQUIRED_FORECAST_COLUMNS if c not in forecasts.columns]
    if missing:
        raise OptimizationInputError(f"forecasts lack column(s) {missing}; expected edf.data.outputs.FORECAST_COLUMNS")
    f = forecasts.copy()
    f["timestamp_hour"] = pd.to_datetime(f["timestamp_hour"], utc=True)
    values = ["yhat", "yhat_lower", "yhat_upper"]
    bad = f[values].isna().any(axis=1) | ~np.isfinite(f[values].to_numpy(dtype="float64")).all(axis=1)
    if bad.any():
        rows = f[bad]
        names = sorted(rows["building_id"].astype(str).unique())
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        series = ", ".join(sorted(rows["series"].astype(str).unique()))
        raise OptimizationInputError(
            f"forecasts contain NaN or infinite values ({int(bad.sum())} rows, series {series}) for "
            f"{len(names)} building(s): {shown}; fix or drop their forecasts and re-run the step")
    return f


def tariff_for_hours(tariff: pd.DataFrame, hours: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, str]:
    """Price and carbon intensity for ``hours``: exact hours when the tariff covers them.

    Otherwise (a forecast for a date outside the tariff's year, as with synthetic portfolios)
    the tariff's mean for the same month and UTC hour of day is used, then the hour-of-day
    mean; the returned note says which.
    """
    t = tariff.copy()
    t["timestamp_hour"] = pd.to_datetime(t["timestamp_hour"], utc=True)
    indexed = t.set_index("timestamp_hour")[["price_per_kwh", "carbon_kg_per_kwh"]]
    exact = indexed.reindex(hours)
    if not exact.isna().any().any():
        return exact["price_per_kwh"].to_numpy(), exact["carbon_kg_per_kwh"].to_numpy(), "exact"
    t["month"], t["hour"] = t["timestamp_hour"].dt.month, t["timestamp_hour"].dt.hour
    by_month_hour = t.groupby(["month", "hour"])[["price_per_kwh", "carbon_kg_per_kwh"]].mean()
    by_hour = t.groupby("hour")[["price_per_kwh", "carbon_kg_per_kwh"]].mean()
    keys = pd.MultiIndex.from_arrays([hours.month, hours.hour])
    profile = by_month_hour.reindex(keys).to_numpy()
    fallback = by_hour.reindex(hours.hour).to_numpy()
    profile = np.where(np.isnan(profile), fallback, profile)
    filled = np.where(exact.isna().to_numpy(), profile, exact.to_numpy())
    if np.isnan(filled).any():
        raise OptimizationInputError("tariff has no price/carbon for some hours of day; give a complete tariff")
    return filled[:, 0], filled[:, 1], "typical month x hour-of-day profile (forecast outside the tariff's dates)"


def _parse_hour(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    if ts.tzinfo is None:
        raise OptimizationInputError(f"grid-condition hour {text!r} must carry a UTC offset (e.g. 2017-08-01T17:00:00Z)")
    return ts.tz_convert("UTC")


def parse_grid_conditions(raw: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Validate grid conditions: ``{area | "*": {"conditions": {ISO hour: level}, "local_hours": {h: level},
    "required_reduction_kwh": {ISO hour: kWh}}}``. Levels are ``normal | high | critical``."""
    out: dict[str, dict[str, Any]] = {}
    for area, spec in (raw or {}).items():
        if not isinstance(spec, Mapping):
            raise OptimizationInputError(f"grid conditions for {area!r} must be an object")
        unknown = set(spec) - {"conditions", "local_hours", "required_reduction_kwh"}
        if unknown:
            raise OptimizationInputError(f"grid conditions for {area!r}: unknown key(s) {sorted(unknown)}")
        entry: dict[str, Any] = {"conditions": {}, "local_hours": {}, "required": {}}
        for hour, level in (spec.get("conditions") or {}).items():
            if str(level).lower() not in LEVELS:
                raise OptimizationInputError(f"grid conditions for {area!r}: level {level!r} is not one of {LEVELS}")
            entry["conditions"][_parse_hour(hour)] = str(level).lower()
        for hour, level in (spec.get("local_hours") or {}).items():
            if not str(hour).isdigit() or not 0 <= int(hour) <= 23 or str(level).lower() not in LEVELS:
                raise OptimizationInputError(
                    f"grid conditions for {area!r}: local_hours needs hour 0..23 -> one of {LEVELS}, got {hour!r}: {level!r}")
            entry["local_hours"][int(hour)] = str(level).lower()
        for hour, kwh in (spec.get("required_reduction_kwh") or {}).items():
            value = float(kwh)
            if not np.isfinite(value) or value < 0:
                raise OptimizationInputError(f"required_reduction_kwh for {area!r} at {hour}: must be >= 0, got {kwh!r}")
            entry["required"][_parse_hour(hour)] = value
        out[str(area)] = entry
    return out


def forecast_temperature(weather_forecast: pd.DataFrame | None, origin: pd.Timestamp | None) -> pd.DataFrame | None:
    """Per building and hour, the newest forecast temperature issued at or before ``origin``.

    Mirrors ``edf.features.pipeline.latest_weather_forecast`` (no look-ahead): a weather
    forecast issued after the run's origin is ignored. Returns None when nothing is usable.
    """
    if weather_forecast is None or weather_forecast.empty or "temperature_c" not in weather_forecast.columns:
        return None
    w = weather_forecast[["building_id", "timestamp_hour", "temperature_c"]
                         + (["forecast_issue_time"] if "forecast_issue_time" in weather_forecast.columns else [])].copy()
    w["building_id"] = w["building_id"].astype(str)
    w["timestamp_hour"] = pd.to_datetime(w["timestamp_hour"], utc=True)
    if "forecast_issue_time" in w.columns:
        w["forecast_issue_time"] = pd.to_datetime(w["forecast_issue_time"], utc=True)
        if origin is not None:
            w = w[w["forecast_issue_time"] <= origin]
        w = w.sort_values("forecast_issue_time")
    w = w.dropna(subset=["temperature_c"]).drop_duplicates(["building_id", "timestamp_hour"], keep="last")
    return w if not w.empty else None


def _conditions_for(spec: dict[str, Any] | None, hours: pd.DatetimeIndex, local_hours: np.ndarray) -> tuple[list[str], np.ndarray]:
    levels, required = ["normal"] * len(hours), np.zeros(len(hours))
    if not spec:
        return levels, required
    for j, (h, lh) in enumerate(zip(hours, local_hours, strict=True)):
        levels[j] = spec["conditions"].get(h, spec["local_hours"].get(int(lh), "normal"))
        required[j] = spec["required"].get(h, 0.0)
    return levels, required


# ---------------------------------------------------------------------------------------------
# the step
# ---------------------------------------------------------------------------------------------

def _local_hours(tz_per_building: np.ndarray, hours: pd.DatetimeIndex) -> np.ndarray:
    out = np.empty((len(tz_per_building), len(hours)), dtype="int64")
    for tz in pd.unique(tz_per_building):
        out[tz_per_building == tz] = hours.tz_convert(tz).hour.to_numpy()
    return out


def _topology_frame(topology: pd.DataFrame, buildings: pd.Index, params: OptimizationConfig) -> pd.DataFrame:
    topo = topology.copy()
    topo["building_id"] = topo["building_id"].astype(str)
    topo = topo.drop_duplicates("building_id").set_index("building_id").reindex(buildings)
    defaults = {"building_type": None, "timezone": "UTC", "pv_capacity_kw": 0.0, "battery_capacity_kwh": 0.0,
                "battery_power_kw": np.nan, "battery_efficiency": params.battery_default_efficiency,
                "dr_max_participation": 0.0, "dr_comfort_budget_kwh": 0.0}
    for col, default in defaults.items():
        if col not in topo.columns:
            topo[col] = default
    topo["timezone"] = topo["timezone"].fillna("UTC").astype(str)
    for col in ("pv_capacity_kw", "battery_capacity_kwh", "dr_max_participation", "dr_comfort_budget_kwh"):
        topo[col] = pd.to_numeric(topo[col], errors="coerce").fillna(0.0)
    topo["battery_efficiency"] = pd.to_numeric(topo["battery_efficiency"], errors="coerce").fillna(params.battery_default_efficiency)
    power = pd.to_numeric(topo["battery_power_kw"], errors="coerce")
    topo["battery_power_kw"] = power.where(power.notna(), topo["battery_capacity_kwh"] * params.battery_default_c_rate)
    return topo


def _pivot(frame: pd.DataFrame, value: str, buildings: pd.Index, hours: pd.DatetimeIndex) -> np.ndarray:
    if frame.empty:
        return np.zeros((len(buildings), len(hours)))
    wide = frame.pivot_table(index="building_id", columns="timestamp_hour", values=value, aggfunc="first")
    return wide.reindex(index=buildings, columns=hours).to_numpy(dtype="float64")


def _rows(kind: str, action: str, buildings: np.ndarray, area: str, hours: pd.DatetimeIndex,
          mask: np.ndarray, kw: np.ndarray, reduction: np.ndarray, saving: np.ndarray) -> pd.DataFrame:
    bi, ti = np.nonzero(mask)
    return pd.DataFrame({
        "building_id": buildings[bi], "grid_area": area, "kind": kind, "timestamp_hour": hours[ti],
        "action": action, "kw": kw[bi, ti], "expected_reduction_kwh": reduction[bi, ti],
        "expected_saving": saving[bi, ti]})


def empty_recommendations() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[us, UTC]" if t.startswith("timestamp") else
                                      ("float64" if t == "double" else "string")) for c, t in RECOMMENDATION_COLUMNS.items()})


def _area_summary(area: str, plans: list[tuple[str, PortfolioPlan]], extra: dict[str, Any]) -> dict[str, Any]:
    baseline = np.concatenate([p.baseline_load_kwh for _, p in plans]) if plans else np.zeros(0)
    planned = np.concatenate([p.planned_load_kwh for _, p in plans]) if plans else np.zeros(0)
    before = float(baseline.max()) if baseline.size else 0.0
    after = float(planned.max()) if planned.size else 0.0
    worst = max((p.status for _, p in plans), key=lambda s: STATUS_RANK.get(s, 4), default="nothing_to_curtail")
    return {
        "grid_area": area,
        "expected_peak_reduction_pct": round(100.0 * (before - after) / before, 4) if before > 0 else 0.0,
        "peak_before_kwh": round(before, 4), "peak_after_kwh": round(after, 4),
        "solver_status": worst,
        "days": [{"day": day, "mode": p.mode, "status": p.status, "solver": p.solver,
                  "solve_seconds": round(p.solve_seconds, 3), "peak_before_kwh": round(p.peak_before_kwh, 4),
                  "peak_after_kwh": round(p.peak_after_kwh, 4), "peak_reduction_pct": round(p.peak_reduction_pct, 4),
                  "required_kwh": round(float(p.required_kwh.sum()), 4), "achieved_kwh": round(float(p.achieved_kwh.sum()), 4),
                  "shortfall_kwh": round(p.shortfall_kwh, 4),
                  "strained_hours": p.strained_hours,
                  "min_participation_request_kwh": round(float(p.min_request_kwh.sum()), 4),
                  "requested_kwh": round(float(p.requested_kwh.sum()), 4), "message": p.message} for day, p in plans],
        **extra,
    }


@dataclass
class AreaInputs:
    """One grid area's inputs as (buildings x hours) matrices; only buildings with a complete forecast."""

    area: str
    buildings: np.ndarray  # building ids, the rows of every matrix
    topology: pd.DataFrame  # one row per building, defaults filled in (``_topology_frame``)
    hours: pd.DatetimeIndex  # UTC, the columns of every matrix
    yhat: np.ndarray
    upper: np.ndarray
    solar_mid: np.ndarray
    solar_low: np.ndarray
    timezone: str  # the area's most common building time zone: local days are cut in it
    local_hours: np.ndarray  # (B, T) hour of day in each building's own time zone
    price: np.ndarray
    carbon: np.ndarray
    tariff_note: str
    temperature: np.ndarray | None
    compliance: np.ndarray
    excluded: list[str]  # buildings left out: consumption forecast missing for some hours
    not_in_topology: list[str]


def optimize(
    forecasts: pd.DataFrame,
    topology: pd.DataFrame,
    tariff: pd.DataFrame,
    params: OptimizationConfig,
    run_id: str,
    issue_time: pd.Timestamp,
    grid_conditions: Mapping[str, Any] | None = None,
    weather_forecast: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Solve every grid area and local day; returns (recommendations, summary).

    ``weather_forecast`` (optional, the weather-forecast contract) feeds the compliance model's
    temperature term; without it that term is zero. The work is four named steps, per area:
    inputs, then per local day demand response and resident actions; then the assembly.
    """
    consumption, solar, conditions, temperature = optimize_step_prepare(forecasts, grid_conditions, weather_forecast)
    frames: list[pd.DataFrame] = []
    areas: list[dict[str, Any]] = []
    for area, cons_area in consumption.groupby(consumption["grid_area"].astype(str), sort=True):
        inputs = optimize_step_area_inputs(str(area), cons_area, solar, topology, tariff, temperature, params)
        area_frames, area_summary = optimize_step_plan_area(inputs, conditions.get(area) or conditions.get("*"), params)
        frames += area_frames
        areas.append(area_summary)
    return optimize_step_assemble(frames, areas, run_id, issue_time)


def optimize_step_prepare(
    forecasts: pd.DataFrame, grid_conditions: Mapping[str, Any] | None, weather_forecast: pd.DataFrame | None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict[str, Any]], pd.DataFrame | None]:
    """Checked inputs: (consumption rows, solar rows, parsed grid conditions, forecast temperature)."""
    f = check_forecasts(forecasts)
    origin = pd.to_datetime(f["origin_time"], utc=True).min() if "origin_time" in f.columns else None
    temperature = forecast_temperature(weather_forecast, origin)
    conditions = parse_grid_conditions(grid_conditions)
    consumption = f[f["series"] == "consumption"]
    solar = f[f["series"] == "solar"]
    if consumption.empty:
        raise OptimizationInputError("forecasts have no 'consumption' series; nothing to optimise")
    known_areas = set(consumption["grid_area"].astype(str))
    stray = sorted(set(conditions) - known_areas - {"*"})
    if stray:
        log.warning("grid conditions name area(s) without forecasts: %s", stray)
    return consumption, solar, conditions, temperature


def optimize_step_area_inputs(
    area: str, cons_area: pd.DataFrame, solar: pd.DataFrame, topology: pd.DataFrame, tariff: pd.DataFrame,
    temperature: pd.DataFrame | None, params: OptimizationConfig,
) -> AreaInputs:
    """Pivot one area's forecasts to matrices; leave out (and log) buildings with gaps; compliance."""
    buildings_idx = pd.Index(sorted(cons_area["building_id"].astype(str).unique()))
    topo = _topology_frame(topology, buildings_idx, params)
    not_in_topology = sorted(buildings_idx[~buildings_idx.isin(topology["building_id"].astype(str))])
    if not_in_topology:
        log.warning("grid area %s: %d building(s) are not in the topology (no DR, no battery): %s",
                    area, len(not_in_topology), not_in_topology[:20])
    hours_all = pd.DatetimeIndex(sorted(cons_area["timestamp_hour"].unique()))
    cons_area = cons_area.assign(building_id=cons_area["building_id"].astype(str))
    sol_area = solar[solar["building_id"].astype(str).isin(buildings_idx)].assign(
        building_id=lambda d: d["building_id"].astype(str))
    yhat = _pivot(cons_area, "yhat", buildings_idx, hours_all)
    upper = _pivot(cons_area, "yhat_upper", buildings_idx, hours_all)
    sol_mid = np.nan_to_num(_pivot(sol_area, "yhat", buildings_idx, hours_all), nan=0.0)
    sol_low = np.nan_to_num(_pivot(sol_area, "yhat_lower", buildings_idx, hours_all), nan=0.0)
    incomplete = ~np.isfinite(yhat).all(axis=1)
    excluded = sorted(buildings_idx[incomplete])
    if excluded:
        log.warning("grid area %s: %d building(s) lack consumption forecasts for some hours and are left out: %s",
                    area, len(excluded), excluded[:20])
    keep = ~incomplete
    b_ids = buildings_idx[keep].to_numpy(dtype=object)
    topo_k = topo[keep]
    yhat, upper, sol_mid, sol_low = yhat[keep], upper[keep], sol_mid[keep], sol_low[keep]
    tz_b = topo_k["timezone"].to_numpy()
    area_tz = pd.Series(tz_b).mode().iloc[0] if len(tz_b) else "UTC"
    local_hours = _local_hours(tz_b, hours_all)
    price, carbon, tariff_note = tariff_for_hours(tariff, hours_all)
    size = yhat.mean(axis=1) if yhat.size else np.zeros(len(b_ids))
    temp = None if temperature is None else _pivot(
        temperature[temperature["building_id"].isin(b_ids)], "temperature_c", pd.Index(b_ids), hours_all)
    comp = compliance_probability(topo_k["building_type"].tolist(), size, topo_k["dr_max_participation"].to_numpy(),
                                  local_hours, params, temperature_c=temp)
    return AreaInputs(area, b_ids, topo_k, hours_all, yhat, upper, sol_mid, sol_low, area_tz, local_hours,
                      price, carbon, tariff_note, temp, comp, excluded, not_in_topology)


def optimize_step_plan_area(
    a: AreaInputs, spec: dict[str, Any] | None, params: OptimizationConfig,
) -> tuple[list[pd.DataFrame], dict[str, Any]]:
    """Every local day of the area: the DR plan and the resident actions; the area's summary."""
    local_day = a.hours.tz_convert(a.timezone).date
    area_tz_hours = a.hours.tz_convert(a.timezone).hour.to_numpy()
    weight = params.resident_cost_weight * a.price + params.resident_carbon_weight * a.carbon
    frames: list[pd.DataFrame] = []
    plans: list[tuple[str, PortfolioPlan]] = []
    resident_status: list[str] = []
    for day in sorted(set(local_day)):
        cols = np.flatnonzero(local_day == day)
        levels, required = _conditions_for(spec, a.hours[cols], area_tz_hours[cols])
        plan = optimize_step_demand_response(a, cols, levels, required, params)
        plans.append((str(day), plan))
        x = plan.curtail_kwh
        frames.append(_rows("demand_response", "curtail", a.buildings, a.area, a.hours[cols], x > params.min_action_kwh,
                            x, plan.expected_reduction_kwh, plan.expected_reduction_kwh * weight[cols][None, :]))
        status, resident_frames = optimize_step_resident(a, cols, params)
        resident_status.append(status)
        frames += resident_frames
    temp = a.temperature
    return frames, _area_summary(a.area, plans, {
        "buildings": int(len(a.buildings)), "timezone": a.timezone, "tariff": a.tariff_note,
        "temperature": "none" if temp is None else f"weather forecast ({int(np.isfinite(temp).sum())} building-hours)",
        "mean_compliance": round(float(a.compliance.mean()), 4) if a.compliance.size else None,
        "resident_status": sorted(set(resident_status)),
        "excluded_buildings": a.excluded, "not_in_topology": a.not_in_topology,
        "infeasible_days": [d for d, p in plans if p.status == STATUS_INFEASIBLE_REQUIREMENT]})


def optimize_step_demand_response(
    a: AreaInputs, cols: np.ndarray, levels: list[str], required: np.ndarray, params: OptimizationConfig,
) -> PortfolioPlan:
    """The DR portfolio of one local day (``cols``: its hours) on the consumption upper bound."""
    # a partial local day (the horizon's first/last) gets the matching share of the daily budget,
    # so consecutive runs planning the same local day cannot spend it twice
    budget = a.topology["dr_comfort_budget_kwh"].to_numpy() * min(1.0, len(cols) / 24.0)
    return plan_portfolio(a.yhat[:, cols], a.upper[:, cols], a.compliance[:, cols],
                          a.topology["dr_max_participation"].to_numpy(), budget, params,
                          solar_lower_kwh=a.solar_low[:, cols], conditions=levels, required_reduction_kwh=required)


def optimize_step_resident(a: AreaInputs, cols: np.ndarray, params: OptimizationConfig) -> tuple[str, list[pd.DataFrame]]:
    """One local day's resident actions: battery schedules (every home with one), appliance hours (PV homes)."""
    hours, price, carbon = a.hours[cols], a.price[cols], a.carbon[cols]
    yhat, sol_mid, topo = a.yhat[:, cols], a.solar_mid[:, cols], a.topology
    sched = schedule_battery(yhat, sol_mid, price, carbon, topo["battery_capacity_kwh"].to_numpy(),
                             topo["battery_power_kw"].to_numpy(), topo["battery_efficiency"].to_numpy(), params)
    import_cut = sched.baseline_import_kwh - sched.grid_import_kwh
    frames = [_rows("resident", action, a.buildings, a.area, hours, energy > params.min_action_kwh,
                    energy, import_cut, sched.hourly_saving)
              for action, energy in (("charge_battery", sched.charge_kwh), ("discharge_battery", sched.discharge_kwh))]
    pv_rows = np.flatnonzero(topo["pv_capacity_kw"].to_numpy() > 0)
    if pv_rows.size:
        top_n = min(params.appliance_top_n, len(cols))
        mask = np.zeros((len(a.buildings), len(cols)), dtype=bool)
        saving = np.zeros((len(a.buildings), len(cols)))
        for i in pv_rows:
            cost = appliance_hour_scores(yhat[i], sol_mid[i], price, carbon, params.resident_cost_weight,
                                         params.resident_carbon_weight, params.appliance_kwh)
            best = rank_appliance_hours(yhat[i], sol_mid[i], price, carbon, params.resident_cost_weight,
                                        params.resident_carbon_weight, top_n, params.appliance_kwh)
            mask[i, best] = True
            saving[i] = cost.mean() - cost
        kw = np.full(mask.shape, params.appliance_kwh)
        frames.append(_rows("resident", "run_flexible_load", a.buildings, a.area, hours, mask, kw,
                            np.zeros(mask.shape), saving))
    return sched.status, frames


def optimize_step_assemble(frames: list[pd.DataFrame], areas: list[dict[str, Any]], run_id: str,
                           issue_time: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, Any]]:
    """All areas' rows in ``RECOMMENDATION_COLUMNS`` (stamped with the run) and the run summary."""
    recs = pd.concat([fr for fr in frames if not fr.empty], ignore_index=True) if any(not fr.empty for fr in frames) \
        else empty_recommendations()
    recs["run_id"] = run_id
    recs["issue_time"] = pd.Timestamp(issue_time).tz_convert("UTC") if pd.Timestamp(issue_time).tzinfo else \
        pd.Timestamp(issue_time).tz_localize("UTC")
    recs = conform_recommendations(recs)
    summary = {"run_id": run_id, "issue_time": pd.Timestamp(recs["issue_time"].iloc[0]).isoformat() if len(recs) else
               pd.Timestamp(issue_time).isoformat(), "recommendations": int(len(recs)),
               "status": "infeasible_requirement" if any(a["infeasible_days"] for a in areas) else "ok",
               "grid_areas": areas}
    return recs, summary


def conform_recommendations(recs: pd.DataFrame) -> pd.DataFrame:
    """Exactly ``RECOMMENDATION_COLUMNS`` in order, with their dtypes (microsecond UTC timestamps)."""
    out = pd.DataFrame(index=recs.index)
    for col, kind in RECOMMENDATION_COLUMNS.items():
        if kind.startswith("timestamp"):
            out[col] = pd.to_datetime(recs[col], utc=True).astype("datetime64[us, UTC]")
        elif kind == "double":
            out[col] = recs[col].astype("float64")
        else:
            out[col] = recs[col].astype("string")
    return out.reset_index(drop=True)
