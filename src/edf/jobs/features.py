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
from pathlib import Path

from edf.jobs.args import add_config_arguments, job_config
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.features")
PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="EDF feature engineering (PySpark), training or inference mode.")
    p.add_argument("--mode", choices=["training", "inference"], required=True)
    p.add_argument("--processed", default=str(PROCESSING / "input" / "processed"),
                   help="processed_edf_data Parquet (file or directory)")
    p.add_argument("--topology", default=str(PROCESSING / "input" / "topology"), help="building topology CSV/Parquet")
    p.add_argument("--weather-forecast", default=None, help="weather-forecast Parquet (inference mode)")
    p.add_argument("--output", default=str(PROCESSING / "output" / "features"), help="output directory")
    add_config_arguments(p)
    p.add_argument("--origin", default=None, help="inference origin, ISO UTC hour (default: next midnight after data)")
    p.add_argument("--horizon-hours", type=int, default=None)
    p.add_argument("--target", default=None, help="restrict training rows to this target's buildings")
    return p.parse_args(argv)


def parse_origin(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"origin {text!r} must carry a UTC offset (e.g. 2017-08-01T00:00:00Z)")
    value = value.astimezone(dt.UTC)
    if value.minute or value.second or value.microsecond:
        raise ValueError(f"origin {text!r} must be the start of an hour")
    return value.replace(tzinfo=None)


def run(args: argparse.Namespace) -> dict:
    from pyspark.sql import functions as F

    from edf.data import contract as c
    from edf.data.topology import read_topology
    from edf.features.io import spark_read_parquet, write_parquet
    from edf.features.pipeline import build_inference_features, build_training_features, cast_processed
    from edf.features.spark_session import get_spark
    from edf.features.weather_inputs import inference_weather

    cfg = job_config(args)
    fe = cfg.edf_feature_eng
    spark = get_spark(app_name=f"edf-features-{args.mode}")
    started = time.time()
    processed = cast_processed(spark_read_parquet(spark, args.processed))
    topology = read_topology(args.topology)
    out = Path(args.output)
    summary: dict = {"mode": args.mode}
    if args.mode == "training":
        tr = cfg.edf_training
        if tr.train_start_date:
            processed = processed.where(F.col(c.TIMESTAMP) >= F.lit(str(tr.train_start_date)).cast("timestamp"))
        if tr.train_end_date:
            processed = processed.where(F.col(c.TIMESTAMP) < F.lit(str(tr.train_end_date)).cast("timestamp"))
        target = args.target or tr.target
        processed = processed.where(F.col(target).isNotNull())
        feats = build_training_features(spark, processed, topology, fe)
        write_parquet(feats.train, out / "train")
        write_parquet(feats.eval, out / "eval")
        feats.release()
        # the cleaned hourly series, for sequence models and baselines that need raw history
        write_parquet(processed, out / "series")
        train_rows = spark_read_parquet(spark, out / "train").count()
        eval_rows = spark_read_parquet(spark, out / "eval").count()
        summary.update(train_rows=train_rows, eval_rows=eval_rows, split_time=feats.split_time.isoformat() + "Z",
                       target=target)
    else:
        horizon = args.horizon_hours or cfg.edf_inference.forecast_horizon_hours
        if args.origin:
            origin = parse_origin(args.origin)
        else:
            last = processed.agg(F.max(c.TIMESTAMP)).first()[0]
            origin = (last + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
            origin = (origin + dt.timedelta(days=1)).replace(hour=0) if origin.hour else origin
        # weather: the freshness rule and each building's weather_source (edf.features.weather_inputs)
        weather, weather_summary = inference_weather(spark, args.weather_forecast, topology, origin, horizon,
                                                     cfg.edf_weather.freshness, out)
        feats = build_inference_features(spark, processed, topology, fe, origin, horizon, weather,
                                         lookback_days=cfg.common_feature_eng.lookback_days_default)
        write_parquet(feats, out / "inference")
        history = processed.where(F.col(c.TIMESTAMP) < F.lit(origin).cast("timestamp")).where(
            F.col(c.TIMESTAMP) >= F.lit(origin - dt.timedelta(days=cfg.common_feature_eng.lookback_days_default)).cast("timestamp"))
        write_parquet(history, out / "series")
        rows = spark_read_parquet(spark, out / "inference").count()
        summary.update(origin=origin.isoformat() + "Z", horizon_hours=horizon, rows=rows)
        summary["weather"] = weather_summary
    summary["seconds"] = round(time.time() - started, 2)
    (out / "_summary.json").write_text(json.dumps(summary, indent=2))
    log.info("features done: %s", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-features", "feature engineering", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
