"""SageMaker *training* entrypoint: fit the demand model (requested strategy) and the solar model.

Contract (``$EDF_OPT_ML`` defaults to ``/opt/ml``):

* ``input/config/hyperparameters.json`` — string values: ``strategy`` (prophet | xgboost | lstm),
  optional ``config`` (path or s3:// URI) and ``overrides`` (JSON string, ``edf.config.run_overrides``).
* channels ``input/data/train/``, ``input/data/eval/`` (unused here), ``input/data/series/`` —
  the features job's outputs.
* writes the bundle to ``model/`` (``consumption_kwh/``, ``solar_generation_kwh/``, ``bundle.json``);
  SageMaker tars it into ``model.tar.gz``. On error: ``output/failure`` and exit code 1.

    python -m edf.jobs.train
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time

from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.train")


def read_hyperparameters(path) -> dict[str, str]:
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {str(k): str(v) for k, v in raw.items()}


def run() -> dict:
    from edf.config import load_config, normalise_strategy
    from edf.data import contract as c
    from edf.data.io import read_parquet
    from edf.data.topology import pv_mask
    from edf.jobs.args import read_json_argument
    from edf.jobs.entrypoint import opt_ml
    from edf.models import ModelError, make_model
    from edf.models.base import utc_keys
    from edf.models.bundle import save_bundle
    from edf.models.sampling import read_training_rows

    root = opt_ml()
    hp = read_hyperparameters(root / "input" / "config" / "hyperparameters.json")
    overrides = read_json_argument(hp.get("overrides"), "hyperparameter overrides")
    cfg = load_config(hp.get("config") or None, overrides)
    strategy = normalise_strategy(hp.get("strategy") or cfg.edf_training.default_strategy)
    data = root / "input" / "data"
    tr = cfg.edf_training
    train, sample = read_training_rows(data / "train", tr.max_training_rows, tr.training_sample_seed)
    train = utc_keys(train)
    series = utc_keys(read_parquet(data / "series", required=False))
    models, timings = {}, {}
    plan = [(c.CONSUMPTION, strategy), (c.SOLAR, cfg.edf_training.solar_strategy)]
    for target, target_strategy in plan:
        rows = train[train[target].notna()] if target in train.columns else train.iloc[0:0]
        if target == c.SOLAR:
            rows = rows[pv_mask(rows)]
        if rows.empty:
            log.warning("no training rows with %s: the bundle has no %s model", target, target)
            continue
        started = time.perf_counter()
        models[target] = make_model(target_strategy, target, cfg).fit(rows, series)
        timings[target] = round(time.perf_counter() - started, 2)
        log.info("fitted %s model for %s in %.1fs", target_strategy, target, timings[target])
    if not models:
        raise ModelError("the training channel has no rows with consumption_kwh or solar_generation_kwh")
    manifest = save_bundle(root / "model", models, cfg.config_hash(), extra={
        "strategy": strategy, "trained_at": dt.datetime.now(dt.UTC).isoformat(), "fit_seconds": timings,
        "training_sample": sample.to_dict(),
        "horizon_hours": int(train["lead_hours"].max()) + 1})
    log.info("model bundle written: %s", json.dumps(manifest["targets"]))
    return manifest


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-train", "training", lambda: run())


if __name__ == "__main__":
    sys.exit(main())
