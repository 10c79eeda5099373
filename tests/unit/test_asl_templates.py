"""The two ASL templates: placeholders documented for Terraform, structure, and routing logic.

Routing is exercised in the local interpreter with a scripted task dispatcher (a test double for
SageMaker/Lambda/SNS), so every branch - success, evaluation failure, job failure, retries - is
checked in milliseconds; ``tests/e2e/test_workflows.py`` runs the real jobs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edf_local.asl import validate_asl
from edf_local.errors import TaskFailed
from edf_local.runtime import asl_variables, template_path
from edf_local.stepfunctions import LocalStepFunctions
from edf_local.templates import render_asl_file, template_variables

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "123456789012", "eu-central-1"
# Step Functions reports SageMaker API errors as SageMaker.<Java SDK exception>; only the quota one is
# modeled and transient. Throttling, 5xx and ValidationException all share SageMaker.AmazonSageMakerException.
SM_ERRORS = {"SageMaker.ResourceLimitExceededException"}
GLUE_ERRORS = {"Glue.AWSGlueException", "Glue.ConcurrentRunsExceededException", "Glue.ThrottlingException"}
LAMBDA_ERRORS = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                 "Lambda.TooManyRequestsException"}


def documented_placeholders() -> set[str]:
    text = (REPO / "pipelines" / "README.md").read_text()
    section = text.split("## Placeholders", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.M))


def documented_resources() -> set[str]:
    text = (REPO / "pipelines" / "README.md").read_text()
    section = text.split("## Resources", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(arn:aws:[^`]+)` \|", section, flags=re.M))


@pytest.fixture(scope="module")
def variables(cfg):
    return asl_variables(cfg, account=ACCOUNT, region=REGION, image_uri="img:test",
                         config_uri="s3://scripts/config/edf_config.yaml",
                         sagemaker_role_arn=f"arn:aws:iam::{ACCOUNT}:role/sm",
                         alerts_topic_arn=f"arn:aws:sns:{REGION}:{ACCOUNT}:edf-alerts-dev")


@pytest.fixture(scope="module")
def definitions(variables):
    return {wf: render_asl_file(template_path(wf), variables) for wf in ("training", "inference")}


def tasks(definition: dict) -> dict[str, dict]:
    return {n: s for n, s in definition["States"].items() if s["Type"] == "Task"}


# ------------------------------------------------------------------ template contract
@pytest.mark.parametrize("workflow", ["training", "inference"])
def test_template_is_json_before_rendering_and_placeholders_are_documented(workflow, variables):
    text = template_path(workflow).read_text()
    json.loads(text)  # editors/linters work on the raw file
    used = template_variables(text)
    documented = documented_placeholders()
    assert used <= documented, f"undocumented placeholders: {sorted(used - documented)}"
    assert used <= set(variables), f"the local renderer does not supply {sorted(used - set(variables))}"


def test_documentation_and_renderer_list_exactly_the_placeholders_in_use(variables):
    used = set().union(*(template_variables(template_path(w).read_text()) for w in ("training", "inference")))
    assert documented_placeholders() == used
    assert set(variables) == used


@pytest.mark.parametrize("workflow", ["training", "inference"])
def test_rendered_definition_is_valid_and_uses_documented_resources(workflow, definitions):
    definition = definitions[workflow]
    assert validate_asl(definition) == []
    assert "${" not in json.dumps(definition)
    resources = {s["Resource"] for s in tasks(definition).values()}
    assert resources <= documented_resources()


@pytest.mark.parametrize("workflow", ["training", "inference"])
def test_every_task_retries_transient_errors_and_catches_to_the_failure_notification(workflow, definitions):
    definition = definitions[workflow]
    for name, state in tasks(definition).items():
        catch_targets = {c["Next"] for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]}
        retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
        if name == "NotifyFailureEDF":
            assert catch_targets == {"WorkflowFailed"} and state["Next"] == "WorkflowFailed"
            continue
        assert catch_targets == {"NotifyFailureEDF"}, name
        if "sagemaker" in state["Resource"]:
            assert retried >= SM_ERRORS, name
            job_name = state["Parameters"].get("ProcessingJobName.$") or state["Parameters"].get("TrainingJobName.$")
            assert "$$.Execution.Name" in job_name, name
        if state["Resource"].endswith("lambda:invoke"):
            assert retried >= LAMBDA_ERRORS, name
        if ":::glue:" in state["Resource"]:
            assert retried >= GLUE_ERRORS, name
            assert all(isinstance(v, str) for k, v in state["Parameters"]["Arguments"].items()
                       if not k.endswith(".$")), name  # Glue arguments are strings
    notify = definition["States"]["NotifyFailureEDF"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"].startswith("arn:aws:sns:")
    assert definition["States"]["WorkflowFailed"] == {**definition["States"]["WorkflowFailed"], "Type": "Fail",
                                                      "CausePath": "$.error.Cause"}


def test_required_states_exist(definitions):
    training, inference = definitions["training"]["States"], definitions["inference"]["States"]
    for name in ("ValidateSchema", "FeatureEngineeringTrainingEDF", "ModelTrainingEDF", "ModelEvaluationEDF",
                 "CheckEvaluationEDF", "RegisterModelEDF", "WorkflowSucceeded", "EvaluationFailedEDF",
                 "WorkflowFailed"):
        assert name in training
    assert training["CheckEvaluationEDF"]["Type"] == "Choice"
    assert training["EvaluationFailedEDF"]["Type"] == "Fail"
    assert definitions["inference"]["StartAt"] == "GetInferenceDate"
    for name in ("GetApprovedEDFModelPackage", "CreateEDFSageMakerModel", "FeatureEngineeringInferenceEDF",
                 "GenerateForecastsEDF", "OptimizePortfolioEDF", "LoadForecastsToDB", "WorkflowSucceeded",
                 "WorkflowFailed"):
        assert name in inference


def test_s3_layout_follows_the_config_path_templates(cfg):
    texts = {w: template_path(w).read_text() for w in ("training", "inference")}
    buckets = {"processed_bucket": "${processed_bucket}", "raw_bucket": "${raw_bucket}"}
    expected = {
        "training": [cfg.s3_feature_output_base.format(**buckets, workflow_type="training", sfn_name="{}", exec_id="{}"),
                     cfg.s3_model_artifact_base.format(**buckets, sfn_name="{}", exec_id="{}"),
                     cfg.s3_eval_report_base.format(**buckets, sfn_name="{}", exec_id="{}"),
                     cfg.s3_processed_edf_path.format(**buckets), cfg.s3_raw_calendar_path.format(**buckets)],
        "inference": [cfg.s3_feature_output_base.format(**buckets, workflow_type="inference", sfn_name="{}", exec_id="{}"),
                      cfg.s3_forecast_output_base.format(**buckets, sfn_name="{}", exec_id="{}"),
                      cfg.s3_raw_weather_fcst_path.format(**buckets)],
    }
    for workflow, paths in expected.items():
        for path in paths:
            assert path in texts[workflow], f"{workflow}: {path} not used"


# ------------------------------------------------------------------ routing with a scripted dispatcher
REPORT_OK = {"passed": True, "passes_thresholds": True, "beats_baselines": True, "strategy": "xgboost"}


class Script:
    """Task dispatcher double: records calls, answers per resource, can fail the first N calls."""

    def __init__(self, report=None, fail: dict[str, list[TaskFailed]] | None = None, lambdas=None):
        self.report = REPORT_OK if report is None else report
        self.fail = fail or {}
        self.lambdas = lambdas or {}
        self.calls: list[tuple[str, dict]] = []
        self.objects: dict[str, str] = {}  # s3://bucket/key -> body the workflow wrote (run inputs)

    def __call__(self, resource, params, context):
        state = context["State"]["Name"]
        self.calls.append((state, params))
        if self.fail.get(state):
            raise self.fail[state].pop(0)
        if resource.endswith("createProcessingJob.sync"):
            return {"ProcessingJobName": params["ProcessingJobName"], "ProcessingJobStatus": "Completed"}
        if resource.endswith("glue:startJobRun.sync"):
            return {"Id": "jr_1", "JobName": params["JobName"], "JobRunState": "SUCCEEDED"}
        if resource.endswith("createTrainingJob.sync"):
            out = params["OutputDataConfig"]["S3OutputPath"]
            return {"TrainingJobName": params["TrainingJobName"], "TrainingJobStatus": "Completed",
                    "ModelArtifacts": {"S3ModelArtifacts": f"{out}{params['TrainingJobName']}/output/model.tar.gz"}}
        if resource.endswith("s3:putObject"):
            self.objects[f"s3://{params['Bucket']}/{params['Key']}"] = params["Body"]
            return {"ETag": "e"}
        if resource.endswith("s3:getObject"):
            return {"Body": json.dumps(self.report), "ContentType": "application/json"}
        if resource.endswith("s3:putObject"):  # run inputs written by reference (WriteTrainingOverridesEDF, ...)
            return {"ETag": '"e1"'}
        if resource.endswith("sns:publish"):
            return {"MessageId": "m1"}
        if resource.endswith("lambda:invoke"):
            answer = self.lambdas.get(state, {})
            if isinstance(answer, Exception):
                raise answer
            return {"Payload": answer, "StatusCode": 200}
        raise AssertionError(resource)

    def json_at(self, uri: str) -> dict:
        """The JSON document the workflow wrote at ``uri`` (run inputs are passed by reference)."""
        return json.loads(self.objects[uri])

    def params(self, state: str) -> dict:
        return [p for s, p in self.calls if s == state][-1]

    def states(self) -> list[str]:
        return [s for s, _ in self.calls]


def run(definition, script, run_input=None, name="exec-1", machine="EDFTrainingWorkflow-dev"):
    sfn = LocalStepFunctions(script, retry_time_scale=0.0, printer=None, region=REGION)
    return sfn.run(definition, run_input or {}, execution_name=name, state_machine_name=machine)


REGISTER = {"RegisterModelEDF": {"model_package_arn": "arn:pkg/1", "model_package_version": 1,
                                 "model_approval_status": "PendingManualApproval"}}


def test_training_success_passes_overrides_and_registers(definitions, cfg):
    script = Script(lambdas=REGISTER)
    exe = run(definitions["training"], script, {"start_date": "2017-01-01", "end_date": "2017-03-01",
                                                "strategy": "xgboost",
                                                "hyperparameters": {"XGBoost": {"xgb_num_boost_round": 5}},
                                                "thresholds": {"max_mape": 90}})
    assert exe.status == "SUCCEEDED", exe.cause
    assert script.states() == ["WriteTrainingOverridesEDF", "ValidateSchema", "FeatureEngineeringTrainingEDF",
                               "ModelTrainingEDF", "ModelEvaluationEDF", "ReadEvaluationReportEDF", "RegisterModelEDF"]
    train = script.params("ModelTrainingEDF")
    assert train["TrainingJobName"] == "edf-train-exec-1"
    assert all(isinstance(v, str) for v in train["HyperParameters"].values())
    uri = train["HyperParameters"]["overrides"]  # a reference, never the JSON (SageMaker caps arguments)
    assert uri == f"s3://{cfg.processed_bucket}/run-inputs/EDFTrainingWorkflow-dev/exec-1/overrides.json"
    overrides = script.json_at(uri)
    assert overrides["edf_training"]["hyperparameters"] == {"XGBoost": {"xgb_num_boost_round": 5}}
    assert overrides["edf_evaluation"]["metrics_thresholds"] == {"max_mape": 90}
    # the overrides are valid config overrides
    from edf.config import load_config
    assert load_config(None, overrides).edf_training.train_start_date.isoformat() == "2017-01-01"
    # the same overrides (their data window) reach validation and features
    feats = script.params("FeatureEngineeringTrainingEDF")
    assert feats["JobName"] == f"edf-features-training-{cfg.env_suffix}"
    args = feats["Arguments"]
    assert args["--overrides"] == uri and script.params("ValidateSchema")["AppSpecification"]["ContainerArguments"][-1] == uri
    assert all(isinstance(a, str) for a in args.values())
    assert args["--output"] == f"s3://{cfg.processed_bucket}/features/edf/training/EDFTrainingWorkflow-dev/exec-1/"
    assert args["--processed"] == cfg.s3_path("s3_processed_edf_path")  # Spark reads S3 itself, pruned by date
    reg = script.params("RegisterModelEDF")
    assert reg["FunctionName"].endswith(f":function:{cfg.name(cfg.lambda_register_edf_func_base)}")
    assert reg["Payload"]["model_data_url"].endswith("/EDFTrainingWorkflow-dev/exec-1/edf-train-exec-1/output/model.tar.gz")
    assert reg["Payload"]["evaluation_report_uri"] == (
        f"s3://{cfg.processed_bucket}/evaluation-output/EDFTrainingWorkflow-dev/exec-1/evaluation_report_edf.json")
    assert exe.output["registration"]["model_package_arn"] == "arn:pkg/1"


def test_training_defaults_when_the_input_is_empty(definitions, cfg):
    script = Script(lambdas=REGISTER)
    exe = run(definitions["training"], script, {})
    assert exe.status == "SUCCEEDED"
    train = script.params("ModelTrainingEDF")
    assert train["HyperParameters"]["strategy"] == cfg.edf_training.default_strategy
    assert train["AlgorithmSpecification"]["TrainingImage"] == "img:test"
    assert train["StoppingCondition"]["MaxRuntimeInSeconds"] == cfg.edf_training.max_runtime_seconds


def test_evaluation_below_bar_ends_in_evaluation_failed_without_registering(definitions):
    script = Script(report={**REPORT_OK, "passed": False, "passes_thresholds": False})
    exe = run(definitions["training"], script)
    assert exe.status == "FAILED" and exe.error == "EDF.EvaluationFailed"
    assert "passes_thresholds=false" in exe.cause and "beats_baselines=true" in exe.cause
    assert exe.last_state() == "EvaluationFailedEDF"
    assert "RegisterModelEDF" not in script.states()


def test_baselines_not_beaten_fails_even_if_thresholds_pass(definitions):
    script = Script(report={**REPORT_OK, "passed": False, "beats_baselines": False})
    exe = run(definitions["training"], script)
    assert exe.last_state() == "EvaluationFailedEDF" and "beats_baselines=false" in exe.cause


def test_report_without_decision_fields_is_a_notified_failure(definitions):
    script = Script(report={"strategy": "xgboost"})
    exe = run(definitions["training"], script)
    assert exe.status == "FAILED" and exe.error == "EDF.EvaluationReportInvalid"
    assert "NotifyFailureEDF" in script.states()


def test_failed_training_job_notifies_with_the_cause_and_ends_in_workflow_failed(definitions):
    cause = json.dumps({"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: ConfigError: bad depth"})
    script = Script(fail={"ModelTrainingEDF": [TaskFailed("States.TaskFailed", cause)]})
    exe = run(definitions["training"], script)
    assert exe.status == "FAILED" and exe.error == "States.TaskFailed"
    assert "bad depth" in exe.cause and exe.last_state() == "WorkflowFailed"
    message = script.params("NotifyFailureEDF")["Message"]
    assert "bad depth" in message and "exec-1" in message
    assert script.states().count("ModelTrainingEDF") == 1  # a job failure is not retried


def test_sagemaker_capacity_errors_are_retried(definitions):
    script = Script(lambdas=REGISTER, fail={"ValidateSchema": [
        TaskFailed("SageMaker.ResourceLimitExceededException", "ml.m5.xlarge for processing job usage: 1 of 1"),
        TaskFailed("SageMaker.ResourceLimitExceededException", "still busy")]})
    exe = run(definitions["training"], script)
    assert exe.status == "SUCCEEDED"
    assert script.states().count("ValidateSchema") == 3


def test_glue_concurrency_limit_is_retried_and_a_failed_glue_run_is_not(definitions):
    script = Script(lambdas=REGISTER, fail={"FeatureEngineeringTrainingEDF": [
        TaskFailed("Glue.ConcurrentRunsExceededException", "2 runs already"), TaskFailed("Glue.ThrottlingException", "")]})
    exe = run(definitions["training"], script)
    assert exe.status == "SUCCEEDED"
    assert script.states().count("FeatureEngineeringTrainingEDF") == 3
    cause = json.dumps({"JobRunState": "FAILED", "ErrorMessage": "ValueError: no date partitions"})
    script = Script(fail={"FeatureEngineeringTrainingEDF": [TaskFailed("States.TaskFailed", cause)]})
    exe = run(definitions["training"], script)
    assert exe.status == "FAILED" and "no date partitions" in exe.cause
    assert script.states().count("FeatureEngineeringTrainingEDF") == 1


VALIDATION = ("Service: AmazonSageMaker; Status Code: 400; Error Code: ValidationException; "
              "Request ID: 1 (ContainerArguments member must have length less than or equal to 256)")


@pytest.mark.parametrize(("workflow", "state"), [("training", "FeatureEngineeringTrainingEDF"),
                                                 ("training", "ModelTrainingEDF"),
                                                 ("inference", "FeatureEngineeringInferenceEDF"),
                                                 ("inference", "GenerateForecastsEDF"),
                                                 ("inference", "OptimizePortfolioEDF")])
def test_sagemaker_validation_error_is_not_retried(definitions, workflow, state):
    """A ValidationException is permanent: today it was retried 5 times (10 s .. 160 s apart)."""
    lambdas = REGISTER if workflow == "training" else INFER_LAMBDAS
    script = Script(lambdas=lambdas, fail={state: [TaskFailed("SageMaker.AmazonSageMakerException", VALIDATION)] * 6})
    exe = run(definitions[workflow], script)
    assert exe.status == "FAILED" and exe.error == "SageMaker.AmazonSageMakerException"
    assert script.states().count(state) == 1
    assert not exe.events("StateRetry")


APPROVED = {"model_package_arn": "arn:aws:sagemaker:eu-central-1:1:model-package/g/3", "model_package_version": 3,
            "image_uri": "img:model", "model_data_url": "s3://b/model.tar.gz", "strategy": "xgboost"}
INFER_LAMBDAS = {"GetApprovedEDFModelPackage": APPROVED,
                 "CreateEDFSageMakerModel": {"model_name": "edf-model-x", "model_arn": "arn:model"},
                 "LoadForecastsToDB": {"run_id": "r", "forecasts_written": 10, "recommendations_written": 2,
                                       "backend": "DYNAMODB"}}


def test_inference_date_defaults_to_the_execution_start_date(definitions):
    script = Script(lambdas=INFER_LAMBDAS)
    exe = run(definitions["inference"], script, {}, machine="EDFInferenceWorkflow-dev")
    assert exe.status == "SUCCEEDED", exe.cause
    day = exe.start_time.date().isoformat()
    args = script.params("FeatureEngineeringInferenceEDF")["Arguments"]
    assert args["--origin"] == f"{day}T00:00:00Z" and args["--mode"] == "inference"
    assert script.params("LoadForecastsToDB")["Payload"]["run_id"] == f"edf-{day}"


def test_inference_with_a_date_uses_a_run_id_stable_across_executions(definitions, cfg):
    ids = []
    for name in ("first", "second"):
        script = Script(lambdas=INFER_LAMBDAS)
        exe = run(definitions["inference"], script, {"inference_date": "2017-08-01", "horizon_hours": 24},
                  name=name, machine="EDFInferenceWorkflow-dev")
        assert exe.status == "SUCCEEDED"
        load = script.params("LoadForecastsToDB")["Payload"]
        ids.append(load["run_id"])
        assert load["forecasts_uri"] == (f"s3://{cfg.processed_bucket}/forecast-output/EDFInferenceWorkflow-dev/"
                                         f"{name}/forecasts/forecasts.parquet")
        assert load["model_version"] == APPROVED["model_package_arn"]
        forecast = script.params("GenerateForecastsEDF")
        assert forecast["AppSpecification"]["ImageUri"] == "img:model"  # the image the model was trained with
        args = forecast["AppSpecification"]["ContainerArguments"]
        assert args[args.index("--model-version") + 1] == APPROVED["model_package_arn"]
        feats = script.params("FeatureEngineeringInferenceEDF")["Arguments"]
        assert feats["--horizon-hours"] == "24"
        model_input = forecast["ProcessingInputs"][0]["S3Input"]["S3Uri"]
        assert model_input == APPROVED["model_data_url"]
    assert ids == ["edf-2017-08-01", "edf-2017-08-01"]


def test_grid_conditions_reach_the_optimize_job_by_reference(definitions, cfg):
    """A 4-hour event in one area is over 256 characters of JSON: it travels as an S3 object."""
    event = {"north": {"conditions": {f"2017-08-01T{h:02d}:00:00Z": "critical" for h in range(16, 20)},
                       "required_reduction_kwh": {f"2017-08-01T{h:02d}:00:00Z": 12.5 for h in range(16, 20)}}}
    assert len(json.dumps(event)) > 256
    script = Script(lambdas=INFER_LAMBDAS)
    exe = run(definitions["inference"], script, {"inference_date": "2017-08-01", "grid_conditions": event},
              name="grid", machine="EDFInferenceWorkflow-dev")
    assert exe.status == "SUCCEEDED", exe.cause
    args = script.params("OptimizePortfolioEDF")["AppSpecification"]["ContainerArguments"]
    uri = args[args.index("--grid-conditions") + 1]
    assert uri == f"s3://{cfg.processed_bucket}/run-inputs/EDFInferenceWorkflow-dev/grid/grid_conditions.json"
    assert script.json_at(uri) == event and max(len(a) for a in args) <= 256


def test_inference_without_approved_model_fails_naming_the_group(definitions, cfg):
    doc = json.dumps({"errorMessage": f"no Approved model package in model package group '{cfg.model_package_group}'",
                      "errorType": "NoApprovedModelError"})
    script = Script(lambdas={"GetApprovedEDFModelPackage": TaskFailed("NoApprovedModelError", doc)})
    exe = run(definitions["inference"], script, {"inference_date": "2017-08-01"}, machine="EDFInferenceWorkflow-dev")
    assert exe.status == "FAILED" and exe.error == "NoApprovedModelError"
    assert cfg.model_package_group in exe.cause
    assert "NotifyFailureEDF" in script.states() and "CreateEDFSageMakerModel" not in script.states()


def test_transient_lambda_errors_are_retried(definitions):
    script = Script(lambdas=INFER_LAMBDAS)
    script.fail = {"LoadForecastsToDB": [TaskFailed("Lambda.TooManyRequestsException", "rate")]}
    exe = run(definitions["inference"], script, {"inference_date": "2017-08-01"}, machine="EDFInferenceWorkflow-dev")
    assert exe.status == "SUCCEEDED" and script.states().count("LoadForecastsToDB") == 2


# ------------------------------------------------------------------ local runtime helpers
def test_every_invoked_function_maps_to_a_handler_file(cfg, definitions):
    from edf_local.functions import workflow_functions

    functions = workflow_functions(cfg)
    assert all(path.is_file() for path in functions.values()), functions
    invoked = {s["Parameters"]["FunctionName"].rsplit(":", 1)[-1]
               for d in definitions.values() for s in tasks(d).values() if s["Resource"].endswith("lambda:invoke")}
    assert invoked == set(functions)


def test_day_after_data_is_the_next_utc_date():
    import pandas as pd

    from edf_local.runtime import day_after_data

    frame = pd.DataFrame({"timestamp_hour": pd.to_datetime(["2017-07-31 22:00", "2017-08-01 06:00"], utc=True)})
    assert day_after_data(frame) == "2017-08-02"


# ------------------------------------------------------------------ timeouts (issue 14, item 11)
def _all_tasks(states: dict) -> dict[str, dict]:
    out = {}
    for name, state in states.items():
        if state["Type"] == "Task":
            out[name] = state
        for branch in state.get("Branches", []):
            out.update(_all_tasks(branch["States"]))
        if "ItemProcessor" in state:
            out.update(_all_tasks(state["ItemProcessor"]["States"]))
    return out


@pytest.mark.parametrize("workflow", ["training", "inference"])
def test_every_task_and_the_execution_have_a_timeout(definitions, workflow):
    """Without TimeoutSeconds a hung task (a Lambda, a .sync poll) holds the execution for a year."""
    definition = definitions[workflow]
    assert isinstance(definition.get("TimeoutSeconds"), int) and definition["TimeoutSeconds"] > 0
    for name, state in _all_tasks(definition["States"]).items():
        assert isinstance(state.get("TimeoutSeconds"), int) and state["TimeoutSeconds"] > 0, name
        assert state["TimeoutSeconds"] < definition["TimeoutSeconds"], name


@pytest.mark.parametrize("workflow", ["training", "inference"])
def test_task_timeouts_leave_room_for_the_work_they_wait_for(definitions, workflow, cfg):
    """A .sync task outlives its job's MaxRuntimeInSeconds (plus provisioning); a Lambda task its
    function's configured timeout; so the job, not the state machine, reports the overrun."""
    lambda_timeouts = {"GetApprovedEDFModelPackage": cfg.lambda_shared.get_model_timeout,
                       "CreateEDFSageMakerModel": cfg.lambda_shared.create_sm_model_timeout,
                       "LoadForecastsToDB": cfg.edf_inference.load_forecasts_lambda_timeout}
    for name, state in _all_tasks(definitions[workflow]["States"]).items():
        if ".sync" in state["Resource"]:
            assert state["TimeoutSeconds"] >= cfg.edf_training.max_runtime_seconds + 900, name
        if name in lambda_timeouts:
            assert state["TimeoutSeconds"] > lambda_timeouts[name], name


