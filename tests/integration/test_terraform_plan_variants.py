"""The forecast-store backends the apply cycle does not deploy (DYNAMODB, RDS) still plan cleanly,
with exactly their own resources and wiring (a plan against the emulator; nothing is created)."""

from __future__ import annotations

import json
import zipfile

import pytest
from terraform_support import (
    PLUGIN_DIR,
    base_env,
    emulator_override,
    stage,
    terraform_required,  # noqa: F401 - autouse fixture: fail, never skip, without terraform
    tf,
    tfvars_args,
)

from edf.config import load_config
from edf.packaging import load_function_specs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    from edf_local.emulator import EmulatedAWS

    root = tmp_path_factory.mktemp("tf-plan")
    cfg = load_config(None)
    zips = root / "zips"
    zips.mkdir()
    for name in load_function_specs():  # plan only hashes the zips
        with zipfile.ZipFile(zips / f"{name}.zip", "w") as zf:
            zf.writestr("handler.py", "def handler(event, context):\n    return None\n")
    stage(root / "repo")
    stack = root / "repo/terraform/stacks/inference_edf"
    env = base_env(root / "tfdata")
    with EmulatedAWS(region=cfg.aws_region, set_environment=False) as aws:
        (stack / "emulator_override.tf").write_text(emulator_override(aws.endpoint_url))
        tf(["init", f"-plugin-dir={PLUGIN_DIR}", f"-backend-config=path={root / 'plan.tfstate'}"], stack, env)
        region = cfg.aws_region
        base = {
            "lambda_zip_dir": str(zips),
            "aws_sdk_pandas_layer_arn": f"arn:aws:lambda:{region}:{ACCOUNT}:layer:AWSSDKPandas-Python311:1",
            "sagemaker_execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/edf-sagemaker-execution-dev",
            "alerts_topic_arn": f"arn:aws:sns:{region}:{ACCOUNT}:edf-alerts-dev",
            "training_state_machine_arn": f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:training",
            "training_kms_key_arn": f"arn:aws:kms:{region}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
        }

        def plan(**variables):
            out = root / "plan.out"
            tf(["plan", f"-out={out}", *tfvars_args({**base, **variables})], stack, env, timeout=600)
            shown = tf(["show", "-json", str(out)], stack, env)
            return json.loads(shown.stdout)

        yield plan


def _resources(plan: dict) -> list[dict]:
    return [rc for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"]]


def test_dynamodb_backend(planner):
    plan = planner(forecast_db_type="DYNAMODB")
    types = {rc["type"] for rc in _resources(plan)}
    assert "aws_dynamodb_table" in types
    assert not {"aws_timestreamwrite_database", "aws_db_instance"} & types
    table = next(rc for rc in _resources(plan) if rc["type"] == "aws_dynamodb_table")["change"]["after"]
    assert (table["hash_key"], table["range_key"]) == ("PK", "SK")
    assert {g["name"] for g in table["global_secondary_index"]} == {"ByRun"}
    assert table["ttl"][0] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"][0]["enabled"] is True
    loader = next(rc for rc in _resources(plan) if rc["address"] == "module.load_forecasts.aws_lambda_function.this")
    assert loader["change"]["after"]["environment"][0]["variables"]["EDF_DYNAMODB_TABLE"] == table["name"]


def test_rds_backend_in_private_subnets(planner):
    plan = planner(forecast_db_type="RDS", vpc_id="vpc-0123456789abcdef0", vpc_cidr="10.0.0.0/16",
                   private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
    created = _resources(plan)
    types = {rc["type"] for rc in created}
    assert {"aws_db_instance", "aws_db_subnet_group", "aws_security_group"} <= types
    assert not {"aws_timestreamwrite_database", "aws_dynamodb_table"} & types
    db = next(rc for rc in created if rc["type"] == "aws_db_instance")["change"]["after"]
    assert db["publicly_accessible"] is False and db["storage_encrypted"] is True
    assert db["manage_master_user_password"] is True and db["iam_database_authentication_enabled"] is True
    loader = next(rc for rc in created if rc["address"] == "module.load_forecasts.aws_lambda_function.this")
    assert loader["change"]["after"]["vpc_config"][0]["subnet_ids"] == ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]


# ---------------------------------------------------------------- issue 14, items 1 and 5
def _after(plan: dict, address_suffix: str) -> dict:
    return next(rc for rc in _resources(plan) if rc["address"].endswith(address_suffix))["change"]["after"]


def test_resident_pool_admits_only_admin_created_users(planner):
    plan = planner(forecast_db_type="DYNAMODB")
    pool = _after(plan, "module.api.aws_cognito_user_pool.b2c")
    assert pool["admin_create_user_config"][0]["allow_admin_create_user_only"] is True  # no self sign-up
    assert pool["deletion_protection"] == "ACTIVE"
    assert pool["user_pool_add_ons"][0]["advanced_security_mode"] == "OFF"  # default: the Plus plan is opt-in
    claim = load_config(None).edf_serving.building_claim
    client = _after(plan, "module.api.aws_cognito_user_pool_client.b2c_app")
    # residents cannot write who they are or which day they see; the ID token still carries both
    assert client["write_attributes"] and not {claim, "zoneinfo"} & set(client["write_attributes"])
    assert {claim, "zoneinfo"} <= set(client["read_attributes"])
    assert client["explicit_auth_flows"] and "ALLOW_USER_PASSWORD_AUTH" not in client["explicit_auth_flows"]


def test_threat_protection_is_a_variable(planner):
    pool = _after(planner(forecast_db_type="DYNAMODB", cognito_advanced_security_mode="ENFORCED"),
                  "module.api.aws_cognito_user_pool.b2c")
    assert pool["user_pool_add_ons"][0]["advanced_security_mode"] == "ENFORCED"
    assert pool["user_pool_tier"] == "PLUS"  # threat protection needs the Plus feature plan
    with pytest.raises(AssertionError, match="OFF, AUDIT or ENFORCED"):
        planner(forecast_db_type="DYNAMODB", cognito_advanced_security_mode="MAYBE")


def test_tenant_registry_metrics_have_alarms(planner):
    from edf.serving.tenants import REFRESH_FAILED_METRIC, REJECTED_METRIC

    plan = planner(forecast_db_type="DYNAMODB")
    alarms = [rc["change"]["after"] for rc in _resources(plan) if rc["type"] == "aws_cloudwatch_metric_alarm"]
    namespace = load_config(None).edf_serving.metrics_namespace
    watched = {a["metric_name"] for a in alarms if a["namespace"] == namespace}
    assert watched == {REJECTED_METRIC, REFRESH_FAILED_METRIC}
    for alarm in alarms:
        if alarm["namespace"] == namespace:
            assert not alarm.get("dimensions") and alarm["threshold"] == 0 and alarm["alarm_actions"]
