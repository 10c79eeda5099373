"""The EDF local runtime: the deployed state machines, jobs and Lambdas, on a laptop.

Ties the generic engine (emulated AWS, Step Functions interpreter, SageMaker job runner, Lambda
invoker) to EDF:

1. starts the emulated AWS endpoint and provisions it from the config (buckets, model package
   group, alerts topic - the names Terraform uses);
2. uploads what CD and ingestion would have put in S3: the config to
   ``s3://<scripts bucket>/config/edf_config.yaml``, the bundled homes to ``s3_processed_edf_path``,
   the topology to ``s3_raw_calendar_path`` and a weather-forecast prefix;
3. renders ``pipelines/*.asl.json`` with :func:`asl_variables` - the same variable names Terraform
   passes to ``templatefile`` (``pipelines/README.md``) - and runs a workflow by name, printing
   each state and a per-state timing table.

Only the launchers differ from AWS: jobs run as ``python -m edf.jobs.<x>`` subprocesses with the
SageMaker directory layout, Lambda handlers are called in-process with the environment Terraform
gives them.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from edf.config import DEFAULT_CONFIG_PATH, EDFConfig, deep_merge, parse_config
from edf.logging import CORRELATION_ENV, configure_logging
from edf_local.functions import (
    REPO_ROOT,
    function_arn,
    function_name,
    workflow_function_limits,
    workflow_functions,
)
from edf_local.glue_runner import feature_job_name
from edf_local.weather import local_weather_overrides

log = logging.getLogger(__name__)

PIPELINES_DIR = REPO_ROOT / "pipelines"
WORKFLOWS = {
    "training": ("training.asl.json", "edf_training_sfn_base"),
    "inference": ("inference.asl.json", "edf_inference_sfn_base"),
}
LOCAL_ACCOUNT = "123456789012"  # moto's account: ARNs issued by the emulator carry it
JOB_VOLUME_SIZE_GB = 30  # EBS volume per job instance (Terraform variable of the same name)
CONFIG_KEY = "config/edf_config.yaml"
GLUE_SCRIPT = REPO_ROOT / "src" / "edf" / "jobs" / "glue_features.py"  # what Terraform uploads as the job script
WEATHER_PLACEHOLDER_KEY = "README.txt"


def asl_variables(
    cfg: EDFConfig,
    *,
    account: str,
    region: str,
    image_uri: str,
    config_uri: str,
    sagemaker_role_arn: str,
    alerts_topic_arn: str,
    job_volume_size_gb: int = JOB_VOLUME_SIZE_GB,
) -> dict[str, str]:
    """The ``templatefile`` variables of both ASL templates (documented in ``pipelines/README.md``)."""
    inf = cfg.edf_inference
    return {
        "processed_bucket": cfg.processed_bucket,
        "raw_bucket": cfg.raw_bucket,
        "config_uri": config_uri,
        "image_uri": image_uri,
        "sagemaker_role_arn": sagemaker_role_arn,
        "alerts_topic_arn": alerts_topic_arn,
        "model_package_group_name": cfg.model_package_group,
        "register_model_function_arn": function_arn(cfg, "lambda_register_edf_func_base", account, region),
        "get_approved_model_function_arn": function_arn(cfg, "lambda_get_model_func_base", account, region),
        "create_sagemaker_model_function_arn": function_arn(cfg, "lambda_create_sm_model_func_base", account, region),
        "load_forecasts_function_arn": function_arn(cfg, "lambda_load_forecasts_func_base", account, region),
        "default_strategy": cfg.edf_training.default_strategy,
        "training_instance_type": cfg.edf_training.instance_type,
        "training_instance_count": str(cfg.edf_training.instance_count),
        "evaluation_instance_type": cfg.edf_evaluation.instance_type,
        "evaluation_instance_count": str(cfg.edf_evaluation.instance_count),
        "features_training_job_name": feature_job_name(cfg, "training"),
        "features_inference_job_name": feature_job_name(cfg, "inference"),
        "forecast_instance_type": inf.forecast_gen_instance_type,
        "forecast_instance_count": str(inf.forecast_gen_instance_count),
        "max_runtime_seconds": str(cfg.edf_training.max_runtime_seconds),
        "job_volume_size_gb": str(job_volume_size_gb),
        "forecast_horizon_hours": str(inf.forecast_horizon_hours),
        "origin_hour_utc": f"{cfg.edf_feature_eng.origin_hour_utc:02d}",
    }


def state_machine_name(cfg: EDFConfig, workflow: str) -> str:
    if workflow not in WORKFLOWS:
        raise ValueError(f"unknown workflow {workflow!r}; expected one of {', '.join(WORKFLOWS)}")
    return cfg.name(getattr(cfg, WORKFLOWS[workflow][1]))


def template_path(workflow: str) -> Path:
    if workflow not in WORKFLOWS:
        raise ValueError(f"unknown workflow {workflow!r}; expected one of {', '.join(WORKFLOWS)}")
    return PIPELINES_DIR / WORKFLOWS[workflow][0]


def day_after_data(processed: Any) -> str:
    """ISO date of the first UTC day after the last hour of the processed data (the demo's inference date)."""
    import pandas as pd

    last = pd.Timestamp(processed["timestamp_hour"].max())
    last = last.tz_convert("UTC") if last.tzinfo else last
    return (last.date() + dt.timedelta(days=1)).isoformat()


def format_timings(execution: Any) -> str:
    """Per-state duration table of an execution, in the order the states ran."""
    rows = []
    seen: set[str] = set()
    durations = execution.durations
    for name, _ in execution.state_durations:
        if name not in seen:
            seen.add(name)
            rows.append((name, durations[name]))
    width = max([len(n) for n, _ in rows] + [5])
    lines = [f"  {'state'.ljust(width)}  seconds"]
    lines += [f"  {n.ljust(width)}  {s:8.2f}" for n, s in rows]
    lines.append(f"  {'total'.ljust(width)}  {execution.duration_s:8.2f}")
    return "\n".join(lines)


class LocalRuntime:
    """EDF on the emulated AWS endpoint. Use as a context manager; :meth:`run` runs a workflow.

    ``config_overrides`` are merged into the config before it is uploaded (what CD would deploy);
    ``buildings`` limits the uploaded homes (tests use two or three to stay fast); ``portfolio`` (an
    :class:`edf_local.portfolio.Portfolio`: a contract file or a synthetic set) replaces the bundled homes;
    ``forecast_backend`` is the store the load Lambda writes to (default ``edf_storage.local_backend``);
    ``image_commands``/``pythonpath``/``job_env`` go to the job runner (tests map an image URI to a
    test-double entrypoint that way).
    """

    def __init__(
        self,
        config_path: str | Path | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        buildings: Sequence[str] | None = None,
        portfolio: Any = None,
        workdir: str | Path | None = None,
        printer: Callable[[str], Any] | None = print,
        retry_time_scale: float = 0.01,
        forecast_backend: str | None = None,
        job_env: Mapping[str, str] | None = None,
        pythonpath: Sequence[str | Path] | None = None,
        image_commands: Mapping[str, list[str]] | None = None,
        state_listener: Callable[[str, str, int], Any] | None = None,
    ) -> None:
        source = Path(config_path or DEFAULT_CONFIG_PATH)
        # the local deployment's weather provider replays a recorded forecast (edf_local.weather)
        self.raw_config = deep_merge(deep_merge(yaml.safe_load(source.read_text()), local_weather_overrides()),
                                     config_overrides or {})
        self.cfg = parse_config(self.raw_config, str(source))
        self.buildings = list(buildings) if buildings else None
        self.portfolio = portfolio
        self._workdir = Path(workdir) if workdir else None
        self.printer = printer
        self.state_listener = state_listener  # the interpreter's per-state hook (progress display)
        self.retry_time_scale = retry_time_scale
        self.forecast_backend = forecast_backend
        self.job_env = dict(job_env or {})
        self.pythonpath = list(pythonpath or [])
        self.image_commands = {k: list(v) for k, v in (image_commands or {}).items()}
        self.region = self.cfg.aws_region
        self.account = LOCAL_ACCOUNT
        self.emulator: Any = None
        self.provisioned: dict[str, str] = {}
        self.processed_last_day: str | None = None  # ISO date of the first UTC day AFTER the uploaded data
        self.weather: dict[str, Any] | None = None  # summary of the weather fetch done at start
        self.invoker: Any = None
        self.runner: Any = None
        self.glue: Any = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def workdir(self) -> Path:
        """Job directories and logs (created on first use)."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="edf-local-"))
        self._workdir.mkdir(parents=True, exist_ok=True)
        return self._workdir

    # ------------------------------------------------------------------ names
    @property
    def config_uri(self) -> str:
        return f"s3://{self.cfg.scripts_bucket}/{CONFIG_KEY}"

    @property
    def image_uri(self) -> str:
        repo = self.cfg.name(self.cfg.ecr_repo_name_edf_base)
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{repo}:local"

    @property
    def sagemaker_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.cfg.name(self.cfg.sagemaker_execution_role_base)}"

    @property
    def glue_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.cfg.name(self.cfg.edf_spark.features_job_base)}-glue"

    @property
    def alerts_topic_arn(self) -> str:
        from edf_local.emulator import alerts_topic_name

        return f"arn:aws:sns:{self.region}:{self.account}:{alerts_topic_name(self.cfg)}"

    def variables(self) -> dict[str, str]:
        return asl_variables(self.cfg, account=self.account, region=self.region, image_uri=self.image_uri,
                             config_uri=self.config_uri, sagemaker_role_arn=self.sagemaker_role_arn,
                             alerts_topic_arn=self.alerts_topic_arn)

    def definition(self, workflow: str) -> dict[str, Any]:
        from edf_local.templates import render_asl_file

        return render_asl_file(template_path(workflow), self.variables())

    def lambda_environment(self) -> dict[str, str]:
        """What Terraform sets on the workflow Lambdas, with local values."""
        from edf.storage import resolve_backend

        return {
            "EDF_CONFIG_URI": self.config_uri,
            "EDF_MODEL_PACKAGE_GROUP": self.cfg.model_package_group,
            "EDF_SAGEMAKER_ROLE_ARN": self.sagemaker_role_arn,
            "EDF_FORECAST_DB_TYPE": resolve_backend(self.cfg, local=True, backend=self.forecast_backend),
            "EDF_STORAGE_CREATE_MISSING": "1",
        }

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalRuntime:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _print(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)

    def start(self) -> LocalRuntime:
        from edf_local.emulator import EmulatedAWS
        from edf_local.glue_runner import LocalGlueRunner, define_feature_jobs
        from edf_local.lambdas import LocalLambdaInvoker
        from edf_local.sagemaker_runner import LocalSageMakerRunner

        t0 = time.perf_counter()
        self.emulator = EmulatedAWS(region=self.region)
        self.emulator.start()
        self.provisioned = self.emulator.provision(self.cfg)
        self.upload_inputs()
        env = self.lambda_environment()
        # The load Lambda and the APIs (in this process) read the same store as the workflow wrote.
        for key in ("EDF_FORECAST_DB_TYPE", "EDF_STORAGE_CREATE_MISSING"):
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = env[key]
        functions = workflow_functions(self.cfg)
        # In-process handlers call configure_logging(); text keeps this shell readable (still tagged with the id).
        lambda_env = {**env, "EDF_LOG_FORMAT": "text"}
        # each invocation in a child process held to the function's configured memory and timeout
        self.invoker = LocalLambdaInvoker(functions, environment={name: lambda_env for name in functions},
                                          region=self.region, account=self.account,
                                          function_limits=workflow_function_limits(self.cfg), isolation="process")
        self.runner = LocalSageMakerRunner(workdir=self.workdir / "jobs", env={**self.job_env},
                                           pythonpath=self.pythonpath, printer=self.printer,
                                           image_commands=self.image_commands)
        # the feature jobs run on "AWS Glue": job definitions as Terraform creates them, the script from S3
        define_feature_jobs(self.cfg, self.glue_role_arn, GLUE_SCRIPT)
        self.glue = LocalGlueRunner(spark=self.cfg.edf_spark, workdir=self.workdir / "jobs", env={**self.job_env},
                                    pythonpath=self.pythonpath, printer=self.printer)
        self._print(f"[local] emulated AWS at {self.emulator.endpoint_url}; inputs uploaded "
                    f"({time.perf_counter() - t0:.1f}s); job logs under {self.workdir / 'jobs'}")
        return self

    def stop(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    # ------------------------------------------------------------------ inputs
    def upload_inputs(self) -> dict[str, str]:
        """Put the config, the portfolio (date-partitioned), its topology and a weather prefix in emulated S3."""
        import boto3

        from edf.data.partitions import write_partitioned
        from edf_local.portfolio import bundled

        s3 = boto3.client("s3", region_name=self.region)
        s3.put_object(Bucket=self.cfg.scripts_bucket, Key=CONFIG_KEY,
                      Body=yaml.safe_dump(self.raw_config, sort_keys=False).encode())
        portfolio = self.portfolio or bundled(self.buildings)
        self.portfolio = portfolio
        self.processed_last_day = day_after_data(portfolio.processed)
        processed_uri = self.cfg.s3_path("s3_processed_edf_path")
        calendar_uri = self.cfg.s3_path("s3_raw_calendar_path")
        weather_uri = self.cfg.s3_path("s3_raw_weather_fcst_path")
        files = write_partitioned(portfolio.processed, processed_uri)  # the layout ingestion writes
        buf = io.StringIO()
        portfolio.topology.to_csv(buf, index=False)
        _put_bytes(s3, buf.getvalue().encode(), calendar_uri + "topology.csv")
        # SageMaker refuses an empty input prefix: a file the features job ignores keeps it non-empty
        # even when the fetch below writes nothing.
        _put_bytes(s3, b"Weather forecasts written by the weather fetcher (issue_date=.../*.parquet).\n",
                   weather_uri + WEATHER_PLACEHOLDER_KEY)
        self.weather = self.fetch_weather(self.processed_last_day)  # edf_local.weather: the fetcher Lambda
        self._print(f"[local] uploaded {portfolio.label}: {portfolio.buildings} buildings, "
                    f"{len(portfolio.processed)} rows in {len(files)} daily partitions under {processed_uri}; "
                    f"topology to {calendar_uri}, config to {self.config_uri}")
        return {"processed": processed_uri, "topology": calendar_uri, "weather": weather_uri, "config": self.config_uri}

    def fetch_weather(self, inference_date: str) -> dict[str, Any] | None:
        """Run the weather fetcher Lambda as its schedule would have just before ``inference_date``'s origin."""
        from edf_local.weather import fetch_weather, issue_time_for

        return fetch_weather(self, issue_time_for(self.cfg, inference_date))

    def replace_portfolio(self, portfolio: Any) -> dict[str, str]:
        """Swap the uploaded portfolio for another (the registry and the store stay): what a new
        ingestion would do. Benchmarks train on a small portfolio, then forecast a large one."""
        import boto3

        bucket, _, prefix = self.cfg.s3_path("s3_processed_edf_path")[5:].partition("/")
        s3 = boto3.client("s3", region_name=self.region)
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        self.portfolio = portfolio
        return self.upload_inputs()

    # ------------------------------------------------------------------ running
    def run(self, workflow: str, run_input: Mapping[str, Any] | None = None,
            execution_name: str | None = None) -> Any:
        """Run ``training`` or ``inference`` to completion; returns the interpreter's Execution."""
        from edf_local.dispatch import make_dispatch
        from edf_local.stepfunctions import LocalStepFunctions

        if self.emulator is None:
            raise RuntimeError("LocalRuntime is not started (use it as a context manager)")
        name = execution_name or f"{workflow}-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S%f')}"
        # Tag this process's log lines with the run (the jobs and Lambdas get the execution ARN from the ASL);
        # the exported EDF_CORRELATION_ID is restored by stop().
        self._saved_env.setdefault(CORRELATION_ENV, os.environ.get(CORRELATION_ENV))
        configure_logging(name, json_format=False)
        sfn = LocalStepFunctions(make_dispatch(self.runner, self.invoker, glue=self.glue),
                                 retry_time_scale=self.retry_time_scale, printer=self.printer, region=self.region,
                                 account=self.account, state_listener=self.state_listener)
        execution = sfn.run(self.definition(workflow), dict(run_input or {}), execution_name=name,
                            state_machine_name=state_machine_name(self.cfg, workflow))
        self._print(f"[local] {workflow} workflow {execution.status} in {execution.duration_s:.1f}s; per state:")
        self._print(format_timings(execution))
        return execution

    def function_name(self, base_field: str) -> str:
        return function_name(self.cfg, base_field)


def _put_bytes(s3: Any, data: bytes, uri: str) -> None:
    bucket, _, key = uri[5:].partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=data)


def _put_file(s3: Any, path: Path, uri: str) -> None:
    bucket, _, key = uri[5:].partition("/")
    s3.upload_file(str(path), bucket, key)


def execution_summary(execution: Any) -> dict[str, Any]:
    """JSON-able summary of an execution (status, error, states and durations)."""
    return {"name": execution.name, "status": execution.status, "error": execution.error,
            "cause": execution.cause, "seconds": round(execution.duration_s, 2),
            "states": [{"state": n, "seconds": round(s, 2)} for n, s in execution.state_durations],
            "output": json.loads(json.dumps(execution.output, default=str)) if execution.output is not None else None}
