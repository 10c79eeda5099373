"""inference_edf in a real account: schedule and workflow deployed, an approved model exists, and
one inference run succeeds end to end (SageMaker jobs and the forecast store)."""

from __future__ import annotations

import uuid

import boto3
from deployed_support import deployed_config, requires_deployment, state_machine_arn, wait_for_execution

pytestmark = requires_deployment


def test_daily_schedule_targets_the_inference_workflow():
    cfg = deployed_config()
    arn = state_machine_arn(cfg.name(cfg.edf_inference_sfn_base))
    sched = boto3.client("scheduler").get_schedule(Name=cfg.name(cfg.edf_scheduler_base))
    assert sched["State"] == "ENABLED"
    assert sched["ScheduleExpression"] == cfg.edf_inference.scheduler_expression
    assert sched["Target"]["Arn"] == arn


def test_inference_run_succeeds():
    cfg = deployed_config()
    approved = boto3.client("sagemaker").list_model_packages(
        ModelPackageGroupName=cfg.model_package_group, ModelApprovalStatus="Approved", MaxResults=1)
    assert approved["ModelPackageSummaryList"], (
        f"no Approved model package in {cfg.model_package_group}: run training and approve a model first "
        "(README.md, 'Deploying to AWS')")
    arn = boto3.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn(cfg.name(cfg.edf_inference_sfn_base)),
        name=f"ci-{uuid.uuid4().hex[:16]}", input="{}")["executionArn"]
    desc = wait_for_execution(arn, timeout_s=2 * 3600)
    assert desc["status"] == "SUCCEEDED", desc.get("cause") or desc.get("error")
