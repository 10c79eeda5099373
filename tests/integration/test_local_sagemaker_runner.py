"""The local SageMaker job runner and task dispatch against the emulated AWS, with test-only entrypoints."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest

from edf_local.dispatch import make_dispatch
from edf_local.emulator import EmulatedAWS
from edf_local.errors import TaskFailed
from edf_local.lambdas import LocalLambdaInvoker
from edf_local.sagemaker_runner import LocalSageMakerRunner
from edf_local.stepfunctions import LocalStepFunctions

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "local_runtime"
BUCKET = "edf-local-runner-test"
IMAGE = "123456789012.dkr.ecr.eu-central-1.amazonaws.com/edf-training-container:test"
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
JOB_CMD = ["python3", "-m", "edf_fixture_jobs"]


@pytest.fixture(scope="module")
def aws(cfg):
    with EmulatedAWS(region=cfg.aws_region) as emulator:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": cfg.aws_region})
        s3.put_object(Bucket=BUCKET, Key="data/processed/part-0.parquet", Body=b"rows")
        s3.put_object(Bucket=BUCKET, Key="data/processed/2024/part-1.parquet", Body=b"more")
        s3.put_object(Bucket=BUCKET, Key="data/processed-other/ignored.parquet", Body=b"not me")
        yield emulator


@pytest.fixture()
def runner(tmp_path):
    return LocalSageMakerRunner(workdir=tmp_path, pythonpath=[FIXTURES], env={"EDF_TEST_JOB_ENV": "runner-env"},
                                image_commands={IMAGE: [*JOB_CMD, "train"]}, printer=None)


def processing_params(name, mode="copy", source=f"s3://{BUCKET}/data/processed", extra_args=()):
    return {
        "ProcessingJobName": name,
        "RoleArn": ROLE,
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": JOB_CMD,
                             "ContainerArguments": [mode, "--input", "/opt/ml/processing/input/data",
                                                    "--output", "/opt/ml/processing/output", *extra_args]},
        "ProcessingInputs": [{"InputName": "processed", "S3Input": {
            "S3Uri": source, "LocalPath": "/opt/ml/processing/input/data", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/outputs/{name}", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                  "VolumeSizeInGB": 30}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def training_params(name, entrypoint=None):
    algo = {"TrainingImage": IMAGE, "TrainingInputMode": "File"}
    if entrypoint:
        algo["ContainerEntrypoint"] = entrypoint
    return {
        "TrainingJobName": name, "RoleArn": ROLE, "AlgorithmSpecification": algo,
        "HyperParameters": {"strategy": "xgboost", "overrides": json.dumps({"edf_training": {"x": 1}})},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/data/processed",
            "S3DataDistributionType": "FullyReplicated"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def read_json(key):
    return json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_processing_job_downloads_runs_and_uploads(aws, runner):
    result = runner.create_processing_job(processing_params("proc-ok"))
    assert result["ProcessingJobStatus"] == "Completed"
    summary = read_json("outputs/proc-ok/summary.json")
    assert summary["files"] == ["2024/part-1.parquet", "part-0.parquet"]  # prefix "processed-other" excluded
    assert summary["input_under_root"] is True and summary["opt_ml"].endswith("/opt/ml")
    assert summary["endpoint"] == aws.endpoint_url and summary["job_env"] == "runner-env"
    copied = boto3.client("s3").get_object(Bucket=BUCKET, Key="outputs/proc-ok/copied/2024/part-1.parquet")
    assert copied["Body"].read() == b"more"
    assert runner.describe_processing_job("proc-ok")["ProcessingJobStatus"] == "Completed"
    remote = boto3.client("sagemaker").describe_processing_job(ProcessingJobName="proc-ok")
    assert remote["ProcessingJobStatus"] == "Completed"
    assert runner.log_path("proc-ok").read_text().count("copied 2 files") == 1


def test_training_job_writes_sagemaker_layout_and_model_tarball(aws, runner):
    result = runner.create_training_job(training_params("train-ok"))
    artifact = result["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{BUCKET}/models/train-ok/output/model.tar.gz"
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="models/train-ok/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        names = set(tar.getnames())
        bundle = json.load(tar.extractfile("bundle.json"))
    assert {"bundle.json", "consumption_kwh", "consumption_kwh/model_metadata.json"} <= names
    assert bundle["hyperparameters"]["strategy"] == "xgboost"
    assert json.loads(bundle["hyperparameters"]["overrides"]) == {"edf_training": {"x": 1}}
    assert bundle["channels"] == {"train": ["part-0.parquet", "part-1.parquet"]}
    remote = boto3.client("sagemaker").describe_training_job(TrainingJobName="train-ok")
    assert remote["TrainingJobStatus"] == "Completed"
    assert remote["ModelArtifacts"]["S3ModelArtifacts"] == artifact


def test_failure_file_reason_reaches_the_task_cause_and_describe(aws, runner):
    with pytest.raises(TaskFailed) as info:
        runner.create_processing_job(processing_params("proc-fail", mode="fail",
                                                       extra_args=["--reason", "3 rows break the contract"]))
    assert info.value.error == "States.TaskFailed"
    cause = json.loads(info.value.cause)
    assert cause["ProcessingJobStatus"] == "Failed"
    assert cause["FailureReason"] == "AlgorithmError: 3 rows break the contract"
    assert runner.describe_processing_job("proc-fail")["FailureReason"] == cause["FailureReason"]
    remote = boto3.client("sagemaker").describe_processing_job(ProcessingJobName="proc-fail")
    assert remote["ProcessingJobStatus"] == "Failed" and "3 rows" in remote["FailureReason"]
    assert not boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="outputs/proc-fail/").get("Contents")


def test_crash_without_failure_file_reports_exit_code_and_log_tail(aws, runner):
    with pytest.raises(TaskFailed) as info:
        runner.create_training_job(training_params("train-crash", entrypoint=[*JOB_CMD, "crash"]))
    reason = json.loads(info.value.cause)["FailureReason"]
    assert reason.startswith("AlgorithmError: exit code 1") and "boom: unexpected crash" in reason
    remote = boto3.client("sagemaker").describe_training_job(TrainingJobName="train-crash")
    assert remote["TrainingJobStatus"] == "Failed"


def test_request_errors(aws, runner):
    with pytest.raises(TaskFailed, match="No S3 objects found"):
        runner.create_processing_job(processing_params("proc-empty", source=f"s3://{BUCKET}/nothing/here"))
    runner.create_processing_job(processing_params("proc-dup"))
    with pytest.raises(TaskFailed) as dup:
        runner.create_processing_job(processing_params("proc-dup"))
    assert dup.value.error == "SageMaker.AmazonSageMakerException" and "unique" in dup.value.cause
    with pytest.raises(TaskFailed, match="must match"):
        runner.create_processing_job(processing_params("bad_name!"))
    bad_hp = training_params("train-badhp")
    bad_hp["HyperParameters"]["epochs"] = 3
    with pytest.raises(TaskFailed, match="must be strings"):
        runner.create_training_job(bad_hp)
    outside = processing_params("proc-outside")
    outside["ProcessingInputs"][0]["S3Input"]["LocalPath"] = "/tmp/elsewhere"
    with pytest.raises(TaskFailed, match="must be under /opt/ml"):
        runner.create_processing_job(outside)


def test_workflow_failure_is_caught_and_published_to_sns(aws, runner, cfg):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="edf-alerts-runner-test")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts-runner-test")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    params = processing_params("placeholder", mode="fail", extra_args=["--reason", "schema drift in temperature_c"])
    params.pop("ProcessingJobName")
    params["ProcessingJobName.$"] = "States.Format('validate-{}', $$.Execution.Name)"
    definition = {"StartAt": "ValidateSchema", "States": {
        "ValidateSchema": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                           "Parameters": params, "Next": "Done",
                           "Retry": [{"ErrorEquals": ["SageMaker.AmazonSageMakerException"], "MaxAttempts": 2}],
                           "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Notify"}]},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "ResultPath": None,
                   "Parameters": {"TopicArn": topic, "Subject": "EDF workflow failed",
                                  "Message": {"execution.$": "$$.Execution.Name", "cause.$": "$.error.Cause"}},
                   "Next": "WorkflowFailed"},
        "WorkflowFailed": {"Type": "Fail", "Error": "EDF.WorkflowFailed", "CausePath": "$.error.Cause"},
        "Done": {"Type": "Succeed"}}}
    sfn = LocalStepFunctions(make_dispatch(runner, None), retry_time_scale=0.0, printer=None)
    exe = sfn.run(definition, {"run": 1}, execution_name="run-42", state_machine_name="EDFTrainingWorkflow")
    assert exe.status == "FAILED" and exe.error == "EDF.WorkflowFailed"
    assert "schema drift in temperature_c" in json.loads(exe.cause)["FailureReason"]
    assert exe.states_entered() == ["ValidateSchema", "Notify", "WorkflowFailed"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    body = json.loads(messages[0]["Body"])
    assert body["execution"] == "run-42" and "schema drift" in body["cause"]


def test_dispatch_sdk_integration_create_model_and_legacy_lambda(aws, runner, cfg):
    sm = boto3.client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="RunnerTestGroup")
    invoker = LocalLambdaInvoker({"echo": FIXTURES / "lambdas" / "echo" / "handler.py"})
    dispatch = make_dispatch(runner, invoker)
    created = dispatch("arn:aws:states:::aws-sdk:sagemaker:createModelPackage", {
        "ModelPackageGroupName": "RunnerTestGroup", "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"}],
                                   "SupportedContentTypes": ["application/json"],
                                   "SupportedResponseMIMETypes": ["application/json"]}}, {})
    assert ":model-package/" in created["ModelPackageArn"].lower()
    listed = dispatch("arn:aws:states:::aws-sdk:sagemaker:listModelPackages",
                      {"ModelPackageGroupName": "RunnerTestGroup"}, {})
    assert len(listed["ModelPackageSummaryList"]) == 1
    json.dumps(listed)  # datetimes converted
    with pytest.raises(TaskFailed) as err:
        dispatch("arn:aws:states:::aws-sdk:sagemaker:describeModelPackageGroup",
                 {"ModelPackageGroupName": "DoesNotExist"}, {})
    assert err.value.error.startswith("SageMaker.") and err.value.error.endswith("Exception")
    model = dispatch("arn:aws:states:::sagemaker:createModel", {
        "ModelName": "edf-model-run-42", "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/models/train-ok/output/model.tar.gz"}}, {})
    assert model["ModelArn"].endswith("model/edf-model-run-42")
    assert sm.describe_model(ModelName="edf-model-run-42")["PrimaryContainer"]["Image"] == IMAGE
    boto3.client("s3").put_object(Bucket=BUCKET, Key="reports/r.json", Body=b'{"passed": true}')
    obj = dispatch("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "reports/r.json"}, {})
    assert json.loads(obj["Body"]) == {"passed": True}
    with pytest.raises(TaskFailed) as nokey:
        dispatch("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": BUCKET, "Key": "reports/none.json"}, {})
    assert nokey.value.error == "S3.NoSuchKeyException"
    legacy = dispatch("arn:aws:lambda:eu-central-1:123456789012:function:echo", {"k": 1}, {})
    assert legacy["event"] == {"k": 1}
