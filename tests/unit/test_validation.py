"""The data contract: each violation is detected with its rule, column and offending rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edf.cli import main
from edf.data.validation import ContractViolation, require_valid, validate_processed


def good_frame(hours: int = 48) -> pd.DataFrame:
    ts = pd.date_range("2024-03-01", periods=hours, freq="h", tz="UTC")
    frames = []
    for bid in ("b-1", "b_2"):
        frames.append(pd.DataFrame({
            "building_id": bid, "timestamp_hour": ts, "consumption_kwh": np.linspace(0.5, 2.0, hours),
            "solar_generation_kwh": np.r_[np.zeros(hours // 2), np.ones(hours - hours // 2)],
            "temperature_c": 10.0, "solar_irradiance_ghi": 100.0, "humidity": 60.0, "is_holiday_flag": 0,
        }))
    return pd.concat(frames, ignore_index=True)


def rules(report) -> set[str]:
    return {f.rule for f in report.errors}


def test_good_frame_is_valid():
    report = validate_processed(good_frame())
    assert report.ok, report.render()
    assert report.rows == 96 and report.buildings == 2


def test_bundled_real_data_is_valid(homes):
    assert validate_processed(homes).ok
    from edf.data.bundled import load_solar

    assert validate_processed(load_solar(), target="solar_generation_kwh").ok
    # the PV array has no building load, so it is not a demand dataset
    assert "null_in_required" in rules(validate_processed(load_solar()))


def test_missing_column():
    report = validate_processed(good_frame().drop(columns=["humidity"]))
    finding = next(f for f in report.errors if f.rule == "missing_column")
    assert finding.column == "humidity"


def test_wrong_type_reports_dtype():
    df = good_frame()
    df["consumption_kwh"] = df["consumption_kwh"].astype(str)
    finding = next(f for f in validate_processed(df).errors if f.rule == "wrong_type")
    assert finding.column == "consumption_kwh" and "expected double" in finding.message


def test_nulls_in_required_with_examples():
    df = good_frame()
    df.loc[[3, 7, 11, 20, 21, 22, 23], "is_holiday_flag"] = np.nan
    finding = next(f for f in validate_processed(df).errors if f.rule == "null_in_required")
    assert finding.column == "is_holiday_flag" and finding.count == 7
    assert len(finding.examples) == 5 and finding.examples[0]["row"] == 3


@pytest.mark.parametrize("target", ["consumption_kwh", "solar_generation_kwh"])
def test_null_target_values_are_gaps_counted_as_a_warning(target):
    """A real meter has gaps: null target values are a warning with their count, not a violation."""
    df = good_frame()
    df.loc[[3, 7, 11, 20, 21, 22, 23], target] = np.nan
    report = validate_processed(df, target=target)
    assert report.ok, report.render()
    finding = next(f for f in report.warnings if f.rule == "missing_target")
    assert finding.column == target and finding.count == 7 and finding.examples[0]["row"] == 3
    assert "7 null target value(s)" in finding.message
    # a target with no value at all is still an error: nothing to train or score
    df[target] = np.nan
    assert "null_in_required" in rules(validate_processed(df, target=target))


def test_declared_covariates_are_optional_numeric_columns():
    df = good_frame()
    assert validate_processed(df, covariates=["wind_speed_ms"]).ok  # declared but absent: fine
    df["wind_speed_ms"] = np.linspace(0, 12, len(df))
    assert validate_processed(df, covariates=["wind_speed_ms"]).ok
    df.loc[4, "wind_speed_ms"] = np.inf
    assert "non_finite" in rules(validate_processed(df, covariates=["wind_speed_ms"]))
    df["wind_speed_ms"] = "strong"
    finding = next(f for f in validate_processed(df, covariates=["wind_speed_ms"]).errors if f.rule == "wrong_type")
    assert finding.column == "wind_speed_ms"


def test_duplicates():
    df = good_frame()
    df = pd.concat([df, df.iloc[[5]]], ignore_index=True)
    finding = next(f for f in validate_processed(df).errors if f.rule == "duplicate_key")
    assert finding.count == 2 and finding.examples[0]["building_id"] == "b-1"


def test_not_hour_aligned():
    df = good_frame()
    df.loc[4, "timestamp_hour"] = df.loc[4, "timestamp_hour"] + pd.Timedelta(minutes=15)
    finding = next(f for f in validate_processed(df).errors if f.rule == "timestamp_not_hour_aligned")
    assert finding.count == 1 and finding.examples[0]["timestamp_hour"].startswith("2024-03-01 04:15")


@pytest.mark.parametrize("tz", [None, "Europe/Berlin"])
def test_not_utc(tz):
    df = good_frame()
    df["timestamp_hour"] = df["timestamp_hour"].dt.tz_convert(tz) if tz else df["timestamp_hour"].dt.tz_localize(None)
    finding = next(f for f in validate_processed(df).errors if f.rule == "timestamp_not_utc")
    assert ("naive" if tz is None else tz) in finding.message


def test_non_finite():
    df = good_frame()
    df.loc[2, "temperature_c"] = np.inf
    df.loc[9, "consumption_kwh"] = -np.inf
    found = {f.column for f in validate_processed(df).errors if f.rule == "non_finite"}
    assert found == {"temperature_c", "consumption_kwh"}


@pytest.mark.parametrize("bad_id", ["has space", "x" * 65, "semi;colon", ""])
def test_invalid_building_id(bad_id):
    df = good_frame()
    df.loc[df.building_id == "b_2", "building_id"] = bad_id
    finding = next(f for f in validate_processed(df).errors if f.rule == "invalid_building_id")
    assert finding.count == 48


def test_holiday_flag_and_negative_generation():
    df = good_frame()
    df.loc[1, "is_holiday_flag"] = 2
    df.loc[2, "solar_generation_kwh"] = -0.5
    assert {"not_0_1", "negative_generation"} <= rules(validate_processed(df))


def test_net_export_and_gaps_are_warnings_with_size():
    df = good_frame()
    df.loc[5, "consumption_kwh"] = -0.3
    df = df.drop(index=list(range(10, 16))).reset_index(drop=True)  # 6 missing hours in b-1
    report = validate_processed(df)
    assert report.ok
    warnings = {f.rule: f for f in report.warnings}
    assert warnings["net_export"].count == 1
    assert warnings["missing_hours"].examples[0] == {"building_id": "b-1", "missing_hours": 6, "largest_gap_hours": 6}
    assert "6 missing hour(s) in 1 gap(s)" in warnings["missing_hours"].message


def test_require_valid_raises_with_rendered_report():
    df = good_frame()
    df.loc[0, "building_id"] = "bad id"
    with pytest.raises(ContractViolation, match=r"\[invalid_building_id\] column 'building_id'"):
        require_valid(df)


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.parquet"
    bad = tmp_path / "bad.parquet"
    from edf.data.io import write_parquet

    write_parquet(good_frame(), good)
    df = good_frame()
    df.loc[0, "is_holiday_flag"] = np.nan
    write_parquet(df, bad)
    gappy = good_frame()
    gappy.loc[[0, 5], "consumption_kwh"] = np.nan
    write_parquet(gappy, tmp_path / "gappy.parquet")
    assert main(["data", "validate", str(good)]) == 0
    assert main(["data", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "[null_in_required] column 'is_holiday_flag'" in out and "row=0" in out
    assert main(["data", "validate", str(tmp_path / "gappy.parquet")]) == 0
    assert "WARNING [missing_target] column 'consumption_kwh'" in capsys.readouterr().out
    assert main(["data", "validate", str(tmp_path / "missing.parquet")]) == 2
    assert "no such file" in capsys.readouterr().err


# ------------------------------------------------------------------ issue 14, item 10
def test_mixed_id_types_in_one_hour_are_rejected():
    """123 and '123' in the same hour used to pass as VALID: two keys that print the same."""
    df = good_frame(hours=2)
    df["building_id"] = df["building_id"].astype(object)
    df.loc[df["building_id"] == "b-1", "building_id"] = 123
    df.loc[df["building_id"] == "b_2", "building_id"] = "123"
    report = validate_processed(df)
    assert not report.ok
    finding = next(f for f in report.errors if f.rule == "mixed_id_types")
    assert finding.count == 2 and "int" in finding.message and "str" in finding.message


def test_non_string_ids_in_an_object_column_are_rejected():
    df = good_frame(hours=2)
    df["building_id"] = df["building_id"].map({"b-1": 1, "b_2": 2}).astype(object)
    assert "non_string_id" in rules(validate_processed(df))


@pytest.mark.parametrize(("column", "value"), [
    ("temperature_c", 85.0), ("temperature_c", -120.0), ("solar_irradiance_ghi", 5000.0),
    ("solar_irradiance_ghi", -50.0), ("humidity", 140.0), ("humidity", -1.0),
])
def test_weather_outside_physical_range_is_an_error(column, value):
    df = good_frame()
    df.loc[[3, 9], column] = value
    finding = next(f for f in validate_processed(df).errors if f.rule == "out_of_physical_range")
    assert finding.column == column and finding.count == 2
    assert [e["row"] for e in finding.examples] == [3, 9]


def test_weather_at_the_physical_limits_is_valid():
    df = good_frame()
    df.loc[0, "temperature_c"], df.loc[1, "temperature_c"] = -89.0, 56.0
    df.loc[2, "solar_irradiance_ghi"], df.loc[3, "solar_irradiance_ghi"] = -5.0, 1842.0  # night offset, bundled peak
    df.loc[4, "humidity"], df.loc[5, "humidity"] = 0.0, 100.0
    assert validate_processed(df).ok


def test_implausible_consumption_jump_is_warned_and_kept():
    df = good_frame()
    df.loc[10, "consumption_kwh"] = 9999.0  # a meter spike in building b-1
    report = validate_processed(df)
    assert report.ok  # a warning: the value is kept as measured and counted
    finding = next(f for f in report.warnings if f.rule == "implausible_consumption_jump")
    assert finding.count == 2  # the step up into the spike and the step back down
    assert {e["row"] for e in finding.examples} == {10, 11}


def test_normal_load_changes_are_not_jumps(homes):
    report = validate_processed(homes)
    assert "implausible_consumption_jump" not in {w.rule for w in report.warnings}
