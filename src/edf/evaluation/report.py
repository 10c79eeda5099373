"""The evaluation report (``evaluation_report_edf.json``) and its PNG plots.

The report holds everything: per target the model's and both baselines' metrics (aggregate and per
building), skill, the baseline gate, the same-window champion comparison, the feature importance,
the evaluation window (``eval_start``/``eval_end``) and a fingerprint of the evaluation data. It
grows with the portfolio, so the ``CheckEvaluationEDF`` Choice state reads the small decision
document built from it (:func:`edf.evaluation.gate.decision_document`) instead. ``headline``
carries the primary (demand) model's medians over buildings; ``edf models show`` renders the rest.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edf.config import EDFConfig
from edf.data import contract as c
from edf.data.topology import pv_mask
from edf.evaluation.gate import REPORT_FILE, beats_baselines, check_thresholds, gate
from edf.evaluation.metrics import METRICS, clean, evaluate_forecasts, fingerprint, skill
from edf.models import BASELINES, ForecastModel, make_model

log = logging.getLogger(__name__)
__all__ = ["REPORT_FILE", "build_report", "check_thresholds", "evaluate_target", "evaluation_window",
           "target_rows", "write_plots"]


def target_rows(eval_rows: pd.DataFrame, target: str) -> pd.DataFrame:
    """The evaluation rows a target is scored on: known actuals, and for solar only buildings with PV."""
    rows = eval_rows[eval_rows[target].notna()]
    return rows[pv_mask(rows)] if target == c.SOLAR else rows


def evaluation_window(eval_rows: pd.DataFrame) -> dict[str, Any]:
    """``eval_start``/``eval_end`` (target hours), the origins and a fingerprint of the evaluation data.

    Two reports with the same ``data_fingerprint`` were scored on the same rows and actuals; ``edf models
    compare`` says so when they differ.
    """
    ts = pd.to_datetime(eval_rows[c.TIMESTAMP], utc=True)
    cols = [col for col in (c.BUILDING_ID, "origin_time", c.TIMESTAMP, *c.TARGET_COLUMNS) if col in eval_rows.columns]
    return {
        "eval_start": ts.min().isoformat() if len(ts) else None,
        "eval_end": ts.max().isoformat() if len(ts) else None,
        "eval_origins": int(eval_rows["origin_time"].nunique()) if "origin_time" in eval_rows.columns else None,
        "eval_rows": len(eval_rows),
        "eval_buildings": int(eval_rows[c.BUILDING_ID].nunique()),
        "data_fingerprint": fingerprint(eval_rows, cols),
    }


def evaluate_target(model: ForecastModel, eval_rows: pd.DataFrame, train_rows: pd.DataFrame | None,
                    series: pd.DataFrame | None, cfg: EDFConfig) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Score the model and both baselines on the evaluation rows of one target.

    Returns the target's report section and the predictions per model (with the actual joined), the
    model's own under its strategy name.
    """
    target = model.target
    rows = target_rows(eval_rows, target)
    width, share = model.interval_width, cfg.edf_evaluation.mape_min_actual_share
    preds = {model.strategy: model.predict(rows, series)}
    result = evaluate_forecasts(preds[model.strategy], rows, target, width, share,
                                cfg.edf_training.calibration.bucket_hours, with_fingerprint=True)
    # baselines: their only fitted state (interval errors, gap fallback) comes from the training rows
    base_fit = train_rows if train_rows is not None and train_rows[target].notna().any() else rows
    baselines = {}
    for name in BASELINES:
        base = make_model(name, target, cfg).fit(base_fit[base_fit[target].notna()], series)
        preds[name] = base.predict(rows, series)
        baselines[name] = evaluate_forecasts(preds[name], rows, target, width, share)
    agg = result["aggregate"]
    beats = beats_baselines(agg, {name: b["aggregate"] for name, b in baselines.items()})
    out = {
        "strategy": model.strategy,
        "training_window": model.training_window,
        "aggregate": agg,
        "per_building": result["per_building"],
        "by_lead_bucket": result.get("by_lead_bucket", {}),  # coverage next to pinball per lead bucket
        "baselines": baselines,
        "skill": {f"vs_{name}": skill(agg, b["aggregate"]) for name, b in baselines.items()},
        "beats": beats,
        "beats_baselines": all(beats.values()),
        "rows_scored": result["rows"],
        "rows_fingerprint": result["rows_fingerprint"],
    }
    return out, {k: v.merge(rows[[c.BUILDING_ID, "origin_time", c.TIMESTAMP, target]],
                            on=[c.BUILDING_ID, "origin_time", c.TIMESTAMP]) for k, v in preds.items()}


