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

STRATEGIES = ("prophet", "xgboost", "lstm", "ensemble")
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


# Names the contract, the calendar, topology and pvlib geometry already use: a covariate may not shadow them.
RESERVED_COLUMNS = frozenset({
    "building_id", "timestamp_hour", "origin_time", "lead_hours", "consumption_kwh", "solar_generation_kwh",
    "temperature_c", "solar_irradiance_ghi", "humidity", "is_holiday_flag", "forecast_issue_time",
    "hour_of_day", "day_of_week", "day_of_month", "month_of_year", "is_weekend", "day_of_year",
    "building_type", "pv_capacity_kw", "battery_capacity_kwh", "latitude", "longitude", "timezone", "grid_area",
    "solar_elevation_deg", "clearsky_ghi"})


class CovariateSpec(_Section):
    """An extra numeric column of processed_edf_data (wind speed, cloud cover, day-ahead price, ...).

    ``measured``: observed only up to the origin, so it enters the features as lags (null for leads
    >= the lag, the same rule as the targets) and trailing means over ``[o - w, o)``; its value at
    the target hour is never a feature. ``known_ahead``: a forecast exists for the horizon (the
    weather-forecast feed carries a column of the same name), so its value at the target hour is a
    feature — the forecast at inference, the observation in training (the perfect-forecast
    assumption of the weather columns); its lags read that same series.
    """

    availability: Literal["measured", "known_ahead"]
    lags: list[int] = Field(default_factory=list)  # hours
    rolling_windows: list[int] = Field(default_factory=list)  # hours; trailing mean before the origin

    @model_validator(mode="after")
    def _usable(self) -> CovariateSpec:
        if any(k < 1 for k in [*self.lags, *self.rolling_windows]):
            raise ValueError("lags and rolling_windows must be positive hour counts")
        if self.availability == "measured" and not (self.lags or self.rolling_windows):
            raise ValueError("a measured covariate needs lags or rolling_windows: its value at the target hour "
                             "is not known at the origin")
        return self


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
    # optional extra numeric columns of processed_edf_data, by name (files without them still work)
    covariates: dict[str, CovariateSpec] = Field(default_factory=dict)

    @property
    def covariate_names(self) -> list[str]:
        return list(self.covariates)

    @property
    def known_ahead_covariates(self) -> list[str]:
        return [n for n, spec in self.covariates.items() if spec.availability == "known_ahead"]

    @field_validator("covariates")
    @classmethod
    def _covariate_names(cls, v: dict[str, CovariateSpec]) -> dict[str, CovariateSpec]:
        import re

        for name in v:
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
                raise ValueError(f"covariate name {name!r} must be lower-case letters, digits and _ (column name)")
            if name in RESERVED_COLUMNS:
                raise ValueError(f"covariate {name!r} is already a column of the contract or the features")
        return v

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
    # posterior samples for the interval; Prophet's default 1000 makes prediction the slow part
    prophet_uncertainty_samples: int = Field(300, ge=50)


class XGBoostParams(_Section):
    xgb_eta: float = Field(0.1, gt=0, le=1)
    xgb_max_depth: int = Field(5, ge=1, le=20)
    xgb_num_boost_round: int = Field(150, ge=1)
    xgb_subsample: float = Field(0.7, gt=0, le=1)
    xgb_colsample_bytree: float = Field(0.7, gt=0, le=1)
    feature_columns_string: str = ""
    # interval method: split-conformal residual quantiles per local hour (one squared-error model,
    # measured ~3x cheaper) or XGBoost's multi-quantile objective (bench/models.py compares both)
    xgb_interval_method: Literal["conformal", "quantile"] = "conformal"
    # "all": every model-usable pipeline column; "listed": only feature_columns_string
    xgb_feature_set: Literal["all", "listed"] = "all"
    xgb_calibration_days: int = Field(14, ge=1)
    xgb_min_child_weight: float = Field(1.0, ge=0)
    xgb_lambda: float = Field(1.0, ge=0)  # L2 regularisation of leaf weights
    # time-based validation slice: the last xgb_validation_days of training origins (before the
    # calibration slice) pick the number of rounds by early stopping; 0 disables (fixed rounds)
    xgb_validation_days: int = Field(14, ge=0)
    xgb_early_stopping_rounds: int = Field(30, ge=1)
    # candidate (max_depth, eta, min_child_weight) settings tried on the validation slice; the best
    # validation RMSE wins. Empty = the single setting above.
    xgb_tuning_grid: list[tuple[int, float, float]] = Field(default_factory=list)

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
    lstm_threads: int = Field(2, ge=1)  # fixed thread count: part of CPU determinism


