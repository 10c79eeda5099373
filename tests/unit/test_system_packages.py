"""`make system-packages` (a prerequisite of `make test` and `make demo`): names or installs what is missing.

Run with a PATH that lacks Chromium and a fake non-root ``id``: make must stop and name the package,
never install anything (the install branch needs root, which is exactly what it checks for).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bin_without_chromium(tmp_path: Path, *, keep: tuple[str, ...]) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sh", "make", "echo", "ls", "cat", *keep):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    (bindir / "id").write_text("#!/bin/sh\necho 1000\n")  # not root: nothing may be installed
    (bindir / "id").chmod(0o755)
    return bindir


def _make(bindir: Path) -> subprocess.CompletedProcess:
    env = {"PATH": str(bindir), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([str(bindir / "make"), "-s", "-C", str(REPO), "system-packages"], env=env,
                          capture_output=True, text=True, timeout=60)


def test_missing_chromium_is_named_with_the_install_command(tmp_path):
    if not shutil.which("java") or not shutil.which("make"):
        pytest.fail("make and java are prerequisites of the suite itself")
    bindir = _bin_without_chromium(tmp_path, keep=("java", "initdb"))
    proc = _make(bindir)
    assert proc.returncode != 0
    assert "missing system packages: chromium" in proc.stdout
    assert "apt-get install -y chromium" in proc.stdout
    assert "installing" not in proc.stdout


def test_nothing_missing_is_a_no_op(tmp_path):
    bindir = _bin_without_chromium(tmp_path, keep=("java", "initdb", "chromium"))
    if not (bindir / "chromium").exists():
        pytest.fail("chromium is not installed: `make test` installs it (system-packages) before the suite runs")
    proc = _make(bindir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""
