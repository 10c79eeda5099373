"""``edf monitor``: forecast accuracy report (tracker + plots), from files or the local runtime."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from edf.cli import CommandError

DEFAULT_OUTPUT = "edf-accuracy-report"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor", help="score stored forecasts against actuals and write an accuracy report",
        description="Join stored forecasts with the actuals that have landed since, score them per building, "
        "grid area and overall by lead bucket (MAPE, RMSE, CV(RMSE), NMBE, coverage; model vs seasonal naive) "
        "and write a report folder: report.md, accuracy.parquet/csv, error_by_lead.png, worst_buildings.png, "
        "emf.jsonl, summary.json. Missing actuals are reported as missing, never scored as zero.\n\n"
        "Either point --forecasts at forecasts.parquet files (a file, a folder searched recursively, or an "
        "s3:// prefix), or use --local to run training and inference on the local runtime with the last "
        "--hold-back-days of the bundled data held back, then score that run's stored forecasts.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--forecasts", metavar="LOCATION",
                     help="forecasts.parquet file, folder (recursive) or s3:// prefix (FORECAST_COLUMNS schema)")
    src.add_argument("--local", action="store_true",
                     help="run training + inference on the local runtime (emulated AWS), then score its forecasts")
    p.add_argument("--processed", metavar="LOCATION", default=None,
                   help="actuals: processed_edf_data Parquet file, folder or s3:// prefix "
                   "(default: the bundled homes, which the local runtime also uses)")
    p.add_argument("--start", type=dt.date.fromisoformat, default=None,
                   help="first UTC day of target hours to score (default: first forecast hour)")
    p.add_argument("--end", type=dt.date.fromisoformat, default=None,
                   help="UTC day after the last scored day (default: after the last forecast hour)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"report folder (default: ./{DEFAULT_OUTPUT})")
    p.add_argument("--config", default=None, help="config file (default: repository config)")
    loc = p.add_argument_group("--local options")
    loc.add_argument("--buildings", nargs="+", default=None,
                     help="bundled homes to use (default: all 17; two or three make it much faster)")
    loc.add_argument("--hold-back-days", type=int, default=3,
                     help="days at the end of the data the forecast covers (its actuals are 'released' "
                     "afterwards); default 3 = the 72-hour horizon")
    loc.add_argument("--strategy", default=None, help="training strategy (default: config edf_training.default_strategy)")
    loc.add_argument("--train-days", type=int, default=0,
                     help="train on the N days before the inference date only (default 0: all data before it); "
                     "training never sees the held-back days")
    loc.add_argument("--workdir", default=None, help="local runtime job directories and logs")
    p.set_defaults(func=_monitor)


def _load_cfg(path: str | None) -> Any:
    from edf.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None


def _window(args: argparse.Namespace):
    import pandas as pd

    start = pd.Timestamp(args.start.isoformat(), tz="UTC") if args.start else None
    end = pd.Timestamp(args.end.isoformat(), tz="UTC") if args.end else None
    if start is not None and end is not None and start >= end:
        raise CommandError(f"--start {args.start} must be before --end {args.end}")
    return start, end


def _actuals(location: str | None):
    if location:
        return location
    from edf.data import bundled

    return bundled.load_homes()


def _print_result(result: Any) -> None:
    print(Path(result.files["report_md"]).read_text())
    print("files:")
    for name, path in result.files.items():
        print(f"  {name}: {path}")


def _monitor(args: argparse.Namespace) -> int:
    from edf.monitoring.service import run_report
    from edf.monitoring.sources import SourceError
    from edf.monitoring.tracker import TrackerInputError

    cfg = _load_cfg(args.config)
    start, end = _window(args)
    if args.local:
        return _monitor_local(args, cfg, start, end)
    try:
        result = run_report(cfg, args.forecasts, _actuals(args.processed), args.output, start, end)
    except (SourceError, TrackerInputError) as exc:
        raise CommandError(str(exc)) from None
    _print_result(result)
    return 0


def _monitor_local(args: argparse.Namespace, cfg: Any, start, end) -> int:
    """Training and inference on the local runtime with held-back days, then the report."""
    import boto3
    import pandas as pd

    from edf.commands.models import decide
    from edf.local.runtime import LocalRuntime
    from edf.monitoring.service import run_report
    from edf.monitoring.sources import read_actuals, read_forecasts_parquet

    if args.hold_back_days < 1:
        raise CommandError("--hold-back-days must be at least 1 (the forecast needs days with actuals)")
    if args.train_days < 0:
        raise CommandError("--train-days must be 0 (all data before the inference date) or positive")
    with LocalRuntime(config_path=args.config, buildings=args.buildings, workdir=args.workdir) as rt:
        last_day = dt.date.fromisoformat(rt.processed_last_day)  # first day after the data
        inference_date = last_day - dt.timedelta(days=args.hold_back_days)
        # The held-back days are the "future": training (and its evaluation window) ends before them.
        training_input: dict[str, Any] = {"end_date": inference_date.isoformat()}
        if args.train_days:
            training_input["start_date"] = (inference_date - dt.timedelta(days=args.train_days)).isoformat()
        if args.strategy:
            training_input["strategy"] = args.strategy
        execution = rt.run("training", training_input)
        if not execution.succeeded:
            raise CommandError(f"training failed: {execution.error}: {execution.cause}", exit_code=1)
        registration = (execution.output or {}).get("registration") or {}
        arn = registration.get("model_package_arn")
        if not arn:
            raise CommandError("training finished without registering a model (evaluation did not pass); "
                               f"output: {json.dumps(execution.output, default=str)[:500]}", exit_code=1)
        decide(arn, "Approved", "approved by `edf monitor --local`", boto3.client("sagemaker", region_name=rt.region))
        execution = rt.run("inference", {"inference_date": inference_date.isoformat()})
        if not execution.succeeded:
            raise CommandError(f"inference failed: {execution.error}: {execution.cause}", exit_code=1)
        prefix = cfg.edf_monitoring.forecast_output_prefix.format(processed_bucket=rt.cfg.processed_bucket,
                                                                  raw_bucket=rt.cfg.raw_bucket)
        everything = (pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))
        forecasts = read_forecasts_parquet(prefix, *everything, max_lead_hours=0)
        actuals = read_actuals(_actuals(args.processed) if args.processed else rt.cfg.s3_path("s3_processed_edf_path"),
                               *everything)
    print(f"[monitor] inference date {inference_date}: {len(forecasts)} stored forecast rows; "
          f"actuals released up to {last_day} (exclusive)")
    result = run_report(cfg, forecasts, actuals, args.output, start, end,
                        title=f"EDF forecast accuracy — local run, inference date {inference_date}")
    _print_result(result)
    return 0
