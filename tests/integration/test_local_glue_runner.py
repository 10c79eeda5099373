"""The local Glue runner behind ``glue:startJobRun.sync``, against the emulated AWS with a test-only script."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from edf.config import SparkEngineConfig
from edf_local.dispatch import make_dispatch
from edf_local.emulator import EmulatedAWS
from edf_local.errors import TaskFailed
from edf_local.glue_runner import (
    MAX_ARGUMENTS_BYTES,
    LocalGlueRunner,
    define_feature_jobs,
    feature_job_definition,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "local_runtime" / "glue_fixture_job.py"
BUCKET = "edf-local-glue-test"
ROLE = "arn:aws:iam::123456789012:role/glue"
RESOURCE = "arn:aws:states:::glue:startJobRun.sync"


@pytest.fixture(scope="module")
def aws(cfg):
    with EmulatedAWS(region=cfg.aws_region) as emulator:
        s3, glue = boto3.client("s3"), boto3.client("glue")
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": cfg.aws_region})
        s3.put_object(Bucket=BUCKET, Key="data/in/date=2024-01-01/part-0.parquet", Body=b"a")
        s3.put_object(Bucket=BUCKET, Key="data/in/date=2024-01-02/part-0.parquet", Body=b"b")
        s3.put_object(Bucket=BUCKET, Key="data/in-other/not-me.parquet", Body=b"c")
        s3.upload_file(str(FIXTURE), BUCKET, "scripts/job.py")
        glue.create_job(Name="copy-job", Role=ROLE, GlueVersion="5.0", WorkerType="G.1X", NumberOfWorkers=2,
                        Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/scripts/job.py"},
                        DefaultArguments={"--input": f"s3://{BUCKET}/data/in", "--TempDir": f"s3://{BUCKET}/tmp/"})
        yield emulator


@pytest.fixture()
def runner(tmp_path):
    return LocalGlueRunner(spark=SparkEngineConfig(local_master="local[1]"), workdir=tmp_path, printer=None)


def test_run_mirrors_s3_arguments_and_uploads_what_the_job_wrote(aws, runner):
    dispatch = make_dispatch(None, None, glue=runner)
    run = dispatch(RESOURCE, {"JobName": "copy-job", "Arguments": {"--output": f"s3://{BUCKET}/out/run-1"}}, {})
    assert run["JobRunState"] == "SUCCEEDED" and run["JobName"] == "copy-job"
    assert run["Id"].startswith("jr_") and len(run["Id"]) == 67 and run["WorkerType"] == "G.1X"
    assert run["Arguments"]["--input"] == f"s3://{BUCKET}/data/in"  # the job's DefaultArguments, merged
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key="out/run-1/listing.txt")["Body"].read().decode()
    assert body.splitlines()[:2] == ["date=2024-01-01/part-0.parquet", "date=2024-01-02/part-0.parquet"]
    assert f"run={run['Id']}" in body and "master=local[1]" in body
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="out/run-1/")["Contents"]]
    assert keys == ["out/run-1/listing.txt"]  # no Hadoop .crc files, no re-upload of the inputs


def test_job_failure_is_a_task_failure_with_the_job_run_as_cause(aws, runner):
    with pytest.raises(TaskFailed) as info:
        runner.start_job_run({"JobName": "copy-job", "Arguments": {"--output": f"s3://{BUCKET}/out/f",
                                                                   "--fail": "ValueError: bad origin"}})
    assert info.value.error == "States.TaskFailed"
    cause = json.loads(info.value.cause)
    assert cause["JobRunState"] == "FAILED" and cause["ErrorMessage"] == "ValueError: bad origin"
    assert Path(cause["LocalLogPath"]).is_file()


def test_timeout_ends_the_run_in_timeout_state(aws, runner, monkeypatch):
    monkeypatch.setattr("edf_local.glue_runner.LocalGlueRunner._timeout_seconds", staticmethod(lambda minutes: 2))
    with pytest.raises(TaskFailed) as info:
        runner.start_job_run({"JobName": "copy-job", "Timeout": 1,
                              "Arguments": {"--output": f"s3://{BUCKET}/out/t", "--sleep": "60"}})
    assert json.loads(info.value.cause)["JobRunState"] == "TIMEOUT"


@pytest.mark.parametrize(("params", "message"), [
    ({"JobName": ""}, "JobName"),
    ({"JobName": "copy-job", "Arguments": {"output": "x"}}, "must start with '--'"),
    ({"JobName": "copy-job", "Arguments": {"--n": 5}}, "map of strings"),
    ({"JobName": "copy-job", "Arguments": {"--big": "x" * MAX_ARGUMENTS_BYTES}}, "260 KB"),
    ({"JobName": "copy-job", "WorkerType": "G.3X"}, "WorkerType"),
    ({"JobName": "copy-job", "NumberOfWorkers": 1}, "NumberOfWorkers"),
])
def test_requests_outside_glue_limits_are_rejected_before_running(aws, runner, params, message):
    with pytest.raises(TaskFailed, match=message) as info:
        runner.start_job_run(params)
    assert info.value.error == "Glue.InvalidInputException"
    assert not runner.job_runs


def test_unknown_job_is_entity_not_found_and_no_runner_is_a_clear_error(aws, runner):
    with pytest.raises(TaskFailed) as info:
        runner.start_job_run({"JobName": "no-such-job"})
    assert info.value.error == "Glue.EntityNotFoundException"
    with pytest.raises(TaskFailed, match="no local Glue job runner"):
        make_dispatch(None, None)(RESOURCE, {"JobName": "copy-job"}, {})


def test_feature_jobs_are_defined_as_terraform_declares_them(aws, cfg):
    aws.provision(cfg)
    names = define_feature_jobs(cfg, ROLE, FIXTURE)
    assert names == {"training": f"edf-features-training-{cfg.env_suffix}",
                     "inference": f"edf-features-inference-{cfg.env_suffix}"}
    job = boto3.client("glue").get_job(JobName=names["training"])["Job"]
    expected = feature_job_definition(cfg, "training", ROLE)
    assert job["WorkerType"] == cfg.edf_spark.training.worker_type == expected["WorkerType"]
    assert job["NumberOfWorkers"] == cfg.edf_spark.training.number_of_workers
    assert job["Command"]["ScriptLocation"] == f"s3://{cfg.scripts_bucket}/edf/glue/{names['training']}/features.py"
    assert job["DefaultArguments"]["--mode"] == "training"
    modules = job["DefaultArguments"]["--additional-python-modules"].split(",")
    assert modules[0].endswith(".whl") and modules[1:] == cfg.edf_spark.additional_python_modules
