"""Build one reproducible deployment zip per Lambda function.

Each zip holds ``lambdas/<function>/`` (the thin handler) at its root, the ``edf`` package, and
the dependency closure of the distributions listed for that function in ``functions.json`` —
minus what the Lambda Python runtime already provides (boto3 and its dependencies) and, for
functions that use it, what the AWS SDK for pandas managed layer provides (pandas, numpy,
pyarrow, awswrangler). ``functions.json`` is also read by Terraform, so the list of functions
and which of them get the layer is written once.

Reproducible means: the same sources and installed distributions give byte-identical zips
(sorted entries, fixed timestamps and permissions, no ``__pycache__``, no install-local
metadata), so Terraform's ``source_code_hash`` changes only when code changes.

Dependencies are copied from the running interpreter's installed distributions, which must
therefore match the Lambda runtime (CPython 3.11 on Linux x86_64) because some ship compiled
extensions (pydantic-core, PyYAML, psycopg-binary).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import platform
import re
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.requirements import Requirement

from edf.packaging.lock import LockMismatch, check_locked

SPEC_PATH = Path(__file__).with_name("functions.json")
REPO_ROOT = Path(__file__).resolve().parents[3]

#: Lambda runtime target the zips are built for (Terraform's runtime = "python3.11", x86_64).
TARGET_PYTHON = (3, 11)
TARGET_MACHINE = "x86_64"

#: Distributions the python3.11 Lambda runtime ships (never bundled).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"})
#: Distributions the AWS SDK for pandas managed layer ships (not bundled when the layer is used).
PANDAS_LAYER_PROVIDED = frozenset({"awswrangler", "pandas", "numpy", "pyarrow", "pytz", "tzdata"})

#: AWS quotas (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
MAX_ZIP_BYTES = 50 * 1024 * 1024  # direct upload of a zip
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024  # function + layers, unzipped

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
# Install-local metadata that differs between machines or installs, not part of the package.
_SKIP_METADATA = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
# Parts of the edf package no Lambda reads: bundled demo datasets (loaded from S3 in AWS).
_EDF_EXCLUDE = (re.compile(r"^edf/data/bundled/"),)


RDS_CA_ARCNAME = "certs/rds-global-bundle.pem"


def _checked_pem(path: Path) -> Path:
    """The CA bundle must exist and hold PEM certificates (not an HTML error page from a proxy)."""
    p = Path(path)
    if not p.is_file() or b"-----BEGIN CERTIFICATE-----" not in p.read_bytes():
        raise PackagingError(f"{p} is not a PEM certificate bundle (`make rds-ca` downloads the RDS one)")
    return p


class PackagingError(RuntimeError):
    """A zip cannot be built (missing handler, unknown distribution, wrong interpreter, too big)."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function's packaging inputs from ``functions.json``."""

    name: str
    requirements: tuple[str, ...]
    pandas_layer: bool


@dataclass
class BuildResult:
    """What one build produced, for the size report."""

    name: str
    zip_path: Path
    zip_bytes: int
    unzipped_bytes: int
    files: int
    sha256: str
    distributions: dict[str, int] = field(default_factory=dict)  # name -> unzipped bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "zip": self.zip_path.name,
            "zip_bytes": self.zip_bytes,
            "unzipped_bytes": self.unzipped_bytes,
            "files": self.files,
            "sha256": self.sha256,
            "distributions": dict(sorted(self.distributions.items())),
        }


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def load_function_specs(path: Path = SPEC_PATH) -> dict[str, FunctionSpec]:
    """Read ``functions.json`` (also read by Terraform) into specs, validating its shape."""
    raw = json.loads(Path(path).read_text())
    specs: dict[str, FunctionSpec] = {}
    for name, entry in raw.items():
        if name.startswith("_"):
            continue
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise PackagingError(f"{path}: function name {name!r} must be snake_case (it names lambdas/<name>/)")
        if not isinstance(entry, dict) or set(entry) != {"requirements", "pandas_layer"}:
            raise PackagingError(f"{path}: {name!r} needs exactly the keys 'requirements' and 'pandas_layer'")
        specs[name] = FunctionSpec(name, tuple(entry["requirements"]), bool(entry["pandas_layer"]))
    return specs


