"""Demand-response portfolio LP: hand-known optima, random instances, infeasible and degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edf.optimization.portfolio import (
    STATUS_INFEASIBLE_REQUIREMENT,
    STATUS_NOTHING,
    STATUS_OPTIMAL,
    do_nothing_peak,
    plan_portfolio,
)

TOL = 1e-5


@pytest.fixture(scope="module")
def params():
    from edf.config import load_config

    return load_config().edf_optimization


def test_peak_mode_hand_optimum(params):
    # Two buildings, 10 kWh then 2 kWh; compliance 0.5, share 0.5, ample budget:
    # each can shed 5 kWh in hour 0 for an expected 2.5 -> peak 20 -> 15; hour 1 untouched.
    demand = np.array([[10.0, 2.0], [10.0, 2.0]])
    plan = plan_portfolio(demand, demand, np.full((2, 2), 0.5), np.array([0.5, 0.5]), np.array([100.0, 100.0]), params)
    assert plan.status == STATUS_OPTIMAL and plan.mode == "peak"
    np.testing.assert_allclose(plan.curtail_kwh, [[5.0, 0.0], [5.0, 0.0]], atol=TOL)
    assert plan.peak_before_kwh == pytest.approx(20.0)
    assert plan.peak_after_kwh == pytest.approx(15.0, abs=TOL)
    assert plan.peak_reduction_pct == pytest.approx(25.0, abs=1e-3)


def test_peak_mode_levels_two_hours_under_the_comfort_budget(params):
    # One building, demand 10 and 8, compliance 1 (test only), share 1, budget 4:
    # the optimum levels both hours at 7 (shed 3 then 1), using the whole budget.
    p = params.model_copy(update={"compliance_bounds": (0.1, 1.0)})
    demand = np.array([[10.0, 8.0]])
    plan = plan_portfolio(demand, demand, np.ones((1, 2)), np.array([1.0]), np.array([4.0]), p)
    np.testing.assert_allclose(plan.curtail_kwh, [[3.0, 1.0]], atol=TOL)
    assert plan.peak_after_kwh == pytest.approx(7.0, abs=TOL)


def test_upper_bound_sets_the_load_and_central_forecast_caps_the_request(params):
    demand = np.array([[4.0, 1.0]])
    upper = np.array([[6.0, 1.0]])
    plan = plan_portfolio(demand, upper, np.full((1, 2), 0.5), np.array([0.5]), np.array([10.0]), params)
    assert plan.peak_before_kwh == pytest.approx(6.0)
    assert plan.curtail_kwh[0, 0] == pytest.approx(2.0, abs=TOL)  # 0.5 x central 4, not 0.5 x upper 6
    assert plan.peak_after_kwh == pytest.approx(5.0, abs=TOL)


def test_required_mode_meets_participation_at_least_disruption(params):
    demand = np.array([[10.0, 10.0], [10.0, 10.0]])
    plan = plan_portfolio(demand, demand, np.full((2, 2), 0.5), np.array([0.4, 0.4]), np.array([10.0, 10.0]), params,
                          conditions=["critical", "normal"])
    assert plan.mode == "required" and plan.status == STATUS_OPTIMAL
    # capacity in hour 0 is 8 kWh; critical needs >= 0.5 of it requested = 4 kWh; nothing in the normal hour
    assert plan.curtail_kwh[:, 0].sum() == pytest.approx(4.0, abs=1e-4)
    assert plan.curtail_kwh[:, 1].sum() == pytest.approx(0.0, abs=1e-4)


def test_explicit_requirement_prefers_compliant_buildings(params):
    demand = np.array([[10.0], [10.0]])
    comp = np.array([[0.8], [0.2]])
    plan = plan_portfolio(demand, demand, comp, np.array([0.5, 0.5]), np.array([10.0, 10.0]), params,
                          conditions=["high"], required_reduction_kwh=np.array([3.2]))
    # least curtailment delivering 3.2 kWh expected: 4 kWh from the 0.8-compliant building
    assert plan.status == STATUS_OPTIMAL
    assert plan.curtail_kwh[0, 0] == pytest.approx(4.0, abs=1e-4)
    assert plan.curtail_kwh[1, 0] == pytest.approx(0.0, abs=1e-4)  # 4 kWh also covers 0.3 participation
    assert plan.achieved_kwh.sum() >= 3.2 - 1e-4


def test_infeasible_requirement_returns_best_achievable_not_a_crash(params):
    demand = np.array([[10.0, 2.0], [10.0, 2.0]])
    plan = plan_portfolio(demand, demand, np.full((2, 2), 0.5), np.array([0.5, 0.5]), np.array([1.0, 1.0]), params,
                          conditions=["critical", "normal"], required_reduction_kwh=np.array([5.0, 0.0]))
    assert plan.status == STATUS_INFEASIBLE_REQUIREMENT
    assert "best achievable" in plan.message
    # best achievable: each building spends its whole 1 kWh budget in the strained hour -> 1 kWh expected
    np.testing.assert_allclose(plan.curtail_kwh[:, 0], [1.0, 1.0], atol=1e-4)
    assert plan.achieved_kwh.sum() == pytest.approx(1.0, abs=1e-4)
    assert plan.shortfall_kwh == pytest.approx(4.0, abs=1e-4)


@pytest.mark.parametrize("case", ["zero_demand", "zero_budget", "zero_participation", "no_buildings"])
def test_degenerate_inputs_do_nothing(params, case):
    n_b = 0 if case == "no_buildings" else 3
    demand = np.zeros((n_b, 4)) if case == "zero_demand" else np.full((n_b, 4), 2.0)
    budget = np.zeros(n_b) if case == "zero_budget" else np.full(n_b, 5.0)
    share = np.zeros(n_b) if case == "zero_participation" else np.full(n_b, 0.3)
    plan = plan_portfolio(demand, demand, np.full((n_b, 4), 0.4), share, budget, params)
    assert plan.status == STATUS_NOTHING
    assert plan.curtail_kwh.shape == (n_b, 4) and not plan.curtail_kwh.any()
    assert plan.peak_reduction_pct == 0.0


def test_one_building_with_compliance_at_the_floor(params):
    lo = params.compliance_bounds[0]
    demand = np.array([[5.0, 3.0, 1.0]])
    plan = plan_portfolio(demand, demand, np.full((1, 3), lo), np.array([0.3]), np.array([10.0]), params)
    assert plan.status == STATUS_OPTIMAL
    assert plan.curtail_kwh[0, 0] == pytest.approx(1.5, abs=TOL)
    assert plan.peak_after_kwh == pytest.approx(5.0 - lo * 1.5, abs=TOL)


def test_bad_inputs_name_the_problem(params):
    demand = np.ones((2, 3))
    with pytest.raises(ValueError, match="non-finite"):
        bad = demand.copy()
        bad[1, 2] = np.nan
        plan_portfolio(bad, demand, np.full((2, 3), 0.5), np.ones(2) * 0.3, np.ones(2), params)
    with pytest.raises(ValueError, match="shape"):
        plan_portfolio(demand, demand, np.full((2, 2), 0.5), np.ones(2) * 0.3, np.ones(2), params)
    with pytest.raises(ValueError, match="unknown grid condition"):
        plan_portfolio(demand, demand, np.full((2, 3), 0.5), np.ones(2) * 0.3, np.ones(2), params,
                       conditions=["normal", "apocalyptic", "high"])


@st.composite
def instances(draw):
    n_b = draw(st.integers(1, 5))
    n_t = draw(st.integers(1, 6))
    floats = st.floats(0.0, 1.0, allow_nan=False)
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    demand = rng.uniform(0, 5, (n_b, n_t)) * draw(st.sampled_from([0.0, 1.0, 1.0, 1.0]))
    upper = demand * (1 + rng.uniform(0, 0.5, (n_b, n_t)))
    solar = rng.uniform(0, 2, (n_b, n_t)) * draw(st.sampled_from([0.0, 1.0]))
    comp = rng.uniform(0.1, 0.8, (n_b, n_t))
    share = np.array([draw(floats) for _ in range(n_b)])
    budget = rng.uniform(0, 6, n_b)
    levels = [draw(st.sampled_from(["normal", "normal", "high", "critical"])) for _ in range(n_t)]
    required = rng.uniform(0, 4, n_t) * draw(st.sampled_from([0.0, 1.0]))
    return demand, upper, solar, comp, share, budget, levels, required


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_random_instances_respect_every_constraint(params, inst):
    demand, upper, solar, comp, share, budget, levels, required = inst
    plan = plan_portfolio(demand, upper, comp, share, budget, params, solar_lower_kwh=solar,
                          conditions=levels, required_reduction_kwh=required)
    x = plan.curtail_kwh
    cap = share[:, None] * demand
    assert (x >= -TOL).all()
    assert (x <= cap + TOL).all()
    assert (x.sum(axis=1) <= budget + TOL).all()
    np.testing.assert_allclose(plan.expected_reduction_kwh, comp * x, atol=1e-9)
    np.testing.assert_allclose(plan.planned_load_kwh, (upper - solar).sum(axis=0) - (comp * x).sum(axis=0), atol=1e-8)
    # never worse than doing nothing
    assert plan.peak_after_kwh <= do_nothing_peak(upper, solar) + TOL
    strained = np.array(levels) != "normal"
    if plan.mode == "required":
        nothing_short = required[strained].sum()
        assert plan.shortfall_kwh <= nothing_short + TOL
        if plan.status == STATUS_OPTIMAL:
            rho = np.array([params.participation_minimum.get(lv, 0.0) for lv in levels])
            need = (rho * cap.sum(axis=0))[strained]
            assert (x[:, strained].sum(axis=0) >= need - 1e-4).all()
            assert ((comp * x).sum(axis=0)[strained] >= required[strained] - 1e-4).all()
    else:
        assert plan.status in (STATUS_OPTIMAL, STATUS_NOTHING)
