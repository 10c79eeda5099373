"""Emulated AWS for the local runtime: a moto server on loopback plus a small compatibility layer.

All project code uses ordinary boto3/awswrangler clients; :class:`EmulatedAWS` starts moto's server
on ``127.0.0.1`` (a free port) and points ``AWS_ENDPOINT_URL`` at it, with fake credentials and a
region, so the same code reaches the emulator in this process and in subprocesses (SageMaker job
entrypoints). :meth:`EmulatedAWS.provision` creates the resources the Terraform stacks would create,
from the same config names.

Compatibility layer
-------------------
Stock moto (5.2) lacks a few calls the Terraform AWS provider makes. They are answered by a WSGI
middleware in front of moto's dispatcher, matched on the JSON-protocol ``X-Amz-Target`` header,
reading and writing moto's own in-memory backends so state stays consistent:

``SageMaker.DeleteModelPackageGroup``
    deletes the group from moto's SageMaker backend; ``ConflictException`` while it still holds
    model packages (delete them first, as on AWS), ``ValidationException`` if it does not exist.
``AWSStepFunctions.ValidateStateMachineDefinition``
    answers with the project's own ASL validation (:func:`edf_local.asl.asl_diagnostics`):
    ``result`` OK/FAIL and one ``diagnostics`` entry (severity ERROR, code, message, location)
    per problem - not a blanket OK.
``AWSStepFunctions.ListStateMachineVersions``
    lists the versions moto keeps when a state machine is created/updated with ``publish``.
``Timestream_20181101.DescribeEndpoints`` (write and query)
    moto answers with the real AWS host, so discovered clients would leave the sandbox. We answer
    the emulator's own URL *with its scheme* (``http://127.0.0.1:<port>``): botocore and the Go SDK
    v2 (Terraform) use an address that carries a scheme as-is and only prepend ``https://`` to a
    bare host, which a plain-HTTP emulator could not serve.

Everything else goes to moto unchanged.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from edf_local.errors import EmulatorError

DEFAULT_REGION = "us-east-1"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing"}
# Variables that would make boto3 look elsewhere (real profiles/credentials) while emulated.
_SHADOWED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
             "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
             "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def alerts_topic_name(cfg: Any) -> str:
    """Name of the alerts SNS topic for the config's environment (``edf-alerts-<env>``), as Terraform names it."""
    return cfg.name(cfg.alerts_topic_base)


# --------------------------------------------------------------------------- compatibility layer
class _CompatError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _account() -> str:
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID


def _delete_model_package_group(body: dict[str, Any], region: str, server: Any) -> dict[str, Any]:
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends[_account()][region]
    name = str(body.get("ModelPackageGroupName", ""))
    name = name.rsplit("/", 1)[-1]  # an ARN is accepted too
    if name not in backend.model_package_groups:
        raise _CompatError("ValidationException", f"ModelPackageGroup {name} does not exist.")
    members = [p for p in backend.model_packages.values() if getattr(p, "model_package_group_name", None) == name]
    if members:
        raise _CompatError("ConflictException", f"Model Package Group {name} cannot be deleted: it still contains "
                           f"{len(members)} model package(s); delete them first.")
    del backend.model_package_groups[name]
    return {}


def _validate_state_machine_definition(body: dict[str, Any], region: str, server: Any) -> dict[str, Any]:
    from edf_local.asl import asl_diagnostics

    text = body.get("definition")
    if not isinstance(text, str):
        raise _CompatError("ValidationException", "1 validation error detected: Value null at 'definition' "
                           "failed to satisfy constraint: Member must not be null")
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        found = [{"severity": "ERROR", "code": "INVALID_JSON_DESCRIPTION", "message": f"invalid JSON: {exc}",
                  "location": "/"}]
    else:
        found = [{"severity": "ERROR", "code": d.code, "message": d.message, "location": d.location}
                 for d in asl_diagnostics(definition)]
    max_results = int(body.get("maxResults") or 100)
    return {"result": "FAIL" if found else "OK", "diagnostics": found[:max_results],
            "truncated": len(found) > max_results}


def _list_state_machine_versions(body: dict[str, Any], region: str, server: Any) -> dict[str, Any]:
    from moto.stepfunctions.models import stepfunctions_backends

    backend = stepfunctions_backends[_account()][region]
    arn = body.get("stateMachineArn", "")
    machine = next((sm for sm in backend.state_machines if sm.arn == arn), None)
    if machine is None:
        raise _CompatError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
    start = int(body.get("nextToken") or 0)
    size = int(body.get("maxResults") or 100)
    page = versions[start : start + size]
    out: dict[str, Any] = {"stateMachineVersions": [
        {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date.timestamp()
         if hasattr(v.creation_date, "timestamp") else v.creation_date} for v in page]}
    if start + size < len(versions):
        out["nextToken"] = str(start + size)
    return out


