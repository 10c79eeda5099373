"""training_edf in a real account: resources present and wired; optionally a full training run
(``EDF_DEPLOYED_RUN_TRAINING=1``; it starts SageMaker jobs, so it costs money and ~30-60 min)."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest
import yaml
from deployed_support import ENV, deployed_config, requires_deployment, state_machine_arn, wait_for_execution

pytestmark = requires_deployment


def test_training_workflow_and_registry_are_deployed():
    cfg = deployed_config()
    sfn = boto3.client("stepfunctions")
    desc = sfn.describe_state_machine(stateMachineArn=state_machine_arn(cfg.name(cfg.edf_training_sfn_base)))
    assert desc["status"] == "ACTIVE"
    assert desc["tracingConfiguration"]["enabled"] is True
    boto3.client("sagemaker").describe_model_package_group(ModelPackageGroupName=cfg.model_package_group)
    fn = boto3.client("lambda").get_function_configuration(FunctionName=cfg.name(cfg.lambda_register_edf_func_base))
    assert fn["TracingConfig"]["Mode"] == "Active"
    assert fn["Environment"]["Variables"]["EDF_MODEL_PACKAGE_GROUP"] == cfg.model_package_group


def test_config_was_uploaded_for_this_environment():
    cfg = deployed_config()
    body = boto3.client("s3").get_object(Bucket=cfg.scripts_bucket, Key="config/edf_config.yaml")["Body"].read()
    assert yaml.safe_load(body)["env_suffix"] == ENV


def test_training_run_succeeds_when_requested():
    if os.environ.get("EDF_DEPLOYED_RUN_TRAINING") != "1":
        pytest.skip("set EDF_DEPLOYED_RUN_TRAINING=1 to start a real training run")
    cfg = deployed_config()
    arn = boto3.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn(cfg.name(cfg.edf_training_sfn_base)),
        name=f"ci-{uuid.uuid4().hex[:16]}", input="{}")["executionArn"]
    desc = wait_for_execution(arn, timeout_s=3 * 3600)
    assert desc["status"] == "SUCCEEDED", desc.get("cause") or desc.get("error")
