"""The evaluation report (``evaluation_report_edf.json``) and its PNG plots.

The top-level fields ``passed``, ``passes_thresholds`` and ``beats_baselines`` are what the
``CheckEvaluationEDF`` Choice state reads; ``headline`` carries the demand model's medians over
buildings; ``targets`` has everything (per building, baselines, skill) for the model registry and
``edf models show``.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from edf.config import EDFConfig
from edf.data import contract as c
from edf.data.topology import pv_mask
from edf.evaluation.metrics import METRICS, clean, evaluate_forecasts, skill
from edf.models import BASELINES, ForecastModel, make_model

log = logging.getLogger(__name__)
REPORT_FILE = "evaluation_report_edf.json"


def evaluate_target(model: ForecastModel, eval_rows: pd.DataFrame, train_rows: pd.DataFrame | None,
                    series: pd.DataFrame | None, cfg: EDFConfig) -> tuple[dict, dict[str, pd.DataFrame]]:
    """Score the model and both baselines on the evaluation rows of one target."""
    target = model.target
    rows = eval_rows[eval_rows[target].notna()]
    if target == c.SOLAR:
        rows = rows[pv_mask(rows)]
    width, share = model.interval_width, cfg.edf_evaluation.mape_min_actual_share
    preds = {model.strategy: model.predict(rows, series)}
    result = evaluate_forecasts(preds[model.strategy], rows, target, width, share,
                                cfg.edf_training.calibration.bucket_hours)
    # baselines: their only fitted state (interval errors, gap fallback) comes from the training rows
    base_fit = train_rows if train_rows is not None and train_rows[target].notna().any() else rows
    baselines = {}
    for name in BASELINES:
        base = make_model(name, target, cfg).fit(base_fit[base_fit[target].notna()], series)
        preds[name] = base.predict(rows, series)
        baselines[name] = evaluate_forecasts(preds[name], rows, target, width, share)
    agg = result["aggregate"]
    beats = {name: bool(np.isfinite(agg["cv_rmse_pct"]) and agg["cv_rmse_pct"] < b["aggregate"]["cv_rmse_pct"])
             for name, b in baselines.items()}
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
        "rows_scored": int(rows[target].notna().sum()),
    }
    return out, {k: v.merge(rows[[c.BUILDING_ID, "origin_time", c.TIMESTAMP, target]],
                            on=[c.BUILDING_ID, "origin_time", c.TIMESTAMP]) for k, v in preds.items()}


def check_thresholds(headline: dict, cfg: EDFConfig) -> tuple[bool, list[str]]:
    """Compare the headline metrics with ``edf_evaluation.metrics_thresholds``; list each failure."""
    th = cfg.edf_evaluation.metrics_thresholds
    checks = [("mape_pct", th.max_mape, "max"), ("rmse", th.max_rmse, "max"),
              ("cv_rmse_pct", th.max_cv_rmse_pct, "max"), ("coverage", th.min_coverage, "min"),
              ("coverage", th.max_coverage, "max")]
    failures = []
    for metric, limit, kind in checks:
        if limit is None:
            continue
        value = headline.get(metric)
        if value is None or not np.isfinite(value):
            failures.append(f"{metric} is not available")
        elif (kind == "max" and value > limit) or (kind == "min" and value < limit):
            failures.append(f"{metric} {value:.3f} {'>' if kind == 'max' else '<'} {limit}")
    return not failures, failures


def build_report(targets: dict[str, dict], cfg: EDFConfig, manifest: dict | None = None) -> dict:
    primary = c.CONSUMPTION if c.CONSUMPTION in targets else next(iter(targets))
    main = targets[primary]
    headline = {m: main["aggregate"].get(m) for m in METRICS}
    passes, failures = check_thresholds(headline, cfg)
    beats = bool(main["beats_baselines"])
    required = cfg.edf_evaluation.require_beat_baselines
    return clean({
        "passed": bool(passes and (beats or not required)),
        "passes_thresholds": passes,
        "beats_baselines": beats,
        "require_beat_baselines": required,
        "threshold_failures": failures,
        "strategy": main["strategy"],
        "target": primary,
        "headline": headline,
        "targets": targets,
        "weather": "observed",
        "weather_note": "evaluation features use observed weather as a perfect forecast",
        "thresholds": cfg.edf_evaluation.metrics_thresholds.model_dump(),
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
