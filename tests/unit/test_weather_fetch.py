"""The fetch run and the Lambda: one request per grid cell, partial failures reported, metrics emitted."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import boto3
import pandas as pd
import pytest
import yaml
from moto import mock_aws
from weather_server import FakeOpenMeteo, fixture

from edf.config import load_config
from edf.data.weather_forecast import read_weather_file, validate_weather_forecast
from edf.lambda_events import InvalidEvent
from edf.monitoring.emf import validate_emf
from edf.weather.fetch import FetchResult, WeatherFetchError, run_fetch
from edf.weather.http import HttpClient, RequestBudget, RequestStats
from edf.weather.lambda_handler import WeatherFetchEvent, fetch_once, parse_event
from edf.weather.metrics import fetch_emf_documents
from edf.weather.open_meteo import OpenMeteoProvider

REPO = Path(__file__).resolve().parents[2]
ISSUE = pd.Timestamp("2026-11-20T23:30:00Z")
TOPOLOGY = pd.DataFrame({
    "building_id": ["b-1", "b-2", "b-3", "b-4", "b-nowhere"],
    "latitude": [52.52, 52.49, 52.51, 48.83, None],
    "longitude": [13.41, 13.38, 13.44, 2.37, None],
    "grid_area": "north",
})


def value(doc: dict, name: str) -> float:
    """An EMF member's value (powertools writes one-value metrics as a one-element list)."""
    v = doc[name]
    return v[0] if isinstance(v, list) and len(v) == 1 else v


def fake() -> FakeOpenMeteo:
    return FakeOpenMeteo({52.5: fixture("forecast_cell_a.json"), 48.8: fixture("forecast_cell_b.json")})


def provider(url: str, budget: int = 100) -> tuple[OpenMeteoProvider, RequestStats]:
    stats = RequestStats()
    http = HttpClient(connect_timeout=1, read_timeout=2, max_attempts=3, backoff_base=0.0, backoff_max=0.0,
                      budget=RequestBudget(budget), stats=stats, sleep=lambda s: None)
    return OpenMeteoProvider(url, http), stats


def test_one_request_per_grid_cell_rows_per_building(cfg, tmp_path):
    with fake() as server:
        p, stats = provider(server.url)
        result = run_fetch(cfg, p, TOPOLOGY, ISSUE, str(tmp_path), stats)
    assert len(server.requests) == 2  # four located buildings, two 0.1-degree cells
    assert {(r["query"]["latitude"], r["query"]["longitude"]) for r in server.requests} == {
        ("52.5000", "13.4000"), ("48.8000", "2.4000")}
    assert (result.cells, result.cells_fetched, result.buildings) == (2, 2, 4)
    assert result.buildings_without_location == ["b-nowhere"]  # reported, not dropped silently ...
    assert not result.failed  # ... but a topology gap, not a fetch failure (its own metric)
    assert value(fetch_emf_documents(result, "EDF/Weather", "t")[0], "BuildingsWithoutLocation") == 1
    written = read_weather_file(result.uri)
    assert validate_weather_forecast(written).ok
    assert len(written) == result.rows == 4 * cfg.edf_weather.fetch_hours
    b3 = written[written["building_id"] == "b-3"]
    assert set(zip(b3["grid_latitude"], b3["grid_longitude"], strict=True)) == {(52.5, 13.4)}
    assert b3["timestamp_hour"].min() == pd.Timestamp("2026-11-20T23:00Z")
    assert (written["forecast_issue_time"] == ISSUE).all() and (written["weather_provider"] == "open_meteo").all()
    same_cell = written[written["building_id"].isin(["b-1", "b-2"])].pivot(
        index="timestamp_hour", columns="building_id", values="temperature_c")
    assert (same_cell["b-1"] == same_cell["b-2"]).all()


