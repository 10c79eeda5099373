"""SageMaker Processing entrypoint (ModelEvaluationEDF): score the trained bundle on the eval window.

    python -m edf.jobs.evaluate --model /opt/ml/processing/input/model \
        --features /opt/ml/processing/input/features --output /opt/ml/processing/output/evaluation

``--model`` holds ``model.tar.gz`` (or an extracted bundle); ``--features`` holds ``eval/`` and
``series/`` (and ``train/``, whose rows fit the baselines' interval state). Writes
``evaluation_report_edf.json`` (``passed`` / ``passes_thresholds`` / ``beats_baselines`` for the
CheckEvaluationEDF Choice state) and PNG plots. On error: ``$EDF_OPT_ML/output/failure``, exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from edf.jobs.args import add_config_arguments, job_config
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.evaluate")
PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="EDF model evaluation: metrics vs baselines, thresholds, plots.")
    p.add_argument("--model", default=str(PROCESSING / "input" / "model"), help="folder with model.tar.gz or a bundle")
    p.add_argument("--features", default=str(PROCESSING / "input" / "features"), help="folder with eval/ and series/")
    p.add_argument("--output", default=str(PROCESSING / "output" / "evaluation"), help="report folder")
    add_config_arguments(p)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    from edf.data.io import list_files, read_parquet
    from edf.evaluation.report import REPORT_FILE, build_report, evaluate_target, write_plots
    from edf.models.base import utc_keys
    from edf.models.bundle import load_bundle
    from edf.models.sampling import read_training_rows

    cfg = job_config(args)
    manifest, models = load_bundle(args.model)
    features = Path(args.features)
    eval_rows = utc_keys(read_parquet(features / "eval"))
    # the baselines' interval state comes from training rows: the same bounded sample the model saw
    tr = cfg.edf_training
    train_rows = (utc_keys(read_training_rows(features / "train", tr.max_training_rows, tr.training_sample_seed)[0])
                  if (features / "train").exists() and list_files(features / "train") else None)
    series = utc_keys(read_parquet(features / "series", required=False))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    targets, plots = {}, []
    for target, model in models.items():
        if target not in eval_rows.columns or not eval_rows[target].notna().any():
            log.warning("no %s actuals in the evaluation window: %s model not scored", target, target)
            continue
        targets[target], preds = evaluate_target(model, eval_rows, train_rows, series, cfg)
        plots += write_plots(preds, target, model.strategy, out)
    if not targets:
        raise ValueError("the evaluation features have no actuals for any target in the model bundle")
    report = build_report(targets, cfg, manifest)
    report["plots"] = plots
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    log.info("evaluation: passed=%s thresholds=%s beats_baselines=%s headline=%s", report["passed"],
             report["passes_thresholds"], report["beats_baselines"], report["headline"])
    return report


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-evaluate", "evaluation", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
