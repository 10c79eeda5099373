"""The Open-Meteo adapter on documented-format answers, error injection, the budget and the key.

The provider is a scripted server on 127.0.0.1 (``weather_server.FakeOpenMeteo``) serving the hand-
written fixtures of tests/fixtures/weather/open_meteo/; nothing reaches the internet.
"""

from __future__ import annotations

import copy
import logging

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws
from weather_server import FakeOpenMeteo, fixture

from edf.config import load_config
from edf.weather.factory import build_provider
from edf.weather.file_provider import FileProvider
from edf.weather.http import HttpClient, RequestBudget, RequestStats
from edf.weather.open_meteo import OpenMeteoProvider, forecast_days, parse_forecast
from edf.weather.providers import (
    BudgetExhausted,
    GridCell,
    ProviderConfigError,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
)

CELL_A = GridCell(52.5, 13.4)
CELL_B = GridCell(48.8, 2.4)
ISSUE = pd.Timestamp("2026-11-20T05:30:00Z")


def client(budget: int = 100, attempts: int = 4, read_timeout: float = 2.0, sleeps: list | None = None) -> HttpClient:
    return HttpClient(connect_timeout=1.0, read_timeout=read_timeout, max_attempts=attempts, backoff_base=0.01,
                      backoff_max=0.05, budget=RequestBudget(budget), stats=RequestStats(),
                      sleep=(sleeps.append if sleeps is not None else (lambda s: None)))


def server(**kwargs) -> FakeOpenMeteo:
    return FakeOpenMeteo({52.5: fixture("forecast_cell_a.json"), 48.8: fixture("forecast_cell_b.json")}, **kwargs)


# ---------------------------------------------------------------- parsing the documented format
def test_answer_maps_to_contract_columns_units_and_hours():
    doc = fixture("forecast_cell_a.json")
    out = parse_forecast(doc, CELL_A, ISSUE, 72)
    f = out.frame
    assert list(f["timestamp_hour"]) == list(pd.date_range("2026-11-20T05:00Z", periods=72, freq="h"))
    times = list(doc["hourly"]["time"])
    i = times.index("2026-11-20T05:00")
    # instants are taken at the start of the hour
    assert f["temperature_c"].iloc[0] == doc["hourly"]["temperature_2m"][i]
    assert f["humidity"].iloc[0] == doc["hourly"]["relative_humidity_2m"][i]
    # shortwave_radiation stamped T is the mean of [T-1h, T): EDF's hour 05:00 is the value stamped 06:00
    assert f["solar_irradiance_ghi"].iloc[0] == doc["hourly"]["shortwave_radiation"][i + 1]
    noon = f.set_index("timestamp_hour")["solar_irradiance_ghi"]
    assert noon[pd.Timestamp("2026-11-20T12:00Z")] == doc["hourly"]["shortwave_radiation"][times.index("2026-11-20T13:00")]
    assert f["wind_speed_ms"].notna().all() and f["cloud_cover_pct"].notna().all()
    assert out.warnings == []


def test_local_time_answers_are_converted_to_utc():
    doc = fixture("forecast_cell_a.json")
    shifted = copy.deepcopy(doc)
    local = pd.to_datetime(doc["hourly"]["time"]) - pd.Timedelta(hours=8)
    shifted["hourly"]["time"] = [t.strftime("%Y-%m-%dT%H:%M") for t in local]
    shifted["utc_offset_seconds"] = -8 * 3600
    a = parse_forecast(doc, CELL_A, ISSUE, 48).frame
    b = parse_forecast(shifted, CELL_A, ISSUE, 48).frame
    pd.testing.assert_frame_equal(a, b)


def test_missing_optional_variable_is_a_warning_and_a_null_column():
    out = parse_forecast(fixture("forecast_missing_wind_speed.json"), CELL_A, ISSUE, 24)
    assert out.frame["wind_speed_ms"].isna().all() and out.frame["temperature_c"].notna().all()
    assert any("wind_speed_10m missing" in w for w in out.warnings)


def test_missing_required_variable_is_an_error_naming_it():
    with pytest.raises(ProviderResponseError, match="shortwave_radiation") as exc:
        parse_forecast(fixture("forecast_missing_shortwave_radiation.json"), CELL_A, ISSUE, 24)
    assert exc.value.kind == "missing_variable"


def test_unit_other_than_asked_is_an_error():
    doc = fixture("forecast_cell_a.json")
    doc["hourly_units"]["temperature_2m"] = "°F"
    with pytest.raises(ProviderResponseError, match="temperature_2m.*°F") as exc:
        parse_forecast(doc, CELL_A, ISSUE, 24)
    assert exc.value.kind == "wrong_unit"


