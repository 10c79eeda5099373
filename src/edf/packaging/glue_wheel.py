"""The ``edf`` wheel the Glue feature jobs install on every node (``--additional-python-modules``).

Built without pip or a network: a wheel is a zip of the package plus ``*.dist-info`` (METADATA with
the core ``Requires-Dist`` from pyproject.toml, WHEEL, RECORD with sha256 digests). Entries are
sorted with fixed timestamps, like the Lambda zips, so the same sources give the same bytes and
Terraform's ``filemd5`` only changes when code does. Bundled data sets are left out (jobs read
S3); pvlib and holidays come from ``edf_spark.additional_python_modules``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tomllib
import zipfile
from pathlib import Path

from edf.packaging.lambdas import _FILE_MODE, _FIXED_DATE, REPO_ROOT, _edf_files


def _record_line(arc: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{arc},sha256={digest},{len(data)}"


def wheel_members(repo: Path = REPO_ROOT) -> dict[str, bytes]:
    """Archive name -> bytes of every member of the wheel (RECORD included)."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    members = {arc: path.read_bytes() for arc, path in _edf_files(repo / "src" / "edf")}
    info = f"{name}-{version}.dist-info"
    requires = "".join(f"Requires-Dist: {req}\n" for req in project["dependencies"])
    members[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                   f"Summary: {project['description']}\nRequires-Python: "
                                   f"{project['requires-python']}\n{requires}").encode()
    members[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: edf.packaging\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{info}/top_level.txt"] = b"edf\n"
    record = [_record_line(arc, data) for arc, data in sorted(members.items())] + [f"{info}/RECORD,,"]
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    return members


def build_job_wheel(out_dir: Path, repo: Path = REPO_ROOT) -> Path:
    """Write ``edf-<version>-py3-none-any.whl`` into ``out_dir``; return its path."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    path = Path(out_dir) / f"{project['name']}-{project['version']}-py3-none-any.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arc, data in sorted(wheel_members(repo).items()):
            entry = zipfile.ZipInfo(arc, date_time=_FIXED_DATE)
            entry.create_system = 3
            entry.external_attr = _FILE_MODE
            entry.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(entry, data, compresslevel=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path
