"""Typed EDF configuration loaded from YAML (local path or ``s3://`` URI).

The YAML is the single source of truth for names, feature definitions, hyperparameters and
thresholds; Terraform, the jobs and the Lambdas all read it. Every section is a pydantic model
with ``extra="forbid"`` so a misspelt key fails loudly with its dotted path instead of being
silently ignored. Per-run overrides (Step Functions input) are deep-merged before validation,
so they are checked by exactly the same rules.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

STRATEGIES = ("prophet", "xgboost", "lstm")
BASELINES = ("seasonal_naive", "persistence")
TARGETS = ("consumption_kwh", "solar_generation_kwh")
# The repository's config; a deployed job is given an explicit path or S3 URI (or EDF_CONFIG).
DEFAULT_CONFIG_PATH = Path(
    os.environ.get("EDF_CONFIG", Path(__file__).resolve().parents[2] / "config" / "edf_config.yaml")
)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key path and the expectation."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CommonFeatureEng(_Section):
    lookback_days_default: int = Field(14, ge=8)


class RollingSpec(_Section):
    windows: list[int] = Field(min_length=1)
    aggs: list[Literal["avg", "stddev", "min", "max", "sum"]] = Field(min_length=1)

    @field_validator("windows")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(w < 1 for w in v):
            raise ValueError("windows must be positive hour counts")
        return v


TimeFeature = Literal["hour_of_day", "day_of_week", "day_of_month", "month_of_year", "is_weekend", "day_of_year"]
FeatureSource = Literal[
    "consumption_kwh", "solar_generation_kwh", "temperature_c", "solar_irradiance_ghi", "humidity"
]


class FeatureEngConfig(_Section):
    target_column: Literal["consumption_kwh", "solar_generation_kwh"] = "consumption_kwh"
    timestamp_column: Literal["timestamp_hour"] = "timestamp_hour"
    building_id_column: Literal["building_id"] = "building_id"
    time_features: list[TimeFeature]
    lag_features: dict[FeatureSource, list[int]] = Field(default_factory=dict)
    rolling_window_features: dict[FeatureSource, RollingSpec] = Field(default_factory=dict)
    imputation_value: float | None = None
    origin_hour_utc: int = Field(0, ge=0, le=23)
    training_horizon_hours: int = Field(72, ge=1, le=168)
    eval_days: int = Field(28, ge=1)
    min_history_days: int = Field(7, ge=1)

    @field_validator("lag_features")
    @classmethod
    def _lags_positive(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for col, lags in v.items():
            if any(k < 1 for k in lags):
                raise ValueError(f"lags for {col} must be positive hour counts")
        return v


class ProphetParams(_Section):
    prophet_changepoint_prior_scale: float = Field(0.05, gt=0)
    prophet_seasonality_prior_scale: float = Field(10.0, gt=0)
    prophet_holidays_prior_scale: float = Field(10.0, gt=0)
    prophet_daily_seasonality: bool | int | Literal["auto"] = True
    prophet_weekly_seasonality: bool | int | Literal["auto"] = True
    prophet_yearly_seasonality: bool | int | Literal["auto"] = "auto"
    prophet_regressors: list[str] = Field(default_factory=list)
    prophet_training_days: int = Field(120, ge=14)


class XGBoostParams(_Section):
    xgb_eta: float = Field(0.1, gt=0, le=1)
    xgb_max_depth: int = Field(5, ge=1, le=20)
    xgb_num_boost_round: int = Field(150, ge=1)
    xgb_subsample: float = Field(0.7, gt=0, le=1)
    xgb_colsample_bytree: float = Field(0.7, gt=0, le=1)
    feature_columns_string: str = ""

    @property
    def feature_columns(self) -> list[str]:
        return [c.strip() for c in self.feature_columns_string.split(",") if c.strip()]


class LSTMParams(_Section):
    lstm_history_hours: int = Field(168, ge=24)
    lstm_hidden_size: int = Field(64, ge=4)
    lstm_num_layers: int = Field(1, ge=1, le=4)
    lstm_dropout: float = Field(0.0, ge=0, lt=1)
    lstm_learning_rate: float = Field(0.003, gt=0)
    lstm_epochs: int = Field(15, ge=1)
    lstm_batch_size: int = Field(128, ge=1)


class Hyperparameters(_Section):
    Prophet: ProphetParams = Field(default_factory=ProphetParams)
    XGBoost: XGBoostParams = Field(default_factory=XGBoostParams)
    LSTM: LSTMParams = Field(default_factory=LSTMParams)

    def for_strategy(self, strategy: str) -> BaseModel:
        return {"prophet": self.Prophet, "xgboost": self.XGBoost, "lstm": self.LSTM}[normalise_strategy(strategy)]


class TrainingConfig(_Section):
    default_strategy: str = "prophet"
    target: Literal["consumption_kwh", "solar_generation_kwh"] = "consumption_kwh"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(1, ge=1)
    max_runtime_seconds: int = Field(7200, ge=60)
    interval_width: float = Field(0.8, gt=0, lt=1)
    random_seed: int = 42
    train_start_date: dt.date | None = None
    train_end_date: dt.date | None = None
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)

    @field_validator("default_strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        return normalise_strategy(v)

    @model_validator(mode="after")
    def _date_order(self) -> TrainingConfig:
        if self.train_start_date and self.train_end_date and self.train_start_date >= self.train_end_date:
            raise ValueError("train_start_date must be before train_end_date")
        return self


class MetricsThresholds(_Section):
    max_mape: float = Field(gt=0)
    max_rmse: float = Field(gt=0)
    max_cv_rmse_pct: float | None = Field(None, gt=0)
    min_coverage: float | None = Field(None, ge=0, le=1)
    max_coverage: float | None = Field(None, ge=0, le=1)


class EvaluationConfig(_Section):
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1)
    metrics_thresholds: MetricsThresholds
    require_beat_baselines: bool = True
    mape_min_actual_share: float = Field(0.05, ge=0, lt=1)
    historical_labels_path: str | None = None


class InferenceConfig(_Section):
    scheduler_expression: str = "cron(0 5 * * ? *)"
    scheduler_timezone: str = "UTC"
    forecast_horizon_hours: int = Field(72, ge=1, le=168)
    feature_eng_instance_type: str = "ml.m5.large"
    feature_eng_instance_count: int = Field(1, ge=1)
    forecast_gen_instance_type: str = "ml.m5.large"
    forecast_gen_instance_count: int = Field(1, ge=1)
    forecast_db_type: Literal["TIMESTREAM", "RDS", "DYNAMODB"] = "TIMESTREAM"
    load_forecasts_lambda_memory: int = Field(512, ge=128, le=10240)
    load_forecasts_lambda_timeout: int = Field(300, ge=1, le=900)


class LambdaShared(_Section):
    get_model_memory: int = Field(128, ge=128, le=10240)
    get_model_timeout: int = Field(30, ge=1, le=900)
    create_sm_model_memory: int = Field(128, ge=128, le=10240)
    create_sm_model_timeout: int = Field(60, ge=1, le=900)


class EDFConfig(_Section):
    """The whole configuration file."""

    project_name: str
    aws_region: str
    env_suffix: str = "dev"

    s3_processed_edf_path: str
    s3_raw_weather_fcst_path: str
    s3_raw_calendar_path: str
    s3_feature_output_base: str
    s3_model_artifact_base: str
    s3_eval_report_base: str
    s3_forecast_output_base: str

    scripts_bucket_base: str
    processed_bucket_base: str
    raw_bucket_base: str
    edf_feature_group_name_base: str
    ecr_repo_name_edf_base: str
    edf_model_package_group_name_base: str
    lambda_register_edf_func_base: str
    lambda_load_forecasts_func_base: str
    lambda_get_model_func_base: str
    lambda_create_sm_model_func_base: str
    edf_training_sfn_base: str
    edf_inference_sfn_base: str
    edf_scheduler_base: str
    forecast_db_base: str
    forecast_table_name: str

    common_feature_eng: CommonFeatureEng
    edf_feature_eng: FeatureEngConfig
    edf_training: TrainingConfig
    edf_evaluation: EvaluationConfig
    edf_inference: InferenceConfig
    lambda_shared: LambdaShared

    # --- derived names (one place, so Terraform and code agree) ---
    def name(self, base: str) -> str:
        """Resource name with the environment suffix, e.g. ``hometech-ml-raw-data-dev``."""
        return f"{base}-{self.env_suffix}" if self.env_suffix else base

    @property
    def processed_bucket(self) -> str:
        return self.name(self.processed_bucket_base)

    @property
    def raw_bucket(self) -> str:
        return self.name(self.raw_bucket_base)

    @property
    def scripts_bucket(self) -> str:
        return self.name(self.scripts_bucket_base)

    @property
    def model_package_group(self) -> str:
        return self.name(self.edf_model_package_group_name_base)

    def s3_path(self, template_field: str, **parts: str) -> str:
        """Fill a path template (``s3_*``) with bucket names and execution-specific parts."""
        template = getattr(self, template_field)
        values = {"processed_bucket": self.processed_bucket, "raw_bucket": self.raw_bucket, **parts}
        try:
            return template.format(**values)
        except KeyError as exc:
            raise ConfigError(f"{template_field}: template needs a value for {exc.args[0]!r}") from exc

    def config_hash(self) -> str:
        """Stable hash of the effective configuration, recorded in model metadata."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


