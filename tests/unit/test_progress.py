"""Progress on long work: plain lines off a terminal, a redrawn bar on one; workflow states; features stages."""

from __future__ import annotations

import io
import re

import pytest

from edf.cli import main
from edf.progress import Progress
from edf_local.progress import WorkflowProgress, success_path_states
from edf_local.stepfunctions import LocalStepFunctions


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_the_output_is_not_a_terminal(capsys):
    clock, stream = Clock(), io.StringIO()
    with Progress("backtest", 7, stream=stream, clock=clock) as progress:
        assert progress.interactive is False
        for what in ("features built", "xgboost fitted", "xgboost scored"):
            clock.now += 14
            progress.step(what)
        progress.print("a table line")
    lines = stream.getvalue().splitlines()
    assert lines == ["[progress] backtest: 1/7 done (features built), 0:14 elapsed, ~1:24 left",
                     "[progress] backtest: 2/7 done (xgboost fitted), 0:28 elapsed, ~1:10 left",
                     "[progress] backtest: 3/7 done (xgboost scored), 0:42 elapsed, ~0:56 left"]
    assert "\r" not in stream.getvalue()
    assert capsys.readouterr().out == "a table line\n"


def test_a_terminal_gets_a_redrawn_bar_with_the_time_left():
    stream = Terminal()
    with Progress("backtest", 4, stream=stream) as progress:
        assert progress.interactive is True
        progress.step("features built")
        progress.step("xgboost fitted")
    text = stream.getvalue()
    assert "\r" in text and "backtest: 2/4" in text and "left" in text and "[progress]" not in text


def test_the_total_grows_when_the_work_does():
    stream = io.StringIO()
    progress = Progress("workflow", 2, stream=stream, clock=Clock())
    for state in ("A", "B", "NotifyFailureEDF"):
        progress.step(state)
    assert stream.getvalue().splitlines()[-1].startswith("[progress] workflow: 3/3 done (NotifyFailureEDF)")


def test_success_path_of_the_deployed_workflows(cfg):
    from edf_local.runtime import asl_variables, template_path
    from edf_local.templates import render_asl_file

    variables = asl_variables(cfg, account="123456789012", region="eu-central-1", image_uri="img",
                              config_uri="s3://b/c.yaml", sagemaker_role_arn="arn:aws:iam::1:role/r",
                              alerts_topic_arn="arn:aws:sns:eu-central-1:1:t")
    training = render_asl_file(template_path("training"), variables)
    # Prepare, Resolve, Build, WriteOverrides, Validate, Features, Train, Evaluate, Read, Check, Register, Succeeded
    assert success_path_states(training) == 12
    assert success_path_states({"StartAt": "A", "States": {"A": {"Type": "Fail"}}}) == 1


def test_workflow_progress_counts_top_level_states_done():
    definition = {"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}],
                  "Default": "Failed"},
        "Done": {"Type": "Succeed"}, "Failed": {"Type": "Fail", "Error": "E"}}}
    stream = io.StringIO()
    progress = WorkflowProgress(stream=stream, interactive=False)
    sfn = LocalStepFunctions(lambda *a: None, printer=progress.print, state_listener=progress.state)
    with progress.run("training", definition):
        assert sfn.run(definition, {"ok": True}).status == "SUCCEEDED"
    lines = stream.getvalue().splitlines()
    assert [re.sub(r", \d+:\d\d elapsed.*", "", line) for line in lines] == [
        "[progress] training workflow: 1/3 done (A)", "[progress] training workflow: 2/3 done (Check)",
        "[progress] training workflow: 3/3 done (Done)"]


def test_features_build_reports_its_stages_as_plain_lines(monkeypatch, tmp_path, capsys):
    import edf.jobs.features as job

    def fake_run(args, on_stage=None):
        for i in range(job.STAGES):
            on_stage(f"stage {i + 1}")
        return {"mode": args.mode, "rows": 1}

    monkeypatch.setattr(job, "run", fake_run)
    (tmp_path / "p.parquet").write_bytes(b"")
    (tmp_path / "t.csv").write_text("building_id\n")
    assert main(["features", "build", "--mode", "inference", "--processed", str(tmp_path / "p.parquet"),
                 "--topology", str(tmp_path / "t.csv"), "--output", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    stages = [line for line in captured.err.splitlines() if line.startswith("[progress] features inference: ")]
    assert len(stages) == job.STAGES and stages[-1].startswith(f"[progress] features inference: {job.STAGES}/"
                                                               f"{job.STAGES} done (stage {job.STAGES})")
    assert "rows: 1" in captured.out


@pytest.mark.parametrize("strategies,expected", [(["xgboost"], 7), (["prophet", "xgboost", "lstm"], 11)])
def test_backtest_counts_a_fit_and_a_forecast_per_strategy(strategies, expected):
    from edf.evaluation.backtest import progress_steps

    assert progress_steps(strategies) == expected  # + both baselines and the feature build


@pytest.mark.parametrize("days,refit,expected", [(7, None, 7), (7, 7, 7), (7, 3, 1 + 2 * 3 * 3), (6, 2, 1 + 2 * 3 * 3)])
def test_backtest_counts_a_fit_and_a_forecast_per_refit_block(days, refit, expected):
    from edf.evaluation.backtest import progress_steps

    assert progress_steps(["xgboost"], days, refit) == expected  # xgboost + two baselines, per block


def test_refits_report_a_fit_and_a_forecast_per_block(monkeypatch):
    """``fit_and_forecast`` tells the progress display as often as ``progress_steps`` counts."""
    import pandas as pd

    from edf.config import load_config
    from edf.data import contract as c
    from edf.data.feature_names import ORIGIN
    from edf.evaluation import backtest as bt_mod

    class Fake:
        def fit(self, rows, series):
            return self

        def predict(self, rows, series):
            return rows.assign(yhat=1.0, yhat_lower=0.0, yhat_upper=2.0)

    monkeypatch.setattr(bt_mod, "make_model", lambda strategy, target, cfg: Fake())
    origins = list(pd.date_range("2023-01-10", periods=5, freq="D", tz="UTC"))
    eval_rows = pd.DataFrame({c.BUILDING_ID: "b1", ORIGIN: origins, c.TIMESTAMP: origins, c.CONSUMPTION: 1.0})
    series = pd.DataFrame({c.BUILDING_ID: "b1", c.TIMESTAMP: pd.date_range("2023-01-01", periods=240, freq="h", tz="UTC"),
                           c.CONSUMPTION: 1.0})
    data = bt_mod.BacktestData(train=eval_rows.iloc[:0], eval=eval_rows, series=series, origins=origins,
                               first_origin=origins[0])
    steps: list[str] = []
    pred, _, _, fits = bt_mod.fit_and_forecast(data, c.CONSUMPTION, "persistence", load_config(None), 2, steps.append)
    assert fits == 3 and len(pred) == 5
    assert steps == ["persistence fitted (fit 1/3)", "persistence: 2 origins forecast (fit 1/3)",
                     "persistence fitted (fit 2/3)", "persistence: 2 origins forecast (fit 2/3)",
                     "persistence fitted (fit 3/3)", "persistence: 1 origins forecast (fit 3/3)"]
    assert len(steps) == (bt_mod.progress_steps(["persistence"], 5, 2) - 1) // len(bt_mod.backtest_strategies(["persistence"]))
