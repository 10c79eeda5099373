"""`edf models list|show|compare|approve|reject` against moto (the same calls as real AWS)."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from edf.cli import main
from edf.registry import registry as reg

REGION = "eu-central-1"
BUCKET = "edf-cli-test"


@pytest.fixture
def group(cfg, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        sm, s3 = boto3.client("sagemaker", region_name=REGION), boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sm.create_model_package_group(ModelPackageGroupName=cfg.model_package_group)
        arns = []
        for i, rmse in enumerate((0.6, 0.5)):
            key = f"eval/{i}/evaluation_report_edf.json"
            body = {"passed": True, "passes_thresholds": True, "beats_baselines": True, "strategy": "xgboost",
                    "target": "consumption_kwh", "headline": {"rmse": rmse, "mape_pct": 20 + i, "coverage": 0.8},
                    "targets": {"consumption_kwh": {"aggregate": {"rmse": rmse}, "beats_baselines": True,
                                                    "baselines": {"seasonal_naive": {"aggregate": {"rmse": 0.9}}}}}}
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
            s3.put_object(Bucket=BUCKET, Key=f"eval/{i}/plot.png", Body=b"png")
            arns.append(reg.register_model_package(cfg.model_package_group, "img", f"s3://{BUCKET}/m{i}.tar.gz",
                                                   f"s3://{BUCKET}/{key}", sagemaker=sm, s3=s3)["model_package_arn"])
        yield cfg.model_package_group, arns, sm


def test_list_shows_status_and_headline_metrics(group, capsys):
    name, arns, _ = group
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert name in out and "PendingManualApproval" in out and "0.6" in out and "0.5" in out
    assert main(["models", "list", "--status", "Approved", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_approve_requires_description_and_uses_version_numbers(group, capsys):
    _, arns, sm = group
    with pytest.raises(SystemExit):
        main(["models", "approve", "1"])
    assert main(["models", "approve", "1", "--description", "reviewed"]) == 0
    assert "PendingManualApproval -> Approved" in capsys.readouterr().out
    assert sm.describe_model_package(ModelPackageName=arns[0])["ModelApprovalStatus"] == "Approved"
    assert main(["models", "reject", arns[1], "--description", "worse coverage"]) == 0
    assert sm.describe_model_package(ModelPackageName=arns[1])["ModelApprovalStatus"] == "Rejected"
    assert main(["models", "approve", "9", "--description", "x"]) == 2
    assert "no version 9" in capsys.readouterr().err


def test_show_prints_the_evaluation_and_plots(group, capsys):
    assert main(["models", "show", "2"]) == 0
    out = capsys.readouterr().out
    assert "passes_thresholds=True" in out and "baseline seasonal_naive: rmse=0.9" in out and "model: rmse=0.5" in out and "eval/1/plot.png" in out


def test_compare_defaults_to_newest_pending_vs_approved_champion(group, capsys):
    _, arns, _ = group
    assert main(["models", "approve", "1", "--description", "champion"]) == 0
    capsys.readouterr()
    assert main(["models", "compare", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["challenger"]["arn"] == arns[1] and result["champion"]["arn"] == arns[0]
    assert result["metrics"]["rmse"]["better"] == "challenger"
