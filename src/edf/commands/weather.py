"""``edf weather``: fetch forecasts from the configured provider by hand, validate a weather-forecast feed."""

from __future__ import annotations

import argparse
import json

from edf.cli import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("weather", help="fetch weather forecasts from the provider, validate a weather-forecast feed",
                       description="The weather fetcher's code path by hand (docs/weather.md).")
    wsub = w.add_subparsers(dest="weather_command", metavar="SUBCOMMAND", required=True)

    f = wsub.add_parser("fetch", help="one fetch run: topology -> grid cells -> provider -> validated Parquet",
                        description="Runs what the scheduled Lambda runs, with the config's provider (or --provider). "
                        "Exit 0 when every cell was fetched, 1 when some failed (the file is still written), 2 when "
                        "nothing was. Prints the run summary as JSON. Needs network access to the provider.")
    f.add_argument("--config", default=None, help="config path or s3:// URI (default: repository config)")
    f.add_argument("--topology", default=None, help="topology CSV/Parquet (default: the config's s3_raw_calendar_path)")
    f.add_argument("--output", default=None, help="output folder or s3:// prefix (default: s3_raw_weather_fcst_path)")
    f.add_argument("--issue-time", default=None, help="ISO time with offset to stamp the run with (default: now)")
    f.add_argument("--provider", default=None, choices=["open_meteo", "open_meteo_customer", "file"],
                   help="override edf_weather.provider")
    f.add_argument("--file", default=None, help="recorded Open-Meteo document for --provider file")
    f.set_defaults(func=_fetch)

    v = wsub.add_parser("validate", help="check weather-forecast Parquet against the contract",
                        description="Exit 0 when every file meets the weather-forecast contract "
                        "(edf.data.weather_forecast); otherwise print each rule, column and up to 5 rows and exit 1.")
    v.add_argument("path", help="a Parquet file, a folder of them or an s3:// prefix")
    v.set_defaults(func=_validate)


def _fetch(args: argparse.Namespace) -> int:
    from edf.config import ConfigError, load_config
    from edf.data.io import DataNotFoundError
    from edf.data.topology import read_topology
    from edf.lambda_events import InvalidEvent
    from edf.weather.factory import build_provider
    from edf.weather.fetch import run_fetch
    from edf.weather.http import HttpClient, RequestStats
    from edf.weather.lambda_handler import parse_event
    from edf.weather.providers import ProviderConfigError

    overrides: dict = {}
    if args.provider:
        overrides.setdefault("edf_weather", {})["provider"] = args.provider
    if args.file:
        overrides.setdefault("edf_weather", {})["file"] = {"uri": args.file}
    try:
        cfg = load_config(args.config, overrides)
        issue = parse_event({"issue_time": args.issue_time})
        stats = RequestStats()
        http = HttpClient.from_config(cfg.edf_weather, stats=stats)
        provider = build_provider(cfg, http)
        topology = read_topology(args.topology or cfg.s3_path("s3_raw_calendar_path"))
    except (ConfigError, InvalidEvent, ProviderConfigError, DataNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    prefix = args.output or cfg.s3_path("s3_raw_weather_fcst_path")
    result = run_fetch(cfg, provider, topology, issue, prefix, stats, cfg.edf_weather.max_requests_per_run)
    print(json.dumps(result.summary(), indent=2, default=str))
    if result.uri is None:
        return 2
    return 1 if result.failures else 0


def _validate(args: argparse.Namespace) -> int:
    from edf.data.io import DataNotFoundError, list_files
    from edf.data.weather_forecast import conform, validate_weather_forecast

    try:
        files = list_files(args.path)
    except DataNotFoundError as exc:
        raise CommandError(str(exc)) from None
    if not files:
        raise CommandError(f"no Parquet files at {args.path}")
    from edf.data.io import read_one

    bad = 0
    for path in files:
        report = validate_weather_forecast(conform(read_one(path)))
        print(f"{path}: {report.render()}")
        bad += not report.ok
    return 1 if bad else 0
