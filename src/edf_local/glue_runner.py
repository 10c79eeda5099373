"""Run AWS Glue Spark jobs locally for ``arn:aws:states:::glue:startJobRun.sync``.

Step Functions passes ``StartJobRun`` parameters (``JobName``, ``Arguments``, optional
``WorkerType``/``NumberOfWorkers``/``Timeout``); this runner does what Glue does, minus the fleet:

1. checks the request against Glue's documented limits (job name 1-255 characters; arguments a
   map of strings whose keys start with ``--``; at most 260 KB of arguments; known worker types,
   at least 2 workers) and reads the job definition from the (emulated) Glue API - a job
   Terraform or :func:`define_feature_jobs` did not create fails with ``Glue.EntityNotFoundException``;
2. merges ``DefaultArguments`` < run ``Arguments`` < ``NonOverridableArguments``, downloads the
   job's script from S3 and runs ``python <script> --JOB_ID .. --JOB_RUN_ID .. --JOB_NAME .. <args>``
   as a subprocess with Spark: ``local[N]``, a given ``spark://`` master, or - with
   ``local_master: standalone`` - a master and workers started for the run on 127.0.0.1;
3. gives the job S3 the way Glue's Spark sees it: every ``s3://`` argument (but ``--processed``, which
   the job reads itself, only the date partitions it needs) is mirrored into a local directory and
   rewritten to it before the run, and what the job wrote there is uploaded
   to the same keys afterwards (``.crc`` checksum files excepted, which S3 writes do not produce);
4. ends like the ``.sync`` integration: the ``JobRun`` (``JobRunState: SUCCEEDED``) as the result, or
   ``States.TaskFailed`` whose cause is the JSON ``JobRun`` with ``JobRunState`` ``FAILED`` (or
   ``TIMEOUT`` after ``Timeout`` minutes) and ``ErrorMessage`` = the reason the job wrote.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from edf.data.io import split_s3_uri
from edf_local.errors import TaskFailed
from edf_local.memory import MemoryWatch

GLUE_API_ERROR_PREFIX = "Glue"
MAX_ARGUMENTS_BYTES = 260 * 1024  # "The maximum size of job arguments is limited to 260KB" (Glue docs)
MAX_NAME = 255
# memory of one worker node by type (Glue docs: G.025X 2 vCPU/4 GB, G.1X 4/16, G.2X 8/32, ...)
WORKER_MEMORY_GIB = {"G.025X": 4, "G.1X": 16, "G.2X": 32, "G.4X": 64, "G.8X": 128, "G.12X": 192, "G.16X": 256,
                     "R.1X": 32, "R.2X": 64, "R.4X": 128, "R.8X": 256}
WORKER_TYPES = ("G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X", "Z.2X")
ERROR_MESSAGE_MAX = 2048
# Arguments the job reads from S3 itself, only the parts it needs: processed_edf_data is read by date
# partition (edf.data.partitions), so mirroring the prefix would copy the whole history locally.
READ_BY_JOB = {"--processed"}
# Glue-consumed arguments that are never rewritten to local paths (the runner's venv has the modules)
GLUE_OWN = {"--additional-python-modules", "--extra-py-files", "--TempDir", "--python-modules-installer-option",
            "--extra-files", "--extra-jars", "--spark-event-logs-path"}


def _epoch_ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _api_error(code: str, message: str) -> TaskFailed:
    return TaskFailed(f"{GLUE_API_ERROR_PREFIX}.{code}", message)


class _RunFailed(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state


class LocalGlueRunner:
    """Launch Glue job runs as local Spark subprocesses (see the module docstring for the contract).

    ``spark`` is the config's ``edf_spark`` section (local master, workers for ``standalone``);
    ``EDF_SPARK_MASTER`` in the environment, when set, wins - that is how a user points the runs at a
    cluster of their own.
    """

    def __init__(self, spark: Any = None, python: str = sys.executable, workdir: str | Path | None = None,
                 env: dict[str, str] | None = None, pythonpath: list[str | Path] | None = None,
                 session: boto3.Session | None = None, printer: Callable[[str], Any] | None = print,
                 keep_job_dirs: bool = False) -> None:
        self.spark = spark
        self.python = python
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="edf-glue-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = env or {}
        self.pythonpath = [str(p) for p in (pythonpath or [])]
        self.session = session
        self.printer = printer
        self.keep_job_dirs = keep_job_dirs
        self.job_runs: dict[str, dict[str, Any]] = {}

    def _client(self, service: str) -> Any:
        return (self.session or boto3.Session()).client(service)

    def _print(self, line: str) -> None:
        if self.printer is not None:
            self.printer(line)

    # ------------------------------------------------------------------ public API
    def start_job_run(self, params: dict[str, Any]) -> dict[str, Any]:
        """``glue:startJobRun.sync``: run the job to completion; return its ``JobRun``."""
        name = check_request(params)
        job = self._job_definition(name)
        arguments = {**(job.get("DefaultArguments") or {}), **(params.get("Arguments") or {}),
                     **(job.get("NonOverridableArguments") or {})}
        run_id = "jr_" + hashlib.sha256(f"{name}{time.time_ns()}".encode()).hexdigest()
        timeout = int(params.get("Timeout") or job.get("Timeout") or 2880)
        started = datetime.now(UTC)
        run: dict[str, Any] = {
            "Id": run_id, "Attempt": 0, "JobName": name, "StartedOn": _epoch_ms(started),
            "LastModifiedOn": _epoch_ms(started), "JobRunState": "RUNNING", "Arguments": copy.deepcopy(arguments),
            "Timeout": timeout, "GlueVersion": job.get("GlueVersion", "5.0"),
            "WorkerType": params.get("WorkerType") or job.get("WorkerType"),
            "NumberOfWorkers": params.get("NumberOfWorkers") or job.get("NumberOfWorkers"),
        }
        self.job_runs[run_id] = run
        job_dir = self.workdir / f"{name}-{run_id[3:15]}"
        job_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._execute(job, arguments, run, job_dir, timeout)
        except _RunFailed as exc:
            return self._finish(run, exc.state, job_dir, str(exc))
        return self._finish(run, "SUCCEEDED", job_dir)

    def log_path(self, run: dict[str, Any]) -> Path:
        return Path(run["LocalLogPath"])

    # ------------------------------------------------------------------ internals
    def _job_definition(self, name: str) -> dict[str, Any]:
        try:
            return self._client("glue").get_job(JobName=name)["Job"]
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise _api_error(err.get("Code", "AWSGlueException"), err.get("Message", str(exc))) from exc
        except BotoCoreError as exc:
            raise _api_error("AWSGlueException", str(exc)) from exc

    def _execute(self, job: dict[str, Any], arguments: dict[str, str], run: dict[str, Any], job_dir: Path,
                 timeout_minutes: int) -> None:
        s3 = self._client("s3")
        script_uri = (job.get("Command") or {}).get("ScriptLocation", "")
        script = job_dir / "script.py"
        try:
            bucket, key = split_s3_uri(script_uri)
            s3.download_file(bucket, key, str(script))
        except (ValueError, ClientError) as exc:
            raise _RunFailed("FAILED", f"cannot read the job script {script_uri!r}: {exc}") from None
        mirror = job_dir / "s3"
        local_args = mirror_arguments(s3, arguments, mirror)
        before = _snapshot(mirror)
        command = [self.python, str(script), "--JOB_ID", f"j_{run['Id'][3:19]}", "--JOB_RUN_ID", run["Id"],
                   "--JOB_NAME", run["JobName"]]
        for k, v in local_args.items():
            command += [k, v]
        with self._spark_master() as spark_env:
            self._run(command, job_dir, run, {**spark_env, "EDF_OPT_ML": str(job_dir / "opt-ml")},
                      self._timeout_seconds(timeout_minutes))
        upload_changes(s3, mirror, before)

    @staticmethod
    def _timeout_seconds(minutes: int) -> int:
        """Glue's ``Timeout`` is in minutes (a seam for tests that cannot wait a minute)."""
        return minutes * 60

    def _spark_master(self) -> Any:
        from contextlib import nullcontext

        from edf_local.spark_cluster import StandaloneCluster

        if os.environ.get("EDF_SPARK_MASTER") or self.env.get("EDF_SPARK_MASTER"):
            return nullcontext({})
        master = getattr(self.spark, "local_master", "local[2]")
        if master != "standalone":
            return nullcontext({"EDF_SPARK_MASTER": master})
        cluster = StandaloneCluster(workers=self.spark.local_workers, cores_per_worker=self.spark.local_worker_cores,
                                    worker_memory=self.spark.local_worker_memory,
                                    executor_memory=self.spark.local_executor_memory)
        return _ClusterEnv(cluster)

    def _run(self, command: list[str], job_dir: Path, run: dict[str, Any], extra_env: dict[str, str],
             timeout_s: int) -> None:
        env = {**os.environ, **self.env, **extra_env, "PYTHONUNBUFFERED": "1"}
        if self.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join([*self.pythonpath, *filter(None, [env.get("PYTHONPATH")])])
        log_path = self.workdir / f"{run['JobName']}-{run['Id'][3:15]}.log"
        run["LocalLogPath"] = str(log_path)
        self._print(f"[glue] job run {run['JobName']} {run['Id'][:15]}..: {' '.join(command[:2])} ...")
        started = time.perf_counter()
        with open(log_path, "wb") as log:
            log.write(f"$ {' '.join(command)}\n".encode())
            log.flush()
            proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=job_dir, env=env)
            # locally driver and executors share one process tree: it may use what one worker node has
            ceiling = WORKER_MEMORY_GIB.get(run.get("WorkerType") or "", 0) * 1024 or None
            with MemoryWatch(proc.pid, ceiling, interval=0.5) as watch:
                try:
                    code = proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                    raise _RunFailed("TIMEOUT", f"Job run timed out after {timeout_s} s (Timeout)") from None
        run["ExecutionTime"] = max(1, round(time.perf_counter() - started))
        run["LocalPeakRssMb"] = round(watch.peak_mb, 1)
        if watch.exceeded:
            raise _RunFailed("FAILED", f"the job used more than the {ceiling} MiB of a {run.get('WorkerType')} "
                                       f"worker and was killed (out of memory); log: {log_path}")
        if code != 0:
            failure = Path(extra_env["EDF_OPT_ML"]) / "output" / "failure"
            reason = failure.read_text(errors="replace").strip() if failure.is_file() else ""
            raise _RunFailed("FAILED", reason or f"exit code {code}; log: {log_path}")

    def _finish(self, run: dict[str, Any], state: str, job_dir: Path, message: str = "") -> dict[str, Any]:
        now = datetime.now(UTC)
        run.update(JobRunState=state, CompletedOn=_epoch_ms(now), LastModifiedOn=_epoch_ms(now))
        if message:
            run["ErrorMessage"] = message[:ERROR_MESSAGE_MAX]
        log = run.get("LocalLogPath", "")
        if state != "SUCCEEDED":
            self._print(f"[glue] job run {run['JobName']} {state}: {message[:300]} (log {log}, files kept in {job_dir})")
            raise TaskFailed("States.TaskFailed", json.dumps(run, default=str))
        self._print(f"[glue] job run {run['JobName']} SUCCEEDED in {run.get('ExecutionTime', 0)}s (log {log})")
        if not self.keep_job_dirs:
            shutil.rmtree(job_dir, ignore_errors=True)
        return copy.deepcopy(run)


