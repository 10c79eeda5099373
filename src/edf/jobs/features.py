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
                   help="processed_edf_data: an s3:// prefix or a local folder in the date-partitioned layout "
                   "(date=YYYY-MM-DD/*.parquet; only the days the run needs are read) or a Parquet file")
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


def processed_window(args: argparse.Namespace, cfg) -> tuple[dt.date | None, dt.date | None]:
    """The UTC days of processed data this run needs: the training window, or the inference lookback."""
    if args.mode == "training":
        tr = cfg.edf_training
        return tr.train_start_date, tr.train_end_date
    if not args.origin:
        return None, None  # the origin comes from the data's last hour: every day may be needed
    origin = parse_origin(args.origin)
    lookback = cfg.common_feature_eng.lookback_days_default
    return (origin - dt.timedelta(days=lookback)).date(), origin.date() + dt.timedelta(days=1)


def step_read_processed(spark, args: argparse.Namespace, cfg, workdir: Path):
    """Only the date partitions the run needs, as a Spark frame; the selection goes in the summary."""
    from edf.data.partitions import fetch_window, select_window
    from edf.features.io import spark_read_parquet
    from edf.features.pipeline import cast_processed

    start, end = processed_window(args, cfg)
    selection = select_window(args.processed, start, end)
    if not selection.files:
        raise FileNotFoundError(f"no processed_edf_data Parquet under {args.processed} for days "
                                f"[{start or 'start'}, {end or 'end'})")
    if selection.days_missing:
        log.warning("processed_edf_data has no partition for %d day(s) of the window, e.g. %s",
                    len(selection.days_missing), [d.isoformat() for d in selection.days_missing[:5]])
    local = fetch_window(selection, workdir / "processed")
    log.info("processed_edf_data: %s", selection.summary())
    return cast_processed(spark_read_parquet(spark, local)), selection


def step_training(spark, processed, topology, cfg, args: argparse.Namespace, out: Path) -> dict:
    """Train/eval feature sets of the training window, and the cleaned series."""
    from pyspark.sql import functions as F

    from edf.data import contract as c
    from edf.features.io import spark_read_parquet, write_parquet
    from edf.features.pipeline import build_training_features

    tr = cfg.edf_training
    if tr.train_start_date:
        processed = processed.where(F.col(c.TIMESTAMP) >= F.lit(str(tr.train_start_date)).cast("timestamp"))
    if tr.train_end_date:
        processed = processed.where(F.col(c.TIMESTAMP) < F.lit(str(tr.train_end_date)).cast("timestamp"))
    target = args.target or tr.target
    processed = processed.where(F.col(target).isNotNull())
    feats = build_training_features(spark, processed, topology, cfg.edf_feature_eng)
    write_parquet(feats.train, out / "train")
    write_parquet(feats.eval, out / "eval")
    feats.release()
    # the cleaned hourly series, for sequence models and baselines that need raw history
    write_parquet(processed, out / "series")
    return {"train_rows": spark_read_parquet(spark, out / "train").count(),
            "eval_rows": spark_read_parquet(spark, out / "eval").count(),
            "split_time": feats.split_time.isoformat() + "Z", "target": target}


def default_origin(processed) -> dt.datetime:
    """The first midnight (UTC) after the last measured hour."""
    from pyspark.sql import functions as F

    from edf.data import contract as c

    last = processed.agg(F.max(c.TIMESTAMP)).first()[0]
    origin = (last + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    return (origin + dt.timedelta(days=1)).replace(hour=0) if origin.hour else origin


def step_inference(spark, processed, topology, cfg, args: argparse.Namespace, out: Path) -> dict:
    """Features for one origin and the lookback history the models read."""
    from pyspark.sql import functions as F

    from edf.data import contract as c
    from edf.features.io import spark_read_parquet, write_parquet
    from edf.features.pipeline import build_inference_features
    from edf.features.weather_inputs import inference_weather

    horizon = args.horizon_hours or cfg.edf_inference.forecast_horizon_hours
    origin = parse_origin(args.origin) if args.origin else default_origin(processed)
    # weather: the freshness rule and each building's weather_source (edf.features.weather_inputs)
    weather, weather_summary = inference_weather(spark, args.weather_forecast, topology, origin, horizon,
                                                 cfg.edf_weather.freshness, out)
    lookback = cfg.common_feature_eng.lookback_days_default
    feats = build_inference_features(spark, processed, topology, cfg.edf_feature_eng, origin, horizon, weather,
                                     lookback_days=lookback)
    write_parquet(feats, out / "inference")
    history = processed.where(F.col(c.TIMESTAMP) < F.lit(origin).cast("timestamp")).where(
        F.col(c.TIMESTAMP) >= F.lit(origin - dt.timedelta(days=lookback)).cast("timestamp"))
    write_parquet(history, out / "series")
    rows = spark_read_parquet(spark, out / "inference").count()
    return {"origin": origin.isoformat() + "Z", "horizon_hours": horizon, "rows": rows, "weather": weather_summary}


def run(args: argparse.Namespace) -> dict:
    import tempfile

    from edf.data.topology import read_topology
    from edf.features.spark_session import get_spark
    from edf.jobs.entrypoint import opt_ml

    cfg = job_config(args)
    spark = get_spark(app_name=f"edf-features-{args.mode}")
    started = time.time()
    out = Path(args.output)
    scratch = opt_ml() / "processing" if (opt_ml() / "processing").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="edf-processed-", dir=scratch) as tmp:
        processed, selection = step_read_processed(spark, args, cfg, Path(tmp))
        topology = read_topology(args.topology)
        step = step_training if args.mode == "training" else step_inference
        summary = {"mode": args.mode, **step(spark, processed, topology, cfg, args, out),
                   "processed_read": selection.summary()}
    summary["seconds"] = round(time.time() - started, 2)
    (out / "_summary.json").write_text(json.dumps(summary, indent=2))
    log.info("features done: %s", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-features", "feature engineering", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
