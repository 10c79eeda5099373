"""``edf monitor``: forecast accuracy report (tracker + plots) from stored forecast files."""

from __future__ import annotations

import argparse
import datetime as dt
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
        "Point --forecasts at forecasts.parquet files (a file, a folder searched recursively, or an s3:// "
        "prefix). `edf local monitor` runs training and inference on the local runtime with the last days "
        "of the bundled data held back, then scores that run's stored forecasts.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--forecasts", metavar="LOCATION", required=True,
                   help="forecasts.parquet file, folder (recursive) or s3:// prefix (FORECAST_COLUMNS schema)")
    add_report_arguments(p)
    p.set_defaults(func=_monitor)


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by ``edf monitor`` and ``edf local monitor``: actuals, window, output, config."""
    p.add_argument("--processed", metavar="LOCATION", default=None,
                   help="actuals: processed_edf_data Parquet file, folder or s3:// prefix "
                   "(default: the bundled homes, which the local runtime also uses)")
    p.add_argument("--start", type=dt.date.fromisoformat, default=None,
                   help="first UTC day of target hours to score (default: first forecast hour)")
    p.add_argument("--end", type=dt.date.fromisoformat, default=None,
                   help="UTC day after the last scored day (default: after the last forecast hour)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"report folder (default: ./{DEFAULT_OUTPUT})")
    p.add_argument("--config", default=None, help="config file (default: repository config)")


def load_cfg(path: str | None) -> Any:
    from edf.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None


def report_window(args: argparse.Namespace):
    import pandas as pd

    start = pd.Timestamp(args.start.isoformat(), tz="UTC") if args.start else None
    end = pd.Timestamp(args.end.isoformat(), tz="UTC") if args.end else None
    if start is not None and end is not None and start >= end:
        raise CommandError(f"--start {args.start} must be before --end {args.end}")
    return start, end


def actuals_source(location: str | None):
    if location:
        return location
    from edf.data import bundled

    return bundled.load_homes()


def print_result(result: Any) -> None:
    print(Path(result.files["report_md"]).read_text())
    print("files:")
    for name, path in result.files.items():
        print(f"  {name}: {path}")


def _monitor(args: argparse.Namespace) -> int:
    from edf.monitoring.service import run_report
    from edf.monitoring.sources import SourceError
    from edf.monitoring.tracker import TrackerInputError

    cfg = load_cfg(args.config)
    start, end = report_window(args)
    try:
        result = run_report(cfg, args.forecasts, actuals_source(args.processed), args.output, start, end)
    except (SourceError, TrackerInputError) as exc:
        raise CommandError(str(exc)) from None
    print_result(result)
    return 0
