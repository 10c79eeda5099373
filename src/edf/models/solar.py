"""PV physics for the solar target (pvlib), shared by the strategies.

GHI alone explains a tilted or east/west-facing array poorly (the bundled SERF east array makes
most of its energy in the morning). So each building's array orientation is *learned* from its
training data: the measured GHI is split into beam and diffuse (pvlib's Erbs model), transposed
onto candidate planes (tilt x azimuth grid, pvlib's isotropic model), and the plane whose
plane-of-array irradiance best correlates with the measured output is kept. The features
``poa_irradiance`` (with the forecast/observed GHI) and ``poa_clearsky`` (clear-sky GHI, always
available from pvlib) then carry the geometry into the model. Solar position comes from pvlib at
mid-hour, as in the feature pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from edf.data import contract as c

TILTS = (0, 10, 20, 30, 40, 50, 60, 75, 90)
AZIMUTHS = tuple(range(0, 360, 30))
DEFAULT_ORIENTATION = (20.0, 180.0)  # unknown building: a typical south-facing roof
POA_FEATURES = ("poa_irradiance", "poa_clearsky", "clear_sky_index")


def _positions(rows: pd.DataFrame) -> pd.DataFrame:
    import pvlib

    out = pd.DataFrame(index=rows.index, columns=["zenith", "azimuth", "doy"], dtype="float64")
    ts = pd.to_datetime(rows[c.TIMESTAMP], utc=True) + pd.Timedelta(minutes=30)
    lat = rows["latitude"] if "latitude" in rows.columns else pd.Series(np.nan, index=rows.index)
    lon = rows["longitude"] if "longitude" in rows.columns else pd.Series(np.nan, index=rows.index)
    for (la, lo), idx in pd.DataFrame({"la": lat, "lo": lon}).groupby(["la", "lo"]).groups.items():
        times = pd.DatetimeIndex(ts.loc[idx])
        pos = pvlib.solarposition.get_solarposition(times, la, lo)
        out.loc[idx, "zenith"] = pos["apparent_zenith"].to_numpy()
        out.loc[idx, "azimuth"] = pos["azimuth"].to_numpy()
        out.loc[idx, "doy"] = times.dayofyear.to_numpy()
    return out


def _poa(ghi: np.ndarray, pos: pd.DataFrame, tilt: float | np.ndarray, azimuth: float | np.ndarray) -> np.ndarray:
    import pvlib

    zen = pos["zenith"].to_numpy(dtype="float64")
    ghi = np.clip(np.nan_to_num(ghi, nan=np.nan), 0, None)
    parts = pvlib.irradiance.erbs(ghi, zen, pos["doy"].to_numpy(dtype="float64"))
    dni, dhi = np.nan_to_num(np.asarray(parts["dni"], dtype="float64")), np.nan_to_num(np.asarray(parts["dhi"], dtype="float64"))
    total = pvlib.irradiance.get_total_irradiance(tilt, azimuth, zen, pos["azimuth"].to_numpy(dtype="float64"),
                                                  dni, ghi, dhi, model="isotropic")
    poa = np.asarray(total["poa_global"], dtype="float64")
    poa[zen >= 90] = 0.0
    poa[np.isnan(ghi)] = np.nan
    return poa


def fit_orientations(rows: pd.DataFrame, target: str) -> dict[str, list[float]]:
    """Per building, the (tilt, azimuth) whose POA irradiance best explains the measured output."""
    out: dict[str, list[float]] = {}
    if "latitude" not in rows.columns:
        return out
    for building, grp in rows.groupby(c.BUILDING_ID):
        grp = grp.drop_duplicates(c.TIMESTAMP)
        grp = grp[grp[target].notna() & grp["latitude"].notna() & (grp["solar_elevation_deg"] > 0)]
        ghi_col = c.GHI if grp[c.GHI].notna().sum() >= 48 else "clearsky_ghi"
        grp = grp[grp[ghi_col].notna()]
        if len(grp) < 48:
            continue
        pos = _positions(grp)
        y = grp[target].to_numpy(dtype="float64")
        best, best_r = DEFAULT_ORIENTATION, -np.inf
        for tilt in TILTS:
            for az in AZIMUTHS if tilt else (180,):
                poa = _poa(grp[ghi_col].to_numpy(dtype="float64"), pos, tilt, az)
                if np.nanstd(poa) == 0:
                    continue
                r = np.corrcoef(poa, y)[0, 1]
                if r > best_r:
                    best, best_r = (float(tilt), float(az)), r
        out[str(building)] = list(best)
    return out


def add_poa_features(rows: pd.DataFrame, orientations: dict[str, list[float]]) -> pd.DataFrame:
    """Rows plus plane-of-array irradiance (measured/forecast GHI and clear-sky) and clear-sky index."""
    out = rows.copy()
    out["poa_irradiance"] = np.nan
    out["poa_clearsky"] = np.nan
    if "latitude" not in rows.columns or rows.empty:
        out["clear_sky_index"] = np.nan
        return out
    located = (rows["latitude"].notna() & rows["longitude"].notna()).to_numpy()
    if located.any():
        sub = rows[located]
        pos = _positions(sub).reset_index(drop=True)
        ghi_all = sub[c.GHI].to_numpy(dtype="float64") if c.GHI in sub.columns else np.full(len(sub), np.nan)
        clear_all = sub["clearsky_ghi"].to_numpy(dtype="float64")
        # one vectorised pvlib call for every building: each row carries its building's orientation
        ids = sub[c.BUILDING_ID].astype(str)
        known = {b: orientations.get(b, DEFAULT_ORIENTATION) for b in ids.unique()}
        tilt = ids.map({b: o[0] for b, o in known.items()}).to_numpy(dtype="float64")
        az = ids.map({b: o[1] for b, o in known.items()}).to_numpy(dtype="float64")
        out.loc[located, "poa_irradiance"] = _poa(ghi_all, pos, tilt, az)
        out.loc[located, "poa_clearsky"] = _poa(clear_all, pos, tilt, az)
    ghi = out[c.GHI] if c.GHI in out.columns else pd.Series(np.nan, index=out.index)
    out["clear_sky_index"] = np.where(out["clearsky_ghi"] > 20, ghi / out["clearsky_ghi"].where(out["clearsky_ghi"] > 20), np.nan)
    return out


def add_recent_performance(rows: pd.DataFrame, series: pd.DataFrame | None, orientations: dict[str, list[float]],
                           target: str, days: int = 7) -> pd.DataFrame:
    """``pr_recent``: measured output / POA irradiance over the ``days`` before each origin, and
    ``physical_forecast`` = pr_recent x POA for the target hour.

    The ratio tracks what a fixed model cannot: seasonal sun angles, module temperature, soiling.
    Only measurements strictly before the origin are read (no look-ahead).
    """
    out = rows.copy()
    out["pr_recent"] = np.nan
    if series is None or series.empty or target not in series.columns or "latitude" not in rows.columns:
        out["physical_forecast"] = np.nan
        return out
    from edf.data.feature_names import ORIGIN

    geo = rows.groupby(c.BUILDING_ID)[["latitude", "longitude"]].first()
    hist = series[series[c.BUILDING_ID].isin(geo.index) & series[target].notna()].copy()
    if hist.empty:
        out["physical_forecast"] = np.nan
        return out
    hist[c.TIMESTAMP] = pd.to_datetime(hist[c.TIMESTAMP], utc=True)
    hist = hist.join(geo, on=c.BUILDING_ID)
    hist = hist[hist[c.GHI].notna()] if c.GHI in hist.columns else hist.iloc[0:0]
    if hist.empty:
        out["physical_forecast"] = np.nan
        return out
    hist["clearsky_ghi"] = 0.0
    hist = add_poa_features(hist.reset_index(drop=True), orientations)
    # row positions per building, found once: a mask per building is quadratic in the batch's buildings
    positions = rows.groupby(c.BUILDING_ID).indices
    all_origins = pd.to_datetime(rows[ORIGIN], utc=True).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    pr = np.full(len(rows), np.nan)
    for building, grp in hist.groupby(c.BUILDING_ID):
        ts = grp[c.TIMESTAMP].dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
        order = np.argsort(ts)
        ts = ts[order]
        y = np.nan_to_num(grp[target].to_numpy(dtype="float64")[order])
        poa = np.nan_to_num(grp["poa_irradiance"].to_numpy(dtype="float64")[order])
        cy, cp = np.concatenate([[0], np.cumsum(y)]), np.concatenate([[0], np.cumsum(poa)])
        at = positions.get(building)
        if at is None:
            continue
        hi = np.searchsorted(ts, all_origins[at], side="left")
        lo = np.searchsorted(ts, all_origins[at] - np.timedelta64(days, "D"), side="left")
        num, den = cy[hi] - cy[lo], cp[hi] - cp[lo]
        pr[at] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    out["pr_recent"] = pr
    out["physical_forecast"] = out["pr_recent"] * out["poa_irradiance"]
    return out
