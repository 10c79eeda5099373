"""Resident schedules: appliance-hour ranking (numpy only) and the PV + battery LP."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edf.optimization.resident import appliance_hour_scores, rank_appliance_hours, schedule_battery


@pytest.fixture(scope="module")
def params():
    from edf.config import load_config

    return load_config().edf_optimization


def test_ranking_prefers_pv_surplus_then_cheap_clean_hours():
    demand = [1.0, 1.0, 1.0, 1.0, 1.0]
    solar = [0.0, 3.0, 0.5, 2.5, 0.0]
    price = [0.20, 0.30, 0.10, 0.30, 0.50]
    carbon = [0.40, 0.40, 0.10, 0.40, 0.10]
    # hours 1 and 3 are fully covered by surplus (score 0); hour 1 has more to spare
    assert rank_appliance_hours(demand, solar, price, carbon, top_n=3) == [1, 3, 2]
    assert rank_appliance_hours(demand, solar, price, carbon, top_n=99) == [1, 3, 2, 0, 4]


def test_ranking_without_tariff_uses_surplus_and_is_deterministic():
    assert rank_appliance_hours([2, 2, 2], [0, 0, 0], top_n=3) == [0, 1, 2]
    assert rank_appliance_hours([1, 1, 1], [0, 1.5, 1.2], top_n=1) == [1]


def test_ranking_weights_trade_cost_against_carbon():
    price, carbon = [0.1, 0.3], [0.9, 0.1]
    assert rank_appliance_hours([1, 1], [0, 0], price, carbon, cost_weight=1.0, carbon_weight=0.0, top_n=1) == [0]
    assert rank_appliance_hours([1, 1], [0, 0], price, carbon, cost_weight=0.0, carbon_weight=1.0, top_n=1) == [1]


def test_ranking_rejects_bad_input():
    with pytest.raises(ValueError, match="solar_kwh has 2 hours"):
        rank_appliance_hours([1, 1, 1], [0, 0])
    with pytest.raises(ValueError, match="not finite"):
        rank_appliance_hours([1, float("nan")], [0, 0])
    with pytest.raises(ValueError, match="top_n"):
        rank_appliance_hours([1], [0], top_n=0)
    assert rank_appliance_hours([], []) == []


def test_ranking_module_does_not_import_cvxpy():
    code = ("import sys; from edf.optimization.resident import rank_appliance_hours; "
            "rank_appliance_hours([1, 2], [0, 3]); print('cvxpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_scores_match_hand_computation():
    cost = appliance_hour_scores([1, 1], [1.5, 0], [0.2, 0.2], [0.1, 0.1], 1.0, 0.5, appliance_kwh=1.0)
    np.testing.assert_allclose(cost, [0.5 * 0.25, 0.25])  # half covered by the 0.5 kWh surplus


def test_battery_hand_optimum(params):
    # Capacity 2 kWh starting at 1 (share 0.5), lossless, 1 kW; prices 0.1 then 0.5, no carbon weight.
    p = params.model_copy(update={"resident_carbon_weight": 0.0, "battery_min_soc_share": 0.1})
    sched = schedule_battery(np.array([[0.0, 2.0]]), np.zeros((1, 2)), np.array([0.1, 0.5]), np.zeros(2),
                             np.array([2.0]), np.array([1.0]), np.array([1.0]), p)
    assert sched.status == "optimal"
    np.testing.assert_allclose(sched.charge_kwh, [[1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(sched.discharge_kwh, [[0.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(sched.grid_import_kwh, [[1.0, 1.0]], atol=1e-6)
    assert sched.total_saving[0] == pytest.approx(1.0 - 0.6, abs=1e-6)


def test_homes_without_battery_keep_their_baseline(params):
    sched = schedule_battery(np.ones((2, 3)), np.zeros((2, 3)), np.full(3, 0.2), np.full(3, 0.1),
                             np.zeros(2), np.zeros(2), np.full(2, 0.9), params)
    assert sched.status == "no_battery"
    assert not sched.charge_kwh.any() and not sched.hourly_saving.any()


def test_export_price_above_import_is_rejected(params):
    p = params.model_copy(update={"resident_export_price_per_kwh": 5.0})
    with pytest.raises(ValueError, match="money pump"):
        schedule_battery(np.ones((1, 2)), np.zeros((1, 2)), np.full(2, 0.2), np.zeros(2),
                         np.ones(1), np.ones(1), np.ones(1), p)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), n_h=st.integers(1, 4), n_t=st.integers(2, 12))
def test_random_battery_schedules_respect_limits_and_never_lose(params, seed, n_h, n_t):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 3, (n_h, n_t))
    solar = rng.uniform(0, 3, (n_h, n_t)) * (rng.uniform(size=(n_h, 1)) > 0.3)
    price, carbon = rng.uniform(0.1, 0.6, n_t), rng.uniform(0.05, 0.3, n_t)
    cap = rng.uniform(0, 10, n_h) * (rng.uniform(size=n_h) > 0.2)
    power, eff = rng.uniform(0.5, 5, n_h), rng.uniform(0.7, 1.0, n_h)
    s = schedule_battery(demand, solar, price, carbon, cap, power, eff, params)
    tol = 1e-5
    assert (s.charge_kwh >= -tol).all() and (s.charge_kwh <= power[:, None] + tol).all()
    assert (s.discharge_kwh >= -tol).all() and (s.discharge_kwh <= power[:, None] + tol).all()
    has = cap > 0
    assert (s.soc_kwh[has] <= cap[has, None] + tol).all()
    assert (s.soc_kwh[has] >= params.battery_min_soc_share * cap[has, None] - tol).all()
    assert (s.soc_kwh[has, -1] >= params.battery_initial_soc_share * cap[has] - tol).all()
    # state of charge follows the dynamics
    half = np.sqrt(eff)[:, None]
    prev = np.hstack([(params.battery_initial_soc_share * cap)[:, None], s.soc_kwh[:, :-1]])
    np.testing.assert_allclose(s.soc_kwh[has], (prev + half * s.charge_kwh - s.discharge_kwh / half)[has], atol=1e-4)
    assert (s.total_saving >= -1e-5).all()  # never worse than no battery
