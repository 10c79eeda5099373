"""The local accuracy report (``edf monitor``): a table plus PNG plots (matplotlib, Agg backend).

Files written to the report folder:

* ``accuracy.parquet`` / ``accuracy.csv`` — the full tracker table (every level, series, bucket);
* ``report.md`` — headline table (overall and grid areas by lead bucket, model vs baseline), the
  worst buildings, and the missing-actual counts;
* ``error_by_lead.png`` — MAE per lead hour, model vs seasonal naive, with missing actuals marked;
* ``worst_buildings.png`` — forecast (shortest lead per hour, with interval) vs actual for the
  buildings with the highest CV(RMSE);
* ``emf.jsonl`` — the EMF documents the Lambda would print; ``summary.json`` — machine-readable.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from edf.data import contract as c
from edf.monitoring.tracker import ALL_LEADS, lead_profile


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(table: pd.DataFrame, series: str = "consumption") -> str:
    """Overall and grid-area rows by lead bucket, model vs baseline."""
    sel = table[table["level"].isin(["overall", "grid_area"]) & (table["series"] == series)]
    head = ("| scope | lead (h) | scored | missing | MAPE % | RMSE | CV(RMSE) % | NMBE % | coverage | pinball "
            "| naive CV(RMSE) % | skill vs naive | status |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in sel.itertuples(index=False):
        lines.append(f"| {row.key} | {row.lead_bucket} | {row.n_scored} | {row.n_missing_actual} | "
                     f"{_fmt(row.mape_pct)} | {_fmt(row.rmse, 3)} | {_fmt(row.cv_rmse_pct)} | {_fmt(row.nmbe_pct)} | "
                     f"{_fmt(row.coverage, 3)} | {_fmt(row.pinball, 4)} | {_fmt(row.naive_cv_rmse_pct)} | {_fmt(row.skill_vs_seasonal_naive, 3)} "
                     f"| {row.status} |")
    return "\n".join(lines)


def worst_buildings(table: pd.DataFrame, k: int, series: str = "consumption") -> pd.DataFrame:
    sel = table[(table["level"] == "building") & (table["series"] == series) & (table["lead_bucket"] == ALL_LEADS)]
    sel = sel[sel["cv_rmse_pct"].notna()]
    return sel.sort_values("cv_rmse_pct", ascending=False).head(k)


def plot_error_by_lead(joined: pd.DataFrame, path: Path, series: str = "consumption") -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prof = lead_profile(joined, series)
    if prof.empty:
        return False
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(prof["lead_hours"], prof["mae"], label="served model", color="tab:blue")
    ax.plot(prof["lead_hours"], prof["naive_mae"], label="seasonal naive (same hour last week)",
            color="tab:gray", linestyle="--")
    missing = prof[prof["n_missing_actual"] > 0]
    if len(missing):
        ax.scatter(missing["lead_hours"], [0] * len(missing), marker="x", color="tab:red",
                   label="lead hours with missing actuals (not scored)")
    for edge in (24, 48):
        ax.axvline(edge, color="black", linewidth=0.5, alpha=0.4)
    ax.set_xlabel("lead time (hours after the forecast origin)")
    ax.set_ylabel(f"MAE ({series}, kWh)")
    ax.set_title("Forecast error by lead time (pooled over buildings)")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_worst_buildings(joined: pd.DataFrame, buildings: list[str], path: Path, series: str = "consumption") -> bool:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not buildings:
        return False
    fig, axes = plt.subplots(len(buildings), 1, figsize=(10, 2.8 * len(buildings)), squeeze=False)
    for ax, building in zip(axes[:, 0], buildings, strict=False):
        df = joined[(joined[c.BUILDING_ID] == building) & (joined["series"] == series)]
        # the forecast a user saw last for each hour: the shortest lead
        df = df.sort_values("lead_hours").drop_duplicates(c.TIMESTAMP, keep="first").sort_values(c.TIMESTAMP)
        ax.fill_between(df[c.TIMESTAMP], df["yhat_lower"], df["yhat_upper"], color="tab:blue", alpha=0.2,
                        label="interval")
        ax.plot(df[c.TIMESTAMP], df["yhat"], color="tab:blue", label="forecast (shortest lead)")
        ax.plot(df[c.TIMESTAMP], df["actual"], color="black", label="actual")
        ax.plot(df[c.TIMESTAMP], df["seasonal_naive"], color="tab:gray", linestyle="--", linewidth=0.8,
                label="seasonal naive")
        ax.set_title(f"{building} ({series})", fontsize=9)
        ax.set_ylabel("kWh")
    axes[0, 0].legend(loc="upper right", fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def render_markdown(table: pd.DataFrame, worst: pd.DataFrame, title: str, notes: list[str]) -> str:
    parts = [f"# {title}", ""]
    parts += [f"- {n}" for n in notes]
    for series in sorted(set(table["series"])):
        parts += ["", f"## {series}: overall and grid areas by lead bucket", "", markdown_table(table, series)]
    if len(worst):
        parts += ["", "## Worst buildings (consumption, all leads, by CV(RMSE))", "",
                  "| building | grid area | scored | missing | CV(RMSE) % | naive CV(RMSE) % | skill | coverage |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in worst.itertuples(index=False):
            parts.append(f"| {r.key} | {r.grid_area} | {r.n_scored} | {r.n_missing_actual} | {_fmt(r.cv_rmse_pct)} | "
                         f"{_fmt(r.naive_cv_rmse_pct)} | {_fmt(r.skill_vs_seasonal_naive, 3)} | {_fmt(r.coverage, 3)} |")
    parts += ["", "Missing actuals (late data) are counted in *missing* and never scored as zero.",
              "Skill = 1 - RMSE(model) / RMSE(seasonal naive) on the hours both could be scored.", ""]
    return "\n".join(parts)