def normalise_strategy(name: str) -> str:
    """Accept the reference design's spelling (``Prophet``, ``XGBoost``) as well as lower case."""
    key = str(name).strip().lower()
    if key not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
    return key


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``override`` into a copy of ``base`` (mappings merge, everything else replaces)."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def run_overrides(
    strategy: str | None = None,
    target: str | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    thresholds: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Translate a workflow's run input (as Step Functions passes it) into a config override."""
    training: dict[str, Any] = {}
    if strategy:
        training["default_strategy"] = strategy
    if target:
        training["target"] = target
    if start_date:
        training["train_start_date"] = start_date
    if end_date:
        training["train_end_date"] = end_date
    if hyperparameters:
        section = {"prophet": "Prophet", "xgboost": "XGBoost", "lstm": "LSTM"}[
            normalise_strategy(strategy or "prophet")
        ]
        training["hyperparameters"] = {section: dict(hyperparameters)}
    out: dict[str, Any] = {}
    if training:
        out["edf_training"] = training
    if thresholds:
        out["edf_evaluation"] = {"metrics_thresholds": dict(thresholds)}
    return out


def _format_validation_error(exc: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = "unknown key (check the spelling against config/edf_config.yaml)"
        elif kind == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"]
            if "input" in err and not isinstance(err["input"], dict | list):
                msg += f" (got {err['input']!r})"
        lines.append(f"  {path}: {msg}")
    return "\n".join(lines)


def _read_text(source: str | Path) -> str:
    text_source = str(source)
    if text_source.startswith("s3://"):
        import boto3  # local import: only S3 sources need it

        bucket, _, key = text_source[5:].partition("/")
        if not bucket or not key:
            raise ConfigError(f"malformed S3 URI {text_source!r}; expected s3://bucket/key")
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body.decode("utf-8")
    path = Path(text_source)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return path.read_text(encoding="utf-8")


def parse_config(raw: Mapping[str, Any], source: str = "<dict>", overrides: Mapping[str, Any] | None = None) -> EDFConfig:
    """Validate a raw mapping (plus overrides) into an :class:`EDFConfig`."""
    merged = deep_merge(raw, overrides or {})
    try:
        return EDFConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, source)) from None


def load_config(source: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> EDFConfig:
    """Load the config from a local path or ``s3://`` URI (default: the repository's config file)."""
    source = source or DEFAULT_CONFIG_PATH
    try:
        raw = yaml.safe_load(_read_text(source))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source} is not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: top level must be a mapping of keys, got {type(raw).__name__}")
    return parse_config(raw, str(source), overrides)
