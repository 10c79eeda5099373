"""``edf features build``: run the feature engineering job locally (same code as the SageMaker job)."""

from __future__ import annotations

import argparse

from edf.cli import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    f = sub.add_parser("features", help="build training or inference features with PySpark",
                       description="Origin-aware feature engineering; the same entrypoint SageMaker "
                       "Processing runs (edf.jobs.features).")
    fsub = f.add_subparsers(dest="features_command", metavar="SUBCOMMAND", required=True)
    b = fsub.add_parser("build", help="build features into an output folder",
                        description="Training mode writes train/, eval/ and series/; inference mode writes "
                        "inference/ and series/ for one origin and horizon. Stages show as a progress bar on a "
                        "terminal and as plain '[progress]' lines on stderr otherwise.")
    b.add_argument("--mode", choices=["training", "inference"], required=True)
    b.add_argument("--processed", required=True, help="processed_edf_data Parquet file or folder")
    b.add_argument("--topology", required=True, help="topology CSV/Parquet")
    b.add_argument("--weather-forecast", default=None, help="weather-forecast Parquet (inference)")
    b.add_argument("--output", required=True, help="output folder")
    b.add_argument("--config", default=None, help="config path or s3:// URI")
    b.add_argument("--origin", default=None, help="inference origin, ISO UTC hour, e.g. 2017-08-01T00:00:00Z")
    b.add_argument("--horizon-hours", type=int, default=None)
    b.add_argument("--target", default=None, choices=["consumption_kwh", "solar_generation_kwh"])
    b.set_defaults(func=_build, overrides=None)


def _build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edf.jobs.features import STAGES, parse_origin, run
    from edf.progress import Progress

    for name in ("processed", "topology"):
        if not Path(getattr(args, name)).exists():
            raise CommandError(f"--{name} {getattr(args, name)} does not exist")
    if args.origin:
        try:
            parse_origin(args.origin)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    with Progress(f"features {args.mode}", STAGES, unit="stage") as progress:
        summary = run(args, on_stage=progress.step)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0
