"""The drift rule: fires once after N bad days, not during the cool-down, never on missing evidence."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from edf.config import DriftRule
from edf.monitoring.drift import DriftError, LocalStateStore, apply_drift_policy, judge_day

DAY0 = dt.date(2026, 11, 1)


def day_table(cv=20.0, skill=0.3, coverage=0.8, n_scored=48, series="consumption", bucket="0-24"):
    """The overall row the rule watches (other rows are irrelevant to it)."""
    return pd.DataFrame([{
        "level": "overall", "key": "ALL", "grid_area": "ALL", "series": series, "lead_bucket": bucket,
        "n_scored": n_scored, "n_missing_actual": 48 - n_scored if n_scored < 48 else 0, "cv_rmse_pct": cv,
        "skill_vs_seasonal_naive": skill, "coverage": coverage, "naive_cv_rmse_pct": 40.0,
    }])


BAD = {"cv": 90.0, "skill": -0.5}


class Recorder:
    def __init__(self):
        self.started: list[tuple[str, str, dict]] = []
        self.alerts: list[tuple[str, str, str]] = []

    def start(self, arn, name, run_input):
        self.started.append((arn, name, run_input))
        return f"{arn.replace(':stateMachine:', ':execution:')}:{name}"

    def notify(self, arn, subject, message):
        self.alerts.append((arn, subject, message))


def run_days(tmp_path, tables, rule, rec=None):
    rec = rec or Recorder()
    store = LocalStateStore(tmp_path / "drift_state.json")
    decisions = []
    for i, table in enumerate(tables):
        decisions.append(apply_drift_policy(table, DAY0 + dt.timedelta(days=i), rule, store,
                                            "arn:aws:states:eu-central-1:123456789012:stateMachine:train",
                                            "arn:aws:sns:eu-central-1:123456789012:alerts",
                                            starter=rec.start, notifier=rec.notify))
    return decisions, rec, store


def test_judge_day_conditions():
    rule = DriftRule()
    assert judge_day(day_table(), rule, DAY0).status == "ok"
    v = judge_day(day_table(cv=61.0), rule, DAY0)
    assert v.status == "bad" and "cv_rmse_pct" in v.reasons[0]
    assert judge_day(day_table(skill=-0.01), rule, DAY0).status == "bad"
    assert judge_day(day_table(coverage=0.99), rule, DAY0).reasons == ["coverage 0.990 > 0.97"]
    assert judge_day(day_table(coverage=0.2), rule, DAY0).status == "bad"
    assert judge_day(day_table(cv=90, n_scored=10), rule, DAY0).status == "insufficient"
    assert judge_day(day_table(bucket="24-48"), rule, DAY0).status == "insufficient"
    off = DriftRule(max_cv_rmse_pct=None, min_skill_vs_seasonal_naive=None, min_coverage=None, max_coverage=None)
    assert judge_day(day_table(cv=500, skill=-3, coverage=0.0), off, DAY0).status == "ok"


def test_fires_once_after_n_bad_days_then_cooldown(tmp_path):
    rule = DriftRule(consecutive_days=3, cooldown_days=5)
    decisions, rec, store = run_days(tmp_path, [day_table(**BAD)] * 7, rule)
    fired = [d.day for d in decisions if d.fire]
    assert fired == ["2026-11-03"]  # exactly one training for 7 bad days
    assert len(rec.started) == 1 and rec.started[0][1] == "edf-drift-retrain-2026-11-03"
    assert set(rec.started[0][2]["trigger"]["evidence"]) == {"2026-11-01", "2026-11-02", "2026-11-03"}
    assert len(rec.alerts) == 1 and "retraining started" in rec.alerts[0][1]
    assert decisions[5].reason.startswith("cool-down")  # 3 new bad days since the trigger, still cooling down
    assert "since the last trigger" in decisions[3].reason
    state = json.loads((tmp_path / "drift_state.json").read_text())
    assert state["last_trigger"]["day"] == "2026-11-03" and len(state["triggers"]) == 1


def test_fires_again_only_after_cooldown_and_a_new_streak(tmp_path):
    rule = DriftRule(consecutive_days=3, cooldown_days=5)
    decisions, rec, _ = run_days(tmp_path, [day_table(**BAD)] * 10, rule)
    assert [d.day for d in decisions if d.fire] == ["2026-11-03", "2026-11-08"]


def test_ok_or_insufficient_day_breaks_the_streak(tmp_path):
    rule = DriftRule(consecutive_days=3, cooldown_days=5)
    tables = [day_table(**BAD), day_table(**BAD), day_table(n_scored=0, cv=float("nan")),  # late actuals
              day_table(**BAD), day_table(**BAD), day_table(), day_table(**BAD)]
    decisions, rec, _ = run_days(tmp_path, tables, rule)
    assert not any(d.fire for d in decisions) and rec.started == []
    assert decisions[2].verdict.status == "insufficient"


def test_rerun_of_the_trigger_day_does_not_start_again(tmp_path):
    rule = DriftRule(consecutive_days=2, cooldown_days=3)
    _, rec, store = run_days(tmp_path, [day_table(**BAD)] * 2, rule)
    again = apply_drift_policy(day_table(**BAD), DAY0 + dt.timedelta(days=1), rule, store,
                               "arn:aws:states:eu-central-1:123456789012:stateMachine:train", None,
                               starter=rec.start, notifier=rec.notify)
    assert not again.fire and len(rec.started) == 1


def test_dry_run_and_disabled_start_nothing(tmp_path):
    rec = Recorder()
    store = LocalStateStore(tmp_path / "s.json")
    rule = DriftRule(consecutive_days=1)
    d = apply_drift_policy(day_table(**BAD), DAY0, rule, store, "arn:x", None, starter=rec.start,
                           notifier=rec.notify, dry_run=True)
    assert d.fire and rec.started == []  # the decision is reported, nothing is started
    assert json.loads((tmp_path / "s.json").read_text())["last_trigger"] is None
    d = apply_drift_policy(day_table(**BAD), DAY0, DriftRule(consecutive_days=1, enabled=False), store, "arn:x",
                           None, starter=rec.start, notifier=rec.notify)
    assert not d.fire and d.reason == "drift rule disabled"


def test_firing_without_a_state_machine_is_an_error(tmp_path):
    with pytest.raises(DriftError, match="EDF_TRAINING_STATE_MACHINE_ARN"):
        apply_drift_policy(day_table(**BAD), DAY0, DriftRule(consecutive_days=1), LocalStateStore(tmp_path / "s.json"),
                           None, None)


def test_alert_failure_does_not_hide_the_trigger(tmp_path):
    rec = Recorder()

    def broken(*_):
        raise RuntimeError("sns down")

    store = LocalStateStore(tmp_path / "s.json")
    d = apply_drift_policy(day_table(**BAD), DAY0, DriftRule(consecutive_days=1), store, "arn:aws:states:r:1:stateMachine:t",
                           "arn:topic", starter=rec.start, notifier=broken)
    assert d.fire and len(rec.started) == 1
    assert store.load()["last_trigger"]["day"] == DAY0.isoformat()


def test_a_day_without_forecasts_is_insufficient(tmp_path, cfg):
    """No run issued forecasts for the day: empty table, no Parquet, verdict insufficient, nothing started."""
    from edf.monitoring.service import run_daily

    rec = Recorder()
    empty = pd.DataFrame({col: pd.Series(dtype="object") for col in (
        "building_id", "grid_area", "series", "timestamp_hour", "lead_hours", "yhat", "yhat_lower", "yhat_upper")})
    actuals = pd.DataFrame({"building_id": ["A"], "timestamp_hour": [pd.Timestamp("2026-11-01", tz="UTC")],
                            "consumption_kwh": [1.0], "solar_generation_kwh": [float("nan")]})
    res = run_daily(cfg, DAY0, forecasts=empty, actuals=actuals, report_prefix=str(tmp_path), emit=None,
                    starter=rec.start, notifier=rec.notify)
    assert res.table.empty and res.parquet_uri is None and res.emf_docs == []
    assert res.decision.verdict.status == "insufficient" and not res.decision.fire
    assert (tmp_path / "drift_state.json").is_file()


def test_rescoring_an_old_day_never_fires_by_itself(tmp_path):
    rule = DriftRule(consecutive_days=2, cooldown_days=3)
    rec = Recorder()
    store = LocalStateStore(tmp_path / "s.json")
    arn = "arn:aws:states:r:1:stateMachine:t"
    apply_drift_policy(day_table(), DAY0 + dt.timedelta(days=2), rule, store, arn, None, rec.start, rec.notify)
    for i in (0, 1):  # late actuals make days 0 and 1 bad after day 2 was judged ok
        d = apply_drift_policy(day_table(**BAD), DAY0 + dt.timedelta(days=i), rule, store, arn, None,
                               rec.start, rec.notify)
        assert not d.fire
    assert "backfill" in d.reason and rec.started == []