def test_array_length_mismatch_and_error_body_are_errors():
    doc = fixture("forecast_cell_a.json")
    doc["hourly"]["temperature_2m"] = doc["hourly"]["temperature_2m"][:-3]
    with pytest.raises(ProviderResponseError, match="temperature_2m has 117 values for 120 times"):
        parse_forecast(doc, CELL_A, ISSUE, 24)
    with pytest.raises(ProviderResponseError, match="tempeture_2m"):
        parse_forecast(fixture("error_400_invalid_variable.json"), CELL_A, ISSUE, 24)


def test_provider_nulls_stay_missing_and_hours_beyond_the_answer_are_null():
    doc = fixture("forecast_cell_a.json")
    doc["hourly"]["temperature_2m"][10] = None
    f = parse_forecast(doc, CELL_A, pd.Timestamp("2026-11-20T00:10Z"), 130).frame
    assert np.isnan(f["temperature_c"].iloc[10])
    assert f["temperature_c"].iloc[119] == doc["hourly"]["temperature_2m"][119]
    assert f["temperature_c"].iloc[120:].isna().all()  # the answer ends after 120 hours
    assert np.isnan(f["solar_irradiance_ghi"].iloc[119])  # its mean would be stamped 120 h: not in the answer


def test_forecast_days_cover_the_hours_from_the_issue_hour():
    assert forecast_days(pd.Timestamp("2026-11-20T23:30Z"), 96) == 5  # 23 + 96 + 1 hours from 00:00
    assert forecast_days(pd.Timestamp("2026-11-20T00:00Z"), 96) == 5
    with pytest.raises(ValueError, match="at most 16"):
        forecast_days(pd.Timestamp("2026-11-20T12:00Z"), 384)


# ---------------------------------------------------------------- the adapter over HTTP
def test_one_request_with_the_documented_parameters():
    with server() as fake:
        http = client()
        out = OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 72)
    assert len(fake.requests) == 1
    q = fake.requests[0]["query"]
    assert q["latitude"] == "52.5000" and q["longitude"] == "13.4000"
    assert q["hourly"].split(",") == ["temperature_2m", "relative_humidity_2m", "shortwave_radiation",
                                       "wind_speed_10m", "cloud_cover"]
    assert (q["timezone"], q["wind_speed_unit"], q["forecast_days"], q["cell_selection"]) == ("GMT", "ms", "4", "land")
    assert "apikey" not in q
    assert len(out.frame) == 72 and http.stats.attempts == 1 and http.stats.errors == 0


@pytest.mark.parametrize("faults, kind", [
    (["429"], "http_429"),
    (["500", "500"], "http_5xx"),
    (["hang"], "timeout"),
    (["truncated"], "bad_body"),
    (["short_read"], "connection"),
])
def test_transient_failures_are_retried_then_succeed(faults, kind):
    with server(hang_seconds=1.0) as fake:
        fake.inject(52.5, *faults)
        http = client(read_timeout=0.3)
        out = OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 48)
    assert len(out.frame) == 48 and out.frame["temperature_c"].notna().all()
    assert http.stats.attempts == len(faults) + 1 == fake.requests_for(52.5)
    assert http.stats.errors == len(faults) and set(http.stats.error_kinds) == {kind}
    assert len(http.stats.latencies_ms) == http.stats.attempts


def test_retries_are_bounded_and_the_last_cause_is_reported():
    with server() as fake:
        fake.inject(52.5, "500", "500", "500", "500", "500")
        http = client(attempts=3)
        with pytest.raises(ProviderUnavailable, match="3 attempt.*HTTP 500") as exc:
            OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 48)
    assert exc.value.kind == "http_5xx"
    assert fake.requests_for(52.5) == 3 and http.stats.errors == 3


def test_a_refused_request_is_not_retried_and_names_the_providers_reason():
    with server() as fake:
        fake.inject(52.5, "400")
        http = client()
        with pytest.raises(ProviderRequestError, match="tempeture_2m"):
            OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 48)
    assert fake.requests_for(52.5) == 1


def test_a_missing_variable_answer_is_not_retried():
    with server() as fake:
        fake.inject(52.5, "missing_variable")
        with pytest.raises(ProviderResponseError, match="shortwave_radiation"):
            OpenMeteoProvider(fake.url, client()).fetch(CELL_A, ISSUE, 48)
    assert fake.requests_for(52.5) == 1


def test_backoff_grows_is_capped_and_honours_retry_after():
    sleeps: list[float] = []
    with server() as fake:
        fake.inject(52.5, "500", "500", "500")
        http = HttpClient(connect_timeout=1, read_timeout=2, max_attempts=4, backoff_base=0.01, backoff_max=0.03,
                          budget=RequestBudget(10), sleep=sleeps.append)
        OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 24)
        assert len(sleeps) == 3 and all(0 <= s <= 0.03 for s in sleeps)
        sleeps.clear()
        fake.inject(52.5, "429")  # the fake sends Retry-After: 0
        OpenMeteoProvider(fake.url, http).fetch(CELL_A, ISSUE, 24)
        assert sleeps == [0.0]


