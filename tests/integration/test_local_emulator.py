"""The emulated AWS: environment wiring, provisioning from config and the compatibility layer calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.exceptions import ClientError

from edf_local.emulator import EmulatedAWS, alerts_topic_name


@pytest.fixture(scope="module")
def aws(cfg):
    with EmulatedAWS(region=cfg.aws_region) as emulator:
        yield emulator


def test_a_new_emulator_starts_from_an_empty_account(cfg):
    # first in the module, before the shared fixture starts: no other emulator runs in this process
    with EmulatedAWS(region=cfg.aws_region) as first:
        first.provision(cfg)
        assert first.client("s3").list_buckets()["Buckets"]
    with EmulatedAWS(region=cfg.aws_region) as second:
        assert second.client("s3").list_buckets()["Buckets"] == []
        second.provision(cfg)
        second.reset()
        assert second.client("s3").list_buckets()["Buckets"] == []


def test_environment_points_clients_at_the_emulator_and_is_restored(aws, cfg):
    assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert aws.endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_DEFAULT_REGION"] == cfg.aws_region
    before = dict(os.environ)
    inner = EmulatedAWS(region="us-west-2").start()
    try:
        assert os.environ["AWS_ENDPOINT_URL"] == inner.endpoint_url != aws.endpoint_url
    finally:
        inner.stop()
    assert dict(os.environ) == before


def test_provision_creates_config_named_resources_idempotently(aws, cfg):
    arns = aws.provision(cfg)
    assert aws.provision(cfg) == arns
    names = {b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]}
    assert {cfg.raw_bucket, cfg.processed_bucket, cfg.scripts_bucket} <= names
    group = boto3.client("sagemaker").describe_model_package_group(ModelPackageGroupName=cfg.model_package_group)
    assert group["ModelPackageGroupArn"] == arns["model_package_group"]
    topics = [t["TopicArn"] for t in boto3.client("sns").list_topics()["Topics"]]
    assert arns["alerts_topic"] in topics
    assert arns["alerts_topic"].endswith(f":{alerts_topic_name(cfg)}")
    assert alerts_topic_name(cfg) == f"edf-alerts-{cfg.env_suffix}"


def test_subprocesses_inherit_the_endpoint(aws, cfg):
    aws.provision(cfg)
    code = "import boto3; print(sorted(b['Name'] for b in boto3.client('s3').list_buckets()['Buckets']))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert cfg.processed_bucket in out.stdout


def test_delete_model_package_group(aws):
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="CompatEmpty")
    sm.delete_model_package_group(ModelPackageGroupName="CompatEmpty")
    with pytest.raises(ClientError) as missing:
        sm.describe_model_package_group(ModelPackageGroupName="CompatEmpty")
    assert missing.value.response["Error"]["Code"] == "ValidationException"

    sm.create_model_package_group(ModelPackageGroupName="CompatFull")
    sm.create_model_package(ModelPackageGroupName="CompatFull", ModelApprovalStatus="PendingManualApproval",
                            InferenceSpecification={"Containers": [{"Image": "img:1"}],
                                                    "SupportedContentTypes": ["text/csv"],
                                                    "SupportedResponseMIMETypes": ["text/csv"]})
    with pytest.raises(ClientError) as conflict:
        sm.delete_model_package_group(ModelPackageGroupName="CompatFull")
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as absent:
        sm.delete_model_package_group(ModelPackageGroupName="NeverExisted")
    assert absent.value.response["Error"]["Code"] == "ValidationException"
    assert "does not exist" in absent.value.response["Error"]["Message"]


def test_validate_state_machine_definition_uses_project_validation(aws):
    sfn = boto3.client("stepfunctions")
    ok = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), type="STANDARD")
    assert ok["result"] == "OK" and ok["diagnostics"] == []
    bad = sfn.validate_state_machine_definition(
        definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Missing"}}}))
    assert bad["result"] == "FAIL"
    codes = {d["code"] for d in bad["diagnostics"]}
    assert "MISSING_TRANSITION_TARGET" in codes
    assert all(d["severity"] == "ERROR" and d["location"] for d in bad["diagnostics"])
    broken = sfn.validate_state_machine_definition(definition="{not json")
    assert broken["result"] == "FAIL" and broken["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"


def test_list_state_machine_versions(aws):
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})
    arn = sfn.create_state_machine(name="CompatVersions", definition=definition, publish=True,
                                   roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    sfn.update_state_machine(stateMachineArn=arn, definition=definition, publish=True)
    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [f"{arn}:2", f"{arn}:1"]
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    assert len(page["stateMachineVersions"]) == 1 and page["nextToken"]
    unpublished = sfn.create_state_machine(name="CompatNoVersions", definition=definition,
                                           roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    assert sfn.list_state_machine_versions(stateMachineArn=unpublished)["stateMachineVersions"] == []
    with pytest.raises(ClientError) as info:
        sfn.list_state_machine_versions(stateMachineArn=arn.replace("CompatVersions", "Nope"))
    assert info.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


@pytest.mark.parametrize("service", ["timestream-write", "timestream-query"])
def test_timestream_endpoint_discovery_answers_the_emulator(aws, service):
    endpoints = boto3.client(service).describe_endpoints()["Endpoints"]
    assert endpoints == [{"Address": aws.endpoint_url, "CachePeriodInMinutes": 1440}]


def test_compat_layer_passes_other_calls_to_moto(aws):
    assert "SageMaker.DeleteModelPackageGroup" in aws.middleware.calls
    boto3.client("timestream-write").create_database(DatabaseName="compat_db")
    names = [d["DatabaseName"] for d in boto3.client("timestream-write").list_databases()["Databases"]]
    assert "compat_db" in names


def test_add_compat_handler_extends_the_layer(aws):
    from edf_local.emulator import COMPAT_HANDLERS, CompatError, add_compat_handler

    def handler(body, region, emulator):
        if body.get("ModelPackageGroupName") == "bad":
            raise CompatError("ValidationException", "bad group")
        return {"ModelPackageGroupArn": f"arn:aws:sagemaker:{region}:123456789012:model-package-group/x"}

    add_compat_handler("SageMaker.DeleteModelPackageGroupPolicy", handler)
    try:
        sm = boto3.client("sagemaker")
        sm.delete_model_package_group_policy(ModelPackageGroupName="x")
        with pytest.raises(ClientError, match="bad group"):
            sm.delete_model_package_group_policy(ModelPackageGroupName="bad")
    finally:
        COMPAT_HANDLERS.pop("SageMaker.DeleteModelPackageGroupPolicy")


def test_glue_tags_read_back_for_an_arn_without_account(aws):
    glue = boto3.client("glue")
    glue.create_job(Name="edf-tags-test", Role="arn:aws:iam::123456789012:role/r",
                    Command={"Name": "glueetl", "ScriptLocation": "s3://b/k"}, Tags={"Project": "edf"})
    region = glue.meta.region_name
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:{region}::job/edf-tags-test")["Tags"] == {"Project": "edf"}
    assert glue.get_tags(ResourceArn=f"arn:aws:glue:{region}:123456789012:job/edf-tags-test")["Tags"] == {"Project": "edf"}
    glue.delete_job(JobName="edf-tags-test")