def test_inference_times_out_before_the_success_deadline_alarm(definitions, cfg):
    """The run must end (succeed or time out and notify) by the hour the no-success alarm checks."""
    start_hour = int(cfg.edf_inference.scheduler_expression.split()[1])
    window = (cfg.edf_inference.alarms.success_deadline_hour_utc - start_hour) * 3600
    assert 0 < definitions["inference"]["TimeoutSeconds"] <= window


# ------------------------------------------------------------------ issue 14, item 8: the load is retried
def _load_state_alone(definitions) -> dict:
    """The deployed LoadForecastsToDB state (its Retry and Catch as rendered) in a machine of its own."""
    state = definitions["inference"]["States"]["LoadForecastsToDB"]
    return {"StartAt": "LoadForecastsToDB", "States": {
        "LoadForecastsToDB": {**state, "Next": "Loaded", "Catch": [{**c, "Next": "Notified"} for c in state["Catch"]]},
        "Loaded": {"Type": "Succeed"}, "Notified": {"Type": "Fail", "Error": "LoadFailed", "Cause": "caught"}}}


def _run_load(definitions, failures: list[TaskFailed]):
    loaded = {"run_id": "r", "forecasts_written": 1, "recommendations_written": 0, "backend": "DYNAMODB"}
    script = Script(lambdas={"LoadForecastsToDB": loaded}, fail={"LoadForecastsToDB": failures})
    exe = run(_load_state_alone(definitions), script, {"run_id": "r", "model": {"model_package_arn": "arn:pkg/1"}},
              machine="EDFInferenceWorkflow-dev")
    return exe, script.states().count("LoadForecastsToDB")


def test_a_failed_load_is_retried_because_it_is_idempotent(definitions):
    """A load that failed half-way (a store error, a dropped connection) runs again: nothing of it was
    visible (the store commits a run at the end), so the retry is safe."""
    doc = json.dumps({"errorMessage": "DynamoDB left 3 item(s) unprocessed", "errorType": "StoreError"})
    exe, attempts = _run_load(definitions, [TaskFailed("StoreError", doc), TaskFailed("OperationalError", doc)])
    assert exe.status == "SUCCEEDED" and attempts == 3
    assert [e["delay_seconds"] for e in exe.events("StateRetry")] == [30.0, 120.0]


@pytest.mark.parametrize("error", ["InvalidEvent", "InvalidValueError", "DataNotFoundError", "Runtime.OutOfMemory"])
def test_a_load_that_would_fail_the_same_way_is_not_retried(definitions, error):
    exe, attempts = _run_load(definitions, [TaskFailed(error, "{}")] * 3)
    assert exe.status == "FAILED" and exe.error == "LoadFailed" and attempts == 1