class EnsembleParams(_Section):
    # member strategies (strategies or baselines); their combination weights are fitted on the
    # calibration window (the last calibration_days of training origins) per lead bucket
    ensemble_members: list[str] = Field(default_factory=lambda: ["xgboost", "persistence"], min_length=2)
    ensemble_calibration_days: int = Field(14, ge=1)

    @field_validator("ensemble_members")
    @classmethod
    def _members(cls, v: list[str]) -> list[str]:
        out = [str(m).strip().lower() for m in v]
        bad = [m for m in out if m not in (*STRATEGIES, *BASELINES) or m == "ensemble"]
        if bad or len(set(out)) != len(out):
            raise ValueError(f"members must be distinct strategies or baselines other than ensemble, got {v}")
        return out


class Hyperparameters(_Section):
    Prophet: ProphetParams = Field(default_factory=ProphetParams)
    XGBoost: XGBoostParams = Field(default_factory=XGBoostParams)
    LSTM: LSTMParams = Field(default_factory=LSTMParams)
    Ensemble: EnsembleParams = Field(default_factory=EnsembleParams)

    def for_strategy(self, strategy: str) -> BaseModel:
        return {"prophet": self.Prophet, "xgboost": self.XGBoost, "lstm": self.LSTM,
                "ensemble": self.Ensemble}[normalise_strategy(strategy)]


class CalibrationConfig(_Section):
    """Interval calibration shared by the strategies (``edf.models.calibration``; docs/models.md).

    Split-conformal: residuals on the held-out calibration window, divided by a local volatility
    known at the origin, give quantiles per lead bucket (``bucket_hours`` wide). Online: before each
    forecast the interval's width is rescaled per lead bucket by a quantile tracker (adaptive
    conformal inference) run over the scored errors of the last ``window_days`` — hours whose actual
    is known before the origin and lies after the model's training window.
    """

    bucket_hours: int = Field(24, ge=1, le=168)
    # divide residuals by a local volatility known at the origin (false: by the level only)
    volatility_scaling: bool = True
    online: bool = True
    window_days: int = Field(7, ge=1, le=60)
    step: float = Field(0.5, gt=0, le=5)  # tracker step on log(width multiplier) per day of errors


class TrainingConfig(_Section):
    default_strategy: str = "prophet"
    target: Literal["consumption_kwh", "solar_generation_kwh"] = "consumption_kwh"
    # strategy of the solar model every training run also fits (physics features + night mask)
    solar_strategy: str = "xgboost"
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(1, ge=1)
    max_runtime_seconds: int = Field(7200, ge=60)
    interval_width: float = Field(0.8, gt=0, lt=1)
    random_seed: int = 42
    train_start_date: dt.date | None = None
    train_end_date: dt.date | None = None
    # Training memory is bounded as the portfolio grows: above this many feature rows the training (and
    # evaluation) jobs keep a deterministic sample of whole (building, origin) forecasts (edf.models.sampling).
    # None = no cap. 4 M rows of ~70 features is about 2.5 GB in pandas.
    max_training_rows: int | None = Field(4_000_000, ge=10_000)
    training_sample_seed: int = 7
    hyperparameters: Hyperparameters = Field(default_factory=Hyperparameters)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)

    @field_validator("default_strategy", "solar_strategy")
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


class ChampionComparison(_Section):
    """Challenger vs the approved champion on the same evaluation rows (``edf.evaluation.champion``).

    The evaluation job scores the newest ``Approved`` package of the group (the model inference
    would use) on exactly the challenger's rows. "Worse" is judged per scored target on ``metric``
    (lower is better) with a relative ``margin``: worse = challenger > champion x (1 + margin).
    """

    enabled: bool = True
    require_not_worse: bool = True
    metric: Literal["cv_rmse_pct", "rmse", "mae", "mape_pct", "pinball"] = "cv_rmse_pct"
    margin: float = Field(0.02, ge=0, le=1)


