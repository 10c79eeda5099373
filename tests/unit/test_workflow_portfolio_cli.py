"""`edf workflow run --data/--topology/--synthetic`: bad input stops before anything runs, with the reason.

Every case here must fail before the emulated AWS starts: ``LocalRuntime`` is replaced by a class
that fails the test if it is ever constructed.
"""

from __future__ import annotations

import pandas as pd
import pytest

from edf.cli import main
from edf.data.io import write_parquet
from edf_local import portfolio as pf


@pytest.fixture(autouse=True)
def no_runtime(monkeypatch):
    import edf_local.runtime as runtime_mod

    class Forbidden:
        def __init__(self, *a, **k):
            raise AssertionError("the local runtime must not start for invalid input")

    monkeypatch.setattr(runtime_mod, "LocalRuntime", Forbidden)


def _run(capsys, *args) -> tuple[int, str]:
    code = main(["workflow", "run", "training", *args])
    return code, capsys.readouterr().err


def _portfolio(tmp_path, buildings=("b1", "b2"), bad_value=False):
    hours = pd.date_range("2024-01-01", periods=24 * 10, freq="h", tz="UTC")
    rows = pd.DataFrame({"building_id": [b for b in buildings for _ in hours],
                         "timestamp_hour": list(hours) * len(buildings), "consumption_kwh": 1.0,
                         "solar_generation_kwh": None, "temperature_c": None, "solar_irradiance_ghi": None,
                         "humidity": None, "is_holiday_flag": 0})
    if bad_value:
        rows.loc[3, "is_holiday_flag"] = 7
    write_parquet(rows, tmp_path / "data.parquet")
    topo = pd.DataFrame({"building_id": ["b1"], "grid_area": ["north"], "latitude": [52.5], "longitude": [13.4],
                         "timezone": ["Europe/Berlin"], "pv_capacity_kw": [0.0], "building_type": ["residential"]})
    topo.to_csv(tmp_path / "topology.csv", index=False)
    return tmp_path / "data.parquet", tmp_path / "topology.csv"


def test_missing_data_path_is_named(tmp_path, capsys):
    code, err = _run(capsys, "--data", str(tmp_path / "nope.parquet"), "--topology", str(tmp_path / "t.csv"))
    assert code == 2 and "nope.parquet: no such file or directory" in err


def test_data_needs_a_topology_and_topology_needs_data(tmp_path, capsys):
    data, topo = _portfolio(tmp_path)
    assert "--data needs --topology" in _run(capsys, "--data", str(data))[1]
    assert "--topology goes with --data" in _run(capsys, "--topology", str(topo))[1]


def test_contract_violation_is_reported_with_the_rule(tmp_path, capsys):
    data, topo = _portfolio(tmp_path, bad_value=True)
    code, err = _run(capsys, "--data", str(data), "--topology", str(topo))
    assert code == 2 and "breaks the data contract" in err and "is_holiday_flag" in err


def test_buildings_without_topology_are_named(tmp_path, capsys):
    data, topo = _portfolio(tmp_path)
    code, err = _run(capsys, "--data", str(data), "--topology", str(topo))
    assert code == 2 and "have no topology row" in err and "b2" in err


@pytest.mark.parametrize("spec", ["300", "x45", "10x3", "axb"])
def test_bad_synthetic_spec(capsys, spec):
    code, err = _run(capsys, "--synthetic", spec)
    assert code == 2 and "--synthetic" in err


def test_valid_inputs_build_a_portfolio(tmp_path):
    data, topo = _portfolio(tmp_path, buildings=("b1",))
    built = pf.from_files(data, topo)
    assert built.buildings == 1 and "b1" in set(built.topology["building_id"])
    assert pf.parse_synthetic("300x45") == (300, 45)
    small = pf.synthetic("3x10")
    assert small.buildings == 3 and small.label.startswith("SYNTHETIC")
