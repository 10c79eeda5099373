"""`edf monitor` on files: report folder with table and PNG plots; forecast sources."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from edf.data.io import write_parquet
from edf.monitoring import sources
from edf.storage.base import BuildingInfo, ForecastPoint

ORIGIN = pd.Timestamp("2026-11-08", tz="UTC")


def _data(horizon=72):
    hours = pd.date_range(ORIGIN - pd.Timedelta(days=7), ORIGIN + pd.Timedelta(hours=horizon), freq="h",
                          inclusive="left")
    actual_rows, fc_rows = [], []
    rng = np.random.default_rng(3)
    for i, (b, area) in enumerate({"h1": "g1", "h2": "g1", "h3": "g2"}.items()):
        y = 1 + i + 0.5 * np.sin(2 * np.pi * hours.hour / 24) + rng.normal(0, 0.1, len(hours))
        actual_rows.append(pd.DataFrame({"building_id": b, "timestamp_hour": hours, "consumption_kwh": y,
                                         "solar_generation_kwh": np.nan}))
        for lead in range(horizon):
            ts = ORIGIN + pd.Timedelta(hours=lead)
            truth = y[hours.get_loc(ts)]
            yhat = truth + (0.05 + 0.01 * lead) * (i + 1)
            fc_rows.append({"building_id": b, "grid_area": area, "series": "consumption", "timestamp_hour": ts,
                            "origin_time": ORIGIN, "lead_hours": np.int32(lead), "yhat": yhat, "yhat_lower": yhat - 0.3,
                            "yhat_upper": yhat + 0.3, "strategy": "xgboost", "model_version": "pkg/1",
                            "issue_time": ORIGIN + pd.Timedelta(hours=5), "run_id": "edf-2026-11-08"})
    actuals = pd.concat(actual_rows, ignore_index=True)
    # the last 12 hours of h3 are not released yet
    actuals = actuals[~((actuals.building_id == "h3") & (actuals.timestamp_hour >= ORIGIN + pd.Timedelta(hours=60)))]
    return pd.DataFrame(fc_rows), actuals


def test_edf_monitor_writes_report(tmp_path, capsys):
    from edf.cli import main

    forecasts, actuals = _data()
    run_dir = tmp_path / "forecast-output" / "EDFInferenceWorkflow-dev" / "exec-1" / "forecasts"
    write_parquet(forecasts, run_dir / "forecasts.parquet")
    write_parquet(actuals, tmp_path / "processed" / "part.parquet")
    out = tmp_path / "report"
    rc = main(["monitor", "--forecasts", str(tmp_path / "forecast-output"), "--processed",
               str(tmp_path / "processed"), "--output", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| ALL | 48-72 |" in printed
    for name in ("report.md", "accuracy.parquet", "accuracy.csv", "error_by_lead.png", "worst_buildings.png",
                 "emf.jsonl", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    for png in ("error_by_lead.png", "worst_buildings.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_parquet(out / "accuracy.parquet")
    overall = table[(table.level == "overall") & (table.series == "consumption")].set_index("lead_bucket")
    assert list(overall.index) == ["0-24", "24-48", "48-72", "all"]
    # error grows with lead in this data: the tracker must see it
    assert overall.loc["0-24", "rmse"] < overall.loc["24-48", "rmse"] < overall.loc["48-72", "rmse"]
    assert overall.loc["48-72", "n_missing_actual"] == 12 and overall.loc["0-24", "n_missing_actual"] == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["missing_actual_rows"] == 12
    assert [v["day"] for v in summary["drift_verdicts"]] == ["2026-11-08", "2026-11-09", "2026-11-10"]
    report = (out / "report.md").read_text()
    assert "h3" in report  # the worst building (largest errors) is listed


def test_edf_monitor_errors_are_sentences(tmp_path, capsys):
    from edf.cli import main

    rc = main(["monitor", "--forecasts", str(tmp_path / "nope"), "--output", str(tmp_path / "r")])
    assert rc == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_parquet_source_keeps_the_newest_rerun_of_a_run(tmp_path):
    forecasts, _ = _data(horizon=4)
    write_parquet(forecasts, tmp_path / "a" / "forecasts.parquet")
    rerun = forecasts.assign(yhat=forecasts.yhat + 1, issue_time=forecasts.issue_time + pd.Timedelta(hours=2))
    write_parquet(rerun, tmp_path / "b" / "forecasts.parquet")
    other = forecasts.assign(run_id="edf-2026-11-07", lead_hours=forecasts.lead_hours + 24)
    write_parquet(other, tmp_path / "c" / "forecasts.parquet")
    got = sources.read_forecasts_parquet(str(tmp_path), ORIGIN, ORIGIN + pd.Timedelta(hours=2), 72)
    assert len(got) == 3 * 2 * 2  # 3 buildings x 2 hours x 2 runs (the re-run replaced, not added)
    same = got[got.run_id == "edf-2026-11-08"].sort_values(["building_id", "timestamp_hour"])
    expected = rerun[rerun.timestamp_hour < ORIGIN + pd.Timedelta(hours=2)].sort_values(["building_id", "timestamp_hour"])
    assert np.allclose(same.yhat.to_numpy(), expected.yhat.to_numpy())


class FakeStore:
    backend = "FAKE"

    def list_buildings(self, grid_areas):
        assert grid_areas == ["g1"]
        return [BuildingInfo("h1", "g1", ("consumption",))]

    def building_series(self, building_id, series, start, end):
        issue = dt.datetime(2026, 11, 8, 5, 12, tzinfo=dt.UTC)
        return [ForecastPoint(start + dt.timedelta(hours=h), 1.0, 0.5, 1.5, issue, "pkg/1", "edf-2026-11-08")
                for h in range(7, 9)]


def test_store_source_derives_lead_from_issue_time():
    got = sources.read_forecasts_store(FakeStore(), ["g1"], ORIGIN, ORIGIN + pd.Timedelta(days=1))
    assert list(got.lead_hours) == [2, 3]  # 07:00 and 08:00 after an issue at 05:12 (floored to 05:00)
    assert set(got.grid_area) == {"g1"} and list(got.columns)[:3] == ["building_id", "grid_area", "series"]


def test_missing_forecasts_location_is_a_clear_error(tmp_path):
    with pytest.raises(sources.SourceError, match="no such file or directory"):
        sources.read_forecasts_parquet(str(tmp_path / "missing"), ORIGIN, ORIGIN + pd.Timedelta(days=1), 72)


class _Execution:
    def __init__(self, output, succeeded=True):
        self.output, self.succeeded, self.error, self.cause = output, succeeded, None, None


class FakeRuntime:
    """Stands in for edf_local.runtime.LocalRuntime: records the workflow runs the command asks for."""

    runs: list = []

    def __init__(self, config_path=None, buildings=None, workdir=None):
        from edf.config import load_config

        self.cfg = load_config(config_path)
        self.region = self.cfg.aws_region
        self.processed_last_day = "2026-11-11"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def run(self, workflow, run_input):
        FakeRuntime.runs.append((workflow, dict(run_input)))
        if workflow == "training":
            return _Execution({"registration": {"model_package_arn": "arn:aws:sagemaker:r:1:model-package/g/1"}})
        return _Execution({})


def test_edf_monitor_local_holds_back_days_and_scores_the_run(tmp_path, monkeypatch, capsys):
    """The --local wiring: train, approve, infer `hold-back-days` before the data end, score that run."""
    import edf.commands.models as models_cmd
    import edf_local.runtime as runtime_mod
    from edf.cli import main

    forecasts, actuals = _data()
    approvals = []
    FakeRuntime.runs = []
    monkeypatch.setattr(runtime_mod, "LocalRuntime", FakeRuntime)
    monkeypatch.setattr(models_cmd, "decide", lambda arn, status, *_: approvals.append((arn, status)) or {})
    seen = {}

    def fake_forecasts(prefix, *args, **kwargs):
        seen["prefix"] = prefix
        return forecasts

    monkeypatch.setattr(sources, "read_forecasts_parquet", fake_forecasts)
    monkeypatch.setattr(sources, "read_actuals", lambda src, *a: actuals if isinstance(src, str) else src)
    import boto3

    monkeypatch.setattr(boto3, "client", lambda *a, **k: object())
    rc = main(["local", "monitor", "--buildings", "h1", "--hold-back-days", "3", "--strategy", "xgboost",
               "--output", str(tmp_path / "r")])
    assert rc == 0
    # training ends where the held-back days start: the model never sees the actuals it is scored on
    assert FakeRuntime.runs == [("training", {"end_date": "2026-11-08", "strategy": "xgboost"}),
                                ("inference", {"inference_date": "2026-11-08"})]
    assert approvals == [("arn:aws:sagemaker:r:1:model-package/g/1", "Approved")]
    assert seen["prefix"].endswith("/forecast-output/")
    assert (tmp_path / "r" / "report.md").read_text().startswith("# EDF forecast accuracy — local run")
