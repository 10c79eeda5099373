"""bitbucket-pipelines.yml: the CI and CD pipelines of the reference design exist, and every `make`
target a step calls is a real Makefile target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pipelines():
    return yaml.safe_load((REPO / "bitbucket-pipelines.yml").read_text())


def _makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([A-Za-z0-9_.\-]+)\s*:(?!=)", text, flags=re.M))


def _steps(pipeline: list) -> list[dict]:
    out = []
    for item in pipeline:
        if "step" in item:
            out.append(item["step"])
        elif "parallel" in item:
            out += [p["step"] for p in item["parallel"]]
    return out


def _scripts(step: dict) -> str:
    return "\n".join(str(line) if not isinstance(line, dict) else "" for line in step.get("script", []))


@pytest.mark.parametrize("kind", ["branches", "pull-requests"])
def test_ci_lints_tests_builds_pushes_validates_and_scans(pipelines, kind):
    steps = _steps(pipelines["pipelines"][kind]["**"])
    text = "\n".join(_scripts(s) for s in steps)
    assert "make lint" in text and "make lint-docker" in text
    assert "make test" in text
    assert "docker build -f containers/edf/Dockerfile" in text and "docker push" in text
    assert "make tf-check" in text  # fmt + validate every stack + checkov
    assert "describe-image-scan-findings" in text
    # push happens before the scan step reads the scan result
    names = [s["name"] for s in steps]
    assert names.index(next(n for n in names if "push" in n)) < names.index(next(n for n in names if "Scan" in n))


@pytest.mark.parametrize(("name", "stack", "tests"), [
    ("deploy-and-test-edf-training", "training_edf", "test-deployed-training"),
    ("deploy-and-test-edf-inference", "inference_edf", "test-deployed-inference"),
])
def test_manual_cd_pipelines_deploy_their_stack_and_run_its_tests(pipelines, name, stack, tests):
    pipeline = pipelines["pipelines"]["custom"][name]
    steps = _steps(pipeline)
    text = "\n".join(_scripts(s) for s in steps)
    assert f"STACK={stack}" in text
    assert f"make {tests}" in text
    assert any("variables" in item for item in pipeline), "CD asks which environment to deploy"
    if stack == "training_edf":
        assert "make upload-config" in text  # config uploaded to S3 by CD


def test_every_make_target_used_exists(pipelines):
    targets = _makefile_targets()
    text = (REPO / "bitbucket-pipelines.yml").read_text()
    used = set()
    for line in text.splitlines():
        if "apt-get install" in line:  # the make package, not a target
            continue
        used |= set(re.findall(r"(?<![\w-])make\s+(?:-s\s+)?([A-Za-z][\w.\-]*)", line))
    assert used, "no make targets found"
    missing = used - targets
    assert not missing, f"bitbucket-pipelines.yml calls missing Makefile targets: {sorted(missing)}"


def test_every_test_path_used_by_a_target_exists():
    text = (REPO / "Makefile").read_text()
    for path in re.findall(r"pytest[^\n]*?\s(tests/[\w/.]+)", text):
        assert (REPO / path).exists(), path


@pytest.mark.parametrize("kind", ["branches", "pull-requests"])
def test_ci_runs_the_feature_tests_on_the_glue_spark_version(pipelines, kind):
    steps = _steps(pipelines["pipelines"][kind]["**"])
    assert "make test-spark-parity" in "\n".join(_scripts(s) for s in steps)
    makefile = (REPO / "Makefile").read_text()
    version = re.search(r"^SPARK_PARITY_PYSPARK \?= (\S+)", makefile, flags=re.M).group(1)
    assert version.startswith("3.5."), "Glue 5.0 runs Spark 3.5 (docs/spark_engine.md)"
    for path in re.search(r"^SPARK_PARITY_TESTS := (.+)$", makefile, flags=re.M).group(1).split():
        assert (REPO / path).exists(), path