def _describe_endpoints(body: dict[str, Any], region: str, server: Any) -> dict[str, Any]:
    # AWS answers a bare host; SDKs then prepend https://. Both botocore and the Go SDK v2 keep an
    # explicit scheme, so answering the full http:// URL keeps discovered clients on the emulator.
    return {"Endpoints": [{"Address": server.endpoint_url, "CachePeriodInMinutes": 1440}]}


def _glue_get_tags(body: dict[str, Any], region: str, server: Any) -> dict[str, Any]:
    """Glue ``GetTags`` for an ARN with an empty account (the Terraform provider builds the job ARN
    from its account id, which is empty with ``skip_requesting_account_id``); moto keys tags by the
    full ARN, so the account is filled in before looking up."""
    from moto.glue.models import glue_backends

    arn = str(body.get("ResourceArn", ""))
    parts = arn.split(":", 5)
    if len(parts) == 6 and not parts[4]:
        parts[4] = _account()
        arn = ":".join(parts)
    return {"Tags": glue_backends[_account()][region].get_tags(arn)}


COMPAT_HANDLERS: dict[str, Callable[[dict[str, Any], str, Any], dict[str, Any]]] = {
    "AWSGlue.GetTags": _glue_get_tags,
    "SageMaker.DeleteModelPackageGroup": _delete_model_package_group,
    "AWSStepFunctions.ValidateStateMachineDefinition": _validate_state_machine_definition,
    "AWSStepFunctions.ListStateMachineVersions": _list_state_machine_versions,
    "Timestream_20181101.DescribeEndpoints": _describe_endpoints,
}


def add_compat_handler(target: str, handler: Callable[[dict[str, Any], str, Any], dict[str, Any]]) -> None:
    """Answer another JSON-protocol ``X-Amz-Target`` (e.g. ``"SageMaker.SomeCall"``) in every emulator.

    ``handler(body, region, emulator)`` returns the response document, or raises
    ``CompatError(code, message, status=400)`` for an AWS error response. Document additions in
    docs/local_runtime.md.
    """
    COMPAT_HANDLERS[target] = handler


CompatError = _CompatError  # public name for handlers added with add_compat_handler


def _region_from(environ: dict[str, Any], default: str) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[2]
    except IndexError:
        return default


class CompatMiddleware:
    """WSGI middleware answering :data:`COMPAT_HANDLERS` targets and passing everything else to moto."""

    def __init__(self, app: Callable[..., Any], server: Any, default_region: str) -> None:
        self.app = app
        self.server = server
        self.default_region = default_region
        self.calls: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        handler = COMPAT_HANDLERS.get(target)
        if handler is None:
            return self.app(environ, start_response)
        self.calls.append(target)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
            payload, status = handler(body, _region_from(environ, self.default_region), self.server), "200 OK"
        except _CompatError as exc:
            payload = {"__type": exc.code, "message": exc.message}
            status = f"{exc.status} Bad Request"
        except (ValueError, KeyError) as exc:
            payload, status = {"__type": "ValidationException", "message": str(exc)}, "400 Bad Request"
        data = json.dumps(payload).encode()
        content_type = "application/x-amz-json-1.1" if target.startswith("SageMaker.") else "application/x-amz-json-1.0"
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(data))),
                                ("x-amzn-RequestId", str(uuid.uuid4()))])
        return [data]