class _ClusterEnv:
    """Context manager: a standalone cluster for one job run; yields the job's Spark environment."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def __enter__(self) -> dict[str, str]:
        self.cluster.start()
        return self.cluster.environment()

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.cluster.stop(keep_logs=exc_type is not None)


def check_request(params: dict[str, Any]) -> str:
    """Validate a StartJobRun request as the Glue API does; return the job name."""
    name = params.get("JobName")
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME:
        raise _api_error("InvalidInputException", f"JobName {name!r} must be a string of 1-{MAX_NAME} characters")
    arguments = params.get("Arguments") or {}
    if not isinstance(arguments, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in arguments.items()):
        raise _api_error("InvalidInputException", "Arguments must be a map of strings to strings")
    bad = sorted(k for k in arguments if not k.startswith("--"))
    if bad:
        raise _api_error("InvalidInputException", f"argument keys must start with '--': {', '.join(bad)}")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in arguments.items())
    if size > MAX_ARGUMENTS_BYTES:
        raise _api_error("InvalidInputException", f"job arguments are {size} bytes; Glue accepts at most "
                         f"{MAX_ARGUMENTS_BYTES} (260 KB)")
    worker = params.get("WorkerType")
    if worker is not None and worker not in WORKER_TYPES:
        raise _api_error("InvalidInputException", f"WorkerType {worker!r} is not one of {', '.join(WORKER_TYPES)}")
    workers = params.get("NumberOfWorkers")
    if workers is not None and (not isinstance(workers, int) or workers < 2):
        raise _api_error("InvalidInputException", f"NumberOfWorkers {workers!r} must be an integer >= 2")
    timeout = params.get("Timeout")
    if timeout is not None and (not isinstance(timeout, int) or timeout < 1):
        raise _api_error("InvalidInputException", f"Timeout {timeout!r} must be a positive number of minutes")
    return name


def mirror_arguments(s3: Any, arguments: dict[str, str], mirror: Path) -> dict[str, str]:
    """Download each ``s3://`` argument (object or prefix) into ``mirror/<bucket>/<key>``; rewrite to it."""
    local = {}
    for key, value in arguments.items():
        if key in GLUE_OWN or key in READ_BY_JOB or not value.startswith("s3://"):
            local[key] = value
            continue
        bucket, prefix = split_s3_uri(value)
        target = mirror / bucket / prefix.rstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                k = obj["Key"]
                if k == prefix:  # the argument names one object
                    target.rmdir()
                    s3.download_file(bucket, k, str(target))
                elif prefix == "" or prefix.endswith("/") or k.startswith(prefix + "/"):
                    dest = target / k[len(prefix):].lstrip("/")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket, k, str(dest))
        local[key] = str(target)
    return local


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def upload_changes(s3: Any, mirror: Path, before: dict[str, tuple[int, int]]) -> int:
    """Upload files the job created or changed under the mirror to their S3 keys; return how many."""
    count = 0
    for path in sorted(p for p in mirror.rglob("*") if p.is_file()):
        if path.name.endswith(".crc") or before.get(str(path)) == (path.stat().st_size, path.stat().st_mtime_ns):
            continue
        bucket, _, key = path.relative_to(mirror).as_posix().partition("/")
        s3.upload_file(str(path), bucket, key)
        count += 1
    return count


