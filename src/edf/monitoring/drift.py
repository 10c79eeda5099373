"""Drift policy: when persistent accuracy degradation starts the training workflow (issue 8 §2).

Each scored day gets a verdict on the watched slice of the accuracy table (``edf_monitoring.drift``:
series, grid area or ``ALL``, lead bucket):

* ``bad`` — any enabled condition holds: CV(RMSE) above ``max_cv_rmse_pct``, skill against the
  seasonal-naive baseline below ``min_skill_vs_seasonal_naive``, interval coverage outside
  ``[min_coverage, max_coverage]``;
* ``insufficient`` — fewer than ``min_scored_hours`` scored hours (late actuals, no forecasts):
  no evidence either way, and it **breaks** a streak — retraining never starts on missing data;
* ``ok`` otherwise.

The rule fires on day D when D and the ``consecutive_days - 1`` calendar days before it are all
``bad`` *and* all after the last trigger, and at least ``cooldown_days`` have passed since the
last trigger. Only the newest judged day can fire: re-scoring an older day (its late actuals
arrived) updates its verdict, which then counts for the next day's decision. Firing starts one execution of the training state machine with a deterministic
name (``edf-drift-retrain-<D>``), so a retried Lambda cannot start a second one, records the
trigger in the state document and publishes to the alerts topic. Because a streak must restart
after each trigger and the cool-down must elapse, the policy cannot loop even while a retrained
model waits for approval and accuracy stays bad.

State (per-day verdicts and the last trigger) is one JSON document in S3 (next to the daily
Parquet) or a local file; every decision and its evidence is logged as structured JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

log = logging.getLogger(__name__)

STATE_VERSION = 1
STATE_HISTORY_DAYS = 120
TRAINING_ARN_ENV = "EDF_TRAINING_STATE_MACHINE_ARN"
ALERTS_ARN_ENV = "EDF_ALERTS_TOPIC_ARN"


class DriftError(RuntimeError):
    """The policy could not act (no state machine configured, state unreadable)."""


@dataclass(frozen=True)
class DayVerdict:
    day: str
    status: str  # bad | ok | insufficient
    reasons: list[str] = field(default_factory=list)
    values: dict[str, float | int | None] = field(default_factory=dict)


@dataclass
class DriftDecision:
    day: str
    verdict: DayVerdict
    fire: bool
    reason: str
    streak_days: list[str] = field(default_factory=list)
    last_trigger_day: str | None = None
    execution_arn: str | None = None
    execution_name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def judge_day(table: pd.DataFrame, rule: Any, day: dt.date) -> DayVerdict:
    """The verdict for one day from its accuracy table (see the module docstring)."""
    level = "overall" if rule.grid_area == "ALL" else "grid_area"
    sel = table[(table["level"] == level) & (table["key"] == rule.grid_area)
                & (table["series"] == rule.series) & (table["lead_bucket"] == rule.lead_bucket)]
    if sel.empty:
        return DayVerdict(day.isoformat(), "insufficient",
                          [f"no forecasts scored for {rule.series} {rule.grid_area} lead {rule.lead_bucket}"])
    row = sel.iloc[0]
    values = {
        "n_scored": int(row["n_scored"]), "n_missing_actual": int(row["n_missing_actual"]),
        "cv_rmse_pct": _finite(row["cv_rmse_pct"]), "skill_vs_seasonal_naive": _finite(row["skill_vs_seasonal_naive"]),
        "coverage": _finite(row["coverage"]), "naive_cv_rmse_pct": _finite(row["naive_cv_rmse_pct"]),
    }
    if values["n_scored"] < rule.min_scored_hours:
        return DayVerdict(day.isoformat(), "insufficient",
                          [f"{values['n_scored']} scored hours < min_scored_hours {rule.min_scored_hours} "
                           f"({values['n_missing_actual']} missing actuals)"], values)
    reasons = []
    cv, sk, cov = values["cv_rmse_pct"], values["skill_vs_seasonal_naive"], values["coverage"]
    if rule.max_cv_rmse_pct is not None and cv is not None and cv > rule.max_cv_rmse_pct:
        reasons.append(f"cv_rmse_pct {cv:.2f} > {rule.max_cv_rmse_pct}")
    if rule.min_skill_vs_seasonal_naive is not None and sk is not None and sk < rule.min_skill_vs_seasonal_naive:
        reasons.append(f"skill_vs_seasonal_naive {sk:.3f} < {rule.min_skill_vs_seasonal_naive}")
    if cov is not None:
        if rule.min_coverage is not None and cov < rule.min_coverage:
            reasons.append(f"coverage {cov:.3f} < {rule.min_coverage}")
        if rule.max_coverage is not None and cov > rule.max_coverage:
            reasons.append(f"coverage {cov:.3f} > {rule.max_coverage}")
    return DayVerdict(day.isoformat(), "bad" if reasons else "ok", reasons, values)


def empty_state() -> dict[str, Any]:
    return {"version": STATE_VERSION, "days": {}, "last_trigger": None, "triggers": []}


def decide(state: Mapping[str, Any], verdict: DayVerdict, rule: Any) -> DriftDecision:
    """Pure decision for ``verdict.day`` given the stored state (which must already hold the verdict)."""
    day = dt.date.fromisoformat(verdict.day)
    last = state.get("last_trigger") or None
    last_day = dt.date.fromisoformat(last["day"]) if last else None
    base = {"day": verdict.day, "verdict": verdict, "last_trigger_day": last_day.isoformat() if last_day else None}
    if not rule.enabled:
        return DriftDecision(**base, fire=False, reason="drift rule disabled")
    if verdict.status != "bad":
        return DriftDecision(**base, fire=False, reason=f"day is {verdict.status}")
    days = state.get("days", {})
    later = sorted(d for d in days if d > verdict.day)
    if later:  # re-scoring an old day (late actuals) updates the evidence but never triggers by itself
        return DriftDecision(**base, fire=False, reason=f"backfill: {later[-1]} has already been judged")
    streak = []
    for i in range(rule.consecutive_days):
        d = day - dt.timedelta(days=i)
        if last_day is not None and d <= last_day:
            break
        if days.get(d.isoformat(), {}).get("status") != "bad":
            break
        streak.append(d.isoformat())
    if len(streak) < rule.consecutive_days:
        return DriftDecision(**base, fire=False, streak_days=streak,
                             reason=f"{len(streak)} of {rule.consecutive_days} consecutive bad days"
                             + (" since the last trigger" if last_day else ""))
    if last_day is not None and (day - last_day).days < rule.cooldown_days:
        until = last_day + dt.timedelta(days=rule.cooldown_days)
        return DriftDecision(**base, fire=False, streak_days=streak,
                             reason=f"cool-down after the trigger of {last_day} until {until}")
    return DriftDecision(**base, fire=True, streak_days=streak,
                         reason=f"{rule.consecutive_days} consecutive bad days: " + "; ".join(verdict.reasons))


# ---------------------------------------------------------------- state persistence
class StateStore(Protocol):
    def load(self) -> dict[str, Any]: ...

    def save(self, state: Mapping[str, Any]) -> None: ...


class LocalStateStore:
    """Drift state as a local JSON file (``edf monitor``, tests)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        if not self.path.is_file():
            return empty_state()
        return json.loads(self.path.read_text())

    def save(self, state: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True, default=str))
        tmp.replace(self.path)


