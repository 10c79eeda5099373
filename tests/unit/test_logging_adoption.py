"""Structured logging adopted across areas (docs/monitoring.md §6): jobs, Lambda handlers, the ASL.

One correlation id - the Step Functions execution id - follows a run: the ASL passes
``$$.Execution.Id`` to every SageMaker job (env ``EDF_CORRELATION_ID``) and every Lambda task
(payload ``execution_id``), and each of them logs JSON lines carrying it.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from edf.data.io import write_parquet
from edf.logging import CORRELATION_ENV

REPO = Path(__file__).resolve().parents[2]
EXEC = "arn:aws:states:eu-central-1:123456789012:execution:EDFInferenceWorkflow-dev:run-2026-11-21"
JOBS = ("validate", "features", "train", "evaluate", "forecast", "optimize")


@pytest.fixture()
def restore_root(monkeypatch):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.delenv(CORRELATION_ENV, raising=False)
    monkeypatch.delenv("EDF_LOG_FORMAT", raising=False)
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _json_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


# ---------------------------------------------------------------- jobs
def test_job_entrypoint_subprocess_logs_json_with_the_env_correlation_id(tmp_path, homes):
    frame = homes[homes["building_id"] == "citylearn-01"].head(24 * 3).reset_index(drop=True)
    write_parquet(frame, tmp_path / "in" / "part.parquet")
    env = {**os.environ, CORRELATION_ENV: "x", "EDF_OPT_ML": str(tmp_path / "opt")}
    env.pop("EDF_LOG_FORMAT", None)
    proc = subprocess.run([sys.executable, "-m", "edf.jobs.validate", "--processed", str(tmp_path / "in"),
                           "--output", str(tmp_path / "out")], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = _json_lines(proc.stdout)
    assert records, f"no JSON log line on stdout: {proc.stdout[-1000:]!r}"
    assert all(r.get("correlation_id") == "x" for r in records), records
    assert any(r.get("service") == "edf-validate" and "validation" in r.get("message", "") for r in records)


@pytest.mark.parametrize("job", JOBS)
def test_every_job_main_runs_through_the_logging_entrypoint(job):
    """Each job's main is `run_job("edf-<job>", ...)`, which configures JSON logging before any work."""
    tree = ast.parse((REPO / "src" / "edf" / "jobs" / f"{job}.py").read_text())
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    calls = [n for n in ast.walk(main) if isinstance(n, ast.Call)]
    names = [getattr(c.func, "id", getattr(c.func, "attr", None)) for c in calls]
    assert "basicConfig" not in names
    run_job = [c for c in calls if getattr(c.func, "id", None) == "run_job"]
    assert run_job, f"edf.jobs.{job}.main does not go through edf.jobs.entrypoint.run_job"
    assert isinstance(run_job[0].args[0], ast.Constant) and run_job[0].args[0].value == f"edf-{job}"


def test_run_job_configures_logging_before_the_work_and_records_failures(tmp_path, monkeypatch):
    from edf.jobs import entrypoint

    monkeypatch.setenv("EDF_OPT_ML", str(tmp_path))
    seen = []
    monkeypatch.setattr("edf.logging.configure_logging", lambda **kw: seen.append(("configure", kw["service"])))

    def work():
        seen.append(("work", None))
        raise RuntimeError("disk full")

    assert entrypoint.run_job("edf-x", "x", work) == 1
    assert seen == [("configure", "edf-x"), ("work", None)]
    assert (tmp_path / "output" / "failure").read_text() == "RuntimeError: disk full"
    assert entrypoint.run_job("edf-x", "x", lambda: None) == 0


# ---------------------------------------------------------------- Lambda handlers
def _load_handler(name: str) -> types.ModuleType:
    path = REPO / "lambdas" / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"edf_test_handler_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delegate(*_args, **_kwargs):
    logging.getLogger("edf.delegate").info("delegate ran", extra={"probe": 1})
    return {"ok": True}