GLUE_PREFIX = "edf/glue"  # under the scripts bucket, per job: the script, the edf wheel, Glue's temp dir


def feature_job_name(cfg: Any, mode: str) -> str:
    """``<features_job_base>-<mode>-<env>``, e.g. ``edf-features-training-dev`` (Terraform derives the same)."""
    return cfg.name(f"{cfg.edf_spark.features_job_base}-{mode}")


def feature_job_definition(cfg: Any, mode: str, role_arn: str) -> dict[str, Any]:
    """The ``CreateJob`` request of one feature job, as terraform/modules/glue_features_job declares it.

    Script, wheel and temp dir live under ``s3://<scripts bucket>/edf/glue/<job name>/``. Locally the
    ``--additional-python-modules`` entry is recorded but not installed: the runner's virtualenv
    already has the ``edf`` code and its dependencies.
    """
    from edf import __version__

    spark = cfg.edf_spark
    size = getattr(spark, mode)
    name = feature_job_name(cfg, mode)
    base = f"s3://{cfg.scripts_bucket}/{GLUE_PREFIX}/{name}"
    modules = [f"{base}/edf-{__version__}-py3-none-any.whl", *spark.additional_python_modules]
    return {
        "Name": name, "Role": role_arn, "GlueVersion": spark.glue_version,
        "Command": {"Name": "glueetl", "ScriptLocation": f"{base}/features.py", "PythonVersion": "3"},
        "DefaultArguments": {"--mode": mode, "--additional-python-modules": ",".join(modules),
                             "--job-language": "python", "--enable-metrics": "true",
                             "--enable-continuous-cloudwatch-log": "true",
                             "--job-bookmark-option": "job-bookmark-disable", "--TempDir": f"{base}/tmp/"},
        "WorkerType": size.worker_type, "NumberOfWorkers": size.number_of_workers, "MaxRetries": 0,
        "Timeout": spark.timeout_minutes, "ExecutionProperty": {"MaxConcurrentRuns": 2},
    }


def define_feature_jobs(cfg: Any, role_arn: str, script_path: Path, session: boto3.Session | None = None) -> dict[str, str]:
    """Create the two Glue feature jobs on the emulator as the ``glue_features_job`` Terraform module does.

    The script is uploaded to ``s3://<scripts bucket>/edf/glue/<job name>/features.py``; returns mode -> job name.
    """
    sess = session or boto3.Session()
    s3, glue = sess.client("s3"), sess.client("glue")
    names = {}
    for mode in ("training", "inference"):
        definition = feature_job_definition(cfg, mode, role_arn)
        bucket, key = split_s3_uri(definition["Command"]["ScriptLocation"])
        s3.upload_file(str(script_path), bucket, key)
        glue.delete_job(JobName=definition["Name"])  # redefine: DeleteJob of an absent job succeeds; no UpdateJob in moto
        glue.create_job(**definition)
        names[mode] = definition["Name"]
    return names
