"""SageMaker Processing entrypoint for feature engineering (training and inference modes).

Honours the Processing contract: inputs are directories SageMaker copied from S3 (by default
under ``/opt/ml/processing/input/``), outputs are directories it uploads afterwards. The same
function backs ``edf features build``, so the laptop and the job run identical code.

    python -m edf.jobs.features --mode training \
        --processed /opt/ml/processing/input/processed --topology /opt/ml/processing/input/topology \
        --output /opt/ml/processing/output/features --config s3://.../edf_config.yaml
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

from edf.jobs.args import add_config_arguments, job_config
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.features")
PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return parser().parse_args(argv)


def parser() -> argparse.ArgumentParser:
    """The job's options (also how the Glue script, edf.jobs.glue_features, tells them from Glue's own)."""
    p = argparse.ArgumentParser(description="EDF feature engineering (PySpark), training or inference mode.")
    p.add_argument("--mode", choices=["training", "inference"], required=True)
    p.add_argument("--processed", default=str(PROCESSING / "input" / "processed"),
                   help="processed_edf_data: an s3:// prefix or a local folder in the date-partitioned layout "
                   "(date=YYYY-MM-DD/*.parquet; only the days the run needs are read) or a Parquet file")
    p.add_argument("--topology", default=str(PROCESSING / "input" / "topology"), help="building topology CSV/Parquet")
    p.add_argument("--weather-forecast", default=None, help="weather-forecast Parquet (inference mode)")
    p.add_argument("--output", default=str(PROCESSING / "output" / "features"),
                   help="output directory, or an s3:// URI when the job runs on a Spark cluster (Glue)")
    add_config_arguments(p)
    p.add_argument("--origin", default=None, help="inference origin, ISO UTC hour (default: next midnight after data)")
    p.add_argument("--horizon-hours", type=int, default=None)
    p.add_argument("--target", default=None, help="restrict training rows to this target's buildings")
    return p


def parse_origin(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"origin {text!r} must carry a UTC offset (e.g. 2017-08-01T00:00:00Z)")
    value = value.astimezone(dt.UTC)
    if value.minute or value.second or value.microsecond:
        raise ValueError(f"origin {text!r} must be the start of an hour")
    return value.replace(tzinfo=None)


def processed_window(args: argparse.Namespace, cfg) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The [start, end) of processed_edf_data this run reads (either bound open).

    Training: the configured train_start_date/train_end_date. Inference at a given origin: the
    lookback window before it. Without an origin the newest data decides it, so everything is read.
    """
    if args.mode == "training":
        tr = cfg.edf_training
        start = dt.datetime.combine(tr.train_start_date, dt.time()) if tr.train_start_date else None
        end = dt.datetime.combine(tr.train_end_date, dt.time()) if tr.train_end_date else None
        return start, end
    if not args.origin:
        return None, None
    origin = parse_origin(args.origin)
    return origin - dt.timedelta(days=cfg.common_feature_eng.lookback_days_default), origin


def _days(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.date | None, dt.date | None]:
    """The UTC days [first, after-last) that hold the hours of [start, end)."""
    last = (end - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=1) if end else None
    return (start.date() if start else None), last


def step_read_processed(spark, args: argparse.Namespace, cfg, workdir: Path):
    """Only the date partitions the run needs, as a Spark frame, and what was read (for the summary).

    On a Spark cluster with S3 (Glue), Spark lists and reads the partitions itself. Where Spark has
    no S3 filesystem (SageMaker Processing, the local runtime), the window's objects are fetched
    with boto3 first; either way no day outside the window is read.
    """
    from edf.data.partitions import fetch_window, select_window
    from edf.features.io import is_uri, read_processed, spark_reads
    from edf.features.pipeline import cast_processed

    start, end = processed_window(args, cfg)
    source = args.processed
    selection = select_window(source, *_days(start, end))
    if not selection.files:
        raise FileNotFoundError(f"no processed_edf_data Parquet under {source} for [{start or 'start'}, {end or 'end'})")
    if selection.days_missing:
        log.warning("processed_edf_data has no partition for %d day(s) of the window, e.g. %s",
                    len(selection.days_missing), [d.isoformat() for d in selection.days_missing[:5]])
    if is_uri(source) and not spark_reads(spark, source):
        source = str(fetch_window(selection, workdir / "processed"))
    log.info("processed_edf_data: %s", selection.summary())
    return cast_processed(read_processed(spark, source, start, end), cfg.edf_feature_eng.covariate_names), selection


