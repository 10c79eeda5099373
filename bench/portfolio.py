"""Benchmark: the deployed workflows on synthetic portfolios, through the local runtime with AWS's limits.

Cases (one JSON line each on stdout; progress on stderr):

* ``inference_<N>`` - the daily inference workflow (the deployed ASL: approved package -> features ->
  demand and solar forecasts with intervals -> optimisation -> load) for N synthetic buildings x 72 h.
  The approved model is trained first by the training workflow on a small synthetic portfolio
  (``--train-buildings`` x 60 days; reported as its own case), then the large portfolio replaces it
  in the emulated S3, as a new day's ingestion would.
* ``training_<N>x<D>`` - the training workflow (validate -> features -> train -> evaluate -> register)
  for N synthetic buildings x D days.

Per case: seconds per state, the peak RSS of every job and Lambda (process tree, incl. Spark's JVM),
the largest state payload, the bytes of processed data the inference feature job read (and the
bytes it did not), rows stored, and the machine's load average. The forecast store is a real
PostgreSQL server by default (``--backend RDS``); ``--backend DYNAMODB`` loads into moto's DynamoDB,
whose server is itself the bottleneck at this size (each item is a Python object in moto).

    .venv/bin/python bench/portfolio.py [--cases inference_1000 inference_10000 training_1000x365]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LENIENT = {"max_mape": 1e6, "max_rmse": 1e6, "max_cv_rmse_pct": 1e6, "min_coverage": 0.0, "max_coverage": 1.0}
OVERRIDES = {"edf_evaluation": {"require_beat_baselines": False}}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def case_record(case: str, execution: Any, rt: Any, started: float, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON line of one workflow run (everything measured, nothing estimated)."""
    jobs = {**rt.runner.processing_jobs, **rt.runner.training_jobs}
    job_peaks = {name: d.get("LocalPeakRssMb", 0.0) for name, d in jobs.items() if execution.name in name}
    lambda_peaks: dict[str, float] = {}
    for inv in rt.invoker.invocations:
        if "peak_rss_mb" in inv:
            lambda_peaks[inv["function"]] = max(lambda_peaks.get(inv["function"], 0.0), inv["peak_rss_mb"])
    return {
        "bench": "portfolio", "case": case, "status": execution.status, "error": execution.error,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": max([*job_peaks.values(), *lambda_peaks.values(), 0.0]),
        "max_state_bytes": execution.max_payload_bytes, "max_state": execution.max_payload_state,
        "states": {n: round(s, 1) for n, s in execution.durations.items()},
        "jobs_peak_rss_mb": job_peaks, "lambdas_peak_rss_mb": lambda_peaks,
        "bench_process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1), **extra,
    }


def s3_json(rt: Any, uri: str) -> dict[str, Any]:
    import boto3

    bucket, _, key = uri[5:].partition("/")
    body = boto3.client("s3", region_name=rt.region).get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def train_and_approve(rt: Any, case: str) -> dict[str, Any]:
    """Run the training workflow on the runtime's current portfolio and approve the package."""
    import boto3

    from edf.commands.models import decide

    started = time.perf_counter()
    execution = rt.run("training", {"strategy": "xgboost", "thresholds": LENIENT}, execution_name=f"bench-{case}")
    record = case_record(case, execution, rt, started, {"buildings": rt.portfolio.buildings})
    if execution.succeeded and (execution.output or {}).get("registration"):
        arn = execution.output["registration"]["model_package_arn"]
        decide(arn, "Approved", "bench/portfolio.py", boto3.client("sagemaker", region_name=rt.region))
    return record


def inference(rt: Any, case: str) -> dict[str, Any]:
    started = time.perf_counter()
    date = rt.processed_last_day
    execution = rt.run("inference", {"inference_date": date}, execution_name=f"bench-{case}")
    extra: dict[str, Any] = {"buildings": rt.portfolio.buildings, "inference_date": date}
    if execution.succeeded:
        sm, name = execution.state_machine_name, execution.name
        summary = s3_json(rt, f"s3://{rt.cfg.processed_bucket}/features/edf/inference/{sm}/{name}/_summary.json")
        read = summary.get("processed_read", {})
        extra.update(features_bytes_read=read.get("bytes"), features_days_read=read.get("days_read"),
                     features_days_skipped=read.get("days_skipped"), feature_rows=summary.get("rows"),
                     rows_stored=execution.output["load"]["forecasts_written"],
                     recommendations_stored=execution.output["load"]["recommendations_written"],
                     backend=execution.output["load"]["backend"])
    return case_record(case, execution, rt, started, extra)


def run_inference_cases(sizes: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    from edf_local.portfolio import synthetic
    from edf_local.runtime import LocalRuntime

    records = []
    small = synthetic(f"{args.train_buildings}x60", start="2023-01-01")
    with LocalRuntime(config_overrides=OVERRIDES, portfolio=small, forecast_backend=args.backend,
                      workdir=args.workdir, printer=log) as rt:
        records.append(train_and_approve(rt, f"training_{args.train_buildings}x60"))
        print(json.dumps(records[-1]), flush=True)
        for n in sizes:
            log(f"generating {n} synthetic buildings x {args.inference_days} days")
            rt.replace_portfolio(synthetic(f"{n}x{args.inference_days}", start="2023-06-01", seed=n))
            records.append(inference(rt, f"inference_{n}"))
            print(json.dumps(records[-1]), flush=True)
    return records


def run_training_case(buildings: int, days: int, args: argparse.Namespace) -> dict[str, Any]:
    from edf_local.portfolio import synthetic
    from edf_local.runtime import LocalRuntime

    log(f"generating {buildings} synthetic buildings x {days} days")
    portfolio = synthetic(f"{buildings}x{days}", start="2023-01-01")
    with LocalRuntime(config_overrides=OVERRIDES, portfolio=portfolio, forecast_backend=args.backend,
                      workdir=args.workdir, printer=log) as rt:
        record = train_and_approve(rt, f"training_{buildings}x{days}")
    print(json.dumps(record), flush=True)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["inference_1000", "inference_10000", "training_1000x365"],
                        help="inference_<N> and/or training_<N>x<D>")
    parser.add_argument("--backend", choices=["RDS", "DYNAMODB"], default="RDS",
                        help="forecast store of the load (RDS = a real PostgreSQL server started here)")
    parser.add_argument("--train-buildings", type=int, default=100,
                        help="buildings of the small portfolio that trains the model the inference cases use")
    parser.add_argument("--inference-days", type=int, default=21, help="days of history of the inference portfolios")
    parser.add_argument("--workdir", default=None, help="job directories and logs (default: a temp folder)")
    args = parser.parse_args()
    inference_sizes = [int(m.group(1)) for c in args.cases if (m := re.fullmatch(r"inference_(\d+)", c))]
    training = [tuple(map(int, m.groups())) for c in args.cases if (m := re.fullmatch(r"training_(\d+)x(\d+)", c))]
    unknown = [c for c in args.cases if not re.fullmatch(r"inference_\d+|training_\d+x\d+", c)]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; expected inference_<N> or training_<N>x<D>")
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="edf-bench-portfolio-")
    server = None
    if args.backend == "RDS":
        from edf_local.postgres import start_local_postgres

        server = start_local_postgres()
        os.environ["EDF_PG_DSN"] = server.dsn
    try:
        if inference_sizes:
            run_inference_cases(inference_sizes, args)
        for buildings, days in training:
            run_training_case(buildings, days, args)
    finally:
        if server is not None:
            server.stop()
    log(f"job logs under {Path(args.workdir) / 'jobs'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
