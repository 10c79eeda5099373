"""Model registry operations and the three registry Lambdas, against moto's SageMaker and S3."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from edf.lambda_events import InvalidEvent
from edf.registry import registry as reg

REGION = "eu-central-1"
GROUP = "EDFBuildingDemandForecaster-test"
BUCKET = "edf-test-processed"
IMAGE = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/edf:test"
REPO = Path(__file__).resolve().parents[2]


def report(strategy: str = "xgboost", mape: float = 20.0, rmse: float = 0.5, passed: bool = True) -> dict:
    return {
        "passed": passed, "passes_thresholds": passed, "beats_baselines": True,
        "strategy": strategy, "target": "consumption_kwh", "weather": "observed",
        "headline": {"mape_pct": mape, "rmse": rmse, "mae": rmse * 0.7, "cv_rmse_pct": 30.0,
                     "nmbe_pct": -2.0, "pinball": 0.1, "coverage": 0.8},
        "targets": {"consumption_kwh": {"per_building": {"b" * 300: {"rmse": rmse}}}},
        "thresholds": {"max_mape": 40.0},
    }


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        yield sm, s3


def put_report(s3, name: str, body: dict) -> str:
    key = f"evaluation-output/wf/{name}/evaluation_report_edf.json"
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(body).encode())
    s3.put_object(Bucket=BUCKET, Key=f"evaluation-output/wf/{name}/forecast_vs_actual.png", Body=b"png")
    return f"s3://{BUCKET}/{key}"


def register(sm, s3, name: str, **kw) -> dict:
    uri = put_report(s3, name, report(**kw))
    return reg.register_model_package(GROUP, IMAGE, f"s3://{BUCKET}/model-artifacts/{name}/model.tar.gz", uri,
                                      sagemaker=sm, s3=s3)


def test_register_creates_pending_package_with_metrics_and_flat_metadata(aws):
    sm, s3 = aws
    out = register(sm, s3, "exec1", mape=12.5)
    pkg = sm.describe_model_package(ModelPackageName=out["model_package_arn"])
    assert pkg["ModelApprovalStatus"] == reg.PENDING
    container = pkg["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == IMAGE and container["ModelDataUrl"].endswith("exec1/model.tar.gz")
    assert pkg["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("exec1/evaluation_report_edf.json")
    meta = pkg["CustomerMetadataProperties"]
    assert meta["strategy"] == "xgboost" and meta["target"] == "consumption_kwh" and meta["mape_pct"] == "12.5"
    assert all(isinstance(v, str) and len(v) <= 256 for v in meta.values())
    assert "targets" not in meta  # nested report content stays in S3


def test_register_without_readable_report_fails_naming_it(aws):
    sm, s3 = aws
    with pytest.raises(reg.RegistryError, match="missing/evaluation_report_edf.json"):
        reg.register_model_package(GROUP, IMAGE, f"s3://{BUCKET}/m.tar.gz",
                                   f"s3://{BUCKET}/missing/evaluation_report_edf.json", sagemaker=sm, s3=s3)
    assert reg.list_packages(GROUP, sagemaker=sm) == []


def test_metadata_values_are_truncated_to_256_characters():
    meta = reg.metadata_from_report(report(), {"note": "x" * 400})
    assert len(meta["note"]) == 256 and meta["passed"] == "true"


def test_no_approved_package_names_the_group(aws):
    sm, s3 = aws
    register(sm, s3, "exec1")
    with pytest.raises(reg.NoApprovedModelError, match=GROUP):
        reg.latest_approved(GROUP, sagemaker=sm)


def test_latest_approved_is_the_newest_across_pages(aws, monkeypatch):
    sm, s3 = aws
    arns = []
    for i in range(4):
        arns.append(register(sm, s3, f"exec{i}")["model_package_arn"])
        time.sleep(0.01)
    for arn in arns[:3]:
        reg.set_approval(arn, reg.APPROVED, "ok", sagemaker=sm)
    # force one package per page so the newest is not on the first page by accident
    real = sm.get_paginator

    class OnePerPage:
        def __init__(self, name):
            self.inner = real(name)

        def paginate(self, **kwargs):
            return self.inner.paginate(**kwargs, PaginationConfig={"PageSize": 1})

    monkeypatch.setattr(sm, "get_paginator", OnePerPage)
    assert len(reg.list_packages(GROUP, reg.APPROVED, sagemaker=sm)) == 3
    assert reg.latest_approved(GROUP, sagemaker=sm)["ModelPackageArn"] == arns[2]


def test_approve_and_reject_need_a_description_and_keep_metadata(aws):
    sm, s3 = aws
    arn = register(sm, s3, "exec1")["model_package_arn"]
    with pytest.raises(reg.RegistryError, match="description"):
        reg.set_approval(arn, reg.APPROVED, "  ", sagemaker=sm)
    out = reg.set_approval(arn, reg.APPROVED, "beats champion on rmse", sagemaker=sm)
    assert out["previous_status"] == reg.PENDING
    pkg = sm.describe_model_package(ModelPackageName=arn)
    assert pkg["ModelApprovalStatus"] == reg.APPROVED
    assert pkg["ApprovalDescription"] == "beats champion on rmse"
    assert pkg["CustomerMetadataProperties"]["strategy"] == "xgboost"
    reg.set_approval(arn, reg.REJECTED, "drift", sagemaker=sm)
    assert sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == reg.REJECTED
    with pytest.raises(reg.RegistryError, match="status must be"):
        reg.set_approval(arn, "Maybe", "x", sagemaker=sm)


def test_compare_challenger_with_champion(aws):
    sm, s3 = aws
    champ = register(sm, s3, "champ", mape=25.0, rmse=0.6)["model_package_arn"]
    reg.set_approval(champ, reg.APPROVED, "first", sagemaker=sm)
    chall = register(sm, s3, "chall", mape=20.0, rmse=0.7)["model_package_arn"]
    out = reg.compare_packages(chall, champ, sagemaker=sm, s3=s3)
    assert out["metrics"]["mape_pct"]["better"] == "challenger"
    assert out["metrics"]["rmse"]["better"] == "champion"
    assert out["metrics"]["rmse"]["delta"] == pytest.approx(0.1)
    assert out["metrics"]["coverage"]["better"] is None  # judged against the nominal width, not by size
    assert out["metrics"]["nmbe_pct"]["better"] == "equal"
    alone = reg.compare_packages(chall, None, sagemaker=sm, s3=s3)
    assert alone["champion"] is None and alone["notes"]


def test_report_plots_lists_pngs_next_to_the_report(aws):
    sm, s3 = aws
    uri = put_report(s3, "exec9", report())
    assert reg.report_plots(uri, s3=s3) == [f"s3://{BUCKET}/evaluation-output/wf/exec9/forecast_vs_actual.png"]


def _handler(name: str):
    spec = importlib.util.spec_from_file_location(f"h_{name}", REPO / "lambdas" / name / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def test_lambda_handlers_register_get_approved_and_create_model(aws, monkeypatch):
    sm, s3 = aws
    monkeypatch.setenv("EDF_MODEL_PACKAGE_GROUP", GROUP)
    monkeypatch.setenv("EDF_SAGEMAKER_ROLE_ARN", "arn:aws:iam::123456789012:role/edf-sm")
    uri = put_report(s3, "exec1", report())
    with pytest.raises(InvalidEvent, match="evaluation_report_uri: missing"):
        _handler("register_model")({"model_data_url": "s3://b/m.tar.gz", "image_uri": IMAGE}, None)
    out = _handler("register_model")({"model_data_url": f"s3://{BUCKET}/m.tar.gz", "image_uri": IMAGE,
                                       "evaluation_report_uri": uri, "execution_name": "exec1"}, None)
    assert out["model_approval_status"] == reg.PENDING and out["metadata"]["execution_name"] == "exec1"
    # a retried invocation (same execution) returns the same package instead of a duplicate
    again = _handler("register_model")({"model_data_url": f"s3://{BUCKET}/m.tar.gz", "image_uri": IMAGE,
                                         "evaluation_report_uri": uri, "execution_name": "exec1"}, None)
    assert again["model_package_arn"] == out["model_package_arn"]
    assert len(reg.list_packages(GROUP, sagemaker=sm)) == 1
    with pytest.raises(reg.NoApprovedModelError, match=GROUP):
        _handler("get_approved_model")({}, None)
    reg.set_approval(out["model_package_arn"], reg.APPROVED, "ok", sagemaker=sm)
    got = _handler("get_approved_model")({}, None)
    assert got["model_package_arn"] == out["model_package_arn"]
    assert got["image_uri"] == IMAGE and got["model_data_url"] == f"s3://{BUCKET}/m.tar.gz"
    assert got["strategy"] == "xgboost" and got["evaluation_report_uri"] == uri
    made = _handler("create_sagemaker_model")({"model_package_arn": got["model_package_arn"],
                                               "model_name": "edf-model-exec2"}, None)
    assert made["model_name"] == "edf-model-exec2" and made["model_data_url"] == got["model_data_url"]
    assert sm.describe_model(ModelName="edf-model-exec2")["ModelName"] == "edf-model-exec2"
    # a retried invocation reuses the model instead of failing on the duplicate name
    again = _handler("create_sagemaker_model")({"model_package_arn": got["model_package_arn"],
                                                "model_name": "edf-model-exec2"}, None)
    assert again["model_name"] == "edf-model-exec2"


def test_create_model_refuses_a_package_that_is_not_approved(aws):
    sm, s3 = aws
    arn = register(sm, s3, "exec1")["model_package_arn"]
    with pytest.raises(reg.RegistryError, match="PendingManualApproval"):
        reg.create_model_from_package(arn, "m1", "arn:aws:iam::123456789012:role/r", sagemaker=sm)
