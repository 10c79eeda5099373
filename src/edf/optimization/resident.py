"""Resident schedules: the best hours for flexible appliances and a PV + battery LP.

``rank_appliance_hours`` is numpy-only on purpose: the B2C Lambda imports it, and a Lambda cold
start must not pay for cvxpy. The battery LP (``schedule_battery``) imports cvxpy lazily.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the config import stays out of the Lambda's import path
    from edf.config import OptimizationConfig

# Default weight of carbon against money in the resident objective: currency units per kg CO2.
# 0.05 $/kg is ~50 $/t, the order of published social-cost-of-carbon figures; the config
# (`edf_optimization.resident_carbon_weight`) overrides it and the pipeline always passes it.
DEFAULT_CARBON_WEIGHT = 0.05


def _as_vector(name: str, values: Sequence[float] | np.ndarray, n: int | None = None) -> np.ndarray:
    arr = np.asarray(values, dtype="float64").reshape(-1)
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} hours but demand_kwh has {n}; give one value per hour")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{name} is not finite at hour index(es) {bad.tolist()[:10]}")
    return arr


def rank_appliance_hours(
    demand_kwh: Sequence[float] | np.ndarray,
    solar_kwh: Sequence[float] | np.ndarray,
    price: Sequence[float] | np.ndarray | None = None,
    carbon: Sequence[float] | np.ndarray | None = None,
    cost_weight: float = 1.0,
    carbon_weight: float = DEFAULT_CARBON_WEIGHT,
    top_n: int = 3,
    appliance_kwh: float = 1.0,
) -> list[int]:
    """Indices of the best hours to run a flexible appliance, best first.

    Scoring (lower is better) for hour ``h``, for an appliance drawing ``appliance_kwh`` in it:

    * ``surplus_h = max(solar_h - demand_h, 0)`` is PV that would otherwise be exported;
    * ``grid_share_h = clip(1 - surplus_h / appliance_kwh, 0, 1)`` is the part of the
      appliance's energy that must come from the grid (0 when the surplus covers it all);
    * ``score_h = grid_share_h * (cost_weight * price_h + carbon_weight * carbon_h)``.

    Without ``price`` every hour costs 1 (so the ranking is by self-consumed PV alone); without
    ``carbon`` the carbon term is 0. Ties (e.g. several fully-covered sunny hours, or a flat
    tariff at night) are broken by the lowest net demand ``demand_h - solar_h`` (most PV to
    spare, least stress on the feeder), then by the earliest hour, so the result is
    deterministic. Export revenue is ignored: it is small and flat under the bundled tariff.

    Raises ``ValueError`` for mismatched lengths, non-finite values, negative weights or
    ``top_n < 1``; returns all hours ranked when ``top_n`` exceeds the horizon.
    """
    demand = _as_vector("demand_kwh", demand_kwh)
    n = demand.shape[0]
    if n == 0:
        return []
    solar = _as_vector("solar_kwh", solar_kwh, n)
    price_v = np.ones(n) if price is None else _as_vector("price", price, n)
    carbon_v = np.zeros(n) if carbon is None else _as_vector("carbon", carbon, n)
    if int(top_n) < 1:
        raise ValueError(f"top_n must be at least 1, got {top_n}")
    if cost_weight < 0 or carbon_weight < 0:
        raise ValueError("cost_weight and carbon_weight must be non-negative")
    if appliance_kwh <= 0:
        raise ValueError(f"appliance_kwh must be positive, got {appliance_kwh}")

    score = appliance_hour_scores(demand, solar, price_v, carbon_v, cost_weight, carbon_weight, appliance_kwh)
    net = demand - solar
    # np.lexsort sorts by the last key first: score, then net demand, then hour index.
    order = np.lexsort((np.arange(n), net, np.round(score, 12)))
    return [int(i) for i in order[: int(top_n)]]


def appliance_hour_scores(
    demand_kwh: Sequence[float] | np.ndarray,
    solar_kwh: Sequence[float] | np.ndarray,
    price: Sequence[float] | np.ndarray | None = None,
    carbon: Sequence[float] | np.ndarray | None = None,
    cost_weight: float = 1.0,
    carbon_weight: float = DEFAULT_CARBON_WEIGHT,
    appliance_kwh: float = 1.0,
) -> np.ndarray:
    """Objective cost (currency) of running the appliance in each hour: the scores ``rank_appliance_hours`` sorts.

    ``score_h x appliance_kwh``; the saving of hour ``h`` against a random hour of the day is
    ``mean(cost) - cost_h``.
    """
    demand = _as_vector("demand_kwh", demand_kwh)
    n = demand.shape[0]
    solar = _as_vector("solar_kwh", solar_kwh, n)
    price_v = np.ones(n) if price is None else _as_vector("price", price, n)
    carbon_v = np.zeros(n) if carbon is None else _as_vector("carbon", carbon, n)
    surplus = np.clip(solar - demand, 0.0, None)
    grid_share = np.clip(1.0 - surplus / appliance_kwh, 0.0, 1.0)
    return grid_share * (cost_weight * price_v + carbon_weight * carbon_v) * appliance_kwh


@dataclass
class BatterySchedule:
    """Solved schedules for a set of homes, arrays ``(H, T)`` (kWh in the hour)."""

    charge_kwh: np.ndarray
    discharge_kwh: np.ndarray
    soc_kwh: np.ndarray  # state of charge at the end of each hour
    grid_import_kwh: np.ndarray
    baseline_import_kwh: np.ndarray
    hourly_saving: np.ndarray  # baseline objective - optimised objective per hour (currency)
    status: str
    solve_seconds: float

    @property
    def total_saving(self) -> np.ndarray:
        return self.hourly_saving.sum(axis=1)


def _objective_per_hour(grid: np.ndarray, export: np.ndarray, weight: np.ndarray, export_price: float) -> np.ndarray:
    return grid * weight[None, :] - export_price * export


def schedule_battery(
    demand_kwh: np.ndarray,
    solar_kwh: np.ndarray,
    price: np.ndarray,
    carbon: np.ndarray,
    capacity_kwh: np.ndarray,
    power_kw: np.ndarray,
    efficiency: np.ndarray,
    params: OptimizationConfig,
) -> BatterySchedule:
    """Cost + weighted-carbon optimal battery schedule for ``H`` homes over ``T`` hours (one LP).

    Per home and hour: ``net = demand - solar``; grid import ``g >= net + charge - discharge``,
    ``g >= 0`` (the rest is exported at ``resident_export_price_per_kwh``);
    ``soc_t = soc_{t-1} + sqrt(eff) * charge_t - discharge_t / sqrt(eff)`` (round-trip
    efficiency split evenly); ``min_soc <= soc <= capacity``; ``0 <= charge, discharge <= power x 1 h``;
    the day ends with at least the initial charge, so savings are not borrowed from tomorrow.
    Objective: ``sum_t (cost_weight * price_t + carbon_weight * carbon_t) * g_t - export_price * export_t``.
    The baseline is the same home without the battery, so ``hourly_saving`` sums to the value of
    the schedule. Homes with zero capacity or power get an all-zero schedule.
    """
    demand = np.asarray(demand_kwh, dtype="float64")
    if demand.ndim != 2:
        raise ValueError(f"demand_kwh must be (homes, hours), got shape {demand.shape}")
    n_h, n_t = demand.shape
    solar = np.asarray(solar_kwh, dtype="float64")
    for name, arr, shape in (("solar_kwh", solar, (n_h, n_t)), ("price", np.asarray(price), (n_t,)),
                             ("carbon", np.asarray(carbon), (n_t,)), ("capacity_kwh", np.asarray(capacity_kwh), (n_h,)),
                             ("power_kw", np.asarray(power_kw), (n_h,)), ("efficiency", np.asarray(efficiency), (n_h,))):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} must have shape {shape}, got {np.shape(arr)}")
        if not np.all(np.isfinite(np.asarray(arr, dtype="float64"))):
            raise ValueError(f"{name} has non-finite values")
    eff = np.asarray(efficiency, dtype="float64")
    if np.any(eff <= 0) or np.any(eff > 1):
        raise ValueError("battery efficiency must be in (0, 1]")
    cap = np.clip(np.asarray(capacity_kwh, dtype="float64"), 0, None)
    power = np.clip(np.asarray(power_kw, dtype="float64"), 0, None)
    weight = params.resident_cost_weight * np.asarray(price, dtype="float64") + params.resident_carbon_weight * np.asarray(carbon, dtype="float64")
    export_price = params.resident_export_price_per_kwh
    if n_t and export_price >= weight.min():
        raise ValueError(f"resident_export_price_per_kwh ({export_price}) must stay below the import cost "
                         f"(min {weight.min():.4f}); otherwise importing to export is a money pump")
    net = demand - solar
    base_import = np.clip(net, 0, None)
    base_obj = _objective_per_hour(base_import, np.clip(-net, 0, None), weight, export_price)
    zeros = np.zeros((n_h, n_t))
    active = np.flatnonzero((cap > 0) & (power > 0))
    if active.size == 0 or n_t == 0:
        return BatterySchedule(zeros, zeros.copy(), np.repeat((cap * params.battery_initial_soc_share)[:, None], n_t, 1),
                               base_import, base_import, zeros.copy(), "no_battery", 0.0)

    # Homes are independent, so the LP is block-diagonal; solving it in chunks keeps the time
    # linear in the number of homes (one 10,000-home LP is several times slower than 50 chunks).
    started = time.perf_counter()
    ch_v, dis_v, soc_v = (np.zeros((active.size, n_t)) for _ in range(3))
    statuses = set()
    chunk = max(1, params.battery_chunk_homes)
    for lo_i in range(0, active.size, chunk):
        sel = active[lo_i: lo_i + chunk]
        c_res = _battery_lp(net[sel], cap[sel], power[sel], eff[sel], weight, export_price, params)
        ch_v[lo_i: lo_i + chunk], dis_v[lo_i: lo_i + chunk], soc_v[lo_i: lo_i + chunk] = c_res[:3]
        statuses.add(c_res[3])
    seconds = time.perf_counter() - started
    pw = np.repeat(power[active][:, None], n_t, 1)

    charge, discharge = zeros.copy(), zeros.copy()
    soc_out = np.repeat((cap * params.battery_initial_soc_share)[:, None], n_t, 1)
    charge[active] = np.clip(ch_v, 0, pw)
    discharge[active] = np.clip(dis_v, 0, pw)
    soc_out[active] = soc_v
    grid_import = base_import.copy()
    grid_import[active] = np.clip(net[active] + charge[active] - discharge[active], 0, None)
    exported = grid_import - (net + charge - discharge)
    saving = base_obj - _objective_per_hour(grid_import, exported, weight, export_price)
    status = "optimal" if statuses == {"optimal"} else "optimal_inaccurate"
    return BatterySchedule(charge, discharge, soc_out, grid_import, base_import, saving, status, seconds)


def _battery_lp(net: np.ndarray, cap: np.ndarray, power: np.ndarray, eff: np.ndarray, weight: np.ndarray,
                export_price: float, params: OptimizationConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """One vectorised LP for a chunk of homes (all with a battery); see ``schedule_battery``."""
    import cvxpy as cp  # lazy import: rank_appliance_hours callers never need it

    from edf.optimization.portfolio import solve_lp

    n_h, n_t = net.shape
    half = np.sqrt(eff)[:, None]
    soc0 = cap * params.battery_initial_soc_share
    lo = np.repeat((cap * params.battery_min_soc_share)[:, None], n_t, 1)
    hi = np.repeat(cap[:, None], n_t, 1)
    pw = np.repeat(power[:, None], n_t, 1)
    ch = cp.Variable((n_h, n_t), bounds=[np.zeros_like(pw), pw])
    dis = cp.Variable((n_h, n_t), bounds=[np.zeros_like(pw), pw])
    soc = cp.Variable((n_h, n_t), bounds=[lo, hi])
    grid = cp.Variable((n_h, n_t), nonneg=True)
    flow = cp.multiply(half, ch) - cp.multiply(1.0 / half, dis)
    prev = cp.hstack([cp.reshape(soc0, (n_h, 1), order="C"), soc[:, :-1]]) if n_t > 1 else soc0[:, None]
    constraints = [soc == prev + flow, soc[:, -1] >= soc0, grid >= net + ch - dis]
    export = grid - (net + ch - dis)
    problem = cp.Problem(cp.Minimize(cp.sum(grid @ weight) - export_price * cp.sum(export)), constraints)
    solve_lp(problem, params, highs_method=params.battery_highs_method)
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or ch.value is None:
        raise RuntimeError(f"battery schedule: {params.solver} returned {problem.status!r} for {n_h} homes")
    status = "optimal" if problem.status == cp.OPTIMAL else "optimal_inaccurate"
    return np.asarray(ch.value), np.asarray(dis.value), np.asarray(soc.value), status
