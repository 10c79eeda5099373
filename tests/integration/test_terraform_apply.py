"""Apply both stacks for real against the emulated AWS, prove the second plan is empty, run the
deployed inference workflow, load a run into the deployed forecast store, then destroy.

One module-scoped emulator and staged copy of the stacks; the tests run in file order (apply,
no-change plan, workflow, loader, destroy). The ingestion stack is stood in for by the buckets and
config object it would provide, and the AWS SDK for pandas managed layer by a layer published in
the emulator (moto checks that layer ARNs exist).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from terraform_support import (
    PLUGIN_DIR,
    REPO,
    base_env,
    emulator_override,
    outputs,
    stage,
    terraform_required,  # noqa: F401 - autouse fixture: fail, never skip, without terraform
    tf,
    tfvars_args,
)

from edf.config import load_config
from edf.data.io import write_parquet
from edf.data.outputs import FORECAST_COLUMNS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),
]

CONFIG_KEY = "config/edf_config.yaml"  # terraform variable config_object_key (default)
TIMINGS: dict[str, float] = {}


class _Deployment:
    def __init__(self, root: Path, aws, cfg, zips: Path, layer_arn: str):
        self.root, self.aws, self.cfg, self.zips, self.layer_arn = root, aws, cfg, zips, layer_arn
        self.env = base_env(root / "tfdata")
        self.outputs: dict[str, dict] = {}

    def stack_dir(self, stack: str) -> Path:
        return self.root / "repo" / "terraform" / "stacks" / stack

    def stack_env(self, stack: str) -> dict[str, str]:
        return {**self.env, "TF_DATA_DIR": str(self.root / "tfdata" / stack)}

    def variables(self, stack: str) -> dict:
        common = {"lambda_zip_dir": str(self.zips), "aws_sdk_pandas_layer_arn": self.layer_arn,
                  "aws_max_retries": 3, "glue_wheel_dir": str(self.root / "glue")}
        if stack == "training_edf":
            return {**common, "image_tag": "release-0123abc", "force_destroy": True}
        t = self.outputs["training_edf"]
        return {**common, "sagemaker_execution_role_arn": t["sagemaker_execution_role_arn"],
                "alerts_topic_arn": t["alerts_topic_arn"], "training_state_machine_arn": t["training_state_machine_arn"],
                "training_kms_key_arn": t["kms_key_arn"], "store_deletion_protection": False}

    def run(self, stack: str, *args: str, ok_codes=(0,), timeout=900):
        return tf(list(args), self.stack_dir(stack), self.stack_env(stack), timeout=timeout, ok_codes=ok_codes)


def _timed(key: str):
    class _T:
        def __enter__(self):
            self.t0 = time.perf_counter()

        def __exit__(self, *exc):
            TIMINGS[key] = round(time.perf_counter() - self.t0, 1)
    return _T()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from edf.packaging import build_all
    from edf.packaging.glue_wheel import build_job_wheel
    from edf_local.emulator import EmulatedAWS

    root = tmp_path_factory.mktemp("tf-apply")
    cfg = load_config(None)
    with _timed("package"):
        build_all(out_dir=root / "zips")
        build_job_wheel(root / "glue")
    with EmulatedAWS(region=cfg.aws_region) as aws:
        # What the ingestion stack and CD provide.
        s3 = aws.client("s3")
        for bucket in (cfg.processed_bucket, cfg.raw_bucket, cfg.scripts_bucket):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": cfg.aws_region})
        s3.put_object(Bucket=cfg.scripts_bucket, Key=CONFIG_KEY, Body=(REPO / "config/edf_config.yaml").read_bytes())
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("python/README.txt", "stand-in for the AWS SDK for pandas managed layer")
        layer = aws.client("lambda").publish_layer_version(
            LayerName="AWSSDKPandas-Python311", Content={"ZipFile": buf.getvalue()}, CompatibleRuntimes=["python3.11"])
        stage(root / "repo")
        dep = _Deployment(root, aws, cfg, root / "zips", layer["LayerVersionArn"])
        for stack in ("training_edf", "inference_edf"):
            (dep.stack_dir(stack) / "emulator_override.tf").write_text(emulator_override(aws.endpoint_url))
            dep.run(stack, "init", f"-plugin-dir={PLUGIN_DIR}", f"-backend-config=path={root / (stack + '.tfstate')}")
        yield dep
        # Destroy even when a test failed half-way (the destroy test asserts it when all went well).
        for stack in ("inference_edf", "training_edf"):
            if (root / f"{stack}.tfstate").exists() and not getattr(dep, f"destroyed_{stack}", False):
                dep.run(stack, "destroy", "-auto-approve", *tfvars_args(dep.variables(stack)), ok_codes=(0, 1))
    print("\napply-cycle timings (s):", json.dumps(TIMINGS))


def test_apply_training_then_inference(deployment):
    for stack in ("training_edf", "inference_edf"):
        with _timed(f"apply_{stack}"):
            deployment.run(stack, "apply", "-auto-approve", *tfvars_args(deployment.variables(stack)))
        deployment.outputs[stack] = outputs(deployment.stack_dir(stack), deployment.stack_env(stack))
    t, i = deployment.outputs["training_edf"], deployment.outputs["inference_edf"]
    cfg = deployment.cfg
    assert t["model_package_group_name"] == cfg.model_package_group
    assert t["config_uri"] == f"s3://{cfg.scripts_bucket}/{CONFIG_KEY}"
    assert i["forecast_db_type"] == cfg.edf_inference.forecast_db_type
    aws = deployment.aws
    machines = {m["name"] for m in aws.client("stepfunctions").list_state_machines()["stateMachines"]}
    assert {cfg.name(cfg.edf_training_sfn_base), cfg.name(cfg.edf_inference_sfn_base)} <= machines
    functions = {f["FunctionName"] for f in aws.client("lambda").list_functions()["Functions"]}
    assert {cfg.name(cfg.lambda_register_edf_func_base), cfg.name(cfg.lambda_get_model_func_base),
            cfg.name(cfg.lambda_create_sm_model_func_base), cfg.name(cfg.lambda_load_forecasts_func_base)} <= functions
    sched = aws.client("scheduler").get_schedule(Name=cfg.name(cfg.edf_scheduler_base))
    assert sched["ScheduleExpression"] == cfg.edf_inference.scheduler_expression
    assert sched["Target"]["Arn"] == i["inference_state_machine_arn"]
    for fn in aws.client("lambda").list_functions()["Functions"]:
        assert fn["TracingConfig"]["Mode"] == "Active", fn["FunctionName"]
    _check_weather_fetcher(aws, cfg, i)
    _check_feature_jobs(deployment, t, i)


def _check_feature_jobs(deployment, t, i):
    """The two Glue feature jobs: sized from the config, script and wheel in S3, encrypted, own role."""
    from edf_local.glue_runner import feature_job_name

    aws, cfg = deployment.aws, deployment.cfg
    glue, s3 = aws.client("glue"), aws.client("s3")
    for mode, outs in (("training", t), ("inference", i)):
        name = feature_job_name(cfg, mode)
        assert outs["features_job_name"] == name
        job = glue.get_job(JobName=name)["Job"]
        size = getattr(cfg.edf_spark, mode)
        assert (job["WorkerType"], job["NumberOfWorkers"]) == (size.worker_type, size.number_of_workers)
        assert job["GlueVersion"] == cfg.edf_spark.glue_version and job["DefaultArguments"]["--mode"] == mode
        assert job["SecurityConfiguration"] and job["Role"].endswith(f"{name}-glue")
        script = job["Command"]["ScriptLocation"]
        bucket, _, key = script[5:].partition("/")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body == (REPO / "src/edf/jobs/glue_features.py").read_bytes()
        wheel = job["DefaultArguments"]["--additional-python-modules"].split(",")[0]
        bucket, _, key = wheel[5:].partition("/")
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 10_000


def _check_weather_fetcher(aws, cfg, outputs_inference) -> None:
    """The fetcher, its schedule, its async retry limit, its alarms and dashboard widgets (issue 15)."""
    w = cfg.edf_weather
    name = cfg.name(w.fetcher_function_base)
    assert outputs_inference["weather_fetcher_function_name"] == name
    fn = aws.client("lambda").get_function_configuration(FunctionName=name)
    env = fn["Environment"]["Variables"]
    assert env["EDF_WEATHER_SECRET_ID"] == outputs_inference["weather_api_secret_arn"]
    assert (fn["Timeout"], fn["MemorySize"]) == (w.lambda_timeout, w.lambda_memory)
    assert aws.client("lambda").get_function_event_invoke_config(FunctionName=name)["MaximumRetryAttempts"] == 1
    sched = aws.client("scheduler").get_schedule(Name=cfg.name(w.schedule_base))
    assert sched["ScheduleExpression"] == w.schedule_expression and sched["Target"]["Arn"] == fn["FunctionArn"]
    alarms = {a["AlarmName"] for a in aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    for suffix in ("weather-fetch-failures", "weather-provider-error-rate", "weather-provider-latency-p90",
                   "weather-forecast-age", "weather_fetcher-errors"):
        assert any(a.endswith(suffix) for a in alarms), (suffix, sorted(alarms))
    board = aws.client("cloudwatch").list_dashboards()["DashboardEntries"][0]["DashboardName"]
    body = aws.client("cloudwatch").get_dashboard(DashboardName=board)["DashboardBody"]
    assert "NewestForecastAgeHours" in body and "ProviderLatencyMs" in body and "WeatherSource" in body


def test_second_plan_has_no_changes(deployment):
    for stack in ("training_edf", "inference_edf"):
        with _timed(f"plan_{stack}"):
            proc = deployment.run(stack, "plan", "-detailed-exitcode", *tfvars_args(deployment.variables(stack)),
                                  ok_codes=(0, 2))
        assert proc.returncode == 0, f"{stack}: second plan wants changes:\n{proc.stdout[-4000:]}"


def test_schedules_dead_letter_to_an_encrypted_queue_with_an_alarm(deployment):
    """Issue 14, item 11: an invocation the Scheduler cannot deliver lands in an SQS DLQ (KMS)."""
    aws, cfg = deployment.aws, deployment.cfg
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{cfg.name(cfg.edf_scheduler_base)}-dlq")["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["KmsMasterKeyId"].startswith("arn:aws:kms:")
    assert "aws:SecureTransport" in attrs["Policy"]
    for schedule in aws.client("scheduler").list_schedules()["Schedules"]:
        target = aws.client("scheduler").get_schedule(Name=schedule["Name"])["Target"]
        assert target["DeadLetterConfig"]["Arn"] == attrs["QueueArn"], schedule["Name"]
    alarms = aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    dlq = [a for a in alarms if a.get("Namespace") == "AWS/SQS"]
    assert [a["Dimensions"] for a in dlq] == [[{"Name": "QueueName", "Value": url.rsplit("/", 1)[1]}]]


def test_daily_run_alarms_watch_real_metrics(deployment):
    """No successful inference by the deadline (ExecutionsSucceeded of the inference machine), data
    older than the configured age (ProcessedDataAgeHours, put by the features job), and timeouts."""
    cfg, i = deployment.cfg, deployment.outputs["inference_edf"]
    alarms = {a["AlarmName"]: a for a in deployment.aws.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    deadline = cfg.edf_inference.alarms.success_deadline_hour_utc
    missing = next(a for n, a in alarms.items() if n.endswith(f"inference-no-success-by-{deadline:02d}00utc"))
    stat = next(q["MetricStat"] for q in missing["Metrics"] if "MetricStat" in q)
    assert stat["Metric"]["MetricName"] == "ExecutionsSucceeded" and stat["Metric"]["Namespace"] == "AWS/States"
    assert stat["Metric"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": i["inference_state_machine_arn"]}]
    assert missing["EvaluationPeriods"] == deadline == missing["DatapointsToAlarm"]
    assert any(f"HOUR(filled) <= {deadline}" in q.get("Expression", "") for q in missing["Metrics"])
    age = next(a for a in alarms.values() if a.get("MetricName") == "ProcessedDataAgeHours")
    assert age["Namespace"] == cfg.edf_inference.alarms.metrics_namespace
    assert age["Dimensions"] == [{"Name": "Environment", "Value": cfg.env_suffix}]
    assert age["Threshold"] == cfg.edf_inference.alarms.processed_data_max_age_hours
    assert age["TreatMissingData"] == "breaching"
    timed_out = {a["Dimensions"][0]["Value"] for a in alarms.values() if a.get("MetricName") == "ExecutionsTimedOut"}
    assert i["inference_state_machine_arn"] in timed_out
    topic = {tuple(a["AlarmActions"]) for a in alarms.values()}
    assert len(topic) == 1 and next(iter(topic))[0].endswith(cfg.name(cfg.alerts_topic_base))


def test_ecr_lifecycle_never_expires_release_images(deployment):
    """Issue 14, item 13: only pr-/branch-/unpromoted git- and untagged images expire; model
    packages reference promoted release-<sha> images, which no rule selects."""
    cfg = deployment.cfg
    policy = json.loads(deployment.aws.client("ecr").get_lifecycle_policy(
        repositoryName=cfg.name(cfg.ecr_repo_name_edf_base))["lifecyclePolicyText"])
    rules = policy["rules"]
    assert all(r["action"]["type"] == "expire" for r in rules)
    assert all(r["selection"]["tagStatus"] in ("tagged", "untagged") for r in rules), "no 'any' rule"
    prefixes = [p for r in rules for p in r["selection"].get("tagPrefixList", [])]
    assert sorted(prefixes) == ["branch-", "git-", "pr-"]
    assert not any("release-".startswith(p) for p in prefixes)
    assert any(r["selection"]["tagStatus"] == "untagged" for r in rules)


def test_deployed_definitions_equal_the_local_rendering(deployment):
    """Terraform's templatefile and the local runtime's renderer give the same state machines for the
    same values: what runs locally is what is deployed."""
    from edf_local.runtime import LOCAL_ACCOUNT, asl_variables, template_path
    from edf_local.templates import render_asl_file

    aws, cfg = deployment.aws, deployment.cfg
    t = deployment.outputs["training_edf"]
    variables = asl_variables(cfg, account=LOCAL_ACCOUNT, region=cfg.aws_region, image_uri=t["image_uri"],
                              config_uri=t["config_uri"], sagemaker_role_arn=t["sagemaker_execution_role_arn"],
                              alerts_topic_arn=t["alerts_topic_arn"])
    arns = {"training": t["training_state_machine_arn"],
            "inference": deployment.outputs["inference_edf"]["inference_state_machine_arn"]}
    for workflow, arn in arns.items():
        deployed = json.loads(aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
        local = render_asl_file(template_path(workflow), variables)
        assert deployed == local, f"{workflow}: deployed and local definitions differ at {_differences(deployed, local)}"


def _differences(a, b, path="$") -> list[str]:
    """JSON paths where two decoded documents differ (for a readable assertion message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}.{key} (only in {'local' if key not in a else 'deployed'})")
            else:
                out += _differences(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_deployed_inference_workflow_runs(deployment, tmp_path):
    """The definition read back from the emulator runs in the local interpreter against the deployed
    resources. With no approved model in the deployed registry it must stop at
    GetApprovedEDFModelPackage with the registry's explicit error and notify the deployed topic."""
    from edf_local.dispatch import make_dispatch
    from edf_local.functions import workflow_functions
    from edf_local.lambdas import LocalLambdaInvoker
    from edf_local.runtime import LOCAL_ACCOUNT
    from edf_local.sagemaker_runner import LocalSageMakerRunner
    from edf_local.stepfunctions import LocalStepFunctions

    aws, cfg = deployment.aws, deployment.cfg
    arn = deployment.outputs["inference_edf"]["inference_state_machine_arn"]
    definition = json.loads(aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"])
    lam = aws.client("lambda")
    functions = workflow_functions(cfg)
    env = {name: lam.get_function_configuration(FunctionName=name)["Environment"]["Variables"] for name in functions}
    sqs, sns = aws.client("sqs"), aws.client("sns")
    queue = sqs.create_queue(QueueName="edf-alerts-tf-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=deployment.outputs["training_edf"]["alerts_topic_arn"], Protocol="sqs", Endpoint=queue_arn)

    invoker = LocalLambdaInvoker(functions, environment=env, region=cfg.aws_region, account=LOCAL_ACCOUNT)
    runner = LocalSageMakerRunner(workdir=tmp_path / "jobs", printer=None)
    sfn = LocalStepFunctions(make_dispatch(runner, invoker), retry_time_scale=0.001, printer=None,
                             region=cfg.aws_region, account=LOCAL_ACCOUNT)
    with _timed("inference_workflow"):
        execution = sfn.run(definition, {"inference_date": "2017-05-01"}, execution_name="tf-apply-check",
                            state_machine_name=cfg.name(cfg.edf_inference_sfn_base))
    assert execution.status == "FAILED"
    entered = [e["name"] for e in execution.history if e.get("type") == "TaskStateEntered" and "name" in e] or \
        [name for name, _ in execution.state_durations]
    assert "GetApprovedEDFModelPackage" in entered and "CreateEDFSageMakerModel" not in entered, entered
    assert "approved" in f"{execution.error} {execution.cause}".lower(), (execution.error, execution.cause)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert messages, "the failure notification did not reach the Terraform-created alerts topic"


def test_deployed_store_accepts_a_run(deployment, tmp_path):
    """The load Lambda, with the environment Terraform gave it, writes a run into the store table(s)
    Terraform created (schema drift between storage code and Terraform would fail here)."""
    from edf_local.lambdas import LocalLambdaInvoker
    from edf_local.runtime import LOCAL_ACCOUNT

    aws, cfg = deployment.aws, deployment.cfg
    name = cfg.name(cfg.lambda_load_forecasts_func_base)
    env = aws.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    issue = dt.datetime(2017, 5, 1, tzinfo=dt.UTC)
    rows = [{"building_id": b, "grid_area": "north", "series": "consumption", "timestamp_hour": issue + dt.timedelta(hours=h),
             "origin_time": issue, "lead_hours": h, "yhat": 1.0 + h, "yhat_lower": 0.5, "yhat_upper": 2.0 + h,
             "strategy": "xgboost", "model_version": "1", "issue_time": issue, "run_id": "edf-2017-05-01",
             "weather_source": "forecast"}
            for b in ("b-1", "b-2") for h in range(1, 4)]
    frame = pd.DataFrame(rows)[list(FORECAST_COLUMNS)]
    path = tmp_path / "forecasts.parquet"
    write_parquet(frame, path)
    key = "forecast-output/tf-test/run/forecasts/forecasts.parquet"
    aws.client("s3").upload_file(str(path), cfg.processed_bucket, key)
    invoker = LocalLambdaInvoker({name: REPO / "lambdas/load_forecasts/handler.py"}, environment={name: env},
                                 region=cfg.aws_region, account=LOCAL_ACCOUNT)
    result = invoker.invoke(name, {"forecasts_uri": f"s3://{cfg.processed_bucket}/{key}", "recommendations_uri": None,
                                   "run_id": "edf-2017-05-01", "model_version": "1"})
    assert result["forecasts_written"] == len(rows), result
    assert result["backend"].upper() == env["EDF_FORECAST_DB_TYPE"]


def test_deployed_weather_fetcher_writes_a_validated_forecast(deployment):
    """The fetcher Lambda, with the environment Terraform gave it, reads the topology and writes the
    forecast where the inference workflow's ProcessingInput reads it. CD would upload a config
    pointing at the real provider; this one points it at the scripted stand-in on 127.0.0.1."""
    import yaml
    from weather_server import FakeOpenMeteo, fixture

    from edf.data.weather_forecast import read_weather_file
    from edf_local.lambdas import LocalLambdaInvoker
    from edf_local.runtime import LOCAL_ACCOUNT

    aws, cfg = deployment.aws, deployment.cfg
    name = cfg.name(cfg.edf_weather.fetcher_function_base)
    env = aws.client("lambda").get_function_configuration(FunctionName=name)["Environment"]["Variables"]
    s3 = aws.client("s3")
    topology = "building_id,latitude,longitude,grid_area\nb-1,52.52,13.41,north\nb-2,52.49,13.38,north\n"
    s3.put_object(Bucket=cfg.raw_bucket, Key="edf-inputs/calendar-topology/topology.csv", Body=topology.encode())
    with FakeOpenMeteo({52.5: fixture("forecast_cell_a.json")}) as fake:
        raw = yaml.safe_load((REPO / "config/edf_config.yaml").read_text())
        raw["edf_weather"]["open_meteo"]["base_url"] = fake.url
        s3.put_object(Bucket=cfg.scripts_bucket, Key=CONFIG_KEY, Body=yaml.safe_dump(raw).encode())
        try:
            invoker = LocalLambdaInvoker({name: REPO / "lambdas/weather_fetcher/handler.py"}, environment={name: env},
                                         region=cfg.aws_region, account=LOCAL_ACCOUNT)
            summary = invoker.invoke(name, {"issue_time": "2026-11-20T23:30:00Z"})
        finally:
            s3.put_object(Bucket=cfg.scripts_bucket, Key=CONFIG_KEY, Body=(REPO / "config/edf_config.yaml").read_bytes())
    assert len(fake.requests) == 1 and summary["buildings"] == 2 and summary["cells_failed"] == 0
    assert summary["uri"].startswith(f"s3://{cfg.raw_bucket}/edf-inputs/weather-forecast/issue_date=2026-11-20/")
    assert len(read_weather_file(summary["uri"])) == 2 * cfg.edf_weather.fetch_hours


def test_destroy_leaves_nothing(deployment):
    for stack in ("inference_edf", "training_edf"):
        with _timed(f"destroy_{stack}"):
            deployment.run(stack, "destroy", "-auto-approve", *tfvars_args(deployment.variables(stack)))
        setattr(deployment, f"destroyed_{stack}", True)
    aws = deployment.aws
    assert aws.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("scheduler").list_schedules()["Schedules"] == []
    assert aws.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"] == []
    assert aws.client("glue").get_jobs()["Jobs"] == []