# handler -> a payload its event model accepts (as the ASL or the schedule sends it); the handler's
# own code (logging set-up, event parsing) runs for real, the `handle` it delegates to is replaced
EVENTS = {
    "register_model": {"model_data_url": "s3://b/m.tar.gz", "image_uri": "img:1", "evaluation_report_uri": "s3://b/r.json",
                       "model_package_group_name": "g", "execution_name": "run", "training_job_name": "tj"},
    "get_approved_model": {"model_package_group_name": "g"},
    "create_sagemaker_model": {"model_package_arn": "arn:p", "model_name": "m", "execution_role_arn": "arn:r"},
    "load_forecasts": {"forecasts_uri": "s3://b/f.parquet", "recommendations_uri": None, "run_id": "edf-2026-11-21",
                       "model_version": "arn:p"},
    "accuracy_monitor": {},
    "b2b_api": {"httpMethod": "GET", "path": "/v1/buildings"},
    "b2c_api": {"httpMethod": "GET", "path": "/v1/me/solar-vs-demand"},
    "db_bootstrap": {"action": "bootstrap"},
    "weather_fetcher": {},
}


def test_every_lambda_handler_is_covered():
    on_disk = {p.parent.name for p in (REPO / "lambdas").glob("*/handler.py")}
    assert on_disk == set(EVENTS)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_lambda_handler_logs_with_the_execution_id_of_its_payload(name, restore_root, capsys):
    module = _load_handler(name)
    module.handle = _delegate
    assert module.handler({**EVENTS[name], "execution_id": EXEC}, None) == {"ok": True}
    records = [r for r in _json_lines(capsys.readouterr().out) if r.get("message") == "delegate ran"]
    assert len(records) == 1, "expected exactly one JSON line for one log call"
    assert records[0]["correlation_id"] == EXEC and records[0]["service"].startswith("edf-")
    assert records[0]["probe"] == 1
    assert os.environ[CORRELATION_ENV] == EXEC


def test_api_handler_takes_the_client_correlation_header(restore_root, capsys):
    module = _load_handler("b2b_api")
    module.handle = _delegate
    module.handler({"headers": {"X-Correlation-Id": "client-trace-7"}, "path": "/v1/buildings"}, None)
    records = [r for r in _json_lines(capsys.readouterr().out) if r.get("message") == "delegate ran"]
    assert records and records[0]["correlation_id"] == "client-trace-7"


def test_api_handlers_stay_light_with_structured_logging():
    code = ("import sys, importlib.util\n"
            "import edf.logging\n"
            "assert 'aws_lambda_powertools' not in sys.modules  # the formatter is imported when configured\n"
            f"for name in ('b2b_api', 'b2c_api'):\n"
            f"    path = {str(REPO / 'lambdas')!r} + '/' + name + '/handler.py'\n"
            "    spec = importlib.util.spec_from_file_location(name, path)\n"
            "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
            "edf.logging.configure_logging('c', json_format=True)\n"
            "print(sorted(m for m in ('pandas', 'awswrangler', 'pyspark', 'cvxpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- ASL
def _tasks(states: dict):
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _tasks(state[key]["States"])


@pytest.mark.parametrize("template", ["training.asl.json", "inference.asl.json"])
def test_asl_passes_the_execution_id_to_every_job_and_lambda(template):
    definition = json.loads((REPO / "pipelines" / template).read_text())
    jobs = lambdas = 0
    for name, state in _tasks(definition["States"]):
        resource, params = state["Resource"], state.get("Parameters") or {}
        if resource.startswith("arn:aws:states:::sagemaker:create") and resource.endswith(".sync"):
            jobs += 1
            assert params.get("Environment", {}).get("EDF_CORRELATION_ID.$") == "$$.Execution.Id", name
        elif resource == "arn:aws:states:::glue:startJobRun.sync":  # Glue runs have no per-run environment
            jobs += 1
            assert params["Arguments"].get("--correlation-id.$") == "$$.Execution.Id", name
        elif resource.startswith("arn:aws:states:::lambda:invoke"):
            lambdas += 1
            assert params["Payload"].get("execution_id.$") == "$$.Execution.Id", name
    assert jobs >= 3 and lambdas >= 1
