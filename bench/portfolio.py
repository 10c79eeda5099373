"""Benchmark: the deployed workflows on synthetic portfolios, through the local runtime with AWS's limits.

Cases (one JSON line each on stdout; progress on stderr):

* ``inference_<N>`` - the daily inference workflow (the deployed ASL: approved package -> features ->
  demand and solar forecasts with intervals -> optimisation -> load) for N synthetic buildings x 72 h.
  The approved model is trained first by the training workflow on a small synthetic portfolio
  (``--train-buildings`` x 60 days; reported as its own case), then the large portfolio replaces it
  in the emulated S3, as a new day's ingestion would.
* ``training_<N>x<D>`` - the training workflow (validate -> features -> train -> evaluate -> register)
  for N synthetic buildings x D days.
* ``load_<N>`` - the LoadForecastsToDB Lambda alone on a run of N buildings x 72 h x 2 series (plus
  three recommendations per building): the real handler in a child process held to the configured
  memory and timeout, as the local runtime invokes it - does one invocation hold the portfolio?

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
    job_peaks = {name: d.get("LocalPeakRssMb", 0.0) for name, d in jobs.items() if name.endswith(execution.name)}
    for glue_run in (rt.glue.job_runs.values() if getattr(rt, "glue", None) else []):  # the Spark feature jobs
        if f"/{execution.name}/" in json.dumps(glue_run.get("Arguments", {})):
            job_peaks[glue_run["JobName"]] = glue_run.get("LocalPeakRssMb", 0.0)
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
    execution = rt.run("training", {"strategy": "xgboost", "thresholds": LENIENT}, execution_name=f"bench-{case.replace('_', '-')}")
    record = case_record(case, execution, rt, started, {"buildings": rt.portfolio.buildings})
    if execution.succeeded and (execution.output or {}).get("registration"):
        arn = execution.output["registration"]["model_package_arn"]
        decide(arn, "Approved", "bench/portfolio.py", boto3.client("sagemaker", region_name=rt.region))
    return record


def inference(rt: Any, case: str) -> dict[str, Any]:
    started = time.perf_counter()
    date = rt.processed_last_day
    execution = rt.run("inference", {"inference_date": date}, execution_name=f"bench-{case.replace('_', '-')}")
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


def synthetic_run(n: int, out: Path, run_id: str = "edf-2023-06-22") -> tuple[Path, Path]:
    """forecasts.parquet and recommendations.parquet of a 72 h run for ``n`` buildings (FORECAST_COLUMNS)."""
    import numpy as np
    import pandas as pd

    from edf.data.io import write_parquet

    hours = pd.date_range("2023-06-22", periods=72, freq="h", tz="UTC")
    ids = [f"synth-{i:05d}" for i in range(n)]
    rng = np.random.default_rng(n)
    yhat = rng.gamma(2.0, 0.6, size=n * 72 * 2)
    forecasts = pd.DataFrame({
        "building_id": np.repeat(ids, 144), "grid_area": np.repeat([f"synth-{i % 3}" for i in range(n)], 144),
        "series": np.tile(np.repeat(["consumption", "solar"], 72), n), "timestamp_hour": np.tile(np.tile(hours, 2), n),
        "origin_time": hours[0], "lead_hours": np.tile(np.tile(np.arange(72, dtype="int32"), 2), n),
        "yhat": yhat, "yhat_lower": yhat * 0.7, "yhat_upper": yhat * 1.3, "strategy": "xgboost",
        "model_version": "arn:aws:sagemaker:eu-central-1:123456789012:model-package/edf-bench/1",
        "issue_time": pd.Timestamp("2023-06-22T05:00:00Z"), "run_id": run_id})
    recs = pd.DataFrame({
        "building_id": np.repeat(ids, 3), "grid_area": np.repeat([f"synth-{i % 3}" for i in range(n)], 3),
        "kind": np.tile(["demand_response", "resident", "resident"], n),
        "timestamp_hour": np.tile([hours[18], hours[11], hours[19]], n),
        "action": np.tile(["curtail", "charge_battery", "discharge_battery"], n),
        "kw": 1.0, "expected_reduction_kwh": 0.5, "expected_saving": 0.2, "run_id": run_id,
        "issue_time": pd.Timestamp("2023-06-22T05:00:00Z")})
    write_parquet(forecasts, out / "forecasts.parquet")
    write_parquet(recs, out / "recommendations.parquet")
    return out / "forecasts.parquet", out / "recommendations.parquet"


def run_load_case(n: int, args: argparse.Namespace) -> dict[str, Any]:
    """The load handler alone, in a child process with the configured memory and timeout."""
    from edf.config import load_config
    from edf_local.functions import LAMBDAS_DIR
    from edf_local.lambdas import LocalLambdaInvoker

    cfg = load_config()
    memory = args.load_memory or cfg.edf_inference.load_forecasts_lambda_memory
    timeout = args.load_timeout or cfg.edf_inference.load_forecasts_lambda_timeout
    with tempfile.TemporaryDirectory(prefix="edf-bench-load-") as tmp:
        f_path, r_path = synthetic_run(n, Path(tmp))
        env = {"EDF_FORECAST_DB_TYPE": args.backend, "EDF_STORAGE_CREATE_MISSING": "1", "EDF_LOG_FORMAT": "text"}
        invoker = LocalLambdaInvoker({"load": LAMBDAS_DIR / "load_forecasts" / "handler.py"}, environment={"load": env},
                                     function_limits={"load": (memory, timeout)}, isolation="process")
        started = time.perf_counter()
        record: dict[str, Any] = {"bench": "portfolio", "case": f"load_{n}", "backend": args.backend,
                                  "lambda_memory_mb": memory, "lambda_timeout_s": timeout}
        try:
            out = invoker.invoke("load", {"forecasts_uri": str(f_path), "recommendations_uri": str(r_path),
                                          "run_id": "edf-2023-06-22", "model_version": "bench"})
            record.update(status="SUCCEEDED", rows_stored=out["forecasts_written"],
                          recommendations_stored=out["recommendations_written"])
        except Exception as exc:  # noqa: BLE001 - the failure (OOM, timeout) is the measurement
            record.update(status="FAILED", error=getattr(exc, "error", type(exc).__name__))
        last = invoker.invocations[-1]
        record.update(seconds=round(time.perf_counter() - started, 1), peak_rss_mb=last.get("peak_rss_mb"),
                      cpu_seconds=last.get("cpu_seconds"), lambda_seconds_at_least=last.get("lambda_seconds_at_least"),
                      load_avg_1m=round(os.getloadavg()[0], 1))
    print(json.dumps(record), flush=True)
    return record


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
    parser.add_argument("--load-memory", type=int, default=None, help="load_<N>: Lambda memory MB (default: config)")
    parser.add_argument("--load-timeout", type=int, default=None, help="load_<N>: Lambda timeout s (default: config)")
    parser.add_argument("--workdir", default=None, help="job directories and logs (default: a temp folder)")
    args = parser.parse_args()
    inference_sizes = [int(m.group(1)) for c in args.cases if (m := re.fullmatch(r"inference_(\d+)", c))]
    training = [tuple(map(int, m.groups())) for c in args.cases if (m := re.fullmatch(r"training_(\d+)x(\d+)", c))]
    loads = [int(m.group(1)) for c in args.cases if (m := re.fullmatch(r"load_(\d+)", c))]
    unknown = [c for c in args.cases if not re.fullmatch(r"inference_\d+|training_\d+x\d+|load_\d+", c)]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; expected inference_<N>, training_<N>x<D> or load_<N>")
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="edf-bench-portfolio-")
    os.environ["EDF_LOG_STREAM"] = "stderr"  # stdout carries only the JSON lines
    server = None
    if args.backend == "RDS":
        from edf_local.postgres import start_local_postgres

        server = start_local_postgres()
        os.environ["EDF_PG_DSN"] = server.dsn
    try:
        for n in loads:
            run_load_case(n, args)
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
