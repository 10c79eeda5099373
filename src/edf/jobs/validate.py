"""SageMaker Processing entrypoint of the ``ValidateSchema`` step of the training workflow.

Checks ``processed_edf_data`` against the data contract (``edf.data.validation``) before any
Spark or training time is spent. The report is always written to ``OUTPUT/validation_report.json``
(uploaded by SageMaker, so it is there to read even when the step fails); an invalid dataset
makes the job fail with the rendered report as its failure reason, which Step Functions shows
as the cause and the failure notification carries.

    python -m edf.jobs.validate --processed /opt/ml/processing/input/processed \
        --output /opt/ml/processing/output/validation [--target consumption_kwh] \
        [--config s3://.../edf_config.yaml] [--overrides '{"edf_training": {...}}']

The training window of the run (``train_start_date``/``train_end_date`` in the overrides) limits
what is validated, so a bad row outside the window does not block a run that never reads it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd

from edf.jobs.args import add_config_arguments, job_config
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.validate")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Validate processed_edf_data against the EDF data contract.")
    p.add_argument("--processed", default="/opt/ml/processing/input/processed",
                   help="processed_edf_data: an s3:// prefix or local folder in the date-partitioned layout "
                   "(only the training window's days are read) or a Parquet file")
    p.add_argument("--output", default="/opt/ml/processing/output/validation", help="report directory")
    p.add_argument("--target", default=None, help="target column the run trains (default: config edf_training.target)")
    add_config_arguments(p)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from edf.data import contract as c
    from edf.data.partitions import read_window
    from edf.data.validation import validate_processed

    cfg = job_config(args)
    target = args.target or cfg.edf_training.target
    tr = cfg.edf_training
    frame, selection = read_window(args.processed, tr.train_start_date, tr.train_end_date)
    if not selection.files:
        raise FileNotFoundError(f"no Parquet files under {args.processed} for the training window: "
                                "the processed data input is empty")
    if c.TIMESTAMP in frame.columns and (tr.train_start_date or tr.train_end_date):
        ts = pd.to_datetime(frame[c.TIMESTAMP], utc=True, errors="coerce")
        keep = pd.Series(True, index=frame.index)
        if tr.train_start_date:
            keep &= ts >= pd.Timestamp(tr.train_start_date, tz="UTC")
        if tr.train_end_date:
            keep &= ts < pd.Timestamp(tr.train_end_date, tz="UTC")
        frame = frame[keep | ts.isna()]  # unparseable timestamps stay in, so validation reports them
    report = validate_processed(frame, target, covariates=cfg.edf_feature_eng.covariate_names)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    payload = {**report.to_dict(), "target": target, "processed_read": selection.summary(),
               "window": {"start": str(tr.train_start_date or ""), "end": str(tr.train_end_date or "")}}
    (out / "validation_report.json").write_text(json.dumps(payload, indent=2, default=str))
    log.info("validation: %s", report.render().splitlines()[0])
    if not report.ok:
        raise ValueError(f"processed_edf_data breaks the data contract: {report.render()}")
    return payload


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-validate", "validation", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
