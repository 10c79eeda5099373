"""The real data bundled with the package, and the converter that produced it.

Two MIT-licensed public sets (see ``bundled/ATTRIBUTION.md``) are converted once into the
``processed_edf_data`` contract by ``edf data build-bundled`` and committed as compact Parquet:

* ``citylearn_homes.parquet`` — 17 homes in Fontana, California, one year of hourly demand and
  rooftop PV. The weather that ships with that set is *not* from the same days as the meters, so
  the weather columns of the homes are left null (the honest "meter without weather" case) and
  the weather is kept separately in ``citylearn_weather_unaligned.parquet``, labelled as such.
* ``serf_east_solar.parquet`` — NREL's SERF east PV array (Golden, Colorado) with matching
  satellite irradiance and temperature, resampled from 15 min to hourly. It has no building load,
  so it is a solar-target dataset (consumption null).
* ``citylearn_tariff.parquet`` — hourly price and grid carbon intensity for the homes.
* ``topology.csv`` — building type, PV and battery sizes, location, grid area, DR parameters.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.holidays import holiday_flags
from edf.data.io import write_parquet

BUNDLED_DIR = Path(str(resources.files("edf.data") / "bundled"))
HOMES_FILE = "citylearn_homes.parquet"
SOLAR_FILE = "serf_east_solar.parquet"
WEATHER_FILE = "citylearn_weather_unaligned.parquet"
TARIFF_FILE = "citylearn_tariff.parquet"
TOPOLOGY_FILE = "topology.csv"

# Fontana, California (the EPRI zero-net-energy community of the CityLearn 2022 data).
FONTANA = {"latitude": 34.0922, "longitude": -117.4350, "timezone": "America/Los_Angeles",
           "country": "US", "subdivision": "CA"}
# NREL Solar Energy Research Facility, Golden, Colorado.
SERF = {"latitude": 39.7406, "longitude": -105.1774, "timezone": "America/Denver",
        "country": "US", "subdivision": "CO"}
CITYLEARN_START_UTC = pd.Timestamp("2016-08-01 00:00", tz="America/Los_Angeles").tz_convert("UTC")
WEATHER_LABEL = "citylearn-2022 weather; NOT from the same days as the meters (shape and plumbing only)"


def citylearn_building_id(n: int) -> str:
    return f"citylearn-{n:02d}"


def load_homes() -> pd.DataFrame:
    """The 17 bundled homes in the contract (weather columns null)."""
    return pd.read_parquet(BUNDLED_DIR / HOMES_FILE)


def load_solar() -> pd.DataFrame:
    """The bundled SERF east PV array in the contract (consumption null, weather present)."""
    return pd.read_parquet(BUNDLED_DIR / SOLAR_FILE)


def load_topology() -> pd.DataFrame:
    return pd.read_csv(BUNDLED_DIR / TOPOLOGY_FILE, dtype={"building_id": "string", "subdivision": "string"})


def load_unaligned_weather() -> pd.DataFrame:
    """Fontana-shaped hourly weather for plumbing (labelled: not aligned with the meters)."""
    return pd.read_parquet(BUNDLED_DIR / WEATHER_FILE)


def load_tariff() -> pd.DataFrame:
    """Hourly price ($/kWh) and carbon intensity (kg CO2/kWh) for the bundled homes' region."""
    return pd.read_parquet(BUNDLED_DIR / TARIFF_FILE)


# ---------------------------------------------------------------------------------------------
# Converter (run once by `edf data build-bundled`; its outputs are committed)
# ---------------------------------------------------------------------------------------------

def _citylearn_hours(n: int) -> pd.DatetimeIndex:
    # Row 0 is 2016-08-01 00:00 local time and rows advance one real hour each (README), so the
    # UTC index is a plain hourly range from the UTC equivalent of the first row.
    return pd.date_range(CITYLEARN_START_UTC, periods=n, freq="h", tz="UTC")