def check_interpreter() -> None:
    """Refuse to bundle compiled extensions built for another platform than the Lambda runtime."""
    if sys.version_info[:2] != TARGET_PYTHON or platform.machine() != TARGET_MACHINE or sys.platform != "linux":
        raise PackagingError(
            f"zips must be built with CPython {TARGET_PYTHON[0]}.{TARGET_PYTHON[1]} on Linux {TARGET_MACHINE} "
            f"(the Lambda runtime); this is {platform.python_version()} on {sys.platform} {platform.machine()}"
        )


def dependency_closure(requirements: tuple[str, ...], exclude: frozenset[str]) -> list[md.Distribution]:
    """Installed distributions needed by ``requirements`` (transitively), minus ``exclude``.

    Markers are evaluated for the running interpreter; extras of dependencies are not followed
    (only what a requirement asks for unconditionally), matching ``pip install <name>``.
    """
    seen: dict[str, md.Distribution] = {}
    stack = [Requirement(r) for r in requirements]
    while stack:
        req = stack.pop()
        key = _norm(req.name)
        if key in seen or key in exclude:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            raise PackagingError(f"distribution {req.name!r} is not installed; `make venv` installs every extra") from None
        seen[key] = dist
        for dep in dist.requires or []:
            child = Requirement(dep)
            if child.marker is not None and not child.marker.evaluate({"extra": ""}):
                continue
            stack.append(child)
    return [seen[k] for k in sorted(seen)]


def _dist_files(dist: md.Distribution) -> list[tuple[str, Path]]:
    out = []
    for f in dist.files or []:
        parts = PurePosixPath(str(f)).parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or str(f).endswith(".pyc"):
            continue  # console scripts live outside site-packages; bytecode is rebuilt at import
        if parts[0].endswith(".dist-info") and parts[-1] in _SKIP_METADATA:
            continue
        out.append((str(PurePosixPath(*parts)), Path(dist.locate_file(f))))
    return out


def _edf_files(edf_root: Path) -> list[tuple[str, Path]]:
    out = []
    for p in sorted(edf_root.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts or p.suffix == ".pyc":
            continue
        arc = "edf/" + p.relative_to(edf_root).as_posix()
        if any(rx.match(arc) for rx in _EDF_EXCLUDE):
            continue
        out.append((arc, p))
    return out


def _write_zip(entries: dict[str, Path], zip_path: Path) -> None:
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for arc in sorted(entries):
            info = zipfile.ZipInfo(arc, date_time=_FIXED_DATE)
            info.create_system = 3  # unix, so external_attr carries the permission bits
            info.external_attr = _FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[arc].read_bytes(), compresslevel=6)
    tmp.replace(zip_path)


