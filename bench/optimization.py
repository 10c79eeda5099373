"""Benchmark the demand-response portfolio LP: solve time and peak memory at 100 / 1,000 / 10,000 buildings x 24 h.

Each size runs in a fresh subprocess so peak RSS (``ru_maxrss``) belongs to that size alone.
Instances are synthetic but shaped like the real problem: residential-scale demand with an
evening peak, a +-20-35 % interval, PV on some homes, compliance from the configured model,
the topology's participation share and comfort budget. Prints one JSON line per size on stdout
(``seconds`` = the DR portfolio step, ``peak_rss_mb``, and every sub-timing) and, on stderr, a
table plus the growth factor between sizes.

    .venv/bin/python bench/optimization.py                 # 100, 1000, 10000 x 24, peak mode
    .venv/bin/python bench/optimization.py --mode required --sizes 100 1000 10000
    .venv/bin/python bench/optimization.py --resident      # also the battery LP per size
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _report import emit, note

BUDGET_SECONDS = 30.0  # the processing budget promised to grid operators for 10,000 x 24 h


def instance(n_buildings: int, hours: int, seed: int = 7):
    import numpy as np

    rng = np.random.default_rng(seed)
    h = np.arange(hours)
    shape = 0.6 + 0.5 * np.exp(-0.5 * ((h % 24 - 19) / 2.5) ** 2) + 0.2 * np.exp(-0.5 * ((h % 24 - 8) / 2.0) ** 2)
    scale = rng.lognormal(0.0, 0.5, n_buildings)[:, None]
    demand = scale * shape[None, :] * rng.uniform(0.8, 1.2, (n_buildings, hours))
    upper = demand * rng.uniform(1.2, 1.35, (n_buildings, hours))
    pv = (rng.uniform(size=n_buildings) < 0.4)[:, None]
    solar = pv * np.clip(np.sin(np.pi * ((h % 24) - 6) / 13), 0, None)[None, :] * rng.uniform(1, 4, (n_buildings, 1))
    types = rng.choice(["residential", "commercial", "office", "unknown"], n_buildings, p=[0.7, 0.1, 0.1, 0.1])
    share = rng.uniform(0.1, 0.4, n_buildings)
    budget = rng.uniform(1.0, 5.0, n_buildings)
    return demand, upper, solar * 0.8, types, share, budget


def time_whole_step(n_buildings, hours, demand, upper, solar_low, types, share, budget) -> float:
    """Seconds of ``edf.optimization.pipeline.optimize`` (the job minus file I/O) on one grid area."""
    import numpy as np
    import pandas as pd

    from edf.config import load_config
    from edf.data.bundled import load_tariff
    from edf.optimization.pipeline import optimize

    hours_idx = pd.date_range("2017-07-10 07:00", periods=hours, freq="h", tz="UTC")
    ids = np.array([f"b{i:05d}" for i in range(n_buildings)])
    rows = []
    for series, mid, low, up in (("consumption", demand, demand * 0.8, upper), ("solar", solar_low / 0.8, solar_low, solar_low * 1.5)):
        rows.append(pd.DataFrame({"building_id": np.repeat(ids, hours), "grid_area": "bench",
                                  "series": series, "timestamp_hour": np.tile(hours_idx, n_buildings),
                                  "yhat": mid.ravel(), "yhat_lower": low.ravel(), "yhat_upper": up.ravel()}))
    forecasts = pd.concat(rows, ignore_index=True)
    rng = np.random.default_rng(3)
    topology = pd.DataFrame({"building_id": ids, "building_type": types, "timezone": "America/Los_Angeles",
                             "pv_capacity_kw": np.where(solar_low.sum(axis=1) > 0, 4.0, 0.0),
                             "battery_capacity_kwh": np.where(rng.uniform(size=n_buildings) < 0.3, 6.4, 0.0),
                             "battery_power_kw": 5.0, "battery_efficiency": 0.9,
                             "dr_max_participation": share, "dr_comfort_budget_kwh": budget})
    tariff = load_tariff()
    t0 = time.perf_counter()
    optimize(forecasts, topology, tariff, load_config().edf_optimization, "bench", pd.Timestamp("2017-07-10", tz="UTC"))
    return time.perf_counter() - t0


def run_one(n_buildings: int, hours: int, mode: str, resident: bool, job: bool = False) -> dict:
    import numpy as np

    from edf.config import load_config
    from edf.optimization.compliance import compliance_probability
    from edf.optimization.portfolio import plan_portfolio

    params = load_config().edf_optimization
    demand, upper, solar_low, types, share, budget = instance(n_buildings, hours)
    ti = time.perf_counter()
    import cvxpy  # noqa: F401  -- imported once per process; timed apart from the solve

    import_s = time.perf_counter() - ti
    t0 = time.perf_counter()
    comp = compliance_probability(list(types), demand.mean(axis=1), share, np.arange(hours) % 24, params)
    t1 = time.perf_counter()
    levels = None
    if mode == "required":
        levels = ["critical" if 17 <= h % 24 <= 20 else ("high" if 15 <= h % 24 <= 21 else "normal") for h in range(hours)]
    plan = plan_portfolio(demand, upper, comp, share, budget, params, solar_lower_kwh=solar_low, conditions=levels)
    t2 = time.perf_counter()
    out = {"buildings": n_buildings, "hours": hours, "mode": mode, "variables": n_buildings * hours,
           "cvxpy_import_s": round(import_s, 3),
           "compliance_s": round(t1 - t0, 3), "portfolio_s": round(t2 - t1, 3), "lp_s": round(plan.solve_seconds, 3),
           "status": plan.status, "peak_reduction_pct": round(plan.peak_reduction_pct, 3)}
    if resident:
        from edf.optimization.resident import schedule_battery

        rng = np.random.default_rng(11)
        cap = np.where(rng.uniform(size=n_buildings) < 0.5, 6.4, 0.0)
        price = np.where((np.arange(hours) % 24 >= 16) & (np.arange(hours) % 24 < 21), 0.54, 0.22)
        carbon = rng.uniform(0.1, 0.25, hours)
        t3 = time.perf_counter()
        sched = schedule_battery(demand, solar_low / 0.8, price, carbon, cap, np.full(n_buildings, 5.0),
                                 np.full(n_buildings, 0.9), params)
        out.update(resident_s=round(time.perf_counter() - t3, 3), resident_status=sched.status,
                   battery_homes=int((cap > 0).sum()))
    if job:
        out["job_s"] = round(time_whole_step(n_buildings, hours, demand, upper, solar_low, types, share, budget), 3)
    out["total_s"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    p.add_argument("--hours", type=int, default=24)
    p.add_argument("--mode", choices=["peak", "required"], default="peak")
    p.add_argument("--resident", action="store_true", help="also time the battery LP (half the homes have 6.4 kWh)")
    p.add_argument("--job", action="store_true",
                   help="also time the whole step (optimize(): pivots, DR, batteries for 30%% of homes, appliance hours)")
    p.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_one(args.child, args.hours, args.mode, args.resident, args.job)))
        return 0

    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--hours", str(args.hours), "--mode", args.mode]
        if args.resident:
            cmd.append("--resident")
        if args.job:
            cmd.append("--job")
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        if proc.returncode:
            note(proc.stderr)
            return proc.returncode
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        results.append(r)
        emit("optimization", f"portfolio_{n}x{args.hours}h_{args.mode}", seconds=r["portfolio_s"], **r)
    print_table(results, args)
    return 0


def print_table(results: list[dict], args: argparse.Namespace) -> None:
    """The human-readable summary (stderr): per size, growth between sizes, the 10,000-building budget."""
    load = os.getloadavg()
    note(f"DR portfolio LP ({args.mode} mode), {args.hours} h, cores={os.cpu_count()}, "
         f"cvxpy import {results[0]['cvxpy_import_s']:.1f} s (once per job, not in the times), "
         f"load avg {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (others share this CPU)")
    head = f"{'buildings':>9} {'vars':>8} {'portfolio s':>11} {'build+solve s':>13} {'total s':>8} {'peak RSS MB':>11} {'peak red %':>10}"
    if args.resident:
        head += f" {'battery LP s':>12}"
    if args.job:
        head += f" {'whole step s':>12}"
    note(head)
    for r in results:
        line = (f"{r['buildings']:>9} {r['variables']:>8} {r['portfolio_s']:>11.2f} {r['lp_s']:>13.2f} "
                f"{r['total_s']:>8.2f} {r['peak_rss_mb']:>11.1f} {r['peak_reduction_pct']:>10.2f}")
        if args.resident:
            line += f" {r['resident_s']:>12.2f}"
        if args.job:
            line += f" {r['job_s']:>12.2f}"
        note(line)
    for a, b in zip(results, results[1:], strict=False):
        ratio = b["buildings"] / a["buildings"]
        note(f"growth {a['buildings']} -> {b['buildings']} (x{ratio:g}): time x{b['portfolio_s'] / max(a['portfolio_s'], 1e-9):.1f}, "
             f"peak RSS x{b['peak_rss_mb'] / max(a['peak_rss_mb'], 1e-9):.2f}")
    big = [r for r in results if r["buildings"] >= 10000]
    for r in big:
        verdict = "within" if r["portfolio_s"] < BUDGET_SECONDS else "OVER"
        note(f"{r['buildings']} x {r['hours']} h: {r['portfolio_s']:.1f} s, {verdict} the {BUDGET_SECONDS:.0f} s budget")


if __name__ == "__main__":
    sys.exit(main())