class EvaluationConfig(_Section):
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1)
    metrics_thresholds: MetricsThresholds
    require_beat_baselines: bool = True
    champion: ChampionComparison = Field(default_factory=ChampionComparison)
    # evaluation rows sampled for the SHAP importance in the report (rows x features contributions)
    explain_sample_rows: int = Field(20000, ge=100)
    mape_min_actual_share: float = Field(0.05, ge=0, lt=1)
    historical_labels_path: str | None = None


class InputChecksConfig(_Section):
    """Checks of the daily inference inputs (edf.data.input_checks); a problem fails or degrades."""

    history_max_age_hours: float = Field(48.0, gt=0)
    on_stale_history: Literal["fail", "degrade"] = "fail"
    topology_required_fields: list[str] = Field(default_factory=lambda: ["timezone", "latitude", "longitude"])
    on_incomplete_topology: Literal["fail", "degrade"] = "degrade"


class InferenceAlarmsConfig(_Section):
    """CloudWatch alarms of the daily run (terraform/modules/monitoring), on the alerts topic."""

    success_deadline_hour_utc: int = Field(9, ge=1, le=23)
    processed_data_max_age_hours: float = Field(48.0, gt=0)
    metrics_namespace: str = "EDF/Inputs"  # ProcessedDataAgeHours, published by the inference features job


class InferenceConfig(_Section):
    scheduler_expression: str = "cron(0 5 * * ? *)"
    scheduler_timezone: str = "UTC"
    forecast_horizon_hours: int = Field(72, ge=1, le=168)
    feature_eng_instance_type: str = "ml.m5.large"
    feature_eng_instance_count: int = Field(1, ge=1)
    forecast_gen_instance_type: str = "ml.m5.large"
    forecast_gen_instance_count: int = Field(1, ge=1)
    # GenerateForecastsEDF predicts this many buildings at a time: its memory is bounded by the batch,
    # not the portfolio (10,000 buildings at once exceed an ml.m5.large's 8 GiB; measured)
    forecast_batch_buildings: int = Field(1000, ge=1)
    # processes predicting batches side by side (null: the instance's vCPUs; each holds one batch)
    forecast_workers: int | None = Field(None, ge=1)
    forecast_db_type: Literal["TIMESTREAM", "RDS", "DYNAMODB"] = "TIMESTREAM"
    load_forecasts_lambda_memory: int = Field(512, ge=128, le=10240)
    load_forecasts_lambda_timeout: int = Field(300, ge=1, le=900)
    input_checks: InputChecksConfig = Field(default_factory=InputChecksConfig)
    alarms: InferenceAlarmsConfig = Field(default_factory=InferenceAlarmsConfig)


GLUE_WORKER_TYPES = ("G.1X", "G.2X", "G.4X", "G.8X")  # Glue 5.0 Spark worker types (4/8/16/32 vCPU per worker)


class GlueJobSize(_Section):
    """Workers of one Glue feature job: type and count (a DPU is 4 vCPU / 16 GB; G.1X = 1 DPU)."""

    worker_type: Literal["G.1X", "G.2X", "G.4X", "G.8X"] = "G.1X"
    number_of_workers: int = Field(2, ge=2, le=299)  # Glue: at least 2 (driver + 1 executor)


class SparkEngineConfig(_Section):
    """Where the feature jobs run (docs/spark_engine.md): AWS Glue 5.0 in AWS, a local Spark locally."""

    glue_version: Literal["5.0"] = "5.0"
    features_job_base: str = "edf-features"  # Glue job name base; env suffix appended
    training: GlueJobSize = Field(default_factory=lambda: GlueJobSize(number_of_workers=10))
    inference: GlueJobSize = Field(default_factory=lambda: GlueJobSize(number_of_workers=2))
    timeout_minutes: int = Field(120, ge=1, le=2880)  # Glue job run timeout (TIMEOUT state after it)
    # pip requirements Glue installs next to the edf wheel on every node (--additional-python-modules)
    additional_python_modules: list[str] = Field(default_factory=lambda: ["pvlib==0.16.1", "holidays==0.109"])
    local_master: str = "local[2]"  # the local Glue runner: local[N], a spark:// URL, or "standalone"
    local_workers: int = Field(2, ge=1, le=8)  # "standalone": workers started on 127.0.0.1
    local_worker_cores: int = Field(1, ge=1)
    local_worker_memory: str = "2g"
    local_executor_memory: str = "1g"

    @model_validator(mode="after")
    def _local_master_known(self) -> SparkEngineConfig:
        ok = self.local_master == "standalone" or self.local_master.startswith(("local", "spark://"))
        if not ok:
            raise ValueError(f"local_master {self.local_master!r}: expected local[N], spark://host:port or standalone")
        return self


