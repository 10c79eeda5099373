"""``edf backtest``: rolling-origin backtest of the forecasting strategies on your own data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edf.cli import CommandError

STRATEGY_CHOICES = ("prophet", "xgboost", "lstm", "ensemble", "seasonal_naive", "persistence", "all")


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser(
        "backtest", help="rolling-origin backtest of the forecasting strategies",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Forecast origins at 00:00 UTC on each of the last --days days; every strategy is "
        "trained once on everything before the first origin, and each origin forecasts the next "
        "--horizon-hours hours using no measurement after it. The data's own weather columns serve as "
        "a perfect weather forecast. Both baselines (seasonal_naive, persistence) are always scored. "
        "Prints a table of medians over buildings and writes the full JSON.",
        epilog="example:\n  edf backtest --data bundled --target consumption_kwh --strategy all "
        "--horizon-hours 24 --days 28 --output metrics.json")
    b.add_argument("--data", required=True,
                   help="processed_edf_data Parquet file or folder (local or s3://), or 'bundled' (17 homes) / "
                   "'bundled-solar' (SERF east PV array)")
    b.add_argument("--target", default="consumption_kwh", choices=["consumption_kwh", "solar_generation_kwh"],
                   help="series to forecast (default consumption_kwh)")
    b.add_argument("--strategy", default="all", choices=STRATEGY_CHOICES,
                   help="strategy to backtest, or 'all' (default all)")
    b.add_argument("--horizon-hours", type=int, default=24, help="hours forecast from each origin (default 24)")
    b.add_argument("--days", type=int, default=28, help="number of daily origins at the end of the data (default 28)")
    b.add_argument("--refit-every-days", type=int, default=None, metavar="N",
                   help="refit every strategy every N origins on everything before them, mirroring a production "
                   "retraining cadence (default: one fit before the first origin)")
    b.add_argument("--output", default=None, help="write the JSON here (default: print only the table)")
    b.add_argument("--topology", default=None,
                   help="building topology CSV/Parquet (default: the bundled topology; unknown buildings get a "
                   "UTC calendar and no solar geometry)")
    b.add_argument("--config", default=None, help="config path or s3:// URI (default: repository config)")
    b.set_defaults(func=_backtest)


def _backtest(args: argparse.Namespace) -> int:
    from edf.commands.data import read_processed
    from edf.config import ConfigError, load_config
    from edf.data import bundled
    from edf.data.topology import read_topology
    from edf.data.validation import validate_processed
    from edf.evaluation.backtest import BacktestError, render_table, run_backtest
    from edf.evaluation.metrics import clean
    from edf.features.spark_session import get_spark
    from edf.models import STRATEGIES, ModelError

    if not 1 <= args.horizon_hours <= 168:
        raise CommandError("--horizon-hours must be between 1 and 168")
    if args.days < 1:
        raise CommandError("--days must be at least 1")
    if args.refit_every_days is not None and args.refit_every_days < 1:
        raise CommandError("--refit-every-days must be at least 1")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    data = read_processed(args.data)
    report = validate_processed(data, target=args.target, covariates=cfg.edf_feature_eng.covariate_names)
    if not report.ok:
        raise CommandError(f"{args.data} breaks the data contract:\n{report.render()}")
    for warning in report.warnings:
        print(f"data warning: {warning.render().splitlines()[0]}", flush=True)
    if args.topology:
        if not Path(args.topology).exists():
            raise CommandError(f"no such topology file: {args.topology}")
        topology = read_topology(args.topology)
    else:
        topology = bundled.load_topology()
    strategies = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    print(f"backtesting {', '.join(strategies)} (+ baselines) on {args.data}: target {args.target}, "
          f"{args.days} origins, {args.horizon_hours} h horizon; weather: observed values used as a perfect "
          "forecast", flush=True)
    try:
        doc = run_backtest(get_spark(app_name="edf-backtest"), data, topology, args.target, strategies,
                           args.horizon_hours, args.days, cfg, args.refit_every_days)
    except (BacktestError, ModelError) as exc:
        raise CommandError(str(exc)) from None
    doc = clean(doc)
    print(render_table(doc))
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2))
        print(f"wrote {out}")
    return 0
