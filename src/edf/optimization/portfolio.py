"""Demand-response portfolio: one linear program per grid area and day, buildings x hours.

Decision: ``x[i, t]`` = curtailment (kWh) requested from building ``i`` in hour ``t``.

    0 <= x[i, t] <= max_participation[i] * demand[i, t]       (share of the central forecast)
    sum_t x[i, t] <= comfort_budget[i]                         (per-building daily budget, kWh)
    load[t] = sum_i (demand_upper[i, t] - solar_lower[i, t]) - sum_i compliance[i, t] * x[i, t]

The portfolio load uses the *upper* demand bound (and the lower solar bound) so the plan still
holds when demand comes in high; the curtailment cap uses the central forecast so a building is
never asked for more than it is expected to draw. Two modes:

* ``peak`` (no strained hour): minimise ``max_t load[t]`` (+ ``disruption_weight`` x total
  curtailment, so among equal peaks the least disruptive plan wins);
* ``required`` (some hours ``high``/``critical``): in each strained hour request at least
  ``participation_minimum[level]`` of the portfolio's curtailable capacity and deliver any
  explicit ``required_reduction_kwh`` in expectation, at least total curtailment. The
  requirements are soft with a ``shortfall_penalty`` per kWh, so an impossible requirement
  (comfort budgets too small) still solves: the status says ``infeasible_requirement`` and the
  plan is the best achievable reduction.

Everything is vectorised: ``x`` is one ``(B, T)`` cvxpy variable with elementwise bounds, so
problem construction is O(1) Python calls whatever the portfolio size. It is an LP, solved by
HiGHS (interior point, no crossover) by default — see docs/optimization.md for the choice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from edf.config import OptimizationConfig

log = logging.getLogger(__name__)

LEVELS = ("normal", "high", "critical")
STATUS_OPTIMAL = "optimal"
STATUS_INFEASIBLE_REQUIREMENT = "infeasible_requirement"
STATUS_NOTHING = "nothing_to_curtail"


@dataclass
class PortfolioPlan:
    """The solved plan for one grid area and day (arrays are ``(B, T)`` or ``(T,)``)."""

    curtail_kwh: np.ndarray
    expected_reduction_kwh: np.ndarray
    baseline_load_kwh: np.ndarray
    planned_load_kwh: np.ndarray
    mode: str
    status: str
    solver: str
    solve_seconds: float
    required_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    achieved_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))
    message: str = ""
    min_request_kwh: np.ndarray = field(default_factory=lambda: np.zeros(0))  # participation floor per hour
    strained_hours: int = 0  # hours that were high or critical

    @property
    def requested_kwh(self) -> np.ndarray:
        """Curtailment requested per hour (kWh, summed over buildings)."""
        return self.curtail_kwh.sum(axis=0)

    @property
    def peak_before_kwh(self) -> float:
        return float(self.baseline_load_kwh.max()) if self.baseline_load_kwh.size else 0.0

    @property
    def peak_after_kwh(self) -> float:
        return float(self.planned_load_kwh.max()) if self.planned_load_kwh.size else 0.0

    @property
    def peak_reduction_pct(self) -> float:
        """Expected reduction of the portfolio's (upper-bound) peak, in % of the peak before."""
        before = self.peak_before_kwh
        return 0.0 if before <= 0 else 100.0 * (before - self.peak_after_kwh) / before

    @property
    def shortfall_kwh(self) -> float:
        return float(np.clip(self.required_kwh - self.achieved_kwh, 0, None).sum()) if self.required_kwh.size else 0.0