class LambdaShared(_Section):
    get_model_memory: int = Field(128, ge=128, le=10240)
    get_model_timeout: int = Field(30, ge=1, le=900)
    create_sm_model_memory: int = Field(128, ge=128, le=10240)
    create_sm_model_timeout: int = Field(60, ge=1, le=900)
    register_model_memory: int = Field(256, ge=128, le=10240)
    register_model_timeout: int = Field(60, ge=1, le=900)


class PostgresSettings(_Section):
    """Connection to the RDS PostgreSQL forecast store (``forecast_db_type: RDS``).

    The password never lives in the YAML: it comes from Secrets Manager (``secret_id``, the
    RDS-managed secret JSON with ``username``/``password``/``host``/``port``/``dbname``) or, for
    local runs and tests, from a libpq DSN in the environment variable named by ``dsn_env``.
    """

    host: str = "localhost"
    port: int = Field(5432, ge=1, le=65535)
    dbname: str = "edf"
    user: str = "edf_app"
    secret_id: str | None = None
    dsn_env: str = "EDF_PG_DSN"
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "verify-full"
    sslrootcert: str | None = "certs/rds-global-bundle.pem"  # relative: under the Lambda task root
    connect_timeout_seconds: int = Field(5, ge=1, le=60)
    schema_name: str = Field("edf", pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class StorageConfig(_Section):
    """Forecast store settings shared by the load Lambda and the API Lambdas (``edf.storage``)."""

    # Backend for local runs (`edf serve`, the end of `edf demo`): DynamoDB runs on the AWS emulator.
    local_backend: Literal["TIMESTREAM", "RDS", "DYNAMODB"] = "DYNAMODB"
    dynamodb_table_base: str = "EDFForecasts"
    ttl_days: int = Field(90, ge=1, le=3650)
    # Create missing tables (DynamoDB/Timestream) on first use; Terraform owns them in AWS.
    create_missing: bool = False
    timestream_recommendations_table: str = "BuildingRecommendations"
    timestream_write_threads: int = Field(4, ge=1, le=32)
    # Parallel BatchWriteItem calls of the load: a 10,000-building run is 57,600 batches of 25.
    dynamodb_write_threads: int = Field(8, ge=1, le=64)
    # Rows the load reads, validates and writes at a time: its memory is bounded by this, not the run.
    load_chunk_rows: int = Field(20_000, ge=1_000, le=500_000)
    timestream_max_retries: int = Field(3, ge=0, le=10)
    # Timestream queries bound the scanned issue times to [start - max_lead, end).
    max_lead_hours: int = Field(168, ge=1, le=720)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)


class ServingConfig(_Section):
    """B2B/B2C API settings (``edf.serving``)."""

    # JSON tenant registry: local path or s3:// URI (env EDF_TENANT_REGISTRY overrides).
    tenant_registry_uri: str | None = None
    tenant_registry_cache_seconds: int = Field(300, ge=0, le=86400)
    max_range_days: int = Field(31, ge=1, le=366)
    # Items per page of the B2B list endpoints when the caller gives no `limit` (at most 1,000).
    page_limit_default: int = Field(1000, ge=1, le=1000)
    # Cognito claim that carries the resident's building id.
    building_claim: str = "custom:building_id"
    # Best hours for flexible appliances returned by the B2C API.
    appliance_hours: int = Field(3, ge=1, le=12)
    appliance_kwh: float = Field(1.0, gt=0, le=20)
    # Retry-After (seconds) of the 503 answered when the store or the tenant registry is unavailable.
    retry_after_seconds: int = Field(5, ge=1, le=3600)
    # CloudWatch EMF namespace of the APIs' own metrics (tenant registry health; alarms in Terraform).
    metrics_namespace: str = Field("EDF/Serving", pattern=r"^[A-Za-z0-9/_.#:-]{1,255}$")
    # Building topology (CSV/Parquet file or prefix) for residents' time zones when the token's
    # zoneinfo claim is missing or invalid; null = s3_raw_calendar_path.
    topology_uri: str | None = None
    topology_cache_seconds: int = Field(3600, ge=0, le=86400)
    # Local emulation only (`edf serve`, `edf local token`): where `edf serve` records the emulator
    # endpoint and the local Cognito user pool, so `edf local token` in another shell finds them.
    local_state_path: str = "~/.edf/local_api.json"
    # ID-token validity set on the local app client (Cognito allows 5 minutes to 1 day; moto issues 1 h).
    local_token_ttl_hours: int = Field(24, ge=1, le=24)
    local_port: int = Field(8080, ge=0, le=65535)


