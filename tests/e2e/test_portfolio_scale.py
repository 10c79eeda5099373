"""A 300-building portfolio through both deployed workflows, with every AWS limit enforced.

Training -> approval -> inference on a labelled synthetic portfolio of 300 buildings, in the local
runtime that holds states to 256 KiB, container arguments to 256 characters and Lambdas to their
configured memory and timeout. At this size the evaluation report no longer fits in a state (it
is over 256 KiB: it lives in S3 and the Choice reads a small decision document), and a 4-hour grid
event is longer than a container argument (it reaches the optimize job as an S3 object).
"""

from __future__ import annotations

import json

import boto3
import pytest

from edf.registry import APPROVED, PENDING, list_packages, set_approval
from edf_local.limits import SAGEMAKER_LIST_ENTRY_CHARS, SFN_PAYLOAD_BYTES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

BUILDINGS = 300
LENIENT = {"max_mape": 1e6, "max_rmse": 1e6, "max_cv_rmse_pct": 1e6, "min_coverage": 0.0, "max_coverage": 1.0}
OVERRIDES = {"edf_feature_eng": {"eval_days": 3, "training_horizon_hours": 24},
             "edf_evaluation": {"require_beat_baselines": False},
             "edf_inference": {"forecast_horizon_hours": 24}}
# a 4-hour critical event in one grid area: 305+ characters of JSON, over SageMaker's 256 per argument
GRID_EVENT = {"synth-north": {"conditions": {f"2023-01-31T{h:02d}:00:00Z": "critical" for h in range(16, 20)},
                              "required_reduction_kwh": {f"2023-01-31T{h:02d}:00:00Z": 250.0 for h in range(16, 20)}}}


@pytest.fixture(scope="module")
def rt(tmp_path_factory):
    from edf_local.portfolio import synthetic
    from edf_local.runtime import LocalRuntime

    portfolio = synthetic(f"{BUILDINGS}x30", start="2023-01-01")
    with LocalRuntime(config_overrides=OVERRIDES, portfolio=portfolio, printer=None,
                      workdir=tmp_path_factory.mktemp("edf-portfolio")) as runtime:
        yield runtime


def _object_size(rt, bucket: str, prefix: str, name: str) -> int:
    s3 = boto3.client("s3", region_name=rt.region)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return max((o["Size"] for o in objects if o["Key"].endswith(name)), default=0)


def test_training_registers_although_the_report_is_larger_than_a_state(rt):
    exe = rt.run("training", {"strategy": "xgboost", "thresholds": LENIENT,
                              "hyperparameters": {"XGBoost": {"xgb_num_boost_round": 30}}},
                 execution_name="scale-training")
    assert exe.status == "SUCCEEDED", f"{exe.error}: {exe.cause}"
    assert exe.max_payload_bytes <= SFN_PAYLOAD_BYTES
    report = _object_size(rt, rt.cfg.processed_bucket, "evaluation-output/", "evaluation_report_edf.json")
    assert report > SFN_PAYLOAD_BYTES, f"the report ({report} B) should be too big for a state at this size"
    packages = list_packages(rt.cfg.model_package_group, PENDING, sagemaker=boto3.client("sagemaker", region_name=rt.region))
    assert len(packages) == 1


def test_inference_forecasts_every_building_with_a_long_grid_event(rt):
    sm = boto3.client("sagemaker", region_name=rt.region)
    pending = list_packages(rt.cfg.model_package_group, PENDING, sagemaker=sm)
    set_approval(pending[0]["ModelPackageArn"], APPROVED, "scale test", sagemaker=sm)
    assert len(json.dumps(GRID_EVENT)) > SAGEMAKER_LIST_ENTRY_CHARS
    exe = rt.run("inference", {"inference_date": rt.processed_last_day, "grid_conditions": GRID_EVENT},
                 execution_name="scale-inference")
    assert exe.status == "SUCCEEDED", f"{exe.error}: {exe.cause}"
    assert exe.max_payload_bytes <= SFN_PAYLOAD_BYTES
    pv = int((rt.portfolio.topology["pv_capacity_kw"].fillna(0) > 0).sum())
    assert exe.output["load"]["forecasts_written"] == 24 * (BUILDINGS + pv)
    # the load Lambda ran in its own process under its configured memory, and said how much it used
    load = [i for i in rt.invoker.invocations if i["function"].startswith(rt.cfg.lambda_load_forecasts_func_base)]
    assert load and 0 < load[-1]["peak_rss_mb"] < rt.cfg.edf_inference.load_forecasts_lambda_memory
    # the feature job read the lookback window, not the whole month of history
    summary = json.loads(boto3.client("s3", region_name=rt.region).get_object(
        Bucket=rt.cfg.processed_bucket,
        Key=f"features/edf/inference/{exe.state_machine_name}/{exe.name}/_summary.json")["Body"].read())
    read = summary["processed_read"]
    assert read["days_skipped"] > 0 and read["days_read"] <= rt.cfg.common_feature_eng.lookback_days_default + 1
