"""Public-holiday flags at each building's location (the ``holidays`` package).

Holidays are a local-calendar fact: the flag for an hour is whether the building's *local*
date is a public holiday in its country/subdivision. Used by the data converters and by the
feature pipeline, which needs it for future hours the ingestion feed has not seen.
"""

from __future__ import annotations

import functools

import holidays as holidays_lib
import pandas as pd


@functools.lru_cache(maxsize=256)
def _calendar(country: str, subdivision: str | None, years: tuple[int, ...]) -> frozenset:
    if not country:
        return frozenset()
    try:
        cal = holidays_lib.country_holidays(country, subdiv=subdivision or None, years=years)
    except NotImplementedError:
        cal = holidays_lib.country_holidays(country, years=years)
    return frozenset(cal.keys())


def holiday_dates(country: str | None, subdivision: str | None, years: list[int]) -> frozenset:
    """The set of public-holiday dates for a location and years (empty when unknown)."""
    if country is None or (isinstance(country, float) and pd.isna(country)):
        return frozenset()
    sub = None if subdivision is None or pd.isna(subdivision) else str(subdivision)
    return _calendar(str(country), sub, tuple(sorted(set(years))))


def holiday_table(topology: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """(building_id, local_date) rows for every holiday between ``start`` and ``end`` (inclusive years)."""
    years = list(range(start.year - 1, end.year + 2))
    rows = []
    for rec in topology.itertuples(index=False):
        for day in holiday_dates(getattr(rec, "country", None), getattr(rec, "subdivision", None), years):
            rows.append((rec.building_id, pd.Timestamp(day)))
    return pd.DataFrame(rows, columns=["building_id", "local_date"])


def holiday_flags(frame: pd.DataFrame, topology: pd.DataFrame) -> pd.Series:
    """0/1 per row of ``frame`` (building_id, timestamp_hour UTC) using each building's timezone."""
    topo = topology.set_index("building_id")
    flags = pd.Series(0, index=frame.index, dtype="int8")
    for bid, idx in frame.groupby("building_id").groups.items():
        if bid not in topo.index:
            continue
        rec = topo.loc[bid]
        tz = rec.get("timezone") if isinstance(rec.get("timezone"), str) else "UTC"
        local_dates = frame.loc[idx, "timestamp_hour"].dt.tz_convert(tz).dt.date
        days = holiday_dates(rec.get("country"), rec.get("subdivision"),
                             sorted({d.year for d in local_dates}))
        flags.loc[idx] = local_dates.isin(days).astype("int8").to_numpy()
    return flags