def build_function(
    spec: FunctionSpec,
    out_dir: Path,
    lambdas_dir: Path = REPO_ROOT / "lambdas",
    edf_root: Path | None = None,
    lock: Path | None = None,
    rds_ca: Path | None = None,
) -> BuildResult:
    """Build ``out_dir/<name>.zip`` for one function and return its size figures.

    With ``lock`` every bundled distribution must be installed at the version the lock file pins.
    """
    handler_dir = lambdas_dir / spec.name
    if not (handler_dir / "handler.py").is_file():
        raise PackagingError(f"{handler_dir / 'handler.py'} does not exist (functions.json lists {spec.name!r})")
    edf_root = edf_root or Path(__file__).resolve().parents[1]
    exclude = RUNTIME_PROVIDED | (PANDAS_LAYER_PROVIDED if spec.pandas_layer else frozenset())

    entries: dict[str, Path] = {}
    owner: dict[str, str] = {}

    def add(arc: str, path: Path, who: str) -> None:
        if arc in entries and entries[arc].resolve() != path.resolve():
            raise PackagingError(f"{spec.name}: {arc} comes from both {owner[arc]} and {who}")
        entries[arc] = path
        owner[arc] = who

    for p in sorted(handler_dir.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            add(p.relative_to(handler_dir).as_posix(), p, "handler")
    for arc, p in _edf_files(edf_root):
        add(arc, p, "edf")
    if rds_ca is not None and any(_norm(r) == "psycopg" for r in spec.requirements):
        # The RDS CA bundle for sslmode=verify-full (config edf_storage.postgres.sslrootcert).
        add(RDS_CA_ARCNAME, _checked_pem(rds_ca), "rds-ca")
    closure = dependency_closure(spec.requirements, exclude)
    if lock is not None:
        try:
            check_locked(closure, lock)
        except LockMismatch as exc:
            raise PackagingError(f"{spec.name}: {exc}") from None
    for dist in closure:
        for arc, p in _dist_files(dist):
            add(arc, p, dist.metadata["Name"])

    zip_path = out_dir / f"{spec.name}.zip"
    _write_zip(entries, zip_path)
    sizes: dict[str, int] = {}
    for arc, p in entries.items():
        sizes[owner[arc]] = sizes.get(owner[arc], 0) + p.stat().st_size
    data = zip_path.read_bytes()
    result = BuildResult(
        name=spec.name, zip_path=zip_path, zip_bytes=len(data), unzipped_bytes=sum(sizes.values()),
        files=len(entries), sha256=hashlib.sha256(data).hexdigest(), distributions=sizes,
    )
    if result.zip_bytes > MAX_ZIP_BYTES or result.unzipped_bytes > MAX_UNZIPPED_BYTES:
        raise PackagingError(
            f"{spec.name}: {result.zip_bytes} B zipped / {result.unzipped_bytes} B unzipped exceeds the Lambda "
            f"quota ({MAX_ZIP_BYTES} B / {MAX_UNZIPPED_BYTES} B); move heavy libraries to a layer"
        )
    return result


def build_all(
    out_dir: Path = REPO_ROOT / "build" / "lambda",
    only: list[str] | None = None,
    lambdas_dir: Path = REPO_ROOT / "lambdas",
    spec_path: Path = SPEC_PATH,
    lock: Path | None = None,
    rds_ca: Path | None = None,
) -> list[BuildResult]:
    """Build every function (or ``only`` those) and write ``size_report.json`` next to the zips."""
    check_interpreter()
    specs = load_function_specs(spec_path)
    on_disk = {p.parent.name for p in lambdas_dir.glob("*/handler.py")}
    unlisted = sorted(on_disk - set(specs))
    if unlisted:
        raise PackagingError(f"lambdas/{unlisted[0]}/handler.py is not listed in {spec_path.name}; add it there")
    names = only or sorted(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise PackagingError(f"unknown function(s) {unknown}; known: {sorted(specs)}")
    results = [build_function(specs[n], out_dir, lambdas_dir, lock=lock, rds_ca=rds_ca) for n in names]
    report = {
        "target": f"python{TARGET_PYTHON[0]}.{TARGET_PYTHON[1]} {TARGET_MACHINE}",
        "limits": {"zip_bytes": MAX_ZIP_BYTES, "unzipped_bytes_incl_layers": MAX_UNZIPPED_BYTES},
        "functions": {r.name: {**r.as_dict(), "pandas_layer": specs[r.name].pandas_layer} for r in results},
    }
    (out_dir / "size_report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return results


def format_report(results: list[BuildResult]) -> str:
    """Human-readable size table (largest bundled distributions per function)."""
    lines = [f"{'function':<24}{'zip MB':>9}{'unzipped MB':>13}{'files':>7}  largest parts"]
    for r in results:
        top = sorted(r.distributions.items(), key=lambda kv: -kv[1])[:3]
        parts = ", ".join(f"{k} {v / 1e6:.1f}" for k, v in top)
        lines.append(f"{r.name:<24}{r.zip_bytes / 1e6:>9.2f}{r.unzipped_bytes / 1e6:>13.2f}{r.files:>7}  {parts}")
    return "\n".join(lines)
