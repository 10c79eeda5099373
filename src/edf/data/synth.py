"""Synthetic, clearly labelled multi-building data for scale tests and benchmarks.

Real data is bundled for accuracy claims; this generator exists to make many buildings cheaply
with physically plausible structure, so that throughput and scaling can be measured: residential
(morning and evening peaks) and commercial (weekday business hours) load shapes, a heating and
cooling response to temperature, and PV output from clear-sky irradiance (pvlib) attenuated by a
persistent cloud process. Every building id starts with ``synth-`` and the Parquet files carry
``edf_source=synthetic`` in their metadata so the data can never pass for measurements.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edf.data import contract as c

SYNTH_PREFIX = "synth-"
# A few climate regions; each building belongs to one (and its grid area follows the region).
REGIONS = (
    {"name": "north", "latitude": 52.52, "longitude": 13.40, "timezone": "Europe/Berlin", "country": "DE",
     "subdivision": "BE", "t_mean": 10.0, "t_season": 9.0},
    {"name": "south", "latitude": 48.14, "longitude": 11.58, "timezone": "Europe/Berlin", "country": "DE",
     "subdivision": "BY", "t_mean": 9.0, "t_season": 10.0},
    {"name": "west", "latitude": 50.94, "longitude": 6.96, "timezone": "Europe/Berlin", "country": "DE",
     "subdivision": "NW", "t_mean": 11.0, "t_season": 8.0},
)


@dataclass
class SynthDataset:
    processed: pd.DataFrame
    topology: pd.DataFrame
    weather: pd.DataFrame  # per region: timestamp_hour, region, temperature_c, solar_irradiance_ghi, humidity


def _region_weather(region: dict, hours: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    import pvlib

    n = len(hours)
    doy = hours.dayofyear.to_numpy()
    local_hour = hours.tz_convert(region["timezone"]).hour.to_numpy()
    seasonal = region["t_mean"] - region["t_season"] * np.cos(2 * np.pi * (doy - 20) / 365.25)
    diurnal = 4.0 * np.sin(2 * np.pi * (local_hour - 9) / 24)
    # Weather anomalies persist for days: an AR(1) process at hourly resolution.
    anomaly = np.zeros(n)
    shocks = rng.normal(0, 0.35, n)
    for i in range(1, n):
        anomaly[i] = 0.985 * anomaly[i - 1] + shocks[i]
    temperature = seasonal + diurnal + anomaly
    zenith = pvlib.solarposition.get_solarposition(hours + pd.Timedelta(minutes=30), region["latitude"],
                                                   region["longitude"])["apparent_zenith"].to_numpy()
    clear = pvlib.clearsky.haurwitz(pd.Series(zenith))["ghi"].to_numpy()
    cloud = np.clip(0.75 + 0.35 * np.tanh(np.cumsum(rng.normal(0, 0.15, n)) % 3 - 1.5)
                    + rng.normal(0, 0.08, n), 0.05, 1.0)
    ghi = np.clip(clear * cloud, 0.0, None)
    humidity = np.clip(70 - 1.5 * (temperature - region["t_mean"]) + rng.normal(0, 5, n), 10, 100)
    return pd.DataFrame({c.TIMESTAMP: hours, "region": region["name"], c.TEMPERATURE: temperature,
                         c.GHI: ghi, c.HUMIDITY: humidity})


def _load_shape(kind: str, local_hour: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    if kind == "commercial":
        open_hours = (local_hour >= 7) & (local_hour <= 19) & (weekday < 5)
        return np.where(open_hours, 1.0, 0.25)
    morning = np.exp(-0.5 * ((local_hour - 7.5) / 1.5) ** 2)
    evening = np.exp(-0.5 * ((local_hour - 19.0) / 2.0) ** 2)
    weekend = np.where(weekday >= 5, 1.15, 1.0)
    return (0.35 + 0.6 * morning + 1.0 * evening) * weekend


def generate(buildings: int, days: int, start: str = "2023-01-01", seed: int = 7) -> SynthDataset:
    """Generate ``buildings`` x ``days`` x 24 hourly rows in the processed contract."""
    if buildings < 1 or days < 1:
        raise ValueError("buildings and days must be positive")
    rng = np.random.default_rng(seed)
    hours = pd.date_range(pd.Timestamp(start, tz="UTC"), periods=days * 24, freq="h")
    weather = pd.concat([_region_weather(r, hours, rng) for r in REGIONS], ignore_index=True)
    by_region = {r["name"]: weather[weather["region"] == r["name"]].reset_index(drop=True) for r in REGIONS}

    frames, topo = [], []
    for i in range(buildings):
        region = REGIONS[i % len(REGIONS)]
        w = by_region[region["name"]]
        kind = "commercial" if rng.random() < 0.2 else "residential"
        scale = float(rng.lognormal(np.log(25.0 if kind == "commercial" else 0.9), 0.35))
        local = hours.tz_convert(region["timezone"])
        base = _load_shape(kind, local.hour.to_numpy(), local.dayofweek.to_numpy())
        temp = w[c.TEMPERATURE].to_numpy()
        hvac = 0.04 * np.clip(temp - 22.0, 0, None) + 0.03 * np.clip(12.0 - temp, 0, None)
        noise = np.exp(rng.normal(0, 0.12, len(hours)))
        consumption = scale * (base + hvac) * noise
        has_pv = rng.random() < 0.6
        pv_kw = float(np.round(rng.uniform(3, 8) if kind == "residential" else rng.uniform(20, 80), 1)) if has_pv else 0.0
        cell_temp_derate = 1.0 - 0.004 * np.clip(temp + w[c.GHI].to_numpy() / 40.0 - 25.0, 0, None)
        solar = pv_kw * w[c.GHI].to_numpy() / 1000.0 * 0.85 * cell_temp_derate if has_pv else np.full(len(hours), np.nan)
        bid = f"{SYNTH_PREFIX}{i:06d}"
        frames.append(pd.DataFrame({
            c.BUILDING_ID: bid, c.TIMESTAMP: hours, c.CONSUMPTION: consumption,
            c.SOLAR: np.clip(solar, 0.0, None) if has_pv else solar,
            c.TEMPERATURE: temp, c.GHI: w[c.GHI].to_numpy(), c.HUMIDITY: w[c.HUMIDITY].to_numpy(),
        }))
        topo.append({
            c.BUILDING_ID: bid, "building_type": kind, "pv_capacity_kw": pv_kw,
            "battery_capacity_kwh": 10.0 if (has_pv and kind == "residential" and rng.random() < 0.3) else 0.0,
            "battery_power_kw": 5.0, "battery_efficiency": 0.92,
            "floor_area_m2": float(np.round(scale * (120 if kind == "residential" else 40), 0)),
            "latitude": region["latitude"], "longitude": region["longitude"], "timezone": region["timezone"],
            "country": region["country"], "subdivision": region["subdivision"],
            "grid_area": f"synth-{region['name']}", "dr_max_participation": 0.3 if kind == "residential" else 0.2,
            "dr_comfort_budget_kwh": float(np.round(scale * 3.0, 2)),
        })
    topology = pd.DataFrame(topo)[list(c.TOPOLOGY_COLUMNS)]
    processed = pd.concat(frames, ignore_index=True)
    from edf.data.holidays import holiday_flags

    processed[c.HOLIDAY] = holiday_flags(processed[[c.BUILDING_ID, c.TIMESTAMP]], topology).astype("int8")
    return SynthDataset(processed[list(c.COLUMN_NAMES)], topology, weather)


def write(dataset: SynthDataset, out_dir) -> dict[str, str]:
    """Write the dataset as Parquet (labelled synthetic in the file metadata) plus a topology CSV."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from edf.data.io import as_microseconds

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in (("processed_edf_data", dataset.processed), ("weather", dataset.weather)):
        table = pa.Table.from_pandas(as_microseconds(frame), preserve_index=False)
        meta = {**(table.schema.metadata or {}), b"edf_source": b"synthetic"}
        path = out / f"{name}.parquet"
        pq.write_table(table.replace_schema_metadata(meta), path, compression="zstd")
        paths[name] = str(path)
    topo_path = out / "topology.csv"
    dataset.topology.to_csv(topo_path, index=False)
    paths["topology"] = str(topo_path)
    return paths
