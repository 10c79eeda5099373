"""The ValidateSchema entrypoint: report always written, failure reason on invalid data, window applied."""

from __future__ import annotations

import json

import pandas as pd

from edf.data.io import write_parquet
from edf.jobs import validate


def _homes(homes, n_days=10):
    frame = homes[homes["building_id"] == "citylearn-01"].head(24 * n_days).copy()
    return frame.reset_index(drop=True)


def test_valid_data_writes_the_report_and_exits_zero(tmp_path, homes, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt"))
    write_parquet(_homes(homes), tmp_path / "in" / "part.parquet")
    code = validate.main(["--processed", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "validation_report.json").read_text())
    assert code == 0 and report["valid"] is True and report["rows"] == 240
    assert not (tmp_path / "opt" / "output" / "failure").exists()


def test_invalid_data_fails_with_the_rendered_report_as_reason(tmp_path, homes, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt"))
    bad = _homes(homes).drop(columns=["consumption_kwh"])
    write_parquet(bad, tmp_path / "in" / "part.parquet")
    code = validate.main(["--processed", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    assert code == 1
    reason = (tmp_path / "opt" / "output" / "failure").read_text()
    assert "consumption_kwh" in reason and "data contract" in reason
    assert json.loads((tmp_path / "out" / "validation_report.json").read_text())["valid"] is False


def test_training_window_limits_what_is_validated(tmp_path, homes, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt"))
    frame = _homes(homes)
    start = frame["timestamp_hour"].min().normalize() + pd.Timedelta(days=2)
    write_parquet(frame, tmp_path / "in" / "part.parquet")
    overrides = {"edf_training": {"train_start_date": start.date().isoformat()}}
    code = validate.main(["--processed", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                          "--overrides", json.dumps(overrides)])
    report = json.loads((tmp_path / "out" / "validation_report.json").read_text())
    assert code == 0 and report["rows"] < 240 and report["window"]["start"] == start.date().isoformat()


def test_empty_input_is_a_clear_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt"))
    (tmp_path / "in").mkdir()
    assert validate.main(["--processed", str(tmp_path / "in"), "--output", str(tmp_path / "out")]) == 1
    assert "no Parquet files" in (tmp_path / "opt" / "output" / "failure").read_text()


def test_null_target_values_are_a_counted_warning_like_the_cli(tmp_path, homes, monkeypatch, capsys):
    """ValidateSchema and `edf data validate` agree: meter gaps (null target) pass with a counted warning."""
    from edf.cli import main

    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path / "opt"))
    frame = _homes(homes)
    frame.loc[frame.index[::20], "consumption_kwh"] = None  # 12 of 240 rows
    write_parquet(frame, tmp_path / "in" / "part.parquet")
    code = validate.main(["--processed", str(tmp_path / "in"), "--output", str(tmp_path / "out")])
    report = json.loads((tmp_path / "out" / "validation_report.json").read_text())
    assert code == 0 and report["valid"] is True
    gap = next(w for w in report["warnings"] if w["rule"] == "missing_target")
    assert gap["count"] == 12 and gap["column"] == "consumption_kwh"
    assert main(["data", "validate", str(tmp_path / "in")]) == 0
    assert "[missing_target] column 'consumption_kwh'" in capsys.readouterr().out