class DriftRule(_Section):
    """When accuracy drift starts the training workflow (``edf.monitoring.drift``; docs/monitoring.md).

    A scored day is *bad* when any enabled condition holds on the watched slice (series, grid area
    or ``ALL``, lead bucket). The rule fires after ``consecutive_days`` bad days in a row (days
    after the last trigger only), at most once per ``cooldown_days``. A day without enough scored
    hours (late actuals) is *insufficient* and breaks the streak: no retraining on missing evidence.
    """

    series: Literal["consumption", "solar"] = "consumption"
    grid_area: str = "ALL"
    lead_bucket: str = "0-24"
    max_cv_rmse_pct: float | None = Field(60.0, gt=0)
    min_skill_vs_seasonal_naive: float | None = 0.0
    min_coverage: float | None = Field(0.6, ge=0, le=1)
    max_coverage: float | None = Field(0.97, ge=0, le=1)
    min_scored_hours: int = Field(24, ge=1)
    consecutive_days: int = Field(3, ge=1, le=60)
    cooldown_days: int = Field(14, ge=1, le=365)
    enabled: bool = True


class MonitoringConfig(_Section):
    """Forecast accuracy tracking, EMF metrics and drift-triggered retraining (issue 8)."""

    # lead-time bucket edges in hours: [0, 24, 48, 72] -> buckets 0-24, 24-48, 48-72 (lower edge inclusive)
    lead_bucket_edges_hours: list[int] = Field(default_factory=lambda: [0, 24, 48, 72], min_length=2)
    metrics_namespace: str = "EDF/Accuracy"
    emf_series: list[Literal["consumption", "solar"]] = Field(default_factory=lambda: ["consumption"])
    # where the daily accuracy Parquet and the drift state go (template like the s3_* paths)
    report_prefix: str = "s3://{processed_bucket}/accuracy/"
    # stored forecasts: every run's forecasts.parquet under this prefix ("parquet", all issues and
    # leads), or the forecast store's read API ("store", newest issue per hour only)
    forecast_source: Literal["parquet", "store"] = "parquet"
    forecast_output_prefix: str = "s3://{processed_bucket}/forecast-output/"
    scheduler_expression: str = "cron(0 7 * * ? *)"
    # training state machine to start on drift; env EDF_TRAINING_STATE_MACHINE_ARN wins
    training_state_machine_arn: str | None = None
    # alerts SNS topic; env EDF_ALERTS_TOPIC_ARN wins
    alerts_topic_arn: str | None = None
    worst_buildings: int = Field(3, ge=1, le=20)
    drift: DriftRule = Field(default_factory=DriftRule)

    @field_validator("lead_bucket_edges_hours")
    @classmethod
    def _increasing(cls, v: list[int]) -> list[int]:
        if v[0] < 0 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("lead bucket edges must be non-negative and strictly increasing")
        return v


