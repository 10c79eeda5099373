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


# ------------------------------------------------------------------ issue 14, items 13 and 14
def _all_steps(pipelines) -> dict[str, list[dict]]:
    p = pipelines["pipelines"]
    out = {"branches": _steps(p["branches"]["**"]), "pull-requests": _steps(p["pull-requests"]["**"])}
    for name, pipeline in p["custom"].items():
        out[f"custom:{name}"] = _steps(pipeline)
    return out


def test_every_aws_step_names_its_role_and_ci_never_uses_the_deploy_role(pipelines):
    """Branch and PR builds run code anyone can push: they get the ECR-push role, never the deploy
    role. A repository-wide AWS_ROLE_ARN would hand the deploy role to every OIDC step."""
    for kind, steps in _all_steps(pipelines).items():
        for step in steps:
            text = _scripts(step)
            if kind in ("branches", "pull-requests"):
                assert "AWS_DEPLOY_ROLE_ARN" not in text, (kind, step["name"])
            if step.get("oidc"):
                roles = re.findall(r'export AWS_ROLE_ARN="\$(\w+)"', text)
                assert len(roles) == 1, (kind, step["name"], roles)
                wanted = "AWS_CI_ROLE_ARN" if kind in ("branches", "pull-requests") else "AWS_DEPLOY_ROLE_ARN"
                assert roles == [wanted], (kind, step["name"])


@pytest.mark.parametrize("kind", ["branches", "pull-requests"])
def test_ci_images_carry_scratch_tags_the_lifecycle_may_expire(pipelines, kind):
    steps = _steps(pipelines["pipelines"][kind]["**"])
    build = next(s for s in steps if "docker push" in _scripts(s))
    text = _scripts(build)
    assert 'IMAGE="$ECR_REPOSITORY_URL_DEV:$IMAGE_TAG"' in text
    for tag in ('pr-${BITBUCKET_PR_ID}-${BITBUCKET_COMMIT}', 'git-${BITBUCKET_COMMIT}', 'branch-${BITBUCKET_COMMIT}'):
        assert tag in text
    assert "release-" not in text  # only CD promotes


def test_prod_training_deploy_promotes_the_tested_image_without_rebuilding(pipelines):
    steps = _steps(pipelines["pipelines"]["custom"]["deploy-and-test-edf-training"])
    names = [s["name"] for s in steps]
    promote = next(s for s in steps if "Promote" in s["name"])
    deploy = next(s for s in steps if "STACK=training_edf" in _scripts(s))
    assert names.index(promote["name"]) < names.index(deploy["name"])
    text = _scripts(promote)
    assert "docker build" not in text, "promotion retags the tested image; it never rebuilds"
    assert 'SRC="$ECR_REPOSITORY_URL_DEV:git-$BITBUCKET_COMMIT"' in text
    assert "$ECR_REPOSITORY_URL_PROD" in text and "release-$BITBUCKET_COMMIT" in text
    assert 'test "$SRC_DIGEST" = "$DST_DIGEST"' in text  # same digest in the target repository
    assert "image_tag=release-$BITBUCKET_COMMIT" in _scripts(deploy)


def test_tool_downloads_are_pinned_by_version_and_checksum(pipelines):
    text = (REPO / "bitbucket-pipelines.yml").read_text()
    tf_url = re.search(r"releases\.hashicorp\.com/terraform/\$\{TF_VERSION\}/terraform_\$\{TF_VERSION\}_linux_amd64\.zip", text)
    assert tf_url and re.search(r"^\s*TF_VERSION=\d+\.\d+\.\d+$", text, flags=re.M)
    assert re.search(r"^\s*TF_SHA256=[0-9a-f]{64}$", text, flags=re.M)
    assert 'echo "${TF_SHA256}  /tmp/tf.zip" | sha256sum -c -' in text
    assert "unzip" in text and text.index("sha256sum -c") < text.index("unzip -q")
    # the AWS CLI only from the hashed lock, never a floating `pip install awscli`
    assert not re.search(r"pip install[^\n]*\bawscli\b", text)
    lock = (REPO / "requirements/ci-tools.lock").read_text()
    assert re.search(r"^awscli==[\d.]+ \\\n\s+--hash=sha256:[0-9a-f]{64}", lock, flags=re.M)
    assert text.count("--require-hashes -r requirements/ci-tools.lock") >= 3


def test_ci_installs_the_locked_environment(pipelines):
    steps = _steps(pipelines["pipelines"]["branches"]["**"])
    text = "\n".join(_scripts(s) for s in steps)
    for target in ("make test", "make lint", "make package"):
        for line in text.splitlines():
            if line.strip().startswith(target + " ") or line.strip() == target:
                assert "LOCK=requirements/dev.lock" in line, line
