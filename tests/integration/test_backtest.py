"""`edf backtest`: the JSON shape, the protocol and the errors an analyst sees."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from edf.cli import main
from edf.data.io import write_parquet


@pytest.fixture(scope="module")
def small_file(homes, tmp_path_factory):
    start = pd.Timestamp("2017-05-01", tz="UTC")
    sub = homes[homes.building_id.isin(["citylearn-04", "citylearn-05"]) & (homes.timestamp_hour >= start)
                & (homes.timestamp_hour < start + pd.Timedelta(days=20))]
    path = tmp_path_factory.mktemp("bt") / "homes.parquet"
    write_parquet(sub, path)
    return path


def test_missing_file_is_a_sentence(capsys, tmp_path):
    assert main(["backtest", "--data", str(tmp_path / "nope.parquet"), "--strategy", "persistence"]) == 2
    assert "no such file or directory" in capsys.readouterr().err


def test_contract_violation_is_reported(capsys, homes, tmp_path):
    bad = homes.head(100).copy()
    bad["consumption_kwh"] = None
    write_parquet(bad, tmp_path / "bad.parquet")
    assert main(["backtest", "--data", str(tmp_path / "bad.parquet"), "--strategy", "persistence"]) == 2
    err = capsys.readouterr().err
    assert "breaks the data contract" in err and "consumption_kwh" in err


@pytest.mark.slow
@pytest.mark.spark
def test_too_little_history(capsys, small_file, spark):
    assert main(["backtest", "--data", str(small_file), "--strategy", "persistence", "--days", "15"]) == 2
    assert "too little history" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.spark
def test_backtest_json_shape_and_protocol(capsys, small_file, tmp_path, spark):
    out = tmp_path / "metrics.json"
    assert main(["backtest", "--data", str(small_file), "--strategy", "xgboost", "--horizon-hours", "24",
                 "--days", "3", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "weather=observed" in printed and "xgboost" in printed and "persistence" in printed
    doc = json.loads(out.read_text())
    assert {"target", "horizon_hours", "origins", "weather", "results"} <= set(doc)
    assert doc["weather"] == "observed" and doc["horizon_hours"] == 24
    # data ends 2017-05-20 23:00 UTC: the last origin whose 24 h fit inside is 05-20 00:00
    assert doc["origins"] == ["2017-05-18T00:00:00Z", "2017-05-19T00:00:00Z", "2017-05-20T00:00:00Z"]
    assert set(doc["results"]) == {"xgboost", "seasonal_naive", "persistence"}
    for res in doc["results"].values():
        assert {"aggregate", "per_building", "train_seconds", "predict_seconds"} <= set(res)
        assert set(res["per_building"]) == {"citylearn-04", "citylearn-05"}
        assert 0 <= res["aggregate"]["coverage"] <= 1
        assert res["per_building"]["citylearn-04"]["n"] == 3 * 24  # every scored hour has an actual


@pytest.fixture(scope="module")
def gappy_pv(tmp_path_factory):
    """The real SERF PV array, 24 days, with 5 % of its target hours set to null (meter gaps)."""
    import numpy as np

    from edf.data import bundled

    solar = bundled.load_solar()
    start = solar.timestamp_hour.min()
    sub = solar[solar.timestamp_hour < start + pd.Timedelta(days=24)].reset_index(drop=True)
    rng = np.random.default_rng(5)
    gaps = rng.choice(len(sub), size=int(0.05 * len(sub)), replace=False)
    sub.loc[gaps, "solar_generation_kwh"] = None
    path = tmp_path_factory.mktemp("gappy") / "pv.parquet"
    write_parquet(sub, path)
    return path, sub


@pytest.mark.slow
@pytest.mark.spark
def test_pv_file_with_null_target_hours_backtests_and_never_scores_them(capsys, gappy_pv, tmp_path, spark):
    path, data = gappy_pv
    out = tmp_path / "pv.json"
    assert main(["backtest", "--data", str(path), "--target", "solar_generation_kwh", "--strategy", "xgboost",
                 "--horizon-hours", "24", "--days", "3", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[missing_target]" in printed or "null target value" in printed  # the gap warning is shown
    doc = json.loads(out.read_text())
    first = pd.Timestamp(doc["origins"][0])
    window = data[(data.timestamp_hour >= first) & (data.timestamp_hour < first + pd.Timedelta(days=3))]
    gaps = int(window.solar_generation_kwh.isna().sum())
    assert gaps > 0  # the gaps reach the scored window, so the assertions below can fail
    for name in ("xgboost", "persistence", "seasonal_naive"):
        res = doc["results"][name]
        (building, per), = res["per_building"].items()
        assert per["n_missing"] == gaps and res["aggregate"]["missing_hours"] == gaps
        assert per["n"] == 3 * 24 - gaps  # only measured hours are scored
        assert 0 <= per["coverage"] <= 1 and per["rmse"] is not None
    assert f"hours without an actual (meter gaps, never scored): {gaps}" in printed


@pytest.mark.slow
@pytest.mark.spark
def test_refit_every_days_mirrors_a_retraining_cadence(small_file, tmp_path, spark):
    out = tmp_path / "refit.json"
    assert main(["backtest", "--data", str(small_file), "--strategy", "persistence", "--horizon-hours", "24",
                 "--days", "3", "--refit-every-days", "2", "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["refit_every_days"] == 2
    assert doc["results"]["persistence"]["fits"] == 2  # origins 1-2 share a fit, origin 3 gets its own
    assert set(doc["results"]["persistence"]["by_lead_bucket"]) == {"0-24"}