class OptimizationConfig(_Section):
    """Demand-response portfolio and resident schedules (``edf.optimization``, issue 6).

    Compliance: ``logit(p) = logit(base_rate[type]) + size_coef*ln(size/size_ref)
    + depth_coef*(depth - depth_ref) + time_of_day_coef[period] + temperature_coef*excess_c``,
    clipped to ``compliance_bounds``. The base rates are starting values to calibrate against a
    programme's own event data; 0.363 is used for building types not listed.
    """

    compliance_base_rates: dict[str, float] = Field(default_factory=lambda: {
        "residential": 0.35, "commercial": 0.45, "office": 0.45, "retail": 0.40,
        "industrial": 0.55, "school": 0.40, "pv_array": 0.10})
    compliance_unknown_rate: float = Field(0.363, gt=0, lt=1)
    compliance_size_coef: float = 0.15
    compliance_size_reference_kwh: float = Field(1.0, gt=0)
    compliance_depth_coef: float = -2.0
    compliance_depth_reference: float = Field(0.2, ge=0, le=1)
    compliance_time_of_day_coef: dict[int, float] = Field(default_factory=lambda: {
        0: -0.5, 6: 0.0, 11: 0.2, 17: -0.3, 22: -0.5})
    compliance_temperature_comfort_c: float = 21.0
    compliance_temperature_band_c: float = Field(4.0, ge=0)
    compliance_temperature_coef: float = -0.08
    compliance_bounds: tuple[float, float] = (0.1, 0.8)
    participation_minimum: dict[Literal["high", "critical"], float] = Field(
        default_factory=lambda: {"high": 0.3, "critical": 0.5})
    solver: Literal["HIGHS", "CLARABEL", "OSQP"] = "HIGHS"
    highs_method: Literal["ipm", "simplex", "choose"] = "ipm"
    highs_crossover: Literal["on", "off", "choose"] = "off"
    disruption_weight: float = Field(1e-4, ge=0)
    shortfall_penalty: float = Field(1000.0, gt=0)
    resident_cost_weight: float = Field(1.0, ge=0)
    resident_carbon_weight: float = Field(0.05, ge=0)
    resident_export_price_per_kwh: float = Field(0.0, ge=0)
    battery_default_efficiency: float = Field(0.9, gt=0, le=1)
    battery_default_c_rate: float = Field(0.5, gt=0)
    battery_initial_soc_share: float = Field(0.5, ge=0, le=1)
    battery_min_soc_share: float = Field(0.1, ge=0, le=1)
    battery_chunk_homes: int = Field(100, ge=1)
    battery_highs_method: Literal["ipm", "simplex", "choose"] = "simplex"
    appliance_kwh: float = Field(1.0, gt=0)
    appliance_top_n: int = Field(3, ge=1, le=24)
    min_action_kwh: float = Field(0.001, ge=0)
    instance_type: str = "ml.m5.large"
    instance_count: int = Field(1, ge=1)

    @field_validator("compliance_base_rates")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: r for k, r in v.items() if not 0 < r < 1}
        if bad:
            raise ValueError(f"base rates must lie strictly between 0 and 1: {bad}")
        return v

    @field_validator("compliance_time_of_day_coef")
    @classmethod
    def _periods(cls, v: dict[int, float]) -> dict[int, float]:
        if not v or any(not 0 <= h <= 23 for h in v):
            raise ValueError("keys are local start hours 0..23 (at least one)")
        return v

    @field_validator("participation_minimum")
    @classmethod
    def _participation(cls, v: dict[str, float]) -> dict[str, float]:
        if any(not 0 <= r <= 1 for r in v.values()):
            raise ValueError("participation minima are shares between 0 and 1")
        return v

    @model_validator(mode="after")
    def _bounds(self) -> OptimizationConfig:
        lo, hi = self.compliance_bounds
        if not 0 < lo <= hi < 1:
            raise ValueError("compliance_bounds must satisfy 0 < low <= high < 1")
        if self.battery_min_soc_share > self.battery_initial_soc_share:
            raise ValueError("battery_min_soc_share must not exceed battery_initial_soc_share")
        return self


class WeatherFreshness(_Section):
    """When inference trusts a weather forecast (``edf.features.weather_inputs``; docs/weather.md).

    A building's forecast is *fresh* when one issued at most ``max_age_hours`` before the origin
    covers every hour of the horizon. Otherwise ``on_stale`` decides: ``fail`` the run,
    forecast ``without_weather`` (rows say ``none``), or ``use_stale`` — the newest covering
    forecast issued within ``stale_limit_hours`` (rows say ``stale:<age>h``; ``none`` beyond it).
    """

    max_age_hours: float = Field(12.0, gt=0, le=168)
    on_stale: Literal["fail", "without_weather", "use_stale"] = "without_weather"
    stale_limit_hours: float = Field(48.0, gt=0, le=336)

    @model_validator(mode="after")
    def _limits(self) -> WeatherFreshness:
        if self.stale_limit_hours < self.max_age_hours:
            raise ValueError("stale_limit_hours must be at least max_age_hours")
        return self


class OpenMeteoSettings(_Section):
    """Open-Meteo forecast API (https://open-meteo.com/en/docs): free without a key, or the
    customer server with the key from Secrets Manager (provider ``open_meteo_customer``)."""

    base_url: str = "https://api.open-meteo.com/v1/forecast"
    customer_base_url: str = "https://customer-api.open-meteo.com/v1/forecast"
    cell_selection: Literal["land", "sea", "nearest"] = "land"
    models: str | None = None  # null: Open-Meteo's best-match blend