def convert_citylearn(source: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    schema = json.loads((source / "schema.json").read_text())
    frames, topo = [], []
    for name, spec in schema["buildings"].items():
        n = int(name.split("_")[1])
        raw = pd.read_csv(source / spec["energy_simulation"])
        hours = _citylearn_hours(len(raw))
        pv_kw = float(spec["pv"]["attributes"]["nominal_power"])
        bid = citylearn_building_id(n)
        frames.append(pd.DataFrame({
            c.BUILDING_ID: bid,
            c.TIMESTAMP: hours,
            c.CONSUMPTION: raw["Equipment Electric Power [kWh]"].astype("float64"),
            # W per kW installed x kW installed x 1 h / 1000 = kWh in the hour
            c.SOLAR: (raw["Solar Generation [W/kW]"].astype("float64") * pv_kw / 1000.0).clip(lower=0.0),
        }))
        battery = spec.get("electrical_storage", {}).get("attributes", {})
        topo.append({
            c.BUILDING_ID: bid, "building_type": "residential", "pv_capacity_kw": pv_kw,
            "battery_capacity_kwh": float(battery.get("capacity", 0.0)),
            "battery_power_kw": float(battery.get("nominal_power", 0.0)),
            "battery_efficiency": float(battery.get("efficiency", 0.9)),
            "floor_area_m2": np.nan, **FONTANA,
            # two feeder areas so tenancy (a DSO sees only its grid area) is exercised on real homes
            "grid_area": "fontana-north" if n <= 9 else "fontana-south",
            "dr_max_participation": 0.3, "dr_comfort_budget_kwh": 3.0,
        })
    homes = pd.concat(frames, ignore_index=True)
    for col in c.WEATHER_COLUMNS:
        homes[col] = np.nan
    topology = pd.DataFrame(topo)
    homes[c.HOLIDAY] = holiday_flags(homes[[c.BUILDING_ID, c.TIMESTAMP]], topology).astype("int8")
    homes = homes[list(c.COLUMN_NAMES)]

    weather_raw = pd.read_csv(source / "weather.csv")
    hours = _citylearn_hours(len(weather_raw))
    weather = pd.DataFrame({
        c.TIMESTAMP: hours,
        c.TEMPERATURE: weather_raw["Outdoor Drybulb Temperature [C]"].astype("float64"),
        c.HUMIDITY: weather_raw["Relative Humidity [%]"].astype("float64"),
        c.GHI: _ghi_from_components(hours, weather_raw["Diffuse Solar Radiation [W/m2]"],
                                    weather_raw["Direct Solar Radiation [W/m2]"], FONTANA),
        "source_note": WEATHER_LABEL,
    })
    tariff = pd.DataFrame({
        c.TIMESTAMP: hours,
        "price_per_kwh": pd.read_csv(source / "pricing.csv")["Electricity Pricing [$]"].astype("float64").to_numpy(),
        "carbon_kg_per_kwh": pd.read_csv(source / "carbon_intensity.csv")["kg_CO2/kWh"].astype("float64").to_numpy(),
    })
    return homes, topology, weather, tariff


def _ghi_from_components(hours: pd.DatetimeIndex, diffuse: pd.Series, direct_normal: pd.Series, site: dict) -> np.ndarray:
    """GHI = DHI + DNI * cos(zenith), with the sun's position from pvlib at mid-hour."""
    import pvlib

    mid = hours + pd.Timedelta(minutes=30)
    zenith = pvlib.solarposition.get_solarposition(mid, site["latitude"], site["longitude"])["apparent_zenith"]
    cosz = np.clip(np.cos(np.radians(zenith.to_numpy())), 0.0, None)
    return diffuse.to_numpy(dtype="float64") + direct_normal.to_numpy(dtype="float64") * cosz


def convert_serf(source: Path) -> tuple[pd.DataFrame, dict]:
    power = pd.read_csv(source / "serf_east_15min_ac_power.csv")
    power.index = pd.to_datetime(power["measured_on"], utc=True)
    weather = pd.read_csv(source / "serf_east_psm3_data.csv")
    weather.index = pd.to_datetime(weather["measured_on"], utc=True)
    # Hourly energy = mean power over the hour (W) x 1 h / 1000; an hour needs all 4 readings,
    # otherwise it is a gap (missing, never zero). Night-time inverter tare (a few negative W) is 0.
    ac = power["ac_power"].clip(lower=0.0)
    grouped = ac.resample("h")
    hourly_kwh = (grouped.mean() / 1000.0).where(grouped.count() == 4)
    w = weather[["temp_air", "ghi"]].resample("h").mean()
    frame = pd.DataFrame({c.SOLAR: hourly_kwh}).join(w, how="left")
    frame = frame[frame[c.SOLAR].notna()]
    out = pd.DataFrame({
        c.BUILDING_ID: "serf-east",
        c.TIMESTAMP: frame.index,
        c.CONSUMPTION: np.nan,
        c.SOLAR: frame[c.SOLAR].to_numpy(),
        c.TEMPERATURE: frame["temp_air"].to_numpy(),
        c.GHI: frame["ghi"].to_numpy(),
        c.HUMIDITY: np.nan,
    }).reset_index(drop=True)
    capacity_kw = float(np.ceil(ac.quantile(0.999) / 100.0) / 10.0)  # rated AC ~ observed peak, 0.1 kW steps
    topo = {c.BUILDING_ID: "serf-east", "building_type": "pv_array", "pv_capacity_kw": capacity_kw,
            "battery_capacity_kwh": 0.0, "battery_power_kw": 0.0, "battery_efficiency": 0.9,
            "floor_area_m2": np.nan, **SERF, "grid_area": "golden-co",
            "dr_max_participation": 0.0, "dr_comfort_budget_kwh": 0.0}
    out[c.HOLIDAY] = holiday_flags(out[[c.BUILDING_ID, c.TIMESTAMP]], pd.DataFrame([topo])).astype("int8")
    return out[list(c.COLUMN_NAMES)], topo


def build_bundled(shared_data: Path, out_dir: Path = BUNDLED_DIR) -> dict[str, int]:
    """Convert ``../shared/data`` into the committed bundled files; returns row counts."""
    out_dir.mkdir(parents=True, exist_ok=True)
    homes, topology, weather, tariff = convert_citylearn(shared_data / "citylearn_2022")
    solar, serf_topo = convert_serf(shared_data / "pvanalytics_serf_east")
    topology = pd.concat([topology, pd.DataFrame([serf_topo])], ignore_index=True)[list(c.TOPOLOGY_COLUMNS)]
    write_parquet(homes, out_dir / HOMES_FILE)
    write_parquet(solar, out_dir / SOLAR_FILE)
    write_parquet(weather, out_dir / WEATHER_FILE)
    write_parquet(tariff, out_dir / TARIFF_FILE)
    topology.to_csv(out_dir / TOPOLOGY_FILE, index=False)
    return {HOMES_FILE: len(homes), SOLAR_FILE: len(solar), WEATHER_FILE: len(weather),
            TARIFF_FILE: len(tariff), TOPOLOGY_FILE: len(topology)}
