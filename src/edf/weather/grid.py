"""Buildings to provider grid cells: one request per cell, not per building.

A weather model has one value per grid cell (Open-Meteo's best-match blend is ~0.1° ≈ 11 km at its
coarsest common resolution, finer regional models are averaged into it), so buildings a few
hundred metres apart would get the same numbers from separate requests. Coordinates are rounded to
``grid_degrees`` (``edf_weather.grid_degrees``) and each distinct rounded point is one cell; the
rounded point is the row's location key (``grid_latitude``/``grid_longitude``). A building without
usable coordinates gets no cell and is reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.weather_forecast import GRID_LAT, GRID_LON
from edf.weather.providers import GridCell


@dataclass
class CellAssignment:
    cells: list[GridCell]
    buildings: pd.DataFrame  # building_id, grid_latitude, grid_longitude
    without_location: list[str]  # buildings with missing or impossible coordinates


def snap(values: pd.Series, step: float) -> pd.Series:
    """Round to the nearest multiple of ``step`` (4 decimals, so keys compare exactly)."""
    return (np.round(values.astype("float64") / step) * step).round(4)


def assign_cells(topology: pd.DataFrame, grid_degrees: float) -> CellAssignment:
    """Every topology building with coordinates mapped to its cell; the rest listed."""
    lat = pd.to_numeric(topology.get("latitude"), errors="coerce") if "latitude" in topology else None
    lon = pd.to_numeric(topology.get("longitude"), errors="coerce") if "longitude" in topology else None
    ids = topology[c.BUILDING_ID].astype(str)
    if lat is None or lon is None:
        return CellAssignment([], pd.DataFrame(columns=[c.BUILDING_ID, GRID_LAT, GRID_LON]), sorted(ids))
    ok = lat.between(-90, 90) & lon.between(-180, 180)
    frame = pd.DataFrame({c.BUILDING_ID: ids[ok].to_numpy(), GRID_LAT: snap(lat[ok], grid_degrees).to_numpy(),
                          GRID_LON: snap(lon[ok], grid_degrees).to_numpy()})
    # a cell centre snapped to +-180 is the same meridian: keep longitudes in [-180, 180)
    frame.loc[frame[GRID_LON] >= 180.0, GRID_LON] -= 360.0
    pairs = frame[[GRID_LAT, GRID_LON]].drop_duplicates().sort_values([GRID_LAT, GRID_LON])
    cells = [GridCell(float(a), float(b)) for a, b in pairs.itertuples(index=False)]
    return CellAssignment(cells, frame, sorted(ids[~ok].tolist()))