def test_a_failing_cell_is_reported_and_the_other_cells_are_written(cfg, tmp_path):
    with fake() as server:
        server.inject(48.8, "500", "500", "500")
        p, stats = provider(server.url)
        result = run_fetch(cfg, p, TOPOLOGY.iloc[:4], ISSUE, str(tmp_path), stats)
    assert result.cells_fetched == 1 and list(result.failures) == ["48.8000,2.4000"]
    assert result.failure_kinds == {"http_5xx": 1}
    assert result.buildings == 3 and result.uri is not None
    assert (stats.attempts, stats.errors) == (4, 3)
    docs = fetch_emf_documents(result, "EDF/Weather", "test")
    for doc in docs:
        validate_emf(doc)
    counters = docs[0]
    assert [value(counters, k) for k in ("FetchFailures", "CellsFailed", "ProviderErrors", "ProviderRequests")] == \
        [1.0, 1.0, 3.0, 4.0]
    assert counters["Environment"] == "test" and value(counters, "NewestForecastAgeHours") >= 0
    assert sum(len(d.get("ProviderLatencyMs", [])) if isinstance(d.get("ProviderLatencyMs"), list)
               else int("ProviderLatencyMs" in d) for d in docs[1:]) == 4


def test_budget_exhaustion_fails_the_remaining_cells(cfg, tmp_path):
    with fake() as server:
        server.inject(48.8, "500", "500", "500")  # the first cell (cells go in sorted order) spends the budget
        p, stats = provider(server.url, budget=3)
        result = run_fetch(cfg.model_copy(update={"edf_weather": cfg.edf_weather.model_copy(update={"concurrency": 1})}),
                           p, TOPOLOGY.iloc[:4], ISSUE, str(tmp_path), stats)
    assert stats.attempts == 3 and result.cells_fetched == 0 and result.uri is None
    assert result.failure_kinds == {"http_5xx": 1, "budget_exhausted": 1}
    assert server.requests_for(52.5) == 0


def test_latency_values_are_spread_over_documents_of_at_most_100():
    stats = RequestStats()
    for i in range(250):
        stats.record(float(i), None)
    docs = fetch_emf_documents(FetchResult(issue_time=ISSUE, provider="x", stats=stats), "EDF/Weather", "t")
    lat = [d["ProviderLatencyMs"] for d in docs[1:]]
    assert all(len(v) <= 100 for v in lat) and sum(len(v) for v in lat) == 250
    for doc in docs:
        validate_emf(doc)


def test_event_issue_time_rules():
    now = pd.Timestamp("2026-11-21T00:00:00Z")
    assert parse_event({}, now) == now
    assert parse_event({"issue_time": "2026-11-20T23:30:00Z"}, now) == ISSUE
    for bad, msg in (({"issue_time": "2026-11-20T23:30"}, "UTC offset"), ({"issue_time": "2026-11-22T00:00Z"}, "future"),
                     ({"issue_time": "yesterday"}, "ISO 8601"), ([], "JSON object"),
                     ({"issue_tme": "2026-11-20T23:30:00Z"}, "issue_tme: unknown key")):
        with pytest.raises(InvalidEvent, match=msg):
            parse_event(bad, now)


def test_handler_parses_the_event_before_any_work(monkeypatch):
    """The delegate shape: a bad event is InvalidEvent (not retried as transient) before config or provider."""
    import edf.weather.lambda_handler as lh

    monkeypatch.setattr(lh, "load_config", lambda *_a: pytest.fail("the event must be rejected first"))
    with pytest.raises(InvalidEvent, match="WeatherFetchEvent: issue_time"):
        _handler()({"issue_time": "2026-11-20T23:30"}, None)
    assert WeatherFetchEvent.parse(None).issue_time is None  # the schedule's {} (or nothing) means now


# ---------------------------------------------------------------- the Lambda, on moto S3
@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """Config file (provider pointed at the local fake), buckets and topology in moto S3."""
    with fake() as server, mock_aws():
        raw = yaml.safe_load((REPO / "config/edf_config.yaml").read_text())
        raw["edf_weather"]["open_meteo"]["base_url"] = server.url
        raw["edf_weather"]["backoff_base_seconds"] = 0.0
        path = tmp_path / "edf_config.yaml"
        path.write_text(yaml.safe_dump(raw))
        cfg = load_config(path)
        s3 = boto3.client("s3", region_name=cfg.aws_region)
        s3.create_bucket(Bucket=cfg.raw_bucket, CreateBucketConfiguration={"LocationConstraint": cfg.aws_region})
        topo_uri = cfg.s3_path("s3_raw_calendar_path") + "topology.csv"
        s3.put_object(Bucket=cfg.raw_bucket, Key=topo_uri.split("/", 3)[3], Body=TOPOLOGY.iloc[:4].to_csv(index=False))
        monkeypatch.setenv("EDF_CONFIG_URI", str(path))
        yield cfg, server, s3