# --------------------------------------------------------------------------- the emulator
class EmulatedAWS:
    """A moto server on ``127.0.0.1:<free port>`` that boto3 clients reach through ``AWS_ENDPOINT_URL``.

    Use as a context manager (``with EmulatedAWS(region=cfg.aws_region) as aws: aws.provision(cfg)``)
    or call :meth:`start`/:meth:`stop`. moto keeps resources in process-global backends, so
    instances running at the same time in one process share one account; the first one started
    (with ``fresh=True``, the default) begins from an empty account. ``start`` sets ``AWS_ENDPOINT_URL``, fake credentials and
    ``AWS_DEFAULT_REGION``/``AWS_REGION`` in ``os.environ`` (hiding any real profile) and ``stop``
    restores the previous values, so nothing can reach a real account while it runs.
    """

    _running = 0  # moto keeps its state in process-global backends shared by every instance
    _running_lock = threading.Lock()

    def __init__(self, region: str = DEFAULT_REGION, host: str = "127.0.0.1", port: int = 0,
                 set_environment: bool = True, verbose: bool = False, fresh: bool = True) -> None:
        self.verbose = verbose
        self.fresh = fresh
        self.region = region
        self.host = host
        self.port = port
        self.set_environment = set_environment
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self.middleware: CompatMiddleware | None = None

    # ---- lifecycle
    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise EmulatorError("the emulator is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        """``host:port`` of the server."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> EmulatedAWS:
        """Start the server (idempotent) and point the process environment at it."""
        if self._server is not None:
            return self
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        verbose = self.verbose

        class _Handler(MotoRequestHandler):
            def log_request(self, code: Any = "-", size: Any = "-") -> None:  # one line per request only if asked
                if verbose:
                    super().log_request(code, size)

        app = DomainDispatcherApplication(create_backend_app)
        self.middleware = CompatMiddleware(app, self, self.region)
        try:
            self._server = make_server(self.host, self.port, self.middleware, threaded=True,
                                       request_handler=_Handler)
        except OSError as exc:
            raise EmulatorError(f"cannot start the emulated AWS on {self.host}:{self.port}: {exc}") from exc
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="edf-emulated-aws", daemon=True)
        self._thread.start()
        with EmulatedAWS._running_lock:
            first = EmulatedAWS._running == 0
            EmulatedAWS._running += 1
        if self.fresh and first:
            self.reset()  # a new emulator starts as an empty account, whatever an earlier one left behind
        if self.set_environment:
            self._apply_env()
        return self

    def stop(self) -> None:
        """Stop the server and restore the environment variables ``start`` changed."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._server, self._thread = None, None
            with EmulatedAWS._running_lock:
                EmulatedAWS._running -= 1
        self._restore_env()

    def __enter__(self) -> EmulatedAWS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The variables a subprocess needs to use this emulator (already in os.environ after start)."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region,
                **FAKE_CREDENTIALS}

    def _apply_env(self) -> None:
        wanted: dict[str, str | None] = {**self.environment(), **{k: None for k in _SHADOWED}}
        for key, value in wanted.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env = {}

    def reset(self) -> None:
        """Forget every resource (moto's ``/moto-api/reset``), e.g. between test cases."""
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback URL we own
            pass

    # ---- resources
    def client(self, service: str) -> Any:
        """A boto3 client bound explicitly to this emulator (works even without the env vars)."""
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=self.region,
                            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"])

    def provision(self, cfg: Any) -> dict[str, str]:
        """Create what the Terraform stacks create, from the config's names; idempotent.

        Returns ARNs: ``raw_bucket``, ``processed_bucket``, ``scripts_bucket`` (S3 ARNs),
        ``model_package_group`` and ``alerts_topic``. Forecast-store tables belong to the storage
        area (created by its own code against the same endpoint).
        """
        from botocore.exceptions import ClientError

        s3, sm, sns = self.client("s3"), self.client("sagemaker"), self.client("sns")
        arns: dict[str, str] = {}
        for key, bucket in (("raw_bucket", cfg.raw_bucket), ("processed_bucket", cfg.processed_bucket),
                            ("scripts_bucket", cfg.scripts_bucket)):
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            try:
                s3.create_bucket(**kwargs)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise EmulatorError(f"cannot create bucket {bucket}: {exc}") from exc
            arns[key] = f"arn:aws:s3:::{bucket}"
        group = cfg.model_package_group
        try:
            arns["model_package_group"] = sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
        except ClientError:
            arns["model_package_group"] = sm.create_model_package_group(
                ModelPackageGroupName=group,
                ModelPackageGroupDescription="EDF building demand and solar forecasters (local emulator)",
            )["ModelPackageGroupArn"]
        arns["alerts_topic"] = sns.create_topic(Name=alerts_topic_name(cfg))["TopicArn"]
        return arns


def record_job_outcome(kind: str, name: str, describe: dict[str, Any], region: str) -> None:
    """Write a locally run job's final status into moto's SageMaker backend (in-process emulator only).

    moto marks every job ``Completed`` at creation; the local runner knows better. When the emulator
    runs in another process the job is not found here and this does nothing.
    """
    try:
        from moto.sagemaker.models import sagemaker_backends
    except ImportError:  # pragma: no cover - moto is a dev/local dependency
        return
    backend = sagemaker_backends[_account()][region]
    jobs = backend.processing_jobs if kind == "processing" else backend.training_jobs
    job = jobs.get(name)
    if job is None:
        return
    status = describe.get("ProcessingJobStatus") or describe.get("TrainingJobStatus")
    if kind == "processing":
        job.processing_job_status = status
    else:
        job.training_job_status = status
        job.secondary_status = describe.get("SecondaryStatus", status)
        if "ModelArtifacts" in describe:
            job.model_artifacts = describe["ModelArtifacts"]
    if describe.get("FailureReason"):
        job.failure_reason = describe["FailureReason"]
