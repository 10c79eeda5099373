"""The registration gate and the decision document ``CheckEvaluationEDF`` reads.

A trained bundle is registered only when

* the primary (demand) target's headline metrics meet ``edf_evaluation.metrics_thresholds``;
* **every** scored target (demand and solar) beats both baselines on the median CV(RMSE), when
  ``require_beat_baselines``;
* no scored target is worse than the approved champion on the same rows (beyond the margin), when
  ``edf_evaluation.champion.require_not_worse``.

The full evaluation report grows with the portfolio (per-building metrics: 318 KB at 200
buildings), while a Step Functions state carries at most 256 KB. So the evaluation job also writes
:data:`DECISION_FILE`: the verdict, the failures naming their target, the thresholds, headline
metrics per target and the champion verdict - a document whose size does not depend on the number
of buildings. The state machine reads only that; per-building detail stays in the report in S3.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from edf.config import EDFConfig
from edf.evaluation.compare import METRICS, WORSE

DECISION_FILE = "evaluation_decision_edf.json"
REPORT_FILE = "evaluation_report_edf.json"
# Far below the 256 KB state limit; the document is bounded by targets x metrics, not buildings.
DECISION_MAX_BYTES = 8192
GATE_METRIC = "cv_rmse_pct"
_MAX_MESSAGES = 20
_MAX_MESSAGE_CHARS = 300


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_thresholds(headline: Mapping[str, Any], cfg: EDFConfig) -> tuple[bool, list[str]]:
    """Compare the headline metrics with ``edf_evaluation.metrics_thresholds``; list each failure.

    A metric that is not available (missing, NaN) fails its threshold: no evidence is not a pass.
    """
    th = cfg.edf_evaluation.metrics_thresholds
    checks = [("mape_pct", th.max_mape, "max"), ("rmse", th.max_rmse, "max"),
              ("cv_rmse_pct", th.max_cv_rmse_pct, "max"), ("coverage", th.min_coverage, "min"),
              ("coverage", th.max_coverage, "max")]
    failures = []
    for metric, limit, kind in checks:
        if limit is None:
            continue
        value = headline.get(metric)
        if not _finite(value):
            failures.append(f"{metric} is not available")
        elif (kind == "max" and value > limit) or (kind == "min" and value < limit):
            failures.append(f"{metric} {value:.3f} {'>' if kind == 'max' else '<'} {limit}")
    return not failures, failures


def beats_baselines(model: Mapping[str, Any], baselines: Mapping[str, Mapping[str, Any]],
                    metric: str = GATE_METRIC) -> dict[str, bool]:
    """Per baseline: does the model's median ``metric`` lie strictly below the baseline's?

    ``model`` and each baseline are aggregate metric dicts. A model without a finite value beats
    nothing; a baseline without one (it could not be scored) is not beaten either - the gate never
    passes on missing evidence.
    """
    mv = model.get(metric)
    return {name: bool(_finite(mv) and _finite(agg.get(metric)) and mv < agg[metric])
            for name, agg in baselines.items()}


def _baseline_failures(target: str, body: Mapping[str, Any]) -> list[str]:
    agg = body.get("aggregate") or {}
    out = []
    for name, beaten in (body.get("beats") or {}).items():
        if not beaten:
            base = ((body.get("baselines") or {}).get(name) or {}).get("aggregate") or {}
            out.append(f"{target}: does not beat {name} ({GATE_METRIC} {_fmt(agg.get(GATE_METRIC))} vs "
                       f"{_fmt(base.get(GATE_METRIC))})")
    return out


def _champion_failures(champion: Mapping[str, Any]) -> list[tuple[str, str]]:
    out = []
    version = champion.get("model_package_version") or champion.get("model_package_arn") or "?"
    for target, comp in (champion.get("targets") or {}).items():
        if comp.get("verdict") == WORSE:
            out.append((target, f"{target}: worse than the champion (v{version}) on the same rows "
                                f"({champion.get('metric')} {_fmt(comp.get('challenger'))} vs "
                                f"{_fmt(comp.get('champion'))}, margin {champion.get('margin')})"))
    return out


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if _finite(value) else "n/a"


def gate(targets: Mapping[str, Mapping[str, Any]], primary: str, cfg: EDFConfig,
         champion: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The verdict over all scored targets; ``failures`` block registration, ``advisories`` do not."""
    ev = cfg.edf_evaluation
    head = {m: (targets[primary].get("aggregate") or {}).get(m) for m in METRICS}
    passes, threshold_failures = check_thresholds(head, cfg)
    blocking: list[tuple[str, str]] = [(primary, f"{primary}: {f}") for f in threshold_failures]
    advisories: list[str] = []
    beats_all = True
    for target, body in targets.items():
        misses = _baseline_failures(target, body)
        beats_all &= bool(body.get("beats_baselines")) and not misses
        if ev.require_beat_baselines:
            blocking += [(target, m) for m in misses]
        else:
            advisories += misses
    champion_misses = _champion_failures(champion or {})
    not_worse = not champion_misses
    if ev.champion.require_not_worse:
        blocking += champion_misses
    else:
        advisories += [m for _, m in champion_misses]
    return {
        "passed": bool(passes and (beats_all or not ev.require_beat_baselines)
                       and (not_worse or not ev.champion.require_not_worse)),
        "passes_thresholds": passes,
        "beats_baselines": beats_all,
        "champion_not_worse": not_worse,
        "require_beat_baselines": ev.require_beat_baselines,
        "require_champion_not_worse": ev.champion.require_not_worse,
        "threshold_failures": threshold_failures,
        "failed_targets": sorted({t for t, _ in blocking}),
        "failures": [m for _, m in blocking],
        "advisories": advisories,
    }


