"""Accuracy tracker on the bundled homes: the scoring time (one JSON line) and the headline table (stderr).

The "served model" here is a transparent stand-in (the trained strategies need the training job):
for each origin, the mean of the same hour over the 7 days before the origin, with an interval
from the 10th/90th percentiles of those hours. Three daily origins ending three days before the
data ends, 72-hour horizon, so every lead bucket is scored against real actuals.

    .venv/bin/python bench/monitoring.py [--origins 3] [--output /tmp/edf-bench-monitor]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _report import emit, note, peak_rss_mb

from edf.config import load_config
from edf.data.bundled import load_homes, load_topology
from edf.monitoring.service import run_report


def profile_forecasts(homes: pd.DataFrame, topology: pd.DataFrame, origins: list[pd.Timestamp],
                      horizon: int = 72) -> pd.DataFrame:
    area = topology.set_index("building_id")["grid_area"].to_dict()
    rows = []
    for b, grp in homes.groupby("building_id"):
        s = grp.set_index("timestamp_hour")["consumption_kwh"]
        for origin in origins:
            hist = s[(s.index >= origin - pd.Timedelta(days=7)) & (s.index < origin)]
            by_hour = hist.groupby(hist.index.hour)
            mean, lo, hi = by_hour.mean(), by_hour.quantile(0.1), by_hour.quantile(0.9)
            for lead in range(horizon):
                ts = origin + pd.Timedelta(hours=lead)
                h = ts.hour
                if h not in mean.index:
                    continue
                rows.append({"building_id": b, "grid_area": area.get(b, "unknown"), "series": "consumption",
                             "timestamp_hour": ts, "origin_time": origin, "lead_hours": np.int32(lead),
                             "yhat": mean[h], "yhat_lower": min(lo[h], mean[h]), "yhat_upper": max(hi[h], mean[h]),
                             "strategy": "profile_7d", "model_version": "bench", "issue_time": origin,
                             "run_id": f"bench-{origin.date()}"})
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--origins", type=int, default=3)
    ap.add_argument("--output", default="/tmp/edf-bench-monitor")
    args = ap.parse_args()
    cfg = load_config()
    homes, topology = load_homes(), load_topology()
    last = pd.Timestamp(homes["timestamp_hour"].max()).floor("D")
    origins = [last - pd.Timedelta(days=3 + i) for i in range(args.origins)][::-1]
    forecasts = profile_forecasts(homes, topology, origins)
    t0 = time.perf_counter()
    result = run_report(cfg, forecasts, homes, args.output, title="bench: 7-day profile stand-in")
    elapsed = time.perf_counter() - t0
    overall = result.table[(result.table.level == "overall")][
        ["lead_bucket", "n_scored", "n_missing_actual", "mape_pct", "cv_rmse_pct", "nmbe_pct", "coverage",
         "naive_cv_rmse_pct", "skill_vs_seasonal_naive"]]
    note(overall.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    note(f"{len(forecasts)} forecast rows, {homes['building_id'].nunique()} buildings, origins "
         f"{origins[0].date()}..{origins[-1].date()}: report (table, plots, EMF) in {elapsed:.2f}s -> {args.output}")
    by_bucket = overall[overall.lead_bucket != "all"]
    emit("monitoring", f"report_bundled_{args.origins}origins", seconds=round(elapsed, 3), peak_rss_mb=peak_rss_mb(),
         forecast_rows=len(forecasts), buildings=int(homes["building_id"].nunique()),
         scored_rows=int(by_bucket["n_scored"].sum()), missing_actual_rows=int(by_bucket["n_missing_actual"].sum()))


if __name__ == "__main__":
    main()
