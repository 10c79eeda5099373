"""Run SageMaker Processing and Training jobs locally with the SageMaker container contract.

Step Functions passes the exact ``CreateProcessingJob``/``CreateTrainingJob`` request; this runner
honours it the way the service does, minus the container:

1. lays out ``<job dir>/opt/ml`` like the instance (``processing/...`` paths from the request;
   ``input/config/hyperparameters.json``, ``inputdataconfig.json``, ``resourceconfig.json`` and
   ``input/data/<channel>/`` for training) and downloads every S3 input into it;
2. runs the container's command as a subprocess - ``ContainerEntrypoint + ContainerArguments`` for
   processing, ``python -m edf.jobs.train`` (what ``train`` runs in our image) for training - with
   ``EDF_OPT_ML`` pointing at the temp ``opt/ml``, ``/opt/ml/...`` arguments rewritten into it and the
   parent's environment (so ``AWS_ENDPOINT_URL`` reaches the emulator) plus the job's ``Environment``;
3. on success uploads the processing outputs, or tars ``opt/ml/model`` to
   ``<S3OutputPath>/<TrainingJobName>/output/model.tar.gz``;
4. on a non-zero exit reads ``opt/ml/output/failure`` (the reason the entrypoint wrote) and fails
   the task as the ``.sync`` integration does: error ``States.TaskFailed``, cause = the JSON
   Describe* response whose ``FailureReason`` is ``AlgorithmError: <reason>``.

Every job is recorded, so :meth:`describe_processing_job`/:meth:`describe_training_job` answer; when an
emulator endpoint is configured the job is also created there (and, with an in-process emulator,
its final status is written back) so boto3 ``describe_*`` calls agree.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from edf.data.io import split_s3_uri
from edf_local import limits
from edf_local.errors import TaskFailed
from edf_local.memory import MemoryWatch, instance_memory_mb

OPT_ML = "/opt/ml"
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # 1-63 characters (limits.SAGEMAKER_JOB_NAME_CHARS)
_FAILURE_REASON_MAX = 1024  # SageMaker truncates FailureReason to 1024 characters
DEFAULT_ACCOUNT = "123456789012"
SAGEMAKER_API_ERROR = limits.SAGEMAKER_API_ERROR


def _epoch_ms(ts: datetime) -> int:
    """Step Functions renders SageMaker timestamps as epoch milliseconds."""
    return int(ts.timestamp() * 1000)


class LocalSageMakerRunner:
    """Launch SageMaker jobs as local subprocesses (see module docstring for the contract).

    Parameters
    ----------
    python: interpreter that replaces ``python``/``python3`` at the start of a container command.
    workdir: where per-job directories (``<workdir>/<job>/opt/ml``) and logs (``<job>.log``) go.
    image_commands: image URI -> argv that the image runs by default (training: what ``train``
        runs; processing: used when the request has no ``ContainerEntrypoint``).
    env: extra environment for every job; ``pythonpath``: entries prepended to ``PYTHONPATH``
        (e.g. test-only entrypoint modules).
    keep_job_dirs: keep ``opt/ml`` of successful jobs (failed jobs are always kept for debugging).
    enforce_instance_memory: kill a job whose process tree outgrows its instance type's memory, as the
        instance would (:mod:`edf_local.memory`); every job's peak is in ``LocalPeakRssMb`` either way.

    Requests are validated against SageMaker's API limits first (:mod:`edf_local.limits`).
    """

    def __init__(
        self,
        python: str = sys.executable,
        workdir: str | Path | None = None,
        image_commands: dict[str, list[str]] | None = None,
        env: dict[str, str] | None = None,
        pythonpath: list[str | Path] | None = None,
        session: boto3.Session | None = None,
        printer: Callable[[str], Any] | None = print,
        keep_job_dirs: bool = False,
        register_with_emulator: bool = True,
        default_training_command: list[str] | None = None,
        enforce_instance_memory: bool = True,
    ) -> None:
        self.python = python
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="edf-sagemaker-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.image_commands = image_commands or {}
        self.env = env or {}
        self.pythonpath = [str(p) for p in (pythonpath or [])]
        self.session = session
        self.printer = printer
        self.keep_job_dirs = keep_job_dirs
        self.enforce_instance_memory = enforce_instance_memory
        self.register_with_emulator = register_with_emulator
        self.default_training_command = default_training_command or ["python", "-m", "edf.jobs.train"]
        self.processing_jobs: dict[str, dict[str, Any]] = {}
        self.training_jobs: dict[str, dict[str, Any]] = {}
        self.models: dict[str, dict[str, Any]] = {}
        self._clients: dict[tuple[str, str | None, str | None], Any] = {}

    # ------------------------------------------------------------------ clients
    def _client(self, service: str) -> Any:
        # Clients are cached per endpoint: creating one costs ~0.3 s, and the emulator may change.
        key = (service, os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_DEFAULT_REGION"))
        if key not in self._clients:
            self._clients[key] = (self.session or boto3.Session()).client(service)
        return self._clients[key]

    def _region(self) -> str:
        if self.session is not None and self.session.region_name:
            return self.session.region_name
        return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    def _emulated(self) -> bool:
        return bool(os.environ.get("AWS_ENDPOINT_URL"))

    def _print(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)

    # ------------------------------------------------------------------ public API
    def create_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run a processing job to completion (``createProcessingJob.sync``); return its Describe result."""
        name = self._check_name(params.get("ProcessingJobName"), self.processing_jobs, "ProcessingJobName")
        app = params.get("AppSpecification") or {}
        if not app.get("ImageUri"):
            raise TaskFailed(SAGEMAKER_API_ERROR, "ValidationException: AppSpecification.ImageUri is required")
        limits.check_string_list(app.get("ContainerEntrypoint"), "AppSpecification.ContainerEntrypoint")
        limits.check_string_list(app.get("ContainerArguments"), "AppSpecification.ContainerArguments")
        limits.check_environment(params.get("Environment"))
        instance = ((params.get("ProcessingResources") or {}).get("ClusterConfig") or {}).get("InstanceType")
        arn = f"arn:aws:sagemaker:{self._region()}:{DEFAULT_ACCOUNT}:processing-job/{name.lower()}"
        created = datetime.now(UTC)
        describe: dict[str, Any] = {
            **copy.deepcopy(params), "ProcessingJobArn": arn, "ProcessingJobStatus": "InProgress",
            "CreationTime": _epoch_ms(created), "LastModifiedTime": _epoch_ms(created),
        }
        self.processing_jobs[name] = describe
        self._register("processing", params)
        job_dir, root = self._job_dir(name)
        try:
            for inp in params.get("ProcessingInputs", []) or []:
                s3 = inp.get("S3Input")
                if not s3:
                    raise _JobError("ClientError: only S3Input processing inputs are supported locally "
                                    f"(input {inp.get('InputName')!r})")
                if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
                    raise _JobError(f"ClientError: S3DataType {s3['S3DataType']!r} is not supported locally")
                describe["LocalInputBytes"] = describe.get("LocalInputBytes", 0) + self._download(
                    s3["S3Uri"], self._local(root, s3["LocalPath"], "LocalPath"))
            outputs = (params.get("ProcessingOutputConfig") or {}).get("Outputs", []) or []
            for out in outputs:
                self._local(root, out["S3Output"]["LocalPath"], "LocalPath").mkdir(parents=True, exist_ok=True)
            command = list(app.get("ContainerEntrypoint") or self.image_commands.get(app["ImageUri"]) or [])
            if not command:
                raise _JobError(f"ClientError: no ContainerEntrypoint and no local command known for image "
                                f"{app['ImageUri']!r}")
            command += list(app.get("ContainerArguments") or [])
            self._run(name, "processing", command, root, job_dir, params.get("Environment") or {},
                      (params.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"), describe, instance)
            for out in outputs:
                self._upload(self._local(root, out["S3Output"]["LocalPath"], "LocalPath"), out["S3Output"]["S3Uri"])
        except _JobError as exc:
            self._fail(describe, "ProcessingJobStatus", str(exc), "processing", name, job_dir)
        self._succeed(describe, "ProcessingJobStatus", "processing", name, job_dir)
        return copy.deepcopy(describe)

    def create_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run a training job to completion (``createTrainingJob.sync``); return its Describe result."""
        name = self._check_name(params.get("TrainingJobName"), self.training_jobs, "TrainingJobName")
        algo = params.get("AlgorithmSpecification") or {}
        image = algo.get("TrainingImage")
        if not image:
            raise TaskFailed(SAGEMAKER_API_ERROR, "ValidationException: AlgorithmSpecification.TrainingImage is "
                             "required (algorithm resources are not supported locally)")
        output_path = (params.get("OutputDataConfig") or {}).get("S3OutputPath")
        if not output_path:
            raise TaskFailed(SAGEMAKER_API_ERROR, "ValidationException: OutputDataConfig.S3OutputPath is required")
        hyper = params.get("HyperParameters") or {}
        limits.check_hyperparameters(hyper)
        limits.check_environment(params.get("Environment"))
        limits.check_string_list(algo.get("ContainerEntrypoint"), "AlgorithmSpecification.ContainerEntrypoint")
        limits.check_string_list(algo.get("ContainerArguments"), "AlgorithmSpecification.ContainerArguments")
        instance = (params.get("ResourceConfig") or {}).get("InstanceType")
        arn = f"arn:aws:sagemaker:{self._region()}:{DEFAULT_ACCOUNT}:training-job/{name.lower()}"
        created = datetime.now(UTC)
        describe: dict[str, Any] = {
            **copy.deepcopy(params), "TrainingJobArn": arn, "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Starting", "CreationTime": _epoch_ms(created),
            "LastModifiedTime": _epoch_ms(created), "TrainingStartTime": _epoch_ms(created),
        }
        self.training_jobs[name] = describe
        self._register("training", params)
        job_dir, root = self._job_dir(name)
        try:
            config_dir = root / "input" / "config"
            config_dir.mkdir(parents=True, exist_ok=True)
            (config_dir / "hyperparameters.json").write_text(json.dumps(hyper))
            channels = {}
            for channel in params.get("InputDataConfig", []) or []:
                cname = channel["ChannelName"]
                source = (channel.get("DataSource") or {}).get("S3DataSource")
                if not source:
                    raise _JobError(f"ClientError: channel {cname!r}: only S3DataSource is supported locally")
                describe["LocalInputBytes"] = describe.get("LocalInputBytes", 0) + self._download(
                    source["S3Uri"], root / "input" / "data" / cname)
                channels[cname] = {"ContentType": channel.get("ContentType", ""),
                                   "TrainingInputMode": channel.get("InputMode", algo.get("TrainingInputMode", "File")),
                                   "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
                                   "RecordWrapperType": channel.get("RecordWrapperType", "None")}
            (config_dir / "inputdataconfig.json").write_text(json.dumps(channels))
            (config_dir / "resourceconfig.json").write_text(json.dumps(
                {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))
            for sub in ("model", "output/data", "checkpoints"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            if algo.get("ContainerEntrypoint"):
                command = list(algo["ContainerEntrypoint"]) + list(algo.get("ContainerArguments") or [])
            else:
                command = list(self.image_commands.get(image) or self.default_training_command)
            self._run(name, "training", command, root, job_dir, params.get("Environment") or {},
                      (params.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"), describe, instance)
            artifact = f"{output_path.rstrip('/')}/{name}/output/model.tar.gz"
            self._put_bytes(_tar_gz(root / "model"), artifact)
            describe["ModelArtifacts"] = {"S3ModelArtifacts": artifact}
            if any((root / "output" / "data").iterdir()):
                self._put_bytes(_tar_gz(root / "output" / "data"), f"{output_path.rstrip('/')}/{name}/output/output.tar.gz")
        except _JobError as exc:
            describe["SecondaryStatus"] = "Failed"
            self._fail(describe, "TrainingJobStatus", str(exc), "training", name, job_dir)
        describe["SecondaryStatus"] = "Completed"
        describe["TrainingEndTime"] = _epoch_ms(datetime.now(UTC))
        describe["TrainingTimeInSeconds"] = describe["BillableTimeInSeconds"] = max(
            1, (describe["TrainingEndTime"] - describe["TrainingStartTime"]) // 1000)
        self._succeed(describe, "TrainingJobStatus", "training", name, job_dir)
        return copy.deepcopy(describe)

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """``sagemaker:createModel``: create the Model in the (emulated) SageMaker API; return ``{ModelArn}``."""
        try:
            response = self._client("sagemaker").create_model(**params)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise TaskFailed(SAGEMAKER_API_ERROR, f"{err.get('Code')}: {err.get('Message')}") from exc
        except (BotoCoreError, TypeError) as exc:
            raise TaskFailed(SAGEMAKER_API_ERROR, f"{type(exc).__name__}: {exc}") from exc
        self.models[params.get("ModelName", "")] = copy.deepcopy(params)
        return {"ModelArn": response["ModelArn"]}

    def describe_processing_job(self, name: str) -> dict[str, Any]:
        """The Describe result of a processing job this runner ran (KeyError if unknown)."""
        return copy.deepcopy(self.processing_jobs[name])

    def describe_training_job(self, name: str) -> dict[str, Any]:
        """The Describe result of a training job this runner ran (KeyError if unknown)."""
        return copy.deepcopy(self.training_jobs[name])

    def log_path(self, name: str) -> Path:
        """Where the job's combined stdout/stderr were written."""
        return self.workdir / f"{name}.log"

    # ------------------------------------------------------------------ internals
    def _check_name(self, name: Any, registry: dict[str, Any], field: str) -> str:
        if not isinstance(name, str) or not _JOB_NAME.match(name):
            raise TaskFailed(SAGEMAKER_API_ERROR, f"ValidationException: {field} {name!r} must match "
                             f"{_JOB_NAME.pattern} (1-63 characters)")
        if name in registry:
            raise TaskFailed(SAGEMAKER_API_ERROR, f"ValidationException: Job name must be unique within an AWS "
                             f"account and region, and a job with this name already exists ({name})")
        return name

    def _job_dir(self, name: str) -> tuple[Path, Path]:
        job_dir = self.workdir / name
        root = job_dir / "opt" / "ml"
        (root / "output").mkdir(parents=True, exist_ok=True)
        return job_dir, root

    @staticmethod
    def _local(root: Path, container_path: str, field: str) -> Path:
        if not isinstance(container_path, str) or not (container_path == OPT_ML or container_path.startswith(OPT_ML + "/")):
            raise _JobError(f"ClientError: {field} {container_path!r} must be under {OPT_ML}/ (e.g. /opt/ml/processing/input)")
        rel = container_path[len(OPT_ML):].strip("/")
        target = (root / rel).resolve()
        if root.resolve() not in target.parents and target != root.resolve():
            raise _JobError(f"ClientError: {field} {container_path!r} escapes {OPT_ML}")
        return target

    def _rewrite(self, arg: str, root: Path) -> str:
        """Map ``/opt/ml/...`` (alone or after ``=``) into the job's temp ``opt/ml``."""
        return re.sub(r"(^|=)/opt/ml(?=/|$)", lambda m: m.group(1) + str(root), arg)

    def _download(self, uri: str, dest: Path) -> int:
        """Copy every object under ``uri`` into ``dest`` (File mode); return the bytes copied."""
        try:
            bucket, key = split_s3_uri(uri)
        except ValueError as exc:
            raise _JobError(f"ClientError: {exc}") from None
        s3 = self._client("s3")
        dest.mkdir(parents=True, exist_ok=True)
        found, size = 0, 0
        try:
            paginator = s3.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    if k.endswith("/"):
                        continue
                    if k == key:
                        rel = k.rsplit("/", 1)[-1]
                    elif key == "" or key.endswith("/") or k.startswith(key + "/"):
                        rel = k[len(key):].lstrip("/")
                    else:
                        continue  # "prefix/x" must not match "prefix2/x"
                    target = dest / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, k, str(target))
                    found += 1
                    size += int(obj.get("Size", 0))
        except ClientError as exc:
            raise _JobError(f"ClientError: cannot read {uri}: {exc.response.get('Error', {}).get('Message', exc)}") from None
        if not found:
            raise _JobError(f"ClientError: No S3 objects found under S3 URL \"{uri}\" given in input data source. "
                            "Please ensure that the bucket exists in the selected region, that objects exist under "
                            "that S3 prefix, and that the role has permission to read them.")
        return size

    def _upload(self, src: Path, uri: str) -> None:
        bucket, prefix = split_s3_uri(uri)
        s3 = self._client("s3")
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            rel = path.relative_to(src).as_posix()
            key = f"{prefix.rstrip('/')}/{rel}" if prefix else rel
            s3.upload_file(str(path), bucket, key)

    def _put_bytes(self, data: bytes, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self._client("s3").put_object(Bucket=bucket, Key=key, Body=data)

    def _run(self, name: str, kind: str, command: list[str], root: Path, job_dir: Path,
             job_env: dict[str, str], max_runtime: int | None, describe: dict[str, Any],
             instance_type: str | None = None) -> None:
        if command and Path(command[0]).name in ("python", "python3", f"python3.{sys.version_info.minor}"):
            command = [self.python, *command[1:]]
        command = [self._rewrite(str(c), root) for c in command]
        env = {**os.environ, **self.env, **{k: str(v) for k, v in job_env.items()}}
        env["EDF_OPT_ML"] = str(root)
        env["PYTHONUNBUFFERED"] = "1"
        env["TRAINING_JOB_NAME" if kind == "training" else "PROCESSING_JOB_NAME"] = name
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, *filter(None, [env.get("PYTHONPATH")])])
        log_path = self.log_path(name)
        self._print(f"[sagemaker] {kind} job {name}: {' '.join(command)}")
        started = time.perf_counter()
        with open(log_path, "wb") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=job_dir, env=env)
            ceiling = instance_memory_mb(instance_type) if self.enforce_instance_memory else None
            with MemoryWatch(proc.pid, ceiling, interval=0.5) as watch:
                try:
                    code = proc.wait(timeout=max_runtime)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise _JobError(f"MaxRuntimeExceeded: the job ran longer than {max_runtime} s "
                                    f"(StoppingCondition.MaxRuntimeInSeconds); log: {log_path}") from None
        seconds = time.perf_counter() - started
        describe["LocalRuntimeSeconds"] = round(seconds, 3)
        describe["LocalPeakRssMb"] = round(watch.peak_mb, 1)
        describe["LocalLogPath"] = str(log_path)
        if watch.exceeded:
            raise _JobError(f"AlgorithmError: OutOfMemoryError: the job's processes used more than the "
                            f"{ceiling:.0f} MiB of a {instance_type} instance and were killed; log: {log_path}")
        if code != 0:
            failure = root / "output" / "failure"
            reason = failure.read_text(errors="replace").strip() if failure.is_file() else ""
            if not reason:
                tail = _tail(log_path, 8)
                reason = f"exit code {code}; last log lines: {tail}" if tail else f"exit code {code}"
            raise _JobError(f"AlgorithmError: {reason}")

    def _succeed(self, describe: dict[str, Any], status_field: str, kind: str, name: str, job_dir: Path) -> None:
        now = datetime.now(UTC)
        describe[status_field] = "Completed"
        describe["LastModifiedTime"] = _epoch_ms(now)
        if kind == "processing":
            describe["ProcessingEndTime"] = _epoch_ms(now)
        self._writeback(kind, name, describe)
        self._print(f"[sagemaker] {kind} job {name} Completed in {describe.get('LocalRuntimeSeconds', 0):.2f}s "
                    f"(log {self.log_path(name)})")
        if not self.keep_job_dirs:
            shutil.rmtree(job_dir, ignore_errors=True)

    def _fail(self, describe: dict[str, Any], status_field: str, reason: str, kind: str, name: str,
              job_dir: Path) -> None:
        now = datetime.now(UTC)
        describe[status_field] = "Failed"
        describe["FailureReason"] = reason[:_FAILURE_REASON_MAX]
        describe["LastModifiedTime"] = _epoch_ms(now)
        self._writeback(kind, name, describe)
        self._print(f"[sagemaker] {kind} job {name} Failed: {reason[:300]} (log {self.log_path(name)}, "
                    f"files kept in {job_dir})")
        raise TaskFailed("States.TaskFailed", json.dumps(describe, default=str))

    def _register(self, kind: str, params: dict[str, Any]) -> None:
        """Create the job in the emulator too, so boto3 ``describe_*``/``list_*`` know it (never on real AWS)."""
        if not (self.register_with_emulator and self._emulated()):
            return
        call = "create_processing_job" if kind == "processing" else "create_training_job"
        with contextlib.suppress(ClientError, BotoCoreError, TypeError, ValueError):
            getattr(self._client("sagemaker"), call)(**params)

    def _writeback(self, kind: str, name: str, describe: dict[str, Any]) -> None:
        if not (self.register_with_emulator and self._emulated()):
            return
        from edf_local.emulator import record_job_outcome

        record_job_outcome(kind, name, describe, self._region())


class _JobError(Exception):
    """A job-level failure: becomes the job's FailureReason."""


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()[1:]  # line 1 is the command
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:] if line.strip())[:600]


def _tar_gz(src: Path) -> bytes:
    """Tar ``src``'s contents (paths relative to it, like SageMaker) deterministically and gzip them."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(src.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(src).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
