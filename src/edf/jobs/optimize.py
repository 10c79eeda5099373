"""SageMaker Processing entrypoint of ``OptimizePortfolioEDF``: forecasts -> recommendations.

    python -m edf.jobs.optimize --forecasts /opt/ml/processing/input/forecasts \
        --topology /opt/ml/processing/input/topology [--tariff /opt/ml/processing/input/tariff] \
        --output /opt/ml/processing/output/optimization --run-id RUN [--weather-forecast DIR] \
        [--grid-conditions '{"*": {"local_hours": {"18": "critical"}}}'] [--config URI] [--overrides JSON]

Writes OUTPUT/recommendations.parquet (exactly ``edf.data.outputs.RECOMMENDATION_COLUMNS``) and
OUTPUT/optimization_summary.json (per grid area: expected peak reduction %, solver status). An
infeasible requirement is a status in the summary, not a failure; unusable input (NaN forecasts,
malformed grid conditions) fails the job with the reason in ``$EDF_OPT_ML/output/failure``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from edf.jobs.args import add_config_arguments, job_config, read_json_argument
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.optimize")
PROCESSING = Path("/opt/ml/processing")
FORECASTS_FILE = "forecasts.parquet"
RECOMMENDATIONS_FILE = "recommendations.parquet"
SUMMARY_FILE = "optimization_summary.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="EDF portfolio optimization: demand-response plans per grid area and "
                                            "day plus resident battery/appliance schedules, from a run's forecasts.")
    p.add_argument("--forecasts", default=str(PROCESSING / "input" / "forecasts"),
                   help=f"directory containing {FORECASTS_FILE} (or the file itself)")
    p.add_argument("--topology", default=str(PROCESSING / "input" / "topology"), help="building topology CSV/Parquet (file or directory)")
    p.add_argument("--tariff", default=None, help="price/carbon Parquet (timestamp_hour, price_per_kwh, carbon_kg_per_kwh); "
                                                  "default: the bundled homes' tariff")
    p.add_argument("--weather-forecast", default=None,
                   help="optional weather-forecast Parquet (file or directory); its temperature feeds the compliance model")
    p.add_argument("--output", default=str(PROCESSING / "output" / "optimization"), help="output directory")
    p.add_argument("--run-id", required=True, help="workflow execution name; stamped on every recommendation")
    p.add_argument("--issue-time", default=None, help="ISO UTC time the run produced the forecasts (default: theirs, else now)")
    p.add_argument("--grid-conditions", default=None,
                   help='an s3:// URI of a JSON document (what the workflow passes), a JSON file or inline JSON: {"<grid_area>|*": {"conditions": {"<ISO hour>": "high"}, '
                        '"local_hours": {"18": "critical"}, "required_reduction_kwh": {"<ISO hour>": 12.5}}}')
    add_config_arguments(p)
    return p.parse_args(argv)


def _grid_conditions(value: str | None) -> dict | None:
    """Grid conditions from an s3:// URI (what the workflow passes), a local JSON file or inline JSON."""
    conditions = read_json_argument(value, "--grid-conditions")
    if conditions is not None and not isinstance(conditions, dict):
        raise ValueError("--grid-conditions must be a JSON object keyed by grid area (or '*')")
    return conditions or None


def _weather(location: str | None) -> pd.DataFrame | None:
    from edf.data.io import read_parquet

    if not location or not (location.startswith("s3://") or Path(location).exists()):
        return None
    return read_parquet(location, required=False)


def run(args: argparse.Namespace) -> dict:
    from edf.data.bundled import load_tariff
    from edf.data.io import read_parquet, write_parquet
    from edf.data.topology import read_topology
    from edf.optimization.pipeline import optimize

    cfg = job_config(args)
    forecasts = read_parquet(args.forecasts)
    topology = read_topology(args.topology)
    tariff = read_parquet(args.tariff) if args.tariff else load_tariff()
    if args.issue_time:
        issue_time = pd.Timestamp(args.issue_time)
    elif "issue_time" in forecasts.columns and forecasts["issue_time"].notna().any():
        issue_time = pd.to_datetime(forecasts["issue_time"], utc=True).max()
    else:
        issue_time = pd.Timestamp.now(tz="UTC").floor("s")
    weather = _weather(getattr(args, "weather_forecast", None))
    recs, summary = optimize(forecasts, topology, tariff, cfg.edf_optimization, args.run_id, issue_time,
                             _grid_conditions(args.grid_conditions), weather)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_parquet(recs, out / RECOMMENDATIONS_FILE)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str))
    log.info("optimization done: %d recommendations; %s", len(recs),
             {a["grid_area"]: (a["expected_peak_reduction_pct"], a["solver_status"]) for a in summary["grid_areas"]})
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-optimize", "portfolio optimization", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
