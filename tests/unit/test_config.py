"""Config: every reference section loads; bad keys and types fail with their dotted path."""

from __future__ import annotations

import copy

import boto3
import pytest
import yaml
from moto import mock_aws

from edf.config import DEFAULT_CONFIG_PATH, ConfigError, load_config, parse_config, run_overrides

# Top-level keys of the reference design's configuration example (edf_design.md, appendix).
REFERENCE_KEYS = {
    "project_name", "aws_region", "s3_processed_edf_path", "s3_raw_weather_fcst_path", "s3_raw_calendar_path",
    "s3_feature_output_base", "s3_model_artifact_base", "s3_eval_report_base", "s3_forecast_output_base",
    "scripts_bucket_base", "processed_bucket_base", "raw_bucket_base", "edf_feature_group_name_base",
    "ecr_repo_name_edf_base", "edf_model_package_group_name_base", "lambda_register_edf_func_base",
    "lambda_load_forecasts_func_base", "lambda_get_model_func_base", "lambda_create_sm_model_func_base",
    "edf_training_sfn_base", "edf_inference_sfn_base", "edf_scheduler_base", "forecast_db_base",
    "forecast_table_name", "common_feature_eng", "edf_feature_eng", "edf_training", "edf_evaluation",
    "edf_inference", "lambda_shared",
}


@pytest.fixture()
def raw() -> dict:
    return yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())


def test_repository_config_has_every_reference_section(raw):
    assert set(raw) >= REFERENCE_KEYS
    cfg = load_config()
    assert cfg.edf_inference.forecast_horizon_hours == 72
    assert cfg.edf_inference.forecast_db_type in {"TIMESTREAM", "RDS", "DYNAMODB"}
    assert cfg.edf_training.hyperparameters.Prophet.prophet_changepoint_prior_scale > 0
    assert cfg.edf_training.hyperparameters.XGBoost.feature_columns[0] == "temperature_c"
    assert cfg.edf_training.hyperparameters.LSTM.lstm_history_hours >= 24
    assert cfg.edf_feature_eng.lag_features["consumption_kwh"] == [24, 48, 168]


def test_unknown_nested_key_names_its_dotted_path(raw):
    raw["edf_training"]["hyperparameters"]["XGBoost"]["xgb_etaa"] = 0.1
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "test.yaml")
    assert "edf_training.hyperparameters.XGBoost.xgb_etaa: unknown key" in str(err.value)


def test_wrong_type_names_path_and_expectation(raw):
    raw["edf_inference"]["forecast_horizon_hours"] = "three days"
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "test.yaml")
    message = str(err.value)
    assert "edf_inference.forecast_horizon_hours" in message
    assert "integer" in message and "'three days'" in message


def test_enum_and_missing_key(raw):
    raw["edf_inference"]["forecast_db_type"] = "MONGO"
    del raw["edf_evaluation"]["metrics_thresholds"]["max_rmse"]
    with pytest.raises(ConfigError) as err:
        parse_config(raw)
    message = str(err.value)
    assert "edf_inference.forecast_db_type" in message and "TIMESTREAM" in message
    assert "edf_evaluation.metrics_thresholds.max_rmse: required key is missing" in message


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("project_name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_merge_like_step_functions_input(raw):
    overrides = run_overrides(strategy="LSTM", hyperparameters={"lstm_hidden_size": 8},
                              start_date="2016-09-01", end_date="2017-06-01", thresholds={"max_mape": 1.0})
    cfg = parse_config(raw, overrides=overrides)
    assert cfg.edf_training.default_strategy == "lstm"
    assert cfg.edf_training.hyperparameters.LSTM.lstm_hidden_size == 8
    assert cfg.edf_training.hyperparameters.LSTM.lstm_epochs == raw["edf_training"]["hyperparameters"]["LSTM"]["lstm_epochs"]
    assert str(cfg.edf_training.train_start_date) == "2016-09-01"
    assert cfg.edf_evaluation.metrics_thresholds.max_mape == 1.0
    # the base mapping is not mutated by the merge
    assert raw["edf_training"]["hyperparameters"]["LSTM"]["lstm_hidden_size"] != 8


def test_overrides_are_validated_too(raw):
    with pytest.raises(ConfigError, match="edf_training.hyperparameters.LSTM.lstm_epochs"):
        parse_config(raw, overrides=run_overrides(strategy="lstm", hyperparameters={"lstm_epochs": 0}))
    with pytest.raises(ValueError, match="unknown strategy"):
        run_overrides(strategy="arima", hyperparameters={"x": 1})
    bad_dates = run_overrides(start_date="2017-06-01", end_date="2016-09-01")
    with pytest.raises(ConfigError, match="train_start_date must be before"):
        parse_config(raw, overrides=bad_dates)


def test_derived_names_and_paths(raw):
    cfg = parse_config(raw, overrides={"env_suffix": "prod"})
    assert cfg.processed_bucket == "hometech-ml-processed-data-prod"
    assert cfg.model_package_group == "EDFBuildingDemandForecaster-prod"
    path = cfg.s3_path("s3_model_artifact_base", sfn_name="EDFTrainingWorkflow-prod", exec_id="run-1")
    assert path == "s3://hometech-ml-processed-data-prod/model-artifacts/EDFTrainingWorkflow-prod/run-1/"
    with pytest.raises(ConfigError, match="exec_id"):
        cfg.s3_path("s3_model_artifact_base", sfn_name="x")
    other = parse_config(copy.deepcopy(raw), overrides={"edf_training": {"random_seed": 1}})
    assert other.config_hash() != parse_config(raw).config_hash()


@mock_aws
def test_load_from_s3():
    s3 = boto3.client("s3", region_name="eu-central-1")
    s3.create_bucket(Bucket="cfg", CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    s3.put_object(Bucket="cfg", Key="edf/edf_config.yaml", Body=DEFAULT_CONFIG_PATH.read_bytes())
    cfg = load_config("s3://cfg/edf/edf_config.yaml")
    assert cfg.project_name == "hometech-ml"
    with pytest.raises(ConfigError, match="malformed S3 URI"):
        load_config("s3://only-bucket")
