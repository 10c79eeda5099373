"""``edf local monitor``: train, approve and forecast on the local runtime with held-back days, then score.

The report itself is ``edf monitor``'s (same arguments, same tracker); this command only produces the
forecasts first, on emulated AWS, so it lives with the other laptop-only commands.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Any

from edf.cli import CommandError
from edf.commands.monitor import actuals_source, add_report_arguments, load_cfg, print_result, report_window
from edf_local.commands.group import local_group


def register(sub: argparse._SubParsersAction) -> None:
    p = local_group(sub).add_parser(
        "monitor", help="train + infer on the local runtime with held-back days, then score the forecasts",
        description="Run training and inference on the local runtime (emulated AWS) with the last "
        "--hold-back-days of the bundled data held back, approve the trained package, and score the stored "
        "forecasts against the held-back actuals (the report of `edf monitor`).")
    add_report_arguments(p)
    p.add_argument("--buildings", nargs="+", default=None,
                   help="bundled homes to use (default: all 17; two or three make it much faster)")
    p.add_argument("--hold-back-days", type=int, default=3,
                   help="days at the end of the data the forecast covers (its actuals are 'released' "
                   "afterwards); default 3 = the 72-hour horizon")
    p.add_argument("--strategy", default=None, help="training strategy (default: config edf_training.default_strategy)")
    p.add_argument("--train-days", type=int, default=0,
                   help="train on the N days before the inference date only (default 0: all data before it); "
                   "training never sees the held-back days")
    p.add_argument("--workdir", default=None, help="local runtime job directories and logs")
    p.set_defaults(func=_monitor_local)


def _training_input(args: argparse.Namespace, inference_date: dt.date) -> dict[str, Any]:
    """The held-back days are the "future": training (and its evaluation window) ends before them."""
    training_input: dict[str, Any] = {"end_date": inference_date.isoformat()}
    if args.train_days:
        training_input["start_date"] = (inference_date - dt.timedelta(days=args.train_days)).isoformat()
    if args.strategy:
        training_input["strategy"] = args.strategy
    return training_input


def _monitor_local(args: argparse.Namespace) -> int:
    import boto3
    import pandas as pd

    from edf.commands.models import decide
    from edf.monitoring.service import run_report
    from edf.monitoring.sources import read_actuals, read_forecasts_parquet
    from edf_local.runtime import LocalRuntime

    cfg = load_cfg(args.config)
    start, end = report_window(args)
    if args.hold_back_days < 1:
        raise CommandError("--hold-back-days must be at least 1 (the forecast needs days with actuals)")
    if args.train_days < 0:
        raise CommandError("--train-days must be 0 (all data before the inference date) or positive")
    with LocalRuntime(config_path=args.config, buildings=args.buildings, workdir=args.workdir) as rt:
        last_day = dt.date.fromisoformat(rt.processed_last_day)  # first day after the data
        inference_date = last_day - dt.timedelta(days=args.hold_back_days)
        execution = rt.run("training", _training_input(args, inference_date))
        if not execution.succeeded:
            raise CommandError(f"training failed: {execution.error}: {execution.cause}", exit_code=1)
        arn = ((execution.output or {}).get("registration") or {}).get("model_package_arn")
        if not arn:
            raise CommandError("training finished without registering a model (evaluation did not pass); "
                               f"output: {json.dumps(execution.output, default=str)[:500]}", exit_code=1)
        decide(arn, "Approved", "approved by `edf local monitor`", boto3.client("sagemaker", region_name=rt.region))
        execution = rt.run("inference", {"inference_date": inference_date.isoformat()})
        if not execution.succeeded:
            raise CommandError(f"inference failed: {execution.error}: {execution.cause}", exit_code=1)
        prefix = cfg.edf_monitoring.forecast_output_prefix.format(processed_bucket=rt.cfg.processed_bucket,
                                                                  raw_bucket=rt.cfg.raw_bucket)
        everything = (pd.Timestamp("1970-01-01", tz="UTC"), pd.Timestamp("2200-01-01", tz="UTC"))
        forecasts = read_forecasts_parquet(prefix, *everything, max_lead_hours=0)
        actuals = read_actuals(actuals_source(args.processed) if args.processed
                               else rt.cfg.s3_path("s3_processed_edf_path"), *everything)
    print(f"[monitor] inference date {inference_date}: {len(forecasts)} stored forecast rows; "
          f"actuals released up to {last_day} (exclusive)")
    result = run_report(cfg, forecasts, actuals, args.output, start, end,
                        title=f"EDF forecast accuracy — local run, inference date {inference_date}")
    print_result(result)
    return 0