def build_report(targets: dict[str, dict], cfg: EDFConfig, manifest: dict | None = None,
                 champion: dict | None = None, window: dict | None = None) -> dict:
    """The whole report: the gate over every scored target plus the detail behind it."""
    primary = c.CONSUMPTION if c.CONSUMPTION in targets else next(iter(targets))
    main = targets[primary]
    verdict = gate(targets, primary, cfg, champion)
    return clean({
        **verdict,
        "strategy": main["strategy"],
        "target": primary,
        "headline": {m: main["aggregate"].get(m) for m in METRICS},
        "targets": targets,
        "champion": champion or {"status": "none", "verdict": "not_compared", "not_worse": True, "targets": {}},
        **(window or {}),
        "weather": "observed",
        "weather_note": "evaluation features use observed weather as a perfect forecast",
        "thresholds": cfg.edf_evaluation.metrics_thresholds.model_dump(),
        "thresholds_apply_to": primary,
        "interval_width": cfg.edf_training.interval_width,
        "config_hash": cfg.config_hash(),
        "bundle": manifest or {},
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
    })


def write_plots(preds: dict[str, pd.DataFrame], target: str, strategy: str, out_dir: Path, n_buildings: int = 3) -> list[str]:
    """Forecast vs actual with intervals, error by lead hour, per-building error distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    model = preds[strategy]
    if model.empty:
        return written
    series_name = target.replace("_kwh", "")

    # 1. the last week of day-ahead forecasts (lead < 24) for a few buildings
    buildings = sorted(model[c.BUILDING_ID].unique())[:n_buildings]
    fig, axes = plt.subplots(len(buildings), 1, figsize=(11, 2.8 * len(buildings)), squeeze=False)
    for ax, building in zip(axes[:, 0], buildings, strict=True):
        sub = model[(model[c.BUILDING_ID] == building) & (model["lead_hours"] < 24)].sort_values(c.TIMESTAMP)
        sub = sub[sub[c.TIMESTAMP] >= sub[c.TIMESTAMP].max() - pd.Timedelta(days=7)]
        ax.fill_between(sub[c.TIMESTAMP], sub["yhat_lower"], sub["yhat_upper"], alpha=0.3, label="interval")
        ax.plot(sub[c.TIMESTAMP], sub[target], color="black", lw=1, label="actual")
        ax.plot(sub[c.TIMESTAMP], sub["yhat"], color="tab:blue", lw=1, label=strategy)
        ax.set_title(f"{building}: {series_name}, day-ahead", fontsize=9)
        ax.set_ylabel("kWh")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out_dir / f"{series_name}_forecast_vs_actual.png"))

    # 2. mean absolute error by lead hour, model vs baselines
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for name, frame in preds.items():
        err = (frame["yhat"] - frame[target]).abs().groupby(frame["lead_hours"]).mean()
        ax.plot(err.index, err.to_numpy(), label=name, lw=2 if name == strategy else 1)
    ax.set_xlabel("lead hour")
    ax.set_ylabel("MAE, kWh")
    ax.set_title(f"{series_name}: error by lead hour")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, out_dir / f"{series_name}_error_by_lead.png"))

    # 3. distribution over buildings of CV(RMSE)
    fig, ax = plt.subplots(figsize=(8, 3.5))
    data, labels = [], []
    for name, frame in preds.items():
        per = []
        for _, grp in frame.groupby(c.BUILDING_ID):
            a = grp[target].to_numpy(dtype="float64")
            if a.size and np.mean(a):
                per.append(100 * np.sqrt(np.mean((grp["yhat"].to_numpy() - a) ** 2)) / np.mean(a))
        data.append(per)
        labels.append(name)
    ax.boxplot(data, tick_labels=labels)
    ax.set_ylabel("CV(RMSE), % per building")
    ax.set_title(f"{series_name}: per-building error distribution")
    fig.tight_layout()
    written.append(_save(fig, out_dir / f"{series_name}_error_by_building.png"))
    return written


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name
