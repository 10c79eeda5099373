"""The freshness rule: which forecast each building may use at an origin, and the label it gets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edf.config import WeatherFreshness
from edf.data.io import write_parquet
from edf.data.weather_forecast import WeatherContractViolation, write_weather_forecast
from edf.features.weather_inputs import WeatherFreshnessError, prepare_inference_weather, read_sources
from edf.jobs.forecast import weather_source_column

ORIGIN = pd.Timestamp("2026-11-21T00:00:00Z")
H = 72
FRESH = ORIGIN - pd.Timedelta(minutes=30)
STALE = ORIGIN - pd.Timedelta(hours=30)


def issue(when: pd.Timestamp, buildings: dict[str, int], temperature: float) -> pd.DataFrame:
    """One issue's rows: ``buildings`` maps a building to the hours it covers from the issue hour."""
    parts = []
    for b, hours in buildings.items():
        ts = pd.date_range(when.floor("h"), periods=hours, freq="h")
        parts.append(pd.DataFrame({
            "building_id": b, "timestamp_hour": ts, "forecast_issue_time": when, "grid_latitude": 34.1,
            "grid_longitude": -117.4, "weather_provider": "open_meteo", "temperature_c": temperature,
            "solar_irradiance_ghi": 100.0, "humidity": 50.0}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture
def feed(tmp_path):
    """b-1, b-2: fresh and complete; b-3: only a stale issue; b-4: fresh but 48 h short, complete when stale."""
    write_weather_forecast(issue(FRESH, {"b-1": 96, "b-2": 96, "b-4": 25}, 20.0), str(tmp_path))
    write_weather_forecast(issue(STALE, {"b-1": 120, "b-3": 120, "b-4": 120}, 10.0), str(tmp_path))
    return tmp_path


def rule(**kw) -> WeatherFreshness:
    return WeatherFreshness(**kw)


def labels(result) -> dict[str, str]:
    return dict(zip(result.sources["building_id"], result.sources["weather_source"], strict=True))


BUILDINGS = ["b-1", "b-2", "b-3", "b-4", "b-5"]


def test_without_weather_uses_fresh_complete_forecasts_only(feed):
    r = prepare_inference_weather(feed, BUILDINGS, ORIGIN, H, rule(on_stale="without_weather"))
    assert labels(r) == {"b-1": "forecast", "b-2": "forecast", "b-3": "none", "b-4": "none", "b-5": "none"}
    assert r.files_read == 1  # the stale file lies beyond max_age: never read in this mode
    assert set(r.frame["building_id"]) == {"b-1", "b-2"} and (r.frame["temperature_c"] == 20.0).all()
    assert r.frame["timestamp_hour"].min() == ORIGIN and r.frame.groupby("building_id").size().tolist() == [H, H]
    assert "covers 24 of 72 hours" in r.reasons["b-4"]
    assert r.reasons["b-3"] == ("no row for this building's horizon in the issues of the last 12 h; the newest "
                                "issue in the feed (any building) is 2026-11-20T23:30Z (0.5 h before the origin)")
    assert r.summary()["sources"] == {"forecast": 2, "none": 3}


def test_use_stale_falls_back_to_the_newest_complete_older_issue_and_says_its_age(feed):
    r = prepare_inference_weather(feed, BUILDINGS, ORIGIN, H, rule(on_stale="use_stale", stale_limit_hours=48))
    assert labels(r) == {"b-1": "forecast", "b-2": "forecast", "b-3": "stale:30h", "b-4": "stale:30h", "b-5": "none"}
    used = r.frame.groupby("building_id")["temperature_c"].unique()
    assert list(used["b-1"]) == [20.0] and list(used["b-3"]) == [10.0] and list(used["b-4"]) == [10.0]
    assert not r.frame.duplicated(["building_id", "timestamp_hour"]).any()  # one issue per building
    assert r.sources.set_index("building_id").loc["b-3", "age_hours"] == 30.0


def test_use_stale_respects_its_limit(feed):
    r = prepare_inference_weather(feed, BUILDINGS, ORIGIN, H, rule(on_stale="use_stale", stale_limit_hours=24))
    assert labels(r)["b-3"] == "none"


def test_fail_names_the_buildings_and_why(feed):
    with pytest.raises(WeatherFreshnessError) as exc:
        prepare_inference_weather(feed, BUILDINGS, ORIGIN, H, rule(on_stale="fail"))
    text = str(exc.value)
    assert "3 of 5 building(s)" in text and "on_stale = fail" in text
    assert "b-4: newest issue 2026-11-20T23:30Z (0.5 h before the origin) covers 24 of 72 hours" in text


def test_a_longer_max_age_makes_the_older_issue_fresh(feed):
    r = prepare_inference_weather(feed, BUILDINGS, ORIGIN, H, rule(max_age_hours=36, stale_limit_hours=48))
    assert labels(r)["b-3"] == "forecast" and labels(r)["b-4"] == "forecast"


def test_forecasts_issued_after_the_origin_are_never_used(tmp_path):
    write_weather_forecast(issue(ORIGIN + pd.Timedelta(hours=5), {"b-1": 96}, 30.0), str(tmp_path))
    r = prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule())
    assert labels(r) == {"b-1": "none"} and r.frame is None and r.files_read == 0


def test_reading_stops_once_every_building_has_a_fresh_forecast(tmp_path):
    for hours_before in (0.5, 6.5, 11.5):
        write_weather_forecast(issue(ORIGIN - pd.Timedelta(hours=hours_before), {"b-1": 96}, hours_before),
                               str(tmp_path))
    r = prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule())
    assert r.files_read == 1 and (r.frame["temperature_c"] == 0.5).all()  # the newest fresh issue


