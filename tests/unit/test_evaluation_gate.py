"""The registration gate itself: baselines per target, thresholds, interval bounds, champion, decision size.

Models here are test doubles with a known error (an oracle plus seeded noise), scored against the real
baselines fitted on synthetic feature rows, so "loses to persistence" and "beats both" are known
outcomes, not hopes.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from edf.config import load_config
from edf.data import contract as c
from edf.evaluation import compare, gate
from edf.evaluation.champion import compare_target
from edf.evaluation.metrics import evaluate_forecasts, series_metrics
from edf.evaluation.report import build_report, evaluate_target
from edf.models.base import ForecastModel

LENIENT = {"max_mape": 1000.0, "max_rmse": 100.0, "max_cv_rmse_pct": 1000.0, "min_coverage": 0.0, "max_coverage": 1.0}


def config(**evaluation):
    return load_config(None, {"edf_evaluation": {"metrics_thresholds": LENIENT, **evaluation}})


class Noisy(ForecastModel):
    """The actual plus seeded noise of a chosen size: a model whose quality is known in advance."""

    strategy = "noisy"

    def __init__(self, target: str, noise: float, seed: int = 1):
        super().__init__(target=target)
        self.noise, self.rng_seed = noise, seed

    def _fit(self, rows, series):
        self.features = ["hour_of_day"]

    def _predict(self, rows, series):
        rng = np.random.default_rng(self.rng_seed)
        y = rows[self.target].to_numpy(dtype="float64") + rng.normal(0, self.noise, len(rows))
        return y, y - 0.5, y + 0.5

    def _save(self, path):  # pragma: no cover - never saved
        raise NotImplementedError

    def _load(self, path):  # pragma: no cover
        raise NotImplementedError


def feature_rows(target: str, days: int, start: str, seed: int) -> pd.DataFrame:
    """Rows with the columns the baselines read: same hour last week and the 7-day profile (noise 0.3)."""
    rng = np.random.default_rng(seed)
    prefix = "consumption" if target == c.CONSUMPTION else "solar"
    out = []
    for building in ("b1", "b2", "b3"):
        for day in range(days):
            origin = pd.Timestamp(start, tz="UTC") + pd.Timedelta(days=day)
            lead = np.arange(1, 25)
            ts = origin + pd.to_timedelta(lead - 1, unit="h")
            actual = 2.0 + np.sin(2 * np.pi * ts.hour.to_numpy() / 24) + rng.normal(0, 0.1, 24)
            out.append(pd.DataFrame({
                c.BUILDING_ID: building, "origin_time": origin, c.TIMESTAMP: ts, "lead_hours": lead,
                "hour_of_day": ts.hour.to_numpy(), target: actual, "pv_capacity_kw": 4.0,
                f"{prefix}_same_hour_last_week": actual + rng.normal(0, 0.3, 24),
                f"{prefix}_profile_mean_7d": actual + rng.normal(0, 0.3, 24),
                f"{prefix}_profile_std_7d": 0.3,
            }))
    return pd.concat(out, ignore_index=True)


def score(target: str, noise: float, cfg):
    train = feature_rows(target, 10, "2017-03-01", seed=3)
    evaluation = feature_rows(target, 5, "2017-03-20", seed=4)
    model = Noisy(target, noise).fit(train)
    section, _ = evaluate_target(model, evaluation, train, None, cfg)
    return section


# ------------------------------------------------------------------ baselines, per target
def test_a_model_known_to_lose_to_the_baselines_fails_the_gate_naming_the_target():
    cfg = config()
    loser = score(c.CONSUMPTION, noise=1.0, cfg=cfg)
    assert loser["beats"] == {"seasonal_naive": False, "persistence": False}
    report = build_report({c.CONSUMPTION: loser}, cfg)
    assert report["passes_thresholds"] is True
    assert report["passed"] is False and report["beats_baselines"] is False
    assert report["failed_targets"] == [c.CONSUMPTION]
    assert any("does not beat persistence" in f for f in report["failures"])


def test_a_model_known_to_win_passes_the_gate():
    cfg = config()
    winner = score(c.CONSUMPTION, noise=0.05, cfg=cfg)
    assert winner["beats"] == {"seasonal_naive": True, "persistence": True}
    report = build_report({c.CONSUMPTION: winner}, cfg)
    assert report["passed"] is True and report["failed_targets"] == [] and report["failures"] == []


def test_a_solar_model_worse_than_persistence_stops_registration():
    cfg = config()
    demand = score(c.CONSUMPTION, noise=0.05, cfg=cfg)
    solar = score(c.SOLAR, noise=1.0, cfg=cfg)
    assert solar["beats"]["persistence"] is False
    report = build_report({c.CONSUMPTION: demand, c.SOLAR: solar}, cfg)
    assert report["passed"] is False and report["beats_baselines"] is False
    assert report["failed_targets"] == [c.SOLAR]
    assert all(f.startswith(f"{c.SOLAR}: ") for f in report["failures"])
    decision = gate.decision_document(report)
    assert decision["failed_targets"] == [c.SOLAR] and decision["targets"][c.SOLAR]["beats_baselines"] is False
    # switched off, the same miss is reported but does not block
    relaxed = build_report({c.CONSUMPTION: demand, c.SOLAR: solar}, config(require_beat_baselines=False))
    assert relaxed["passed"] is True and relaxed["failed_targets"] == []
    assert any(a.startswith(f"{c.SOLAR}: does not beat") for a in relaxed["advisories"])


def test_beats_baselines_is_strict_and_never_passes_on_missing_values():
    base = {"seasonal_naive": {"cv_rmse_pct": 50.0}, "persistence": {"cv_rmse_pct": 40.0}}
    assert gate.beats_baselines({"cv_rmse_pct": 39.9}, base) == {"seasonal_naive": True, "persistence": True}
    assert gate.beats_baselines({"cv_rmse_pct": 40.0}, base)["persistence"] is False  # a tie does not beat
    assert gate.beats_baselines({"cv_rmse_pct": 45.0}, base) == {"seasonal_naive": True, "persistence": False}
    assert gate.beats_baselines({"cv_rmse_pct": math.nan}, base) == {"seasonal_naive": False, "persistence": False}
    assert gate.beats_baselines({"cv_rmse_pct": 10.0}, {"persistence": {"cv_rmse_pct": None}}) == {"persistence": False}


# ------------------------------------------------------------------ thresholds and interval bounds
def test_threshold_check_fails_each_limit_and_missing_metrics():
    cfg = load_config(None, {"edf_evaluation": {"metrics_thresholds": {
        "max_mape": 50.0, "max_rmse": 1.0, "max_cv_rmse_pct": 60.0, "min_coverage": 0.7, "max_coverage": 0.9}}})
    good = {"mape_pct": 49.0, "rmse": 0.9, "cv_rmse_pct": 59.0, "coverage": 0.8}
    assert gate.check_thresholds(good, cfg) == (True, [])
    ok, failures = gate.check_thresholds({"mape_pct": 51.0, "rmse": 1.5, "cv_rmse_pct": 61.0, "coverage": 0.95}, cfg)
    assert not ok and len(failures) == 4 and "rmse 1.500 > 1.0" in failures
    assert gate.check_thresholds({**good, "coverage": 0.5}, cfg) == (False, ["coverage 0.500 < 0.7"])
    assert gate.check_thresholds({**good, "rmse": None}, cfg) == (False, ["rmse is not available"])
    assert gate.check_thresholds({**good, "rmse": math.nan}, cfg)[0] is False


def test_actuals_exactly_on_the_interval_bounds_count_as_inside():
    actual = np.array([1.0, 2.0, 3.0, 4.0])
    lower = np.array([1.0, 1.0, 2.0, 4.5])  # 1.0 on the lower bound; 4.0 below its interval
    upper = np.array([2.0, 2.0, 3.0, 5.0])  # 2.0 and 3.0 on the upper bound
    assert series_metrics(actual, actual, lower, upper)["coverage"] == pytest.approx(0.75)
    ts = pd.date_range("2017-01-01", periods=4, freq="h", tz="UTC")
    frame = pd.DataFrame({c.BUILDING_ID: "b", "origin_time": ts[0], c.TIMESTAMP: ts, "y": actual[:3].tolist() + [4.5],
                          "yhat": actual[:3].tolist() + [4.5], "yhat_lower": lower, "yhat_upper": upper})
    out = evaluate_forecasts(frame.drop(columns="y"), frame, "y")
    assert out["aggregate"]["coverage"] == pytest.approx(1.0)  # every actual on a bound: all inside
    cfg = load_config(None, {"edf_evaluation": {"metrics_thresholds": {**LENIENT, "min_coverage": 1.0}}})
    assert gate.check_thresholds(out["aggregate"], cfg)[0] is True


# ------------------------------------------------------------------ champion
def test_verdict_against_the_margin():
    assert compare.verdict(50.0, 50.0, 0.02)[0] == compare.NOT_WORSE
    assert compare.verdict(50.9, 50.0, 0.02)[0] == compare.NOT_WORSE  # within 2 %
    assert compare.verdict(51.1, 50.0, 0.02) == (compare.WORSE, pytest.approx(0.022))
    assert compare.verdict(49.0, 50.0, 0.02)[0] == compare.BETTER
    assert compare.verdict(None, 50.0, 0.02) == (compare.NOT_COMPARED, None)
    assert compare.verdict(50.1, 50.0, 0.0)[0] == compare.WORSE


def test_champion_and_challenger_are_scored_on_the_same_rows():
    cfg = config()
    evaluation = feature_rows(c.CONSUMPTION, 5, "2017-03-20", seed=4)
    challenger = Noisy(c.CONSUMPTION, 0.05).fit(evaluation).predict(evaluation)
    champion = Noisy(c.CONSUMPTION, 0.5, seed=2).fit(evaluation).predict(evaluation)
    champion.loc[champion.index[:7], "yhat"] = np.nan  # the champion gives no forecast for 7 rows
    out = compare_target(challenger, champion, evaluation, c.CONSUMPTION, cfg)
    assert out["rows_without_champion_forecast"] == 7
    assert out["rows"] == len(evaluation) - 7
    assert out["rows_fingerprint"]["challenger"] == out["rows_fingerprint"]["champion"] and out["same_rows"]
    assert out["verdict"] == compare.BETTER and out["metrics"]["rmse"]["better"] == "challenger"
    reverse = compare_target(champion, challenger, evaluation, c.CONSUMPTION, cfg)
    assert reverse["verdict"] == compare.WORSE and reverse["same_rows"]


def _champion_block(verdict: str) -> dict:
    return {"status": "compared", "model_package_version": 3, "metric": "cv_rmse_pct", "margin": 0.02,
            "verdict": verdict, "not_worse": verdict != "worse",
            "targets": {c.CONSUMPTION: {"verdict": verdict, "challenger": 60.0, "champion": 50.0}}}


def test_a_challenger_worse_than_the_champion_fails_only_when_the_config_asks():
    strict = config(champion={"require_not_worse": True})
    winner = score(c.CONSUMPTION, noise=0.05, cfg=strict)
    report = build_report({c.CONSUMPTION: winner}, strict, champion=_champion_block("worse"))
    assert report["passed"] is False and report["champion_not_worse"] is False
    assert report["failed_targets"] == [c.CONSUMPTION] and "worse than the champion (v3)" in report["failures"][0]
    lax = config(champion={"require_not_worse": False})
    report = build_report({c.CONSUMPTION: winner}, lax, champion=_champion_block("worse"))
    assert report["passed"] is True and report["champion_not_worse"] is False and report["advisories"]
    assert build_report({c.CONSUMPTION: winner}, strict, champion=_champion_block("not_worse"))["passed"] is True


# ------------------------------------------------------------------ the decision document
def _report_for(buildings: int) -> dict:
    per = {f"building-{i:06d}": {m: 1.0 + i for m in ("mape_pct", "rmse", "mae", "cv_rmse_pct", "nmbe_pct", "pinball",
                                                         "coverage")} | {"n": 672} for i in range(buildings)}
    agg = {"mape_pct": 60.0, "rmse": 0.8, "mae": 0.6, "cv_rmse_pct": 55.0, "nmbe_pct": 1.0, "pinball": 0.1,
           "coverage": 0.8, "buildings": buildings}
    body = {"strategy": "xgboost", "aggregate": agg, "per_building": per, "beats_baselines": True,
            "beats": {"seasonal_naive": True, "persistence": True}, "rows_scored": buildings * 672,
            "baselines": {b: {"aggregate": {**agg, "cv_rmse_pct": 70.0}, "per_building": per}
                          for b in ("seasonal_naive", "persistence")}}
    champion = _champion_block("not_worse")
    champion["model_package_arn"] = "arn:aws:sagemaker:eu-central-1:123456789012:model-package/edf-dev/3"
    champion["targets"][c.CONSUMPTION].update(champion_per_building=per, rows=buildings * 672)
    return build_report({c.CONSUMPTION: body, c.SOLAR: {**body, "strategy": "xgboost"}}, config(),
                        champion=champion, window={"eval_start": "2017-07-04T00:00:00+00:00",
                                                   "eval_end": "2017-07-31T23:00:00+00:00", "data_fingerprint": "ab"})


def test_decision_document_does_not_grow_with_the_portfolio():
    small, large = _report_for(10), _report_for(10_000)
    assert len(json.dumps(large)) > 5_000_000  # the report itself is far over the 256 KB state limit
    sizes = [len(json.dumps(gate.decision_document(r)).encode()) for r in (small, large)]
    assert max(sizes) < 8192 and abs(sizes[0] - sizes[1]) < 64  # building-count digits only
    decision = gate.decision_document(large)
    for key in ("passed", "passes_thresholds", "beats_baselines", "champion_not_worse", "failed_targets",
                "thresholds", "eval_start", "eval_end", "data_fingerprint"):
        assert key in decision
    assert decision["report"] == gate.REPORT_FILE
    assert decision["champion"]["verdict"] == "not_worse" and "champion_per_building" not in json.dumps(decision)
    assert set(decision["targets"]) == {c.CONSUMPTION, c.SOLAR}


def test_decision_document_refuses_to_grow_past_its_budget():
    report = _report_for(3)
    report["failures"] = ["x" * 1000] * 500  # capped to 20 messages of 300 characters
    assert len(json.dumps(gate.decision_document(report))) < 8192
    report["thresholds"] = {f"t{i}": "x" * 100 for i in range(200)}
    with pytest.raises(ValueError, match="must not carry anything that grows"):
        gate.decision_document(report)
