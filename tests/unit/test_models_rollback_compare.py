"""`edf models rollback`, same-window `compare`, `show|compare --plots` and the register metadata, against moto."""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from edf.cli import main
from edf.registry import APPROVED, PENDING, REJECTED, latest_approved, set_approval
from edf.registry import registry as reg

REGION = "eu-central-1"
BUCKET = "edf-rollback-test"
REPO = Path(__file__).resolve().parents[2]


def report(rmse: float, fingerprint: str = "fp-1", champion: dict | None = None) -> dict:
    return {"passed": True, "passes_thresholds": True, "beats_baselines": True, "strategy": "xgboost",
            "target": "consumption_kwh", "headline": {"rmse": rmse, "cv_rmse_pct": 50 * rmse, "coverage": 0.8},
            "eval_start": "2017-07-04T00:00:00+00:00", "eval_end": "2017-07-31T23:00:00+00:00",
            "data_fingerprint": fingerprint, "champion": champion or {"status": "none"}}


@pytest.fixture
def registry(cfg, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # a job run earlier in the session (run_job) may have left the EDF log handler on stdout; the CLI
    # itself installs none, and these tests read its stdout as JSON
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    with mock_aws():
        sm, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sm.create_model_package_group(ModelPackageGroupName=cfg.model_package_group)

        def register(name: str, body: dict, decision: dict | None = None) -> str:
            key = f"eval/{name}/evaluation_report_edf.json"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
            for png in ("consumption_forecast_vs_actual.png", "consumption_feature_importance.png"):
                s3.put_object(Bucket=BUCKET, Key=f"eval/{name}/{png}", Body=b"\x89PNG " + name.encode())
            if decision is not None:
                s3.put_object(Bucket=BUCKET, Key=f"eval/{name}/evaluation_decision_edf.json",
                              Body=json.dumps(decision).encode())
            time.sleep(0.01)  # distinct creation times: "newest" is by creation time
            return reg.register_model_package(cfg.model_package_group, "img", f"s3://{BUCKET}/{name}/model.tar.gz",
                                              f"s3://{BUCKET}/{key}", sagemaker=sm, s3=s3)["model_package_arn"]

        yield cfg.model_package_group, sm, register


def _status(sm, arn: str) -> dict:
    return sm.describe_model_package(ModelPackageName=arn)


def _get_approved_lambda(group: str, monkeypatch) -> dict:
    """What the inference workflow's GetApprovedEDFModelPackage Lambda returns now."""
    monkeypatch.setenv("EDF_MODEL_PACKAGE_GROUP", group)
    spec = importlib.util.spec_from_file_location("h_get", REPO / "lambdas" / "get_approved_model" / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        return module.handler({}, None)
    finally:  # the handler configures Lambda logging (JSON on stdout); the CLI tests read stdout
        root.handlers[:], root.level = saved[0], saved[1]


# ------------------------------------------------------------------ rollback
def test_rollback_reapproves_the_previous_champion_and_rejects_the_current(registry, capsys, monkeypatch):
    group, sm, register = registry
    v1, v2, v3 = (register(f"r{i}", report(0.5 + i / 10)) for i in range(3))
    set_approval(v1, APPROVED, "first champion", sagemaker=sm)
    set_approval(v2, APPROVED, "second champion", sagemaker=sm)
    assert latest_approved(group, sm)["ModelPackageArn"] == v2
    assert main(["models", "rollback", "--description", "v2 drifts on heat pumps (ops)"]) == 0
    out = capsys.readouterr().out
    assert f"rejected    v2 {v2}" in out and f"re-approved v1 {v1}" in out
    assert f"the next inference run will use v1 {v1}" in out and f"s3://{BUCKET}/r0/model.tar.gz" in out
    current, previous = _status(sm, v2), _status(sm, v1)
    assert current["ModelApprovalStatus"] == REJECTED
    assert current["ApprovalDescription"] == "rolled back to version 1: v2 drifts on heat pumps (ops)"
    assert previous["ModelApprovalStatus"] == APPROVED
    assert previous["ApprovalDescription"].startswith("rollback from version 2 to version 1")
    assert _status(sm, v3)["ModelApprovalStatus"] == PENDING  # the pending challenger is untouched
    assert _get_approved_lambda(group, monkeypatch)["model_package_arn"] == v1
    # v1 is the first champion ever: nothing to roll back to
    assert main(["models", "rollback", "--description", "again"]) == 2
    assert "no previous champion" in capsys.readouterr().err


def test_rollback_finds_a_former_champion_that_was_rejected_since(registry, capsys):
    group, sm, register = registry
    v1, v2 = register("a", report(0.6)), register("b", report(0.5))
    set_approval(v1, APPROVED, "first", sagemaker=sm)
    set_approval(v2, APPROVED, "second", sagemaker=sm)
    set_approval(v1, REJECTED, "superseded", sagemaker=sm)  # a former champion, rejected when v2 came
    capsys.readouterr()
    assert main(["models", "rollback", "--description", "v2 broke", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["approved"]["arn"] == v1 and out["rejected"]["arn"] == v2 and out["next_inference"]["arn"] == v1
    assert latest_approved(group, sm)["ModelPackageArn"] == v1


def test_rollback_without_a_champion_or_description_is_a_clear_error(registry, capsys):
    _, _, register = registry
    register("only", report(0.5))
    assert main(["models", "rollback", "--description", "x"]) == 2
    assert "nothing to roll back" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["models", "rollback"])


# ------------------------------------------------------------------ same-window compare
def _same_window_block(champion_arn: str) -> dict:
    metrics = {"rmse": {"challenger": 0.48, "champion": 0.52, "delta": -0.04, "better": "challenger"},
               "cv_rmse_pct": {"challenger": 24.0, "champion": 26.0, "delta": -2.0, "better": "challenger"}}
    return {"status": "compared", "model_package_arn": champion_arn, "model_package_version": 1, "verdict": "better",
            "metric": "cv_rmse_pct", "margin": 0.02,
            "targets": {"consumption_kwh": {"verdict": "better", "metric": "cv_rmse_pct", "rows": 13440,
                                            "same_rows": True, "rows_fingerprint": {"challenger": "x", "champion": "x"},
                                            "metrics": metrics}}}


def test_compare_shows_the_same_window_table_and_says_when_the_data_differ(registry, capsys):
    _, sm, register = registry
    champion = register("champ", report(0.6, fingerprint="fp-old"))
    set_approval(champion, APPROVED, "champion", sagemaker=sm)
    register("chall", report(0.5, fingerprint="fp-new", champion=_same_window_block(champion)))
    assert main(["models", "compare"]) == 0
    out = capsys.readouterr().out
    assert "same window: the challenger's evaluation scored this champion on its own rows" in out
    assert "consumption_kwh: better, 13440 identical rows" in out and "0.52" in out
    assert "evaluated on different data" in out and "fp-new vs fp-old" in out
    capsys.readouterr()
    assert main(["models", "compare", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["same_window"]["targets"]["consumption_kwh"]["same_rows"] is True and result["same_data"] is False


def test_compare_without_a_same_window_evaluation_says_so(registry, capsys):
    _, sm, register = registry
    champion = register("champ", report(0.6))
    set_approval(champion, APPROVED, "champion", sagemaker=sm)
    register("chall", report(0.5))  # same data, but its evaluation scored no champion
    assert main(["models", "compare"]) == 0
    out = capsys.readouterr().out
    assert "same window:" not in out and "did not score this champion on its rows" in out
    assert "both reports were evaluated on the same data" in out


# ------------------------------------------------------------------ plots a person can open
def test_show_and_compare_download_the_plots(registry, capsys, tmp_path):
    _, sm, register = registry
    champion = register("champ", report(0.6))
    set_approval(champion, APPROVED, "champion", sagemaker=sm)
    register("chall", report(0.5))
    assert main(["models", "show", "2", "--plots", str(tmp_path / "show")]) == 0
    out = capsys.readouterr().out
    for name in ("consumption_forecast_vs_actual.png", "consumption_feature_importance.png"):
        path = tmp_path / "show" / name
        assert path.read_bytes() == b"\x89PNG chall" and str(path) in out
    assert main(["models", "compare", "--plots", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "cmp" / "challenger-v2" / "consumption_feature_importance.png").read_bytes() == b"\x89PNG chall"
    assert (tmp_path / "cmp" / "champion-v1" / "consumption_feature_importance.png").read_bytes() == b"\x89PNG champ"
    assert str(tmp_path / "cmp" / "champion-v1" / "consumption_forecast_vs_actual.png") in out


# ------------------------------------------------------------------ registration reads the small document
def test_register_takes_metadata_from_the_decision_document(registry):
    _, sm, register = registry
    decision = {**report(0.5), "champion": {"verdict": "worse", "model_package_version": 4}}
    decision["headline"] = {"rmse": 0.123}
    arn = register("dec", report(0.5), decision=decision)
    meta = sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"]
    assert meta["rmse"] == "0.123" and meta["champion_verdict"] == "worse" and meta["champion_version"] == "4"
    assert sm.describe_model_package(ModelPackageName=arn)["ModelMetrics"]["ModelQuality"]["Statistics"][
        "S3Uri"].endswith("dec/evaluation_report_edf.json")  # the evidence stays the full report


def test_show_says_which_target_failed_and_the_champion_verdict(registry, capsys):
    _, sm, register = registry
    champion = register("champ", report(0.6))
    body = {**report(0.5, champion=_same_window_block(champion)), "passed": False, "beats_baselines": False,
            "failed_targets": ["solar_generation_kwh"],
            "failures": ["solar_generation_kwh: does not beat persistence (cv_rmse_pct 62.000 vs 58.900)"],
            "targets": {"consumption_kwh": {"importance": {"supported": True, "mean_abs_shap": {"lag": 0.4}}}}}
    register("chall", body)
    capsys.readouterr()
    assert main(["models", "show", "2"]) == 0
    out = capsys.readouterr().out
    assert "FAILED targets: solar_generation_kwh" in out and "does not beat persistence" in out
    assert "champion v1: better (compared)" in out and "on 13440 identical rows" in out
    assert "evaluation window 2017-07-04T00:00:00+00:00 .. 2017-07-31T23:00:00+00:00, data fingerprint fp-1" in out
    assert "consumption_kwh top features (mean |SHAP| kWh): lag=0.4" in out