def _handler():
    spec = importlib.util.spec_from_file_location("weather_fetcher_handler", REPO / "lambdas/weather_fetcher/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_lambda_writes_the_forecast_to_s3_and_prints_its_metrics(deployed, capsys):
    cfg, server, s3 = deployed
    summary = _handler()({"issue_time": ISSUE.isoformat(), "correlation_id": "weather-test-1"}, None)
    assert summary["cells"] == 2 and summary["cells_failed"] == 0 and summary["buildings"] == 4
    assert summary["uri"] == cfg.s3_path("s3_raw_weather_fcst_path") + \
        "issue_date=2026-11-20/weather_forecast_20261120T233000Z.parquet"
    assert len(read_weather_file(summary["uri"])) == 4 * cfg.edf_weather.fetch_hours
    out = capsys.readouterr().out
    logs = [json.loads(line) for line in out.splitlines() if '"correlation_id"' in line]
    assert any(r["message"] == "weather fetch finished" and r["correlation_id"] == "weather-test-1" and
               r["service"] == "edf-weather-fetcher" for r in logs)
    docs = [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]
    assert docs and value(docs[0], "FetchFailures") == 0 and value(docs[0], "CellsFetched") == 2
    assert docs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == cfg.edf_weather.metrics_namespace


def test_lambda_raises_when_nothing_was_fetched_but_still_emits_metrics(deployed):
    cfg, server, _ = deployed
    for lat in (52.5, 48.8):
        server.inject(lat, *["500"] * cfg.edf_weather.max_attempts)
    lines: list[str] = []
    with pytest.raises(WeatherFetchError, match="2 failed"):
        fetch_once(cfg, ISSUE, emit=lines.append)
    doc = json.loads(lines[0])
    assert [value(doc, k) for k in ("FetchFailures", "CellsFailed", "ProviderErrors")] == \
        [1, 2, 2 * cfg.edf_weather.max_attempts]


def test_lambda_setup_failure_emits_a_fetch_failure(deployed, monkeypatch):
    cfg, _, _ = deployed
    monkeypatch.delenv("EDF_WEATHER_SECRET_ID", raising=False)
    keyed = cfg.model_copy(update={"edf_weather": cfg.edf_weather.model_copy(update={"provider": "open_meteo_customer"})})
    lines: list[str] = []
    with pytest.raises(Exception, match="needs a key"):
        fetch_once(keyed, ISSUE, emit=lines.append)
    assert value(json.loads(lines[0]), "FetchFailures") == 1


def test_cli_fetch_with_the_file_provider_then_validate(tmp_path, topology, capsys):
    from edf.cli import main
    from edf.data.io import write_parquet
    from edf_local.weather import RECORDED_FORECAST

    topo = tmp_path / "topology.csv"
    topology.to_csv(topo, index=False)  # the bundled homes (Fontana) and the SERF array (Golden, not recorded)
    code = main(["weather", "fetch", "--provider", "file", "--file", str(RECORDED_FORECAST), "--topology", str(topo),
                 "--output", str(tmp_path / "wf"), "--issue-time", "2017-08-01T23:30:00Z"])
    out = capsys.readouterr().out  # (log lines may share stdout when an earlier test installed JSON logging)
    summary = json.loads(out[out.index('{\n  "issue_time"'):].split("\n}\n", 1)[0] + "\n}")
    assert code == 1  # the SERF array's cell is not in the recording: reported, and the exit code says so
    assert summary["cells_fetched"] == 1 and summary["failure_kinds"] == {"not_recorded": 1}
    assert summary["provider"] == "file:open_meteo_fontana.json" and summary["buildings"] == 17
    assert main(["weather", "validate", str(tmp_path / "wf")]) == 0
    assert "VALID" in capsys.readouterr().out
    write_parquet(read_weather_file(summary["uri"]).assign(humidity=0.5 * 300), tmp_path / "bad" / "x.parquet")
    assert main(["weather", "validate", str(tmp_path / "bad")]) == 1
    assert "[out_of_range] column 'humidity'" in capsys.readouterr().out