class FileProviderSettings(_Section):
    """The ``file`` provider: replays a recorded Open-Meteo response document (local path or s3://)."""

    uri: str | None = None
    # Re-anchor the recorded hours onto the issue day (whole days, so the diurnal cycle lines up).
    replay: bool = True


class WeatherConfig(_Section):
    """Weather-forecast fetcher (``edf.weather``; docs/weather.md) and the inference freshness rule."""

    provider: Literal["open_meteo", "open_meteo_customer", "file"] = "open_meteo"
    # Buildings are grouped into cells of this size (degrees); one provider request per cell.
    grid_degrees: float = Field(0.1, gt=0, le=5)
    # Hours fetched from the issue hour on: must reach past the next origin's horizon.
    fetch_hours: int = Field(96, ge=24, le=384)
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    read_timeout_seconds: float = Field(20.0, gt=0, le=120)
    max_attempts: int = Field(4, ge=1, le=10)  # per request, the first included (429, 5xx, timeouts)
    backoff_base_seconds: float = Field(1.0, ge=0, le=60)
    backoff_max_seconds: float = Field(30.0, ge=0, le=300)
    max_requests_per_run: int = Field(2000, ge=1)  # every attempt counts, retries included
    concurrency: int = Field(4, ge=1, le=32)
    # Secrets Manager id of the provider key (keyed providers only); env EDF_WEATHER_SECRET_ID wins.
    api_key_secret_id: str | None = None
    fetcher_function_base: str = "EDFWeatherFetcher"
    schedule_base: str = "EDFWeatherFetchSchedule"
    # Four fetches a day; the 23:30 UTC one is the newest issue before the 00:00 UTC origin.
    schedule_expression: str = "cron(30 5/6 * * ? *)"
    lambda_memory: int = Field(1024, ge=128, le=10240)
    lambda_timeout: int = Field(900, ge=1, le=900)
    metrics_namespace: str = "EDF/Weather"
    alarm_error_rate_pct: float = Field(20.0, gt=0, le=100)  # failed attempts / attempts in an hour
    alarm_latency_p90_ms: float = Field(5000.0, gt=0)
    freshness: WeatherFreshness = Field(default_factory=WeatherFreshness)
    open_meteo: OpenMeteoSettings = Field(default_factory=OpenMeteoSettings)
    file: FileProviderSettings = Field(default_factory=FileProviderSettings)

    @model_validator(mode="after")
    def _file_needs_uri(self) -> WeatherConfig:
        if self.provider == "file" and not self.file.uri:
            raise ValueError("provider 'file' needs file.uri (a recorded response document)")
        return self


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
    sagemaker_execution_role_base: str = "edf-sagemaker-execution"
    alerts_topic_base: str = "edf-alerts"
    forecast_db_base: str
    forecast_table_name: str

    common_feature_eng: CommonFeatureEng
    edf_feature_eng: FeatureEngConfig
    edf_training: TrainingConfig
    edf_evaluation: EvaluationConfig
    edf_inference: InferenceConfig
    lambda_shared: LambdaShared
    edf_optimization: OptimizationConfig = Field(default_factory=OptimizationConfig)
    edf_storage: StorageConfig = Field(default_factory=StorageConfig)
    edf_serving: ServingConfig = Field(default_factory=ServingConfig)
    edf_monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    edf_weather: WeatherConfig = Field(default_factory=WeatherConfig)
    edf_spark: SparkEngineConfig = Field(default_factory=SparkEngineConfig)

    @model_validator(mode="after")
    def _recalibration_history(self) -> EDFConfig:
        cal = self.edf_training.calibration
        if cal.online and self.common_feature_eng.lookback_days_default < cal.window_days + 7:
            raise ValueError(
                f"common_feature_eng.lookback_days_default ({self.common_feature_eng.lookback_days_default}) must be at "
                f"least edf_training.calibration.window_days + 7 ({cal.window_days + 7}): the inference features "
                "rebuild the last window_days origins, each with a week of history, to score recent errors")
        return self

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
        section = {"prophet": "Prophet", "xgboost": "XGBoost", "lstm": "LSTM", "ensemble": "Ensemble"}[
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
