"""``edf optimize``: run the portfolio optimization step locally (same code as the SageMaker job)."""

from __future__ import annotations

import argparse

from edf.cli import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    o = sub.add_parser("optimize", help="demand-response and resident recommendations from forecasts (cvxpy)",
                       description="Portfolio optimization: one LP per grid area and local day (demand-response "
                       "curtailment), battery schedules and best appliance hours for residents. The same code "
                       "SageMaker Processing runs as OptimizePortfolioEDF (edf.jobs.optimize).")
    osub = o.add_subparsers(dest="optimize_command", metavar="SUBCOMMAND", required=True)
    r = osub.add_parser("run", help="optimize a run's forecasts into recommendations",
                        description="Reads FORECASTS/forecasts.parquet, writes OUTPUT/recommendations.parquet and "
                        "OUTPUT/optimization_summary.json (per grid area: expected peak reduction %% and solver "
                        "status). Strained hours come from --grid-conditions; an impossible requirement is "
                        "reported with the best achievable reduction.")
    r.add_argument("--forecasts", required=True, help="folder containing forecasts.parquet (or the file)")
    r.add_argument("--topology", required=True, help="topology CSV/Parquet (file or folder)")
    r.add_argument("--tariff", default=None, help="price/carbon Parquet (default: the bundled homes' tariff)")
    r.add_argument("--weather-forecast", default=None, help="optional weather-forecast Parquet (temperature for compliance)")
    r.add_argument("--output", required=True, help="output folder")
    r.add_argument("--run-id", default="local", help="run id stamped on the recommendations (default: local)")
    r.add_argument("--issue-time", default=None, help="ISO UTC issue time (default: the forecasts')")
    r.add_argument("--grid-conditions", default=None,
                   help='JSON or JSON file, e.g. \'{"*": {"local_hours": {"18": "critical", "19": "high"}}}\'')
    r.add_argument("--config", default=None, help="config path or s3:// URI")
    r.set_defaults(func=_run, overrides=None)

    b = osub.add_parser("best-hours", help="rank the best hours to run a flexible appliance",
                        description="Scores each hour by the grid share of the appliance's energy (PV surplus "
                        "covers the rest) times cost + weighted carbon; prints hour indices, best first.")
    b.add_argument("--demand", required=True, help="comma-separated kWh per hour")
    b.add_argument("--solar", required=True, help="comma-separated kWh per hour")
    b.add_argument("--price", default=None, help="comma-separated price per kWh (optional)")
    b.add_argument("--carbon", default=None, help="comma-separated kg CO2 per kWh (optional)")
    b.add_argument("--top-n", type=int, default=3)
    b.set_defaults(func=_best_hours)


def _floats(text: str | None, name: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise CommandError(f"--{name} must be comma-separated numbers, got {text!r}") from None


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edf.jobs.optimize import run
    from edf.optimization.pipeline import OptimizationInputError

    for name in ("forecasts", "topology"):
        if not Path(getattr(args, name)).exists():
            raise CommandError(f"--{name} {getattr(args, name)} does not exist")
    try:
        summary = run(args)
    except (OptimizationInputError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(f"recommendations: {summary['recommendations']} (status {summary['status']})")
    for area in summary["grid_areas"]:
        print(f"{area['grid_area']}: expected peak reduction {area['expected_peak_reduction_pct']:.2f} %, "
              f"solver status {area['solver_status']}, {area['buildings']} buildings")
    return 0


def _best_hours(args: argparse.Namespace) -> int:
    from edf.optimization.resident import rank_appliance_hours

    try:
        best = rank_appliance_hours(_floats(args.demand, "demand"), _floats(args.solar, "solar"),
                                    _floats(args.price, "price"), _floats(args.carbon, "carbon"), top_n=args.top_n)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(" ".join(str(h) for h in best))
    return 0