class S3StateStore:
    """Drift state as one JSON object in S3 (the accuracy monitor Lambda)."""

    def __init__(self, uri: str) -> None:
        from edf.data.io import split_s3_uri

        self.uri = uri
        self.bucket, self.key = split_s3_uri(uri)

    def load(self) -> dict[str, Any]:
        import boto3

        s3 = boto3.client("s3")
        try:
            body = s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            return empty_state()
        return json.loads(body)

    def save(self, state: Mapping[str, Any]) -> None:
        import boto3

        boto3.client("s3").put_object(Bucket=self.bucket, Key=self.key, ContentType="application/json",
                                      Body=json.dumps(state, indent=2, sort_keys=True, default=str).encode())


def state_store(uri: str) -> StateStore:
    return S3StateStore(uri) if uri.startswith("s3://") else LocalStateStore(uri)


# ---------------------------------------------------------------- acting
Starter = Callable[[str, str, dict[str, Any]], str]
Notifier = Callable[[str, str, str], None]


def start_training(state_machine_arn: str, name: str, run_input: dict[str, Any]) -> str:
    """Start the training workflow (idempotent on ``name``); returns the execution ARN."""
    import boto3

    sfn = boto3.client("stepfunctions")
    try:
        return sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                                   input=json.dumps(run_input, default=str))["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"
        log.warning("training execution %s already exists; not starting another", name,
                    extra={"execution_arn": arn})
        return arn


def publish_alert(topic_arn: str, subject: str, message: str) -> None:
    import boto3

    boto3.client("sns").publish(TopicArn=topic_arn, Subject=subject[:100], Message=message)


def resolve_arns(cfg: Any) -> tuple[str | None, str | None]:
    """(training state machine ARN, alerts topic ARN): environment first, then config."""
    mon = cfg.edf_monitoring
    return (os.environ.get(TRAINING_ARN_ENV) or mon.training_state_machine_arn,
            os.environ.get(ALERTS_ARN_ENV) or mon.alerts_topic_arn)


def apply_drift_policy(table: pd.DataFrame, day: dt.date, rule: Any, store: StateStore,
                       training_arn: str | None, alerts_arn: str | None,
                       starter: Starter = start_training, notifier: Notifier = publish_alert,
                       dry_run: bool = False) -> DriftDecision:
    """Judge ``day``, persist the verdict, decide, and (unless ``dry_run``) act on a firing rule."""
    state = store.load()
    verdict = judge_day(table, rule, day)
    state.setdefault("days", {})[verdict.day] = {"status": verdict.status, "reasons": verdict.reasons,
                                                 "values": verdict.values}
    cutoff = (day - dt.timedelta(days=STATE_HISTORY_DAYS)).isoformat()
    state["days"] = {d: v for d, v in sorted(state["days"].items()) if d >= cutoff}
    decision = decide(state, verdict, rule)
    if decision.fire and not dry_run:
        if not training_arn:
            store.save(state)
            raise DriftError(f"drift rule fired for {day} but no training state machine is configured "
                             f"(env {TRAINING_ARN_ENV} or edf_monitoring.training_state_machine_arn)")
        name = f"edf-drift-retrain-{verdict.day}"
        run_input = {"trigger": {"source": "accuracy_drift", "day": verdict.day, "reason": decision.reason,
                                 "evidence": {d: state["days"][d] for d in decision.streak_days}}}
        decision.execution_arn = starter(training_arn, name, run_input)
        decision.execution_name = name
        trigger = {"day": verdict.day, "execution_arn": decision.execution_arn, "execution_name": name,
                   "reason": decision.reason}
        state["last_trigger"] = trigger
        state.setdefault("triggers", []).append(trigger)
        store.save(state)  # the trigger is recorded before anything else can fail
        if alerts_arn:
            try:
                notifier(alerts_arn, f"EDF accuracy drift: retraining started ({verdict.day})",
                         json.dumps(decision.as_dict(), indent=2, default=str))
            except Exception:  # an alert failure must not hide that training started
                log.exception("could not publish the drift alert to %s", alerts_arn)
    else:
        store.save(state)
    log.info("drift decision for %s: %s (%s)", verdict.day, "FIRE" if decision.fire else "hold", decision.reason,
             extra={"drift_decision": decision.as_dict(), "dry_run": dry_run})
    return decision