def _check(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(arr, dtype="float64")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        where = np.argwhere(bad)[:5].tolist()
        raise ValueError(f"{name} has non-finite values at (building, hour) {where}")
    return a


def solve_lp(problem, params: OptimizationConfig, highs_method: str | None = None) -> None:
    """Solve a cvxpy LP with the configured solver (HiGHS IPM without crossover by default)."""
    import cvxpy as cp

    if params.solver == "HIGHS":
        problem.solve(solver=cp.HIGHS, highs_options={"solver": highs_method or params.highs_method,
                                                       "run_crossover": params.highs_crossover})
    else:
        problem.solve(solver=getattr(cp, params.solver))


@dataclass(frozen=True)
class PortfolioProblem:
    """The checked inputs of one grid area and day and what the LP is built from."""

    compliance: np.ndarray  # (B, T) probability that a request is honoured
    budget: np.ndarray  # (B,) comfort budget, kWh
    cap: np.ndarray  # (B, T) most a building can be asked for: its share of the central forecast
    baseline: np.ndarray  # (T,) upper-bound portfolio load without curtailment (minus lower solar)
    strained: np.ndarray  # (T,) hours that are high or critical
    mode: str  # "peak" or "required"
    need_request: np.ndarray  # (T,) requested curtailment floor per strained hour, kWh
    need_expected: np.ndarray  # (T,) explicit expected reduction wanted per strained hour, kWh

    @property
    def curtailable(self) -> bool:
        """False when no building can deliver anything (zero demand, participation, budget or compliance)."""
        return bool(self.cap.size and np.any(self.cap * self.compliance > 0) and np.any(self.budget > 0))


def plan_portfolio(
    demand_kwh: np.ndarray,
    demand_upper_kwh: np.ndarray,
    compliance: np.ndarray,
    max_participation: np.ndarray,
    comfort_budget_kwh: np.ndarray,
    params: OptimizationConfig,
    solar_lower_kwh: np.ndarray | None = None,
    conditions: np.ndarray | list[str] | None = None,
    required_reduction_kwh: np.ndarray | None = None,
) -> PortfolioPlan:
    """Solve the DR program for one grid area and day; see the module docstring for the model.

    ``conditions``: per hour ``normal|high|critical`` (None = all normal = peak mode).
    ``required_reduction_kwh``: per hour, explicit expected reduction wanted (0 = none); only
    used in strained hours. Raises ``ValueError`` on inconsistent shapes or non-finite inputs.
    """
    problem = portfolio_step_problem(demand_kwh, demand_upper_kwh, compliance, max_participation,
                                     comfort_budget_kwh, params, solar_lower_kwh, conditions, required_reduction_kwh)
    if not problem.curtailable:
        met = not (problem.need_expected > 0).any()
        return portfolio_step_plan(problem, np.zeros(problem.cap.shape),
                                   STATUS_NOTHING if met else STATUS_INFEASIBLE_REQUIREMENT, "none", 0.0,
                                   "no curtailable demand (zero demand, participation, budget or compliance)")
    x, status, seconds, scale = portfolio_step_solve(problem, params)
    plan = portfolio_step_plan(problem, x, status, params.solver, seconds)
    if problem.mode == "required":
        portfolio_step_judge_requirement(problem, plan, scale)
    return plan


def portfolio_step_problem(
    demand_kwh: np.ndarray, demand_upper_kwh: np.ndarray, compliance: np.ndarray, max_participation: np.ndarray,
    comfort_budget_kwh: np.ndarray, params: OptimizationConfig, solar_lower_kwh: np.ndarray | None,
    conditions: np.ndarray | list[str] | None, required_reduction_kwh: np.ndarray | None,
) -> PortfolioProblem:
    """Check shapes, finiteness and ranges (``ValueError`` naming the input); derive caps and needs."""
    demand = np.asarray(demand_kwh, dtype="float64")
    if demand.ndim != 2:
        raise ValueError(f"demand_kwh must be (buildings, hours), got shape {demand.shape}")
    n_b, n_t = demand.shape
    demand = _check("demand_kwh", demand, (n_b, n_t))
    upper = _check("demand_upper_kwh", demand_upper_kwh, (n_b, n_t))
    comp = _check("compliance", compliance, (n_b, n_t))
    share = _check("max_participation", max_participation, (n_b,))
    budget = _check("comfort_budget_kwh", comfort_budget_kwh, (n_b,))
    solar = np.zeros((n_b, n_t)) if solar_lower_kwh is None else _check("solar_lower_kwh", solar_lower_kwh, (n_b, n_t))
    if np.any(comp < 0) or np.any(comp > 1):
        raise ValueError("compliance must be a probability in [0, 1]")
    if np.any(share < 0) or np.any(share > 1):
        raise ValueError("max_participation must be a share in [0, 1]")
    if np.any(budget < 0):
        raise ValueError("comfort_budget_kwh must be non-negative")

    levels = np.array(["normal"] * n_t if conditions is None else [str(c).lower() for c in conditions])
    if levels.shape != (n_t,):
        raise ValueError(f"conditions must give one level per hour ({n_t}), got {levels.shape[0]}")
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown:
        raise ValueError(f"unknown grid condition(s) {unknown}; expected one of {', '.join(LEVELS)}")
    explicit = np.zeros(n_t) if required_reduction_kwh is None else _check(
        "required_reduction_kwh", required_reduction_kwh, (n_t,))
    if np.any(explicit < 0):
        raise ValueError("required_reduction_kwh must be non-negative")

    cap = share[:, None] * np.clip(demand, 0.0, None)  # never ask for more than the expected draw
    strained = levels != "normal"
    rho = np.array([params.participation_minimum.get(lv, 0.0) if lv != "normal" else 0.0 for lv in levels])
    return PortfolioProblem(
        compliance=comp, budget=budget, cap=cap, baseline=(upper - solar).sum(axis=0), strained=strained,
        mode="required" if strained.any() else "peak",
        need_request=rho * cap.sum(axis=0),  # requested curtailment (kWh) per strained hour
        need_expected=np.where(strained, explicit, 0.0))


def portfolio_step_solve(p: PortfolioProblem, params: OptimizationConfig) -> tuple[np.ndarray, str, float, float]:
    """Build and solve the LP of the problem's mode: (curtailment, status, seconds, the LP's scale)."""
    import cvxpy as cp  # lazy: the Lambda-side helpers must not pay for cvxpy

    n_b, n_t = p.cap.shape
    scale = max(float(np.abs(p.baseline).max()), float(p.cap.sum(axis=0).max()), 1e-9)
    started = time.perf_counter()
    x = cp.Variable((n_b, n_t), bounds=[np.zeros((n_b, n_t)), p.cap], name="curtail_kwh")
    reduction = cp.sum(cp.multiply(p.compliance, x), axis=0)  # expected reduction per hour
    constraints = [cp.sum(x, axis=1) <= p.budget]
    if p.mode == "peak":
        peak = cp.Variable(name="peak_kwh")
        constraints.append((p.baseline - reduction) / scale <= peak)
        objective = peak + params.disruption_weight * cp.sum(x) / scale
    else:
        idx = np.flatnonzero(p.strained)
        slack_req = cp.Variable(idx.size, nonneg=True)
        slack_exp = cp.Variable(idx.size, nonneg=True)
        constraints += [
            cp.sum(x[:, idx], axis=0) / scale + slack_req >= p.need_request[idx] / scale,
            reduction[idx] / scale + slack_exp >= p.need_expected[idx] / scale,
        ]
        objective = cp.sum(x) / scale + params.shortfall_penalty * (cp.sum(slack_req) + cp.sum(slack_exp))
    problem = cp.Problem(cp.Minimize(objective), constraints)
    try:
        solve_lp(problem, params)
    except cp.error.SolverError as exc:
        raise RuntimeError(f"{params.solver} failed on a {n_b} x {n_t} portfolio: {exc}") from exc
    seconds = time.perf_counter() - started
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or x.value is None:
        # The soft formulation is always feasible and bounded; anything else is a solver fault.
        raise RuntimeError(f"{params.solver} returned status {problem.status!r} on a {n_b} x {n_t} portfolio")
    return np.asarray(x.value), STATUS_OPTIMAL if problem.status == cp.OPTIMAL else "optimal_inaccurate", seconds, scale


def portfolio_step_plan(p: PortfolioProblem, x: np.ndarray, status: str, solver: str, seconds: float,
                        message: str = "") -> PortfolioPlan:
    """The plan of a curtailment matrix, with solver round-off outside the bounds and budgets removed."""
    x = np.clip(x, 0.0, p.cap)
    over = x.sum(axis=1) - p.budget
    if np.any(over > 0):  # proportional scale-back of round-off beyond a budget
        scale = np.where(over > 0, p.budget / np.maximum(x.sum(axis=1), 1e-300), 1.0)
        x = x * scale[:, None]
    red = p.compliance * x
    planned = p.baseline - red.sum(axis=0)
    required = p.mode == "required"
    return PortfolioPlan(x, red, p.baseline, planned, p.mode, status, solver, seconds,
                         np.where(p.strained, np.maximum(p.need_expected, 0.0), 0.0) if required else np.zeros(0),
                         red.sum(axis=0) * p.strained if required else np.zeros(0), message,
                         p.need_request if required else np.zeros(0), int(p.strained.sum()))


def portfolio_step_judge_requirement(p: PortfolioProblem, plan: PortfolioPlan, scale: float) -> None:
    """Required mode: mark the plan ``infeasible_requirement`` when it falls short (the soft LP's slack)."""
    requested = plan.curtail_kwh[:, p.strained].sum(axis=0)
    short_req = np.clip(p.need_request[p.strained] - requested, 0, None).sum()
    short_exp = plan.shortfall_kwh
    tol = 1e-6 * scale + 1e-6
    if short_req > tol or short_exp > tol:
        plan.status = STATUS_INFEASIBLE_REQUIREMENT
        plan.message = (f"requirement cannot be met within comfort budgets and participation limits: "
                        f"short by {short_req:.3f} kWh of requested participation and {short_exp:.3f} kWh "
                        f"of expected reduction; the plan is the best achievable")
        log.warning(plan.message)


def do_nothing_peak(demand_upper_kwh: np.ndarray, solar_lower_kwh: np.ndarray | None = None) -> float:
    """The portfolio's upper-bound peak without any curtailment (the plan must never be worse)."""
    load = np.asarray(demand_upper_kwh, dtype="float64").sum(axis=0)
    if solar_lower_kwh is not None:
        load = load - np.asarray(solar_lower_kwh, dtype="float64").sum(axis=0)
    return float(load.max()) if load.size else 0.0