def test_files_not_named_by_the_fetcher_are_read_for_their_issue_times(tmp_path):
    write_parquet(issue(FRESH, {"b-1": 96}, 20.0), tmp_path / "manual" / "upload.parquet")
    r = prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule())
    assert labels(r) == {"b-1": "forecast"}


def test_no_input_at_all_means_no_weather_or_a_failed_run(tmp_path):
    absent = prepare_inference_weather(tmp_path / "absent", ["b-1"], ORIGIN, H, rule())
    assert labels(absent) == {"b-1": "none"} and absent.reasons["b-1"] == "no weather forecast issued by the origin at all"
    assert labels(prepare_inference_weather(None, ["b-1"], ORIGIN, H, rule())) == {"b-1": "none"}
    with pytest.raises(WeatherFreshnessError, match="1 of 1"):
        prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule(on_stale="fail"))


def test_a_file_breaking_the_contract_fails_the_run_naming_the_column(tmp_path):
    write_parquet(issue(FRESH, {"b-1": 96}, 20.0).assign(humidity=250.0), tmp_path / "bad.parquet")
    with pytest.raises(WeatherContractViolation, match="humidity"):
        prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule())


def test_hours_without_any_weather_value_do_not_count_as_covered(tmp_path):
    df = issue(FRESH, {"b-1": 96}, 20.0)
    df.loc[df.index[10], ["temperature_c", "solar_irradiance_ghi", "humidity"]] = np.nan
    write_weather_forecast(df, str(tmp_path))
    r = prepare_inference_weather(tmp_path, ["b-1"], ORIGIN, H, rule())
    assert labels(r) == {"b-1": "none"} and "covers 71 of 72" in r.reasons["b-1"]


def test_the_forecast_rows_take_the_label_of_their_building(tmp_path):
    from edf.data.io import write_parquet as wp

    wp(pd.DataFrame({"building_id": ["b-1", "b-2"], "weather_source": ["forecast", "stale:30h"]}),
       tmp_path / "weather" / "sources" / "weather_sources.parquet")
    sources = read_sources(tmp_path)
    rows = pd.Series(["b-1", "b-2", "b-9", "b-1"])
    assert weather_source_column(rows, sources).tolist() == ["forecast", "stale:30h", "none", "forecast"]
    assert read_sources(tmp_path / "elsewhere") is None
    assert weather_source_column(rows, None).tolist() == ["unknown"] * 4  # features from an older image
