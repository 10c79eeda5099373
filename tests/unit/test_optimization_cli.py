"""`edf optimize` CLI: help, the appliance ranking, and clear errors for bad input."""

from __future__ import annotations

import pytest

from edf.cli import main


def test_best_hours_prints_the_ranking(capsys):
    assert main(["optimize", "best-hours", "--demand", "1,1,1,1", "--solar", "0,3,0.5,2",
                 "--price", "0.2,0.3,0.1,0.3", "--top-n", "2"]) == 0
    assert capsys.readouterr().out.strip() == "1 3"


def test_best_hours_rejects_mismatched_lengths(capsys):
    assert main(["optimize", "best-hours", "--demand", "1,1,1", "--solar", "0,0"]) != 0
    assert "solar_kwh has 2 hours" in capsys.readouterr().err


def test_run_names_a_missing_input(tmp_path, capsys):
    code = main(["optimize", "run", "--forecasts", str(tmp_path / "nope"), "--topology", str(tmp_path),
                 "--output", str(tmp_path / "out")])
    assert code != 0
    assert "--forecasts" in capsys.readouterr().err


@pytest.mark.parametrize("sub", ["run", "best-hours"])
def test_help_exists(sub, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["optimize", sub, "--help"])
    assert exc.value.code == 0
    assert "usage" in capsys.readouterr().out
