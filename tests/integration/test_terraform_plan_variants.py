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
    glue = root / "glue"  # plan only hashes the Glue job's wheel too; a fresh clone has no build/glue
    glue.mkdir()
    with zipfile.ZipFile(glue / "edf-0.0.0-py3-none-any.whl", "w") as zf:
        zf.writestr("edf/__init__.py", "")
    stage(root / "repo")
    stack = root / "repo/terraform/stacks/inference_edf"
    env = base_env(root / "tfdata")
    with EmulatedAWS(region=cfg.aws_region, set_environment=False) as aws:
        (stack / "emulator_override.tf").write_text(emulator_override(aws.endpoint_url))
        tf(["init", f"-plugin-dir={PLUGIN_DIR}", f"-backend-config=path={root / 'plan.tfstate'}"], stack, env)
        region = cfg.aws_region
        base = {
            "lambda_zip_dir": str(zips),
            "glue_wheel_dir": str(glue),
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


def test_rds_api_lambdas_hold_only_the_reader_secret(planner):
    """Issue 14, item 12: the read-only API Lambdas (and the accuracy monitor) may read only the
    reader role's secret, the load only the writer's; only db_bootstrap may read the RDS master
    secret, and Terraform runs it once to create the roles."""
    plan = planner(forecast_db_type="RDS", vpc_id="vpc-0123456789abcdef0", vpc_cidr="10.0.0.0/16",
                   private_subnet_ids=["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"])
    created = {rc["address"]: rc["change"]["after"] for rc in _resources(plan)}
    secrets = {a: v for a, v in created.items() if a.startswith("module.store.aws_secretsmanager_secret.db_role")}
    names = {a.split('"')[1]: v["name"] for a, v in secrets.items()}
    assert set(names) == {"reader", "writer"}
    assert all("kms_key_id" not in v or v["kms_key_id"] != "" for v in secrets.values())

    def policy(fn: str) -> list[dict]:
        doc = json.loads(created[f'aws_iam_role_policy.db_credentials["{fn}"]']["policy"])
        return doc["Statement"]

    for fn, role in (("b2b_api", "reader"), ("b2c_api", "reader"), ("accuracy_monitor", "reader"),
                     ("load_forecasts", "writer")):
        statements = policy(fn)
        assert [s["Action"] for s in statements] == [["secretsmanager:GetSecretValue"]]
        assert statements[0]["Resource"] == [f"arn:aws:secretsmanager:eu-central-1:{ACCOUNT}:secret:{names[role]}-??????"]
    # environment variables known at plan time (db_bootstrap's hold the RDS-managed master secret's
    # ARN, unknown until the instance exists, so its whole map is unknown here)
    envs = {a: v["environment"][0].get("variables") for a, v in created.items()
            if a.endswith("aws_lambda_function.this") and v.get("environment")}
    for api in ("b2b_api", "b2c_api"):
        assert envs[f'module.api_function["{api}"].aws_lambda_function.this']["EDF_PG_SECRET_ID"] == names["reader"]
    assert envs["module.load_forecasts.aws_lambda_function.this"]["EDF_PG_SECRET_ID"] == names["writer"]
    # no function but db_bootstrap is told where the master secret is: a map unknown at plan (db_bootstrap's;
    # the weather fetcher's carries its own secret's ARN) is judged by what its expression references
    calls = plan["configuration"]["root_module"]["module_calls"]

    def references(address: str) -> list[str]:
        module = address.removeprefix("module.").split(".", 1)[0].split("[", 1)[0]
        return calls[module]["expressions"]["environment"]["references"]

    holders = [a for a, env in envs.items()
               if ("EDF_PG_MASTER_SECRET_ID" in env if env is not None
                   else any("rds_secret_arn" in ref for ref in references(a)))]
    assert holders == ["module.db_bootstrap[0].aws_lambda_function.this"]
    assert [a for a, env in envs.items() if env is None] == ["module.db_bootstrap[0].aws_lambda_function.this",
                                                             "module.weather_fetcher[0].aws_lambda_function.this"]
    assert "aws_lambda_invocation.db_bootstrap[0]" in created


def test_non_rds_backends_have_no_database_roles(planner):
    plan = planner(forecast_db_type="DYNAMODB")
    addresses = {rc["address"] for rc in _resources(plan)}
    assert not [a for a in addresses if "db_credentials" in a or "db_bootstrap" in a or "db_role" in a]


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