def test_the_request_budget_counts_every_attempt_and_stops_the_run():
    with server() as fake:
        fake.inject(52.5, "500", "500", "500")
        http = client(budget=2)
        provider = OpenMeteoProvider(fake.url, http)
        with pytest.raises(BudgetExhausted):
            provider.fetch(CELL_A, ISSUE, 24)
        with pytest.raises(BudgetExhausted):
            provider.fetch(CELL_B, ISSUE, 24)
    assert len(fake.requests) == 2 and http.budget.used == 2


# ---------------------------------------------------------------- keyed provider
@pytest.fixture
def keyed_cfg(monkeypatch):
    raw_cfg = load_config()
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-central-1")
        arn = sm.create_secret(Name="edf/weather-key", SecretString='{"api_key": "s3cr3t-KEY-123"}')["ARN"]
        monkeypatch.setenv("EDF_WEATHER_SECRET_ID", arn)
        yield raw_cfg.model_copy(update={"edf_weather": raw_cfg.edf_weather.model_copy(
            update={"provider": "open_meteo_customer"})}), sm


def test_keyed_provider_reads_its_key_from_secrets_manager_and_never_logs_it(keyed_cfg, caplog):
    cfg, sm = keyed_cfg
    for name in (None, "urllib3", "botocore"):  # also when an earlier test quietened those loggers (edf.cli does)
        caplog.set_level(logging.DEBUG, logger=name)
    with server() as fake:
        fake.inject(52.5, "500")
        settings = cfg.edf_weather.model_copy(update={"open_meteo": cfg.edf_weather.open_meteo.model_copy(
            update={"customer_base_url": fake.url})})
        http = client()
        provider = build_provider(cfg.model_copy(update={"edf_weather": settings}), http, secrets_client=sm)
        provider.fetch(CELL_A, ISSUE, 24)
        fake.inject(48.8, "400")
        with pytest.raises(ProviderRequestError) as exc:
            provider.fetch(CELL_B, ISSUE, 24)
    assert provider.name == "open_meteo_customer"
    assert fake.requests[0]["query"]["apikey"] == "s3cr3t-KEY-123"  # the key reached the provider ...
    text = "\n".join(r.getMessage() for r in caplog.records) + str(exc.value)
    assert "urllib3.connectionpool" in {r.name for r in caplog.records}  # debug lines with URLs were emitted
    assert "s3cr3t-KEY-123" not in text  # ... and no log line or error message shows it
    assert "apikey=***" in text


def test_keyed_provider_without_a_secret_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("EDF_WEATHER_SECRET_ID", raising=False)
    cfg = load_config()
    cfg = cfg.model_copy(update={"edf_weather": cfg.edf_weather.model_copy(update={"provider": "open_meteo_customer"})})
    with pytest.raises(ProviderConfigError, match="needs a key"):
        build_provider(cfg, client())


def test_an_empty_secret_is_refused():
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name="eu-central-1")
        sm.create_secret(Name="k", SecretString="  ")
        from edf.weather.providers import read_api_key

        with pytest.raises(ProviderConfigError, match="holds no API key"):
            read_api_key("k", sm)
        with pytest.raises(ProviderConfigError, match="cannot read"):
            read_api_key("absent", sm)


# ---------------------------------------------------------------- file provider (replay)
def test_file_provider_replays_a_recording_onto_the_issue_day(tmp_path):
    doc = fixture("forecast_cell_a.json")
    path = tmp_path / "recorded.json"
    path.write_text(__import__("json").dumps([doc, fixture("forecast_cell_b.json")]))
    provider = FileProvider(str(path), grid_degrees=0.1)
    issue = pd.Timestamp("2027-03-02T23:30Z")
    out = provider.fetch(CELL_A, issue, 48).frame
    assert out["timestamp_hour"].iloc[0] == pd.Timestamp("2027-03-02T23:00Z")
    direct = parse_forecast(doc, CELL_A, pd.Timestamp("2026-11-20T23:30Z"), 48).frame  # same hours of the recording
    np.testing.assert_array_equal(out["temperature_c"], direct["temperature_c"])
    np.testing.assert_array_equal(out["solar_irradiance_ghi"], direct["solar_irradiance_ghi"])
    assert provider.name == "file:recorded.json"
    with pytest.raises(ProviderResponseError) as exc:
        provider.fetch(GridCell(10.0, 10.0), issue, 24)
    assert exc.value.kind == "not_recorded"
