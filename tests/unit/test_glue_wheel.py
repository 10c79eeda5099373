"""The edf wheel the Glue feature jobs install: reproducible, valid RECORD, installs and imports."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile

from edf.packaging.glue_wheel import build_job_wheel


def test_wheel_is_reproducible_and_its_record_matches(tmp_path):
    first = build_job_wheel(tmp_path / "a")
    second = build_job_wheel(tmp_path / "b")
    assert first.name == second.name and first.name.endswith("-py3-none-any.whl")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert "edf/jobs/glue_features.py" in names and "edf/features/pipeline.py" in names
        assert not any(n.startswith("edf/data/bundled/") for n in names)
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        for line in zf.read(record).decode().splitlines():
            arc, digest, size = line.split(",")
            if arc == record:
                continue
            data = zf.read(arc)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), arc
        metadata = zf.read(record.replace("RECORD", "METADATA")).decode()
        assert "Requires-Dist: holidays" in metadata and "Requires-Dist: pandas" in metadata


def test_pip_installs_the_wheel_and_the_glue_script_imports(tmp_path):
    wheel = build_job_wheel(tmp_path / "w")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--target", str(target), str(wheel)], check=True, timeout=300)
    code = ("import edf.jobs.glue_features as g, edf.features.io as io; "
            "print(g.__file__); print(io.DATE_PARTITION)")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    assert out[0].startswith(str(target)) and out[1] == "date"
