"""Explanations: which inputs drive a model, globally and for one building-day.

* **Global** (in the evaluation report, per target): the mean absolute SHAP value of each feature over
  a seeded sample of evaluation rows (kWh per hour - how much the feature moves a forecast on
  average) and its share of the boosters' total split gain. SHAP values are XGBoost's own
  ``pred_contribs`` (exact TreeSHAP, no extra library); strategies without per-feature contributions
  (Prophet, the LSTM) are reported as not supported rather than approximated.
* **Local** (``edf models explain``): the contributions of each feature to one building's forecasts
  for one day, summed over the day's hours, largest first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from edf.models import ForecastModel, ModelError

IMPORTANCE_TOP = 15


def global_importance(model: ForecastModel, rows: pd.DataFrame, series: pd.DataFrame | None,
                      sample_rows: int, seed: int) -> dict[str, Any]:
    """Mean |SHAP| (target units) and gain share per feature, most important first.

    SHAP is computed on at most ``sample_rows`` rows (sampled with ``seed``): the contribution
    matrix is rows x features, and the evaluation window of a 10,000-building portfolio has
    millions of rows.
    """
    if not model.supports_contributions:
        return {"supported": False, "reason": f"the {model.strategy} strategy has no per-feature contributions"}
    sample = rows.sample(n=sample_rows, random_state=seed) if len(rows) > sample_rows else rows
    if sample.empty:
        return {"supported": False, "reason": "no evaluation rows to explain"}
    contrib = model.contributions(sample, series)
    features = [f for f in model.features if f in contrib.columns]
    mean_abs = contrib[features].abs().mean().sort_values(ascending=False)
    gain = model.gain_importance()
    return {
        "supported": True,
        "method": "mean |SHAP| (xgboost pred_contribs) over sampled evaluation rows; total-gain share",
        "unit": "kWh per hour",
        "rows_sampled": len(sample),
        "mean_abs_shap": {f: float(v) for f, v in mean_abs.items()},
        "gain_share": {f: float(gain.get(f, 0.0)) for f in mean_abs.index},
    }


def write_importance_plot(importance: dict[str, Any], target: str, strategy: str, out_dir: Path,
                          top: int = IMPORTANCE_TOP) -> list[str]:
    """``<series>_feature_importance.png``: mean |SHAP| and gain share of the top features."""
    if not importance.get("supported"):
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shap = list(importance["mean_abs_shap"].items())[:top][::-1]
    names = [n for n, _ in shap]
    gain = [importance["gain_share"].get(n, 0.0) for n in names]
    series_name = target.replace("_kwh", "")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 0.35 * len(names) + 1.5), sharey=True)
    ax1.barh(names, [v for _, v in shap], color="tab:blue")
    ax1.set_xlabel("mean |SHAP|, kWh per hour")
    ax2.barh(names, gain, color="tab:orange")
    ax2.set_xlabel("share of total split gain")
    fig.suptitle(f"{series_name}: feature importance ({strategy}, {importance['rows_sampled']} sampled rows)")
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{series_name}_feature_importance.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path.name]


def day_contributions(model: ForecastModel, rows: pd.DataFrame, series: pd.DataFrame | None) -> dict[str, Any]:
    """One building-day: per feature the summed contribution (kWh over the rows) and its mean |value|.

    ``rows`` are the feature rows of the forecasts to explain (one origin, the day's target hours).
    ``raw_total`` = ``bias_total`` + the sum of all contributions; ``predict`` may still clip it.
    """
    if rows.empty:
        raise ModelError("no feature rows to explain")
    contrib = model.contributions(rows, series)
    features = [f for f in model.features if f in contrib.columns]
    total = contrib[features].sum()
    mean_abs = contrib[features].abs().mean()
    order = mean_abs.sort_values(ascending=False).index
    values = {f: {"sum_kwh": float(total[f]), "mean_abs_kwh": float(mean_abs[f]),
                  "value": _feature_value(rows, f)} for f in order}
    return {"hours": len(rows), "bias_total": float(contrib["bias"].sum()),
            "raw_total": float(contrib[[*features, "bias"]].to_numpy().sum()), "features": values}


def _feature_value(rows: pd.DataFrame, feature: str) -> float | None:
    """The feature's mean input value over the rows (None when absent or all missing)."""
    if feature not in rows.columns or not pd.api.types.is_numeric_dtype(rows[feature]):
        return None
    value = rows[feature].astype("float64").mean()
    return float(value) if np.isfinite(value) else None
