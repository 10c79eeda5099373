"""SageMaker Processing entrypoint (ModelEvaluationEDF): score the trained bundle on the eval window.

    python -m edf.jobs.evaluate --model /opt/ml/processing/input/model \
        --features /opt/ml/processing/input/features --output /opt/ml/processing/output/evaluation \
        [--champion-model none|DIR|s3://.../model.tar.gz] [--model-package-group NAME]

``--model`` holds ``model.tar.gz`` (or an extracted bundle); ``--features`` holds ``eval/`` and
``series/`` (and ``train/``, whose rows fit the baselines' interval state). The approved champion
(default: the newest Approved package of the group, ``edf.evaluation.champion``) is scored on the
same rows. Writes ``evaluation_report_edf.json`` (everything, per building), the small
``evaluation_decision_edf.json`` the CheckEvaluationEDF Choice state reads, and PNG plots (forecast
vs actual, error by lead, error by building, feature importance - per target). On error:
``$EDF_OPT_ML/output/failure``, exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from edf.jobs.args import add_config_arguments, job_config
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.evaluate")
PROCESSING = Path("/opt/ml/processing")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="EDF model evaluation: metrics vs baselines and the approved champion "
                                "on the same rows, thresholds, explanations, plots.")
    p.add_argument("--model", default=str(PROCESSING / "input" / "model"), help="folder with model.tar.gz or a bundle")
    p.add_argument("--features", default=str(PROCESSING / "input" / "features"), help="folder with eval/ and series/")
    p.add_argument("--output", default=str(PROCESSING / "output" / "evaluation"), help="report folder")
    p.add_argument("--champion-model", default=None,
                   help="champion bundle to compare with: 'none', a folder/model.tar.gz or an s3:// URI "
                   "(default: the newest Approved package of the model package group)")
    p.add_argument("--model-package-group", default=os.environ.get("EDF_MODEL_PACKAGE_GROUP"),
                   help="group whose newest Approved package is the champion (default: $EDF_MODEL_PACKAGE_GROUP, "
                   "then the config's group)")
    add_config_arguments(p)
    return p.parse_args(argv)


def _read_features(features: Path, cfg) -> tuple:
    """eval/ (required); train/ (optional; the baselines' interval state comes from the same bounded
    sample of training rows the model saw) and series/ (optional)."""
    from edf.data.io import list_files, read_parquet
    from edf.models.base import utc_keys
    from edf.models.sampling import read_training_rows

    tr = cfg.edf_training
    train = features / "train"
    train_rows = (utc_keys(read_training_rows(train, tr.max_training_rows, tr.training_sample_seed)[0])
                  if train.exists() and list_files(train) else None)
    series = utc_keys(read_parquet(features / "series", required=False)) if (features / "series").exists() else None
    return utc_keys(read_parquet(features / "eval")), train_rows, series


def _score_targets(models: dict, champion, eval_rows, train_rows, series, cfg, out: Path) -> tuple[dict, dict, list]:
    """Per target: the model vs baselines, vs the champion on the same rows, importance; the plots."""
    from edf.evaluation.champion import COMPARED, score_target
    from edf.evaluation.explain import global_importance, write_importance_plot
    from edf.evaluation.report import evaluate_target, target_rows, write_plots

    targets, comparisons, plots = {}, {}, []
    for target, model in models.items():
        if target not in eval_rows.columns or not eval_rows[target].notna().any():
            log.warning("no %s actuals in the evaluation window: %s model not scored", target, target)
            continue
        rows = target_rows(eval_rows, target)
        targets[target], preds = evaluate_target(model, eval_rows, train_rows, series, cfg)
        if champion.status == COMPARED:
            comparisons[target] = score_target(champion, target, preds[model.strategy], rows, series, cfg)
        importance = global_importance(model, rows, series, cfg.edf_evaluation.explain_sample_rows,
                                       cfg.edf_training.random_seed)
        targets[target]["importance"] = importance
        plots += write_plots(preds, target, model.strategy, out)
        plots += write_importance_plot(importance, target, model.strategy, out)
    if not targets:
        raise ValueError("the evaluation features have no actuals for any target in the model bundle")
    return targets, comparisons, plots


def run(args: argparse.Namespace) -> dict:
    from edf.evaluation.champion import find_champion, summary
    from edf.evaluation.gate import DECISION_FILE, decision_document
    from edf.evaluation.report import REPORT_FILE, build_report, evaluation_window
    from edf.models.bundle import load_bundle

    cfg = job_config(args)
    manifest, models = load_bundle(args.model)
    eval_rows, train_rows, series = _read_features(Path(args.features), cfg)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    champion = find_champion(cfg, args.champion_model, args.model_package_group)
    targets, comparisons, plots = _score_targets(models, champion, eval_rows, train_rows, series, cfg, out)
    report = build_report(targets, cfg, manifest, window=evaluation_window(eval_rows),
                          champion=summary(champion, comparisons, cfg, manifest.get("config_hash")))
    report["plots"] = plots
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    decision = decision_document(report)
    (out / DECISION_FILE).write_text(json.dumps(decision, indent=2))
    log.info("evaluation: passed=%s thresholds=%s beats_baselines=%s champion=%s failed_targets=%s headline=%s",
             report["passed"], report["passes_thresholds"], report["beats_baselines"],
             report["champion"]["verdict"], report["failed_targets"], report["headline"])
    return report


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-evaluate", "evaluation", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
