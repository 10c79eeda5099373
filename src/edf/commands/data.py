"""``edf data``: validate processed data, build the bundled real data, generate synthetic data."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edf.cli import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="validate, bundle and synthesise processed_edf_data",
                          description="Work with processed_edf_data (the data contract in ARCHITECTURE.md).")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    v = dsub.add_parser("validate", help="check a Parquet file or directory against the data contract",
                        description="Exit 0 when the data meets the contract; otherwise print each violated "
                        "rule with its column and up to 5 offending rows and exit 1. Net export (negative "
                        "consumption), missing hours and null target values (meter gaps) are warnings with their "
                        "count.")
    v.add_argument("path", help="Parquet file or directory (local or s3://), or 'bundled' / 'bundled-solar'")
    v.add_argument("--target", default="consumption_kwh", choices=["consumption_kwh", "solar_generation_kwh"],
                   help="the target that must be present (a PV-only dataset uses solar_generation_kwh)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--config", default=None,
                   help="config path or s3:// URI whose edf_feature_eng.covariates declares extra numeric columns "
                   "(default: repository config)")
    v.set_defaults(func=_validate)

    b = dsub.add_parser("build-bundled", help="convert ../shared/data into the bundled Parquet (maintainers)",
                        description="Re-create src/edf/data/bundled/ from the public source sets.")
    b.add_argument("--source", default="../shared/data", help="folder holding citylearn_2022/ and pvanalytics_serf_east/")
    b.set_defaults(func=_build_bundled)

    s = dsub.add_parser("synth", help="generate a synthetic, labelled multi-building dataset",
                        description="Residential and commercial profiles with temperature response and PV "
                        "from irradiance. Ids start with 'synth-'; files carry edf_source=synthetic.")
    s.add_argument("--buildings", type=int, required=True, help="number of buildings")
    s.add_argument("--days", type=int, required=True, help="number of days (hourly rows)")
    s.add_argument("--start", default="2023-01-01", help="first day (UTC), default 2023-01-01")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--output", default="out/synth", help="output folder (default out/synth)")
    s.set_defaults(func=_synth)


def read_processed(path: str):
    """Read processed data from a bundled name, a local Parquet file/folder or an S3 prefix."""
    from edf.data import bundled
    from edf.data.io import DataNotFoundError, read_parquet

    if path == "bundled":
        return bundled.load_homes()
    if path == "bundled-solar":
        return bundled.load_solar()
    try:
        return read_parquet(path)
    except DataNotFoundError as exc:
        raise CommandError(str(exc)) from None
    except Exception as exc:  # pyarrow raises several types for non-Parquet input
        raise CommandError(f"{path} is not readable as Parquet: {exc}") from None


def _validate(args: argparse.Namespace) -> int:
    from edf.config import ConfigError, load_config
    from edf.data.validation import validate_processed

    try:
        covariates = load_config(args.config).edf_feature_eng.covariate_names
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    report = validate_processed(read_processed(args.path), target=args.target, covariates=covariates)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.render())
    return 0 if report.ok else 1


def _build_bundled(args: argparse.Namespace) -> int:
    from edf.data.bundled import build_bundled

    source = Path(args.source)
    if not (source / "citylearn_2022").is_dir():
        raise CommandError(f"{source} does not contain citylearn_2022/")
    for name, rows in build_bundled(source).items():
        print(f"{name}: {rows} rows")
    return 0


def _synth(args: argparse.Namespace) -> int:
    from edf.data import synth

    if args.buildings < 1 or args.days < 8:
        raise CommandError("--buildings must be >= 1 and --days >= 8 (features need a week of history)")
    print(f"generating SYNTHETIC data: {args.buildings} buildings x {args.days} days ...", flush=True)
    paths = synth.write(synth.generate(args.buildings, args.days, args.start, args.seed), args.output)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
