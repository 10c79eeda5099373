"""The approved champion, scored on exactly the challenger's evaluation rows.

Comparing two reports written months apart compares two different windows (and often different
buildings); that says little about which model is better *now*. So the evaluation job loads the
package inference would use today - the newest ``Approved`` package of the group, found by
:func:`edf.registry.latest_approved`, the same call the inference workflow's Lambda makes - and
predicts the challenger's evaluation rows with it. Both models are then scored on the rows where
both produced a forecast and the actual is known, and each side's scored rows are fingerprinted
independently (``rows_fingerprint``), so the report proves the row sets are equal.

The job reads the registry itself (the training stack's SageMaker role has ``ReadRegistry``); the
group name comes from ``EDF_MODEL_PACKAGE_GROUP`` (set by the workflow) or the config.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from edf.config import EDFConfig
from edf.evaluation.compare import METRICS, NOT_COMPARED, WORSE, metric_table, verdict
from edf.evaluation.metrics import ROW_KEYS, evaluate_forecasts

log = logging.getLogger(__name__)

NONE, COMPARED, UNAVAILABLE, DISABLED = "none", "compared", "unavailable", "disabled"


@dataclass
class Champion:
    """What the evaluation knows about the champion: a status, the package, and its loaded models."""

    status: str
    reason: str | None = None
    package: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)


def _load(package: dict[str, Any], location: str) -> Champion:
    from edf.models.bundle import fetch_bundle

    try:
        manifest, models = fetch_bundle(location)
    except Exception as exc:  # a champion written by other library versions, a deleted artifact, ...
        log.warning("champion %s cannot be loaded: %s", location, exc)
        return Champion(UNAVAILABLE, f"cannot load the champion's bundle {location}: {exc}", package)
    return Champion(COMPARED, None, package, manifest, models)


def find_champion(cfg: EDFConfig, override: str | None = None, group: str | None = None) -> Champion:
    """The champion to compare with.

    ``override`` (``--champion-model``): ``none`` skips the comparison; a local folder, ``model.tar.gz``
    or ``s3://`` URI is used as the champion bundle. Otherwise the newest Approved package of ``group``
    (default ``EDF_MODEL_PACKAGE_GROUP``, then the config's group). No approved package is not an
    error: a first training run has no champion.
    """
    if not cfg.edf_evaluation.champion.enabled:
        return Champion(DISABLED, "edf_evaluation.champion.enabled is false")
    if override and override.strip().lower() == "none":
        return Champion(NONE, "--champion-model none")
    if override:
        return _load({"model_data_url": override}, override)
    import boto3

    from edf.registry import NoApprovedModelError, RegistryError, latest_approved
    from edf.registry.registry import package_container

    group = group or os.environ.get("EDF_MODEL_PACKAGE_GROUP") or cfg.model_package_group
    # SageMaker sets AWS_REGION in its containers; botocore itself reads only AWS_DEFAULT_REGION
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or cfg.aws_region
    try:
        package = latest_approved(group, boto3.client("sagemaker", region_name=region))
        container = package_container(package)
    except NoApprovedModelError:
        log.info("no Approved package in %s: first model, nothing to compare with", group)
        return Champion(NONE, f"no Approved package in model package group {group}")
    except RegistryError as exc:
        if cfg.edf_evaluation.champion.require_not_worse:
            raise  # the gate needs the champion: a registry we cannot read is a failure, not a pass
        log.warning("champion lookup failed: %s", exc)
        return Champion(UNAVAILABLE, f"champion lookup in {group} failed: {exc}")
    info = {"model_package_arn": package.get("ModelPackageArn"),
            "model_package_version": package.get("ModelPackageVersion"),
            "model_data_url": container["model_data_url"], "model_package_group_name": group}
    log.info("champion: %s (version %s) %s", info["model_package_arn"], info["model_package_version"],
             info["model_data_url"])
    return _load(info, container["model_data_url"])


def _same_rows(challenger_pred: pd.DataFrame, champion_pred: pd.DataFrame, rows: pd.DataFrame,
               target: str) -> tuple[pd.DataFrame, int]:
    """Evaluation rows where the actual and both forecasts are known; and how many rows that drops."""
    keys = list(ROW_KEYS)
    both = challenger_pred[[*keys, "yhat"]].merge(
        champion_pred[[*keys, "yhat"]].rename(columns={"yhat": "yhat_champion"}), on=keys, how="inner")
    known = rows[rows[target].notna()]
    ok = np.isfinite(both["yhat"].to_numpy(dtype="float64")) & np.isfinite(both["yhat_champion"].to_numpy(dtype="float64"))
    common = known.merge(both.loc[ok, keys], on=keys, how="inner")
    dropped = int(len(known) - len(common))
    return common, dropped


def compare_target(challenger_pred: pd.DataFrame, champion_pred: pd.DataFrame, rows: pd.DataFrame, target: str,
                   cfg: EDFConfig) -> dict[str, Any]:
    """Both models scored on the same rows: metrics, deltas, fingerprints and the verdict."""
    cc = cfg.edf_evaluation.champion
    width, share = cfg.edf_training.interval_width, cfg.edf_evaluation.mape_min_actual_share
    common, dropped = _same_rows(challenger_pred, champion_pred, rows, target)
    ch = evaluate_forecasts(challenger_pred, common, target, width, share, with_fingerprint=True)
    cp = evaluate_forecasts(champion_pred, common, target, width, share, with_fingerprint=True)
    result, relative = verdict(ch["aggregate"].get(cc.metric), cp["aggregate"].get(cc.metric), cc.margin)
    return {
        "verdict": result,
        "metric": cc.metric,
        "challenger": ch["aggregate"].get(cc.metric),
        "champion": cp["aggregate"].get(cc.metric),
        "delta": None if result == NOT_COMPARED else ch["aggregate"][cc.metric] - cp["aggregate"][cc.metric],
        "relative_delta": relative,
        "rows": ch["rows"],
        "rows_fingerprint": {"challenger": ch["rows_fingerprint"], "champion": cp["rows_fingerprint"]},
        "same_rows": ch["rows"] == cp["rows"] and ch["rows_fingerprint"] == cp["rows_fingerprint"],
        "rows_without_champion_forecast": dropped,
        "metrics": metric_table(ch["aggregate"], cp["aggregate"], METRICS),
        "challenger_aggregate": ch["aggregate"],
        "champion_aggregate": cp["aggregate"],
        "champion_per_building": cp["per_building"],
    }


def score_target(champion: Champion, target: str, challenger_pred: pd.DataFrame, rows: pd.DataFrame,
                 series: pd.DataFrame | None, cfg: EDFConfig) -> dict[str, Any]:
    """Predict ``rows`` with the champion's model for ``target`` and compare; a reason when it cannot."""
    model = champion.models.get(target)
    if model is None:
        return {"verdict": NOT_COMPARED, "reason": f"the champion's bundle has no {target} model"}
    try:
        champion_pred = model.predict(rows, series)
    except Exception as exc:  # e.g. the champion needs a column this run's features no longer have
        log.warning("champion %s model cannot predict the evaluation rows: %s", target, exc)
        return {"verdict": NOT_COMPARED, "reason": f"the champion's {target} model failed to predict: {exc}"}
    out = compare_target(challenger_pred, champion_pred, rows, target, cfg)
    out["champion_strategy"] = model.strategy
    log.info("champion comparison %s: %s (%s %.4g vs %.4g on %d rows, same rows %s)", target, out["verdict"],
             out["metric"], out["challenger"] or float("nan"), out["champion"] or float("nan"), out["rows"],
             out["same_rows"])
    return out


def summary(champion: Champion, per_target: dict[str, dict[str, Any]], cfg: EDFConfig,
            challenger_config_hash: str | None = None) -> dict[str, Any]:
    """The report's ``champion`` block: who, the per-target comparisons and the overall verdict."""
    cc = cfg.edf_evaluation.champion
    verdicts = [t.get("verdict") for t in per_target.values()]
    compared = [v for v in verdicts if v != NOT_COMPARED]
    if champion.status != COMPARED or not compared:
        overall = NOT_COMPARED
    elif WORSE in compared:
        overall = WORSE
    else:
        overall = "better" if all(v == "better" for v in compared) else "not_worse"
    notes = []
    cp_hash = champion.manifest.get("config_hash")
    if cp_hash and challenger_config_hash and cp_hash != challenger_config_hash:
        notes.append(f"the champion was trained with another config (hash {cp_hash} vs {challenger_config_hash}); "
                     "it is scored on this run's features")
    return {
        "status": champion.status if champion.status != COMPARED or compared else UNAVAILABLE,
        "reason": champion.reason or (None if compared or not per_target else
                                      "; ".join(t.get("reason", "") for t in per_target.values())),
        **{k: champion.package.get(k) for k in ("model_package_arn", "model_package_version", "model_data_url")},
        "strategies": {t: getattr(m, "strategy", None) for t, m in champion.models.items()},
        "metric": cc.metric,
        "margin": cc.margin,
        "require_not_worse": cc.require_not_worse,
        "verdict": overall,
        "not_worse": overall != WORSE,
        "notes": notes,
        "targets": per_target,
    }
