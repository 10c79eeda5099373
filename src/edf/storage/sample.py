"""Forecast and recommendation rows for local serving, tests and benchmarks.

``sample_run`` builds a run in the ``edf.data.outputs`` shape from a per-hour profile: by default
the bundled homes' mean demand and solar for each hour of the day over their last 28 days (a
seasonal-naive forecast, so the local page shows realistic shapes), with an interval from the
same hours' spread. It is not a model: the inference workflow writes real forecasts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from edf.storage.base import ForecastRow, RecommendationRow


def synthetic_rows(building_ids: Sequence[str], grid_area: str, run_id: str, issue_time: dt.datetime,
                   start: dt.datetime, hours: int, series: Sequence[str] = ("consumption", "solar"),
                   scale: float = 1.0) -> list[ForecastRow]:
    """Deterministic rows (a daily shape from the hour index) for tests and benchmarks."""
    import math

    rows = []
    for bi, b in enumerate(building_ids):
        for h in range(hours):
            t = start + dt.timedelta(hours=h)
            for s in series:
                if s == "solar":
                    y = max(0.0, math.sin(math.pi * (t.hour - 6) / 12)) * scale * (1 + bi % 3)
                else:
                    y = scale * (1.0 + 0.5 * math.sin(2 * math.pi * t.hour / 24) + 0.1 * (bi % 5))
                width = 0.2 * y
                rows.append(ForecastRow(b, grid_area, s, t, y, y - width, y + width, issue_time, run_id,
                                        "arn:aws:sagemaker:eu-central-1:000000000000:model-package/edf/1",
                                        "xgboost", origin_time=start, lead_hours=h))
    return rows


def sample_run(run_id: str, issue_time: dt.datetime, start: dt.datetime, hours: int = 72,
               topology=None, homes=None) -> tuple[list[ForecastRow], list[RecommendationRow]]:
    """A plausible run for every bundled building (seasonal-naive profile of the bundled homes)."""
    import pandas as pd

    from edf.data import bundled

    topology = bundled.load_topology() if topology is None else topology
    homes = bundled.load_homes() if homes is None else homes
    homes = homes.copy()
    homes["timestamp_hour"] = pd.to_datetime(homes["timestamp_hour"], utc=True)
    recent = homes[homes["timestamp_hour"] > homes["timestamp_hour"].max() - pd.Timedelta(days=28)]
    recent = recent.assign(hour=recent["timestamp_hour"].dt.hour)
    prof = recent.groupby(["building_id", "hour"]).agg(
        c=("consumption_kwh", "mean"), c_sd=("consumption_kwh", "std"),
        s=("solar_generation_kwh", "mean"), s_sd=("solar_generation_kwh", "std")).fillna(0.0)
    forecasts: list[ForecastRow] = []
    recs: list[RecommendationRow] = []
    for t in topology.itertuples(index=False):
        b = str(t.building_id)
        if b not in prof.index.get_level_values(0):
            continue
        p = prof.loc[b]
        for h in range(hours):
            ts = start + dt.timedelta(hours=h)
            row = p.loc[ts.hour] if ts.hour in p.index else None
            if row is None:
                continue
            c, c_sd = max(float(row["c"]), 0.0), float(row["c_sd"])
            forecasts.append(ForecastRow(b, str(t.grid_area), "consumption", ts, c, max(c - 1.28 * c_sd, 0.0),
                                         c + 1.28 * c_sd, issue_time, run_id, "local-sample", "seasonal_naive",
                                         origin_time=start, lead_hours=h))
            if float(t.pv_capacity_kw or 0) > 0:
                s, s_sd = max(float(row["s"]), 0.0), float(row["s_sd"])
                lo, hi = (max(s - 1.28 * s_sd, 0.0), s + 1.28 * s_sd) if s > 0 else (0.0, 0.0)
                forecasts.append(ForecastRow(b, str(t.grid_area), "solar", ts, s, lo, hi, issue_time, run_id,
                                             "local-sample", "seasonal_naive", origin_time=start, lead_hours=h))
                if s > c:
                    recs.append(RecommendationRow(b, str(t.grid_area), "resident", ts, "run_flexible_load",
                                                  round(s - c, 3), 0.0, 0.0, run_id, issue_time))
    return forecasts, recs