def step_training(spark, processed, topology, cfg, args: argparse.Namespace, out: str) -> dict:
    """Train/eval feature sets of the training window, and the cleaned series."""
    from pyspark.sql import functions as F

    from edf.data import contract as c
    from edf.data.feature_names import ORIGIN
    from edf.features.io import (
        DATE_PARTITION,
        ORIGIN_PARTITION,
        join_path,
        spark_read_parquet,
        write_partitioned,
    )
    from edf.features.pipeline import build_training_features

    tr = cfg.edf_training
    if tr.train_start_date:
        processed = processed.where(F.col(c.TIMESTAMP) >= F.lit(str(tr.train_start_date)).cast("timestamp"))
    if tr.train_end_date:
        processed = processed.where(F.col(c.TIMESTAMP) < F.lit(str(tr.train_end_date)).cast("timestamp"))
    target = args.target or tr.target
    processed = processed.where(F.col(target).isNotNull())
    feats = build_training_features(spark, processed, topology, cfg.edf_feature_eng)
    write_partitioned(feats.train, join_path(out, "train"), ORIGIN_PARTITION, ORIGIN)
    write_partitioned(feats.eval, join_path(out, "eval"), ORIGIN_PARTITION, ORIGIN)
    feats.release()
    # the cleaned hourly series, for sequence models and baselines that need raw history
    write_partitioned(processed, join_path(out, "series"), DATE_PARTITION, c.TIMESTAMP)
    return {"train_rows": spark_read_parquet(spark, join_path(out, "train")).count(),
            "eval_rows": spark_read_parquet(spark, join_path(out, "eval")).count(),
            "split_time": feats.split_time.isoformat() + "Z", "target": target}


def default_origin(processed) -> dt.datetime:
    """The first midnight (UTC) after the last measured hour."""
    from pyspark.sql import functions as F

    from edf.data import contract as c

    last = processed.agg(F.max(c.TIMESTAMP)).first()[0]
    origin = (last + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return (origin + dt.timedelta(days=1)).replace(hour=0) if origin.hour else origin


def step_inference(spark, processed, topology, cfg, args: argparse.Namespace, out: str) -> dict:
    """Features for one origin and the lookback history the models read."""
    from pyspark.sql import functions as F

    from edf.data import contract as c
    from edf.data.feature_names import ORIGIN
    from edf.features.io import (
        DATE_PARTITION,
        ORIGIN_PARTITION,
        join_path,
        spark_read_parquet,
        write_partitioned,
    )
    from edf.features.pipeline import build_inference_features
    from edf.features.weather_inputs import inference_weather

    horizon = args.horizon_hours or cfg.edf_inference.forecast_horizon_hours
    origin = parse_origin(args.origin) if args.origin else default_origin(processed)
    from edf.jobs.inference_inputs import check_inference_inputs  # stale inputs fail or degrade

    input_checks = check_inference_inputs(processed, topology, origin, cfg)
    # weather: the freshness rule and each building's weather_source (edf.features.weather_inputs)
    weather, weather_summary = inference_weather(spark, args.weather_forecast, topology, origin, horizon,
                                                 cfg.edf_weather.freshness, out)
    lookback = cfg.common_feature_eng.lookback_days_default
    calibration = cfg.edf_training.calibration  # the previous days' origins feed the online recalibration
    feats = build_inference_features(spark, processed, topology, cfg.edf_feature_eng, origin, horizon, weather,
                                     lookback_days=lookback,
                                     recalibration_days=calibration.window_days if calibration.online else 0)
    write_partitioned(feats, join_path(out, "inference"), ORIGIN_PARTITION, ORIGIN)
    history = processed.where(F.col(c.TIMESTAMP) < F.lit(origin).cast("timestamp")).where(
        F.col(c.TIMESTAMP) >= F.lit(origin - dt.timedelta(days=lookback)).cast("timestamp"))
    write_partitioned(history, join_path(out, "series"), DATE_PARTITION, c.TIMESTAMP)
    rows = spark_read_parquet(spark, join_path(out, "inference")).count()
    return {"origin": origin.isoformat() + "Z", "horizon_hours": horizon, "rows": rows, "input_checks": input_checks,
            "weather": weather_summary}


# Stages ``run`` reports through ``on_stage`` (``edf features build`` shows them as progress).
STAGES = 4


def run(args: argparse.Namespace, on_stage: Callable[[str], None] | None = None) -> dict:
    """Build the features of ``args.mode``; ``on_stage`` hears about each of the :data:`STAGES` stages."""
    import tempfile

    from edf.data.topology import read_topology
    from edf.features.io import join_path, write_text
    from edf.features.spark_session import executor_task_counts, get_spark
    from edf.jobs.entrypoint import opt_ml

    stage = on_stage or (lambda what: None)
    cfg = job_config(args)
    spark = get_spark(app_name=f"edf-features-{args.mode}")
    started = time.time()
    out = args.output  # a local directory (SageMaker Processing) or an s3:// URI (Glue)
    scratch = opt_ml() / "processing" if (opt_ml() / "processing").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="edf-processed-", dir=scratch) as tmp:
        processed, selection = step_read_processed(spark, args, cfg, Path(tmp))
        topology = read_topology(args.topology)
        stage(f"{len(selection.files)} processed file(s) fetched, topology read")
        step = step_training if args.mode == "training" else step_inference
        summary = {"mode": args.mode, **step(spark, processed, topology, cfg, args, out),
                   "processed_read": selection.summary()}
        stage("features and series written, rows counted" if args.mode == "training"
              else "inference features and lookback series written, rows counted")
    stage("scratch copy of the processed partitions removed")
    summary["seconds"] = round(time.time() - started, 2)
    summary["executors"] = executor_task_counts(spark)
    write_text(join_path(out, "_summary.json"), json.dumps(summary, indent=2))
    stage("summary written")
    log.info("features done: %s", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-features", "feature engineering", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
