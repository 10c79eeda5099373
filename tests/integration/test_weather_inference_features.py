"""The inference features job with fetched weather: the freshness rule's outcomes reach the features.

The weather is written by the fetcher's own code path (``run_fetch`` with the ``file`` provider
replaying the local runtime's recorded document for the bundled homes' site), then the features
job entrypoint runs in inference mode as SageMaker would, for each ``on_stale`` behaviour.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from edf.data.io import read_parquet, write_parquet
from edf.features.weather_inputs import read_sources
from edf.jobs import features as features_job
from edf.weather.fetch import run_fetch
from edf.weather.file_provider import FileProvider
from edf_local.weather import RECORDED_FORECAST

pytestmark = [pytest.mark.slow, pytest.mark.spark]

BUILDINGS = ["citylearn-01", "citylearn-05"]
ORIGIN = pd.Timestamp("2017-07-20T00:00:00Z")
HORIZON = 24


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, homes, topology, cfg):
    root = tmp_path_factory.mktemp("weather-features")
    recent = homes[homes.building_id.isin(BUILDINGS) & (homes.timestamp_hour >= ORIGIN - pd.Timedelta(days=16))
                   & (homes.timestamp_hour < ORIGIN)]
    write_parquet(recent.reset_index(drop=True), root / "processed" / "homes.parquet")
    topology[topology.building_id.isin(BUILDINGS)].to_csv(root / "topology.csv", index=False)
    provider = FileProvider(str(RECORDED_FORECAST), grid_degrees=cfg.edf_weather.grid_degrees)
    for name, age in (("fresh", pd.Timedelta(minutes=30)), ("stale", pd.Timedelta(hours=30))):
        result = run_fetch(cfg, provider, topology[topology.building_id.isin(BUILDINGS)], ORIGIN - age,
                           str(root / "weather" / name))
        assert result.uri and result.buildings == len(BUILDINGS) and not result.failures
    return root


def run_job(root, name: str, weather: str, on_stale: str = "without_weather") -> tuple[int, object]:
    out = root / "out" / name
    overrides = json.dumps({"edf_weather": {"freshness": {"on_stale": on_stale}}})
    code = features_job.main(["--mode", "inference", "--processed", str(root / "processed" / "homes.parquet"),
                              "--topology", str(root / "topology.csv"), "--weather-forecast", str(root / "weather" / weather),
                              "--output", str(out), "--origin", ORIGIN.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "--horizon-hours", str(HORIZON), "--overrides", overrides])
    return code, out


def origin_rows(out) -> pd.DataFrame:
    """The run's forecast rows: the output also holds the previous days' origins for the online
    recalibration (edf_training.calibration), whose target hours are all before the origin."""
    rows = read_parquet(out / "inference")
    origins = pd.to_datetime(rows["origin_time"], utc=True)
    earlier = rows[origins < ORIGIN]
    assert (pd.to_datetime(earlier["timestamp_hour"], utc=True) < ORIGIN).all()  # history, never the forecast
    return rows[origins == ORIGIN].reset_index(drop=True)


def test_a_fresh_forecast_reaches_every_feature_row(spark, inputs):
    code, out = run_job(inputs, "fresh", "fresh")
    assert code == 0
    rows = origin_rows(out)
    assert len(rows) == HORIZON * len(BUILDINGS)
    assert rows["temperature_c"].notna().all() and rows["solar_irradiance_ghi"].notna().all()
    used = read_parquet(out / "weather" / "forecast_used")
    expect = used.set_index(["building_id", "timestamp_hour"])["temperature_c"]
    got = rows.assign(timestamp_hour=pd.to_datetime(rows.timestamp_hour, utc=True)).set_index(
        ["building_id", "timestamp_hour"])["temperature_c"]
    pd.testing.assert_series_equal(got.sort_index(), expect.loc[got.index].sort_index(), check_names=False)
    assert read_sources(out) == {b: "forecast" for b in BUILDINGS}
    summary = json.loads((out / "_summary.json").read_text())
    assert summary["weather"]["sources"] == {"forecast": len(BUILDINGS)}


@pytest.mark.parametrize("on_stale, label, has_weather", [("without_weather", "none", False),
                                                          ("use_stale", "stale:30h", True)])
def test_a_stale_forecast_follows_the_configured_behaviour(spark, inputs, on_stale, label, has_weather):
    code, out = run_job(inputs, f"stale-{on_stale}", "stale", on_stale)
    assert code == 0
    rows = origin_rows(out)
    assert len(rows) == HORIZON * len(BUILDINGS)
    assert rows["temperature_c"].notna().all() if has_weather else rows["temperature_c"].isna().all()
    assert read_sources(out) == {b: label for b in BUILDINGS}


def test_a_stale_forecast_fails_the_run_when_configured_to(spark, inputs, tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt_ml"))
    code, out = run_job(inputs, "stale-fail", "stale", "fail")
    assert code == 1
    reason = (tmp_path / "opt_ml" / "output" / "failure").read_text()
    assert reason.startswith("WeatherFreshnessError: 2 of 2 building(s)")
    assert "the newest issue in the feed (any building) is 2017-07-18T18:00Z (30.0 h before the origin)" in reason
    assert not (out / "inference").exists()