def _messages(items: Any) -> list[str]:
    items = [str(m)[:_MAX_MESSAGE_CHARS] for m in (items or [])]
    return items[:_MAX_MESSAGES] + ([f"... {len(items) - _MAX_MESSAGES} more in the report"]
                                    if len(items) > _MAX_MESSAGES else [])


def _target_summary(body: Mapping[str, Any]) -> dict[str, Any]:
    agg = body.get("aggregate") or {}
    return {
        "strategy": body.get("strategy"),
        "headline": {m: agg.get(m) for m in METRICS},
        "buildings": agg.get("buildings"),
        "rows_scored": body.get("rows_scored"),
        "beats": body.get("beats"),
        "beats_baselines": body.get("beats_baselines"),
        "baselines": {name: ((b or {}).get("aggregate") or {}).get(GATE_METRIC)
                      for name, b in (body.get("baselines") or {}).items()},
    }


def _champion_summary(champion: Mapping[str, Any] | None) -> dict[str, Any]:
    champion = champion or {}
    keys = ("status", "reason", "model_package_arn", "model_package_version", "verdict", "not_worse", "metric",
            "margin", "require_not_worse")
    out = {k: champion.get(k) for k in keys}
    if isinstance(out["reason"], str):
        out["reason"] = out["reason"][:_MAX_MESSAGE_CHARS]
    out["targets"] = {
        target: {k: comp.get(k) for k in ("verdict", "challenger", "champion", "delta", "relative_delta", "rows",
                                          "same_rows", "metrics")}
        for target, comp in (champion.get("targets") or {}).items()}
    return out


def decision_document(report: Mapping[str, Any]) -> dict[str, Any]:
    """The small document CheckEvaluationEDF reads, built from the full report.

    Its size is bounded by targets x metrics (never by buildings); :data:`DECISION_MAX_BYTES` is
    checked so a change that lets it grow fails here instead of as ``States.DataLimitExceeded``.
    """
    doc = {
        "schema_version": 1,
        **{k: report.get(k) for k in ("passed", "passes_thresholds", "beats_baselines", "champion_not_worse",
                                      "require_beat_baselines", "require_champion_not_worse", "failed_targets")},
        "failures": _messages(report.get("failures")),
        "advisories": _messages(report.get("advisories")),
        "thresholds": report.get("thresholds"),
        "target": report.get("target"),
        "strategy": report.get("strategy"),
        "headline": report.get("headline"),
        "targets": {t: _target_summary(body) for t, body in (report.get("targets") or {}).items()},
        "champion": _champion_summary(report.get("champion")),
        **{k: report.get(k) for k in ("eval_start", "eval_end", "data_fingerprint", "config_hash", "generated_at")},
        "report": REPORT_FILE,
    }
    size = len(json.dumps(doc).encode())
    if size > DECISION_MAX_BYTES:
        raise ValueError(f"evaluation decision document is {size} bytes, over {DECISION_MAX_BYTES}: it must not "
                         "carry anything that grows with the portfolio")
    return doc
