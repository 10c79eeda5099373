"""The weather-forecast contract: each rule names its column, on write and on read."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edf.data.io import write_parquet
from edf.data.weather_forecast import (
    WeatherContractViolation,
    file_name,
    issue_time_from_name,
    newest_issue_per_hour,
    read_weather_file,
    validate_weather_forecast,
    write_weather_forecast,
)

ISSUE = pd.Timestamp("2026-11-20T23:30:00Z")


def good(hours: int = 24, issue: pd.Timestamp = ISSUE, buildings=("b-1", "b_2")) -> pd.DataFrame:
    ts = pd.date_range(issue.floor("h"), periods=hours, freq="h")
    return pd.concat([pd.DataFrame({
        "building_id": b, "timestamp_hour": ts, "forecast_issue_time": issue, "grid_latitude": 34.1,
        "grid_longitude": -117.4, "weather_provider": "open_meteo", "temperature_c": np.linspace(10, 20, hours),
        "solar_irradiance_ghi": np.linspace(0, 600, hours), "humidity": 55.0, "wind_speed_ms": 3.0,
        "cloud_cover_pct": 20.0}) for b in buildings], ignore_index=True)


def rules(df: pd.DataFrame) -> dict[str, str]:
    return {f.rule: f.column for f in validate_weather_forecast(df).errors}


def test_good_forecast_is_valid_and_the_extra_covariates_are_optional():
    assert validate_weather_forecast(good()).ok
    assert validate_weather_forecast(good().drop(columns=["wind_speed_ms", "cloud_cover_pct"])).ok


@pytest.mark.parametrize("mutate, rule, column", [
    (lambda d: d.drop(columns=["grid_latitude"]), "missing_column", "grid_latitude"),
    (lambda d: d.assign(temperature_c="warm"), "wrong_type", "temperature_c"),
    (lambda d: d.assign(weather_provider=None), "null_in_required", "weather_provider"),
    (lambda d: d.assign(building_id="bad id!"), "invalid_building_id", "building_id"),
    (lambda d: d.assign(timestamp_hour=d["timestamp_hour"].dt.tz_localize(None)), "timestamp_not_utc", "timestamp_hour"),
    (lambda d: d.assign(forecast_issue_time=d["forecast_issue_time"].dt.tz_localize(None)), "timestamp_not_utc",
     "forecast_issue_time"),
    (lambda d: d.assign(timestamp_hour=d["timestamp_hour"] + pd.Timedelta(minutes=30)), "timestamp_not_hour_aligned",
     "timestamp_hour"),
    (lambda d: pd.concat([d, d.head(1)], ignore_index=True), "duplicate_key",
     "building_id,timestamp_hour,forecast_issue_time"),
    (lambda d: d.assign(humidity=np.inf), "non_finite", "humidity"),
    (lambda d: d.assign(temperature_c=d["temperature_c"] + 273.15), "out_of_range", "temperature_c"),  # Kelvin
    (lambda d: d.assign(solar_irradiance_ghi=d["solar_irradiance_ghi"] * 3.6), "out_of_range", "solar_irradiance_ghi"),
    (lambda d: d.assign(humidity=-5.0), "out_of_range", "humidity"),
    (lambda d: d.assign(grid_longitude=200.0), "out_of_range", "grid_longitude"),
    (lambda d: d.head(0), "empty", "*"),
])
def test_each_rule_names_its_column(mutate, rule, column):
    found = rules(mutate(good()))
    assert found.get(rule) == column, found


def test_out_of_range_message_says_the_unit_and_shows_rows():
    report = validate_weather_forecast(good().assign(temperature_c=95.0))  # °F
    (finding,) = report.errors
    assert "[-90, 60] °C" in finding.message and finding.count == 48 and len(finding.examples) == 5
    assert finding.examples[0]["temperature_c"] == "95.0"


def test_all_null_weather_and_hours_before_issue_are_warnings():
    df = good().assign(humidity=np.nan)
    df.loc[0, "timestamp_hour"] = ISSUE.floor("h") - pd.Timedelta(hours=5)
    report = validate_weather_forecast(df)
    assert report.ok
    assert {w.rule for w in report.warnings} == {"no_weather", "hour_before_issue"}


def test_write_refuses_a_violation_and_names_the_column(tmp_path):
    with pytest.raises(WeatherContractViolation, match=r"(?s)refusing to write.*\[out_of_range\] column 'humidity'"):
        write_weather_forecast(good().assign(humidity=150.0), str(tmp_path))
    assert not list(tmp_path.rglob("*.parquet"))
    uri = write_weather_forecast(good(), str(tmp_path))
    assert uri.endswith("issue_date=2026-11-20/weather_forecast_20261120T233000Z.parquet")
    back = read_weather_file(uri)
    assert len(back) == 48 and str(back["timestamp_hour"].dt.tz) == "UTC"


def test_read_validates_too(tmp_path):
    path = tmp_path / "someone_elses.parquet"
    write_parquet(good().assign(temperature_c=300.0), path)
    with pytest.raises(WeatherContractViolation, match=rf"(?s)weather forecast {path}.*column 'temperature_c'"):
        read_weather_file(str(path))


def test_one_file_holds_one_issue(tmp_path):
    two = pd.concat([good(), good(issue=ISSUE - pd.Timedelta(hours=6))], ignore_index=True)
    with pytest.raises(ValueError, match="one issue"):
        write_weather_forecast(two, str(tmp_path))


def test_duplicate_issues_of_an_hour_keep_the_newest_issued_by_the_origin():
    old, new, late = (good(issue=ISSUE - pd.Timedelta(hours=6)), good(issue=ISSUE),
                      good(issue=ISSUE + pd.Timedelta(hours=6)))
    new = new.assign(temperature_c=99.0 - 40)
    frame = pd.concat([new, late.assign(temperature_c=1.0), old], ignore_index=True)
    kept = newest_issue_per_hour(frame, as_of=ISSUE + pd.Timedelta(minutes=30))
    assert (kept["forecast_issue_time"] == ISSUE).sum() == 48  # the hours both cover
    assert not (kept["temperature_c"] == 1.0).any()  # issued after the origin: never used
    assert not kept.duplicated(["building_id", "timestamp_hour"]).any()
    # hours only the older issue covers still come from it
    assert (kept["forecast_issue_time"] == ISSUE - pd.Timedelta(hours=6)).sum() == 2 * 6


def test_file_names_encode_the_issue_time():
    name = file_name(pd.Timestamp("2026-11-20T23:30:05Z"))
    assert name == "issue_date=2026-11-20/weather_forecast_20261120T233005Z.parquet"
    assert issue_time_from_name("s3://b/edf-inputs/weather-forecast/" + name) == pd.Timestamp("2026-11-20T23:30:05Z")
    assert issue_time_from_name("s3://b/edf-inputs/weather-forecast/manual_upload.parquet") is None
