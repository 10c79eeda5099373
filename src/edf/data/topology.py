"""Building topology: the one reader, and the questions every stage asks of it.

The topology (``calendar-topology/`` in the raw bucket) may arrive as several CSV or Parquet files
(one per region, per onboarding batch...). Every file under the location is read and combined; a
building listed twice is an error naming it, because which row wins would otherwise be an accident
of file order. ``building_id`` is always read as text: ids such as ``0042`` must not become 42.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from edf.data import contract as c
from edf.data.io import DataNotFoundError, list_files, read_one

TOPOLOGY_SUFFIXES = (".csv", ".parquet")


class TopologyError(ValueError):
    """The topology cannot be used (no files, no building_id column, duplicated buildings)."""


def read_topology(location: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Every topology CSV/Parquet file at ``location`` (file, folder or ``s3://`` prefix), combined."""
    if isinstance(location, pd.DataFrame):
        frame = location.copy()
    else:
        files = list_files(location, suffixes=TOPOLOGY_SUFFIXES)
        if not files:
            raise DataNotFoundError(f"no topology CSV or Parquet file at {location}")
        frames = [read_one(f) for f in files]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if c.BUILDING_ID not in frame.columns:
        raise TopologyError(f"topology at {location if not isinstance(location, pd.DataFrame) else 'frame'} "
                            "has no building_id column")
    frame[c.BUILDING_ID] = frame[c.BUILDING_ID].astype("string").astype(object)
    dupes = frame[c.BUILDING_ID][frame[c.BUILDING_ID].duplicated()].unique().tolist()
    if dupes:
        raise TopologyError(f"{len(dupes)} building(s) appear more than once in the topology, e.g. {dupes[:5]}")
    return frame.reset_index(drop=True)


def pv_mask(rows: pd.DataFrame) -> pd.Series:
    """True for rows of buildings with rooftop PV (``pv_capacity_kw > 0``; unknown capacity is no PV)."""
    if "pv_capacity_kw" not in rows.columns:
        return pd.Series(False, index=rows.index)
    return pd.to_numeric(rows["pv_capacity_kw"], errors="coerce").fillna(0) > 0
