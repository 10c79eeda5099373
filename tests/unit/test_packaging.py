"""Lambda zips: reproducible bytes, the right contents, the runtime/layer split, clear errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from edf.packaging import lambdas as pk

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def lambdas_dir(tmp_path):
    d = tmp_path / "lambdas" / "hello"
    d.mkdir(parents=True)
    (d / "handler.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (d / "__pycache__").mkdir()
    (d / "__pycache__" / "handler.cpython-311.pyc").write_bytes(b"junk")
    return tmp_path / "lambdas"


def _spec(requirements=("annotated-types",), pandas_layer=False):
    return pk.FunctionSpec("hello", tuple(requirements), pandas_layer)


def test_same_inputs_give_the_same_bytes(lambdas_dir, tmp_path):
    a = pk.build_function(_spec(), tmp_path / "a", lambdas_dir)
    b = pk.build_function(_spec(), tmp_path / "b", lambdas_dir)
    assert a.zip_path.read_bytes() == b.zip_path.read_bytes()
    assert a.sha256 == b.sha256


def test_a_code_change_changes_the_bytes(lambdas_dir, tmp_path):
    a = pk.build_function(_spec(), tmp_path / "a", lambdas_dir)
    (lambdas_dir / "hello" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    b = pk.build_function(_spec(), tmp_path / "b", lambdas_dir)
    assert a.sha256 != b.sha256


def test_contents_handler_edf_and_dependencies_only(lambdas_dir, tmp_path):
    result = pk.build_function(_spec(), tmp_path / "out", lambdas_dir)
    with zipfile.ZipFile(result.zip_path) as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert "handler.py" in names
    assert "edf/config.py" in names and "edf/__init__.py" in names
    assert any(n.startswith("annotated_types/") for n in names)
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any(n.startswith("edf/data/bundled/") for n in names)
    assert not any(n.endswith(".dist-info/RECORD") or n.endswith(".dist-info/INSTALLER") for n in names)
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert result.files == len(names)
    assert result.distributions["handler"] > 0 and result.distributions["edf"] > 0


def test_runtime_and_layer_libraries_are_not_bundled():
    closure = {d.metadata["Name"].lower() for d in pk.dependency_closure(("boto3", "PyYAML"), pk.RUNTIME_PROVIDED)}
    assert closure == {"pyyaml"}
    with_layer = pk.dependency_closure(("pandas",), pk.RUNTIME_PROVIDED | pk.PANDAS_LAYER_PROVIDED)
    assert with_layer == []
    without_layer = {d.metadata["Name"].lower() for d in pk.dependency_closure(("pandas",), pk.RUNTIME_PROVIDED)}
    assert {"pandas", "numpy"} <= without_layer
    assert "python-dateutil" not in without_layer  # the runtime ships it


def test_missing_handler_is_a_clear_error(tmp_path):
    (tmp_path / "lambdas").mkdir()
    with pytest.raises(pk.PackagingError, match="handler.py does not exist"):
        pk.build_function(_spec(), tmp_path / "out", tmp_path / "lambdas")


def test_unknown_distribution_is_a_clear_error(lambdas_dir, tmp_path):
    with pytest.raises(pk.PackagingError, match="not installed"):
        pk.build_function(_spec(("no-such-distribution-xyz",)), tmp_path / "out", lambdas_dir)


def test_unlisted_handler_is_refused(lambdas_dir, tmp_path):
    spec = tmp_path / "functions.json"
    spec.write_text(json.dumps({"other": {"requirements": [], "pandas_layer": False}}))
    with pytest.raises(pk.PackagingError, match="not listed"):
        pk.build_all(tmp_path / "out", lambdas_dir=lambdas_dir, spec_path=spec)


def test_build_all_writes_a_size_report(lambdas_dir, tmp_path):
    spec = tmp_path / "functions.json"
    spec.write_text(json.dumps({"hello": {"requirements": ["annotated-types"], "pandas_layer": True}}))
    results = pk.build_all(tmp_path / "out", lambdas_dir=lambdas_dir, spec_path=spec)
    report = json.loads((tmp_path / "out" / "size_report.json").read_text())
    assert report["functions"]["hello"]["zip_bytes"] == results[0].zip_bytes
    assert report["functions"]["hello"]["pandas_layer"] is True
    assert "hello" in pk.format_report(results)


def test_oversized_zip_is_refused(lambdas_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(pk, "MAX_UNZIPPED_BYTES", 1000)
    with pytest.raises(pk.PackagingError, match="exceeds the Lambda quota"):
        pk.build_function(_spec(), tmp_path / "out", lambdas_dir)


def test_malformed_spec_is_refused(tmp_path):
    spec = tmp_path / "functions.json"
    spec.write_text(json.dumps({"hello": {"requirements": []}}))
    with pytest.raises(pk.PackagingError, match="exactly the keys"):
        pk.load_function_specs(spec)


def test_functions_json_lists_every_handler_in_the_repository():
    specs = pk.load_function_specs()
    on_disk = {p.parent.name for p in (REPO / "lambdas").glob("*/handler.py")}
    assert set(specs) == on_disk
    # Lambdas that read Parquet get pandas from the managed layer, never bundled.
    assert specs["load_forecasts"].pandas_layer
    for spec in specs.values():
        assert not {r.lower() for r in spec.requirements} & (pk.RUNTIME_PROVIDED | pk.PANDAS_LAYER_PROVIDED)


@pytest.mark.slow
def test_deployed_zips_carry_no_emulation_module(tmp_path):
    """`make package` (python -m edf.packaging) on the real handlers: edf only, nothing of edf_local or moto."""
    from edf.packaging.__main__ import main

    assert main(["--out", str(tmp_path), "--only", "load_forecasts", "b2c_api"]) == 0
    for name in ("load_forecasts", "b2c_api"):
        with zipfile.ZipFile(tmp_path / f"{name}.zip") as zf:
            names = zf.namelist()
        assert "edf/storage/lambda_load.py" in names or "edf/serving/b2c.py" in names
        top = {n.split("/", 1)[0] for n in names}
        assert not top & {"edf_local", "moto"}, f"{name}: emulation in the zip: {sorted(top & {'edf_local', 'moto'})}"
        emulation = [n for n in names if n.startswith("edf/") and ("local" in n.split("/")[-1] or "/local/" in n)]
        assert emulation == [], f"{name}: emulation modules in the zip: {emulation}"


# ------------------------------------------------------------------ lock file (issue 14, item 14)
def _lock(tmp_path, text):
    path = tmp_path / "test.lock"
    path.write_text(text)
    return path


def test_zip_refuses_a_distribution_installed_at_another_version_than_locked(lambdas_dir, tmp_path):
    import importlib.metadata as md

    real = md.version("annotated-types")
    ok = _lock(tmp_path, f"annotated-types=={real} \\\n    --hash=sha256:{'a' * 64}\n")
    pk.build_function(_spec(), tmp_path / "out", lambdas_dir, lock=ok)
    stale = _lock(tmp_path, f"annotated-types==0.0.1 \\\n    --hash=sha256:{'a' * 64}\n")
    with pytest.raises(pk.PackagingError, match=rf"annotated-types is {real}, locked 0.0.1"):
        pk.build_function(_spec(), tmp_path / "out", lambdas_dir, lock=stale)


def test_zip_refuses_a_distribution_missing_from_the_lock(lambdas_dir, tmp_path):
    other = _lock(tmp_path, f"six==1.17.0 \\\n    --hash=sha256:{'b' * 64}\n")
    with pytest.raises(pk.PackagingError, match="annotated-types .* is not in test.lock"):
        pk.build_function(_spec(), tmp_path / "out", lambdas_dir, lock=other)


def test_a_lock_without_hashes_is_refused(tmp_path):
    from edf.packaging.lock import LockMismatch, read_lock

    with pytest.raises(LockMismatch, match="without --hash"):
        read_lock(_lock(tmp_path, "pydantic==2.0\n"))


@pytest.mark.parametrize("name", ["dev.lock", "image.lock", "ci-tools.lock"])
def test_committed_locks_pin_every_package_with_hashes(name):
    from edf.packaging.lock import read_lock

    pins = read_lock(REPO / "requirements" / name)
    assert len(pins) > 5


def test_image_and_dev_locks_agree_and_cover_every_lambda_requirement():
    """One resolution: the image, the zips and CI carry the same version of each shared package."""
    from edf.packaging.lock import read_lock

    dev, image = read_lock(REPO / "requirements/dev.lock"), read_lock(REPO / "requirements/image.lock")
    shared = set(dev) & set(image)
    assert {k: image[k] for k in shared} == {k: dev[k] for k in shared}
    for spec in pk.load_function_specs().values():
        for req in spec.requirements:
            assert pk._norm(req) in dev, req


def test_make_package_checks_the_lock():
    text = (REPO / "Makefile").read_text()
    assert "-m edf.packaging --lock requirements/dev.lock" in text


def test_rds_ca_bundle_is_shipped_in_psycopg_zips_only(lambdas_dir, tmp_path):
    pem = tmp_path / "bundle.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with_pg = pk.build_function(pk.FunctionSpec("hello", ("psycopg",), True), tmp_path / "a", lambdas_dir, rds_ca=pem)
    without = pk.build_function(_spec(), tmp_path / "b", lambdas_dir, rds_ca=pem)
    with zipfile.ZipFile(with_pg.zip_path) as zf:
        assert zf.read("certs/rds-global-bundle.pem") == pem.read_bytes()
    with zipfile.ZipFile(without.zip_path) as zf:
        assert "certs/rds-global-bundle.pem" not in zf.namelist()
    html = tmp_path / "error.html"
    html.write_text("<html>captive portal</html>")
    with pytest.raises(pk.PackagingError, match="not a PEM"):
        pk.build_function(pk.FunctionSpec("hello", ("psycopg",), True), tmp_path / "c", lambdas_dir, rds_ca=html)


def test_dev_lock_covers_every_pyproject_requirement():
    """A dependency added to pyproject.toml without `make lock` fails here, not in CI's locked install."""
    import tomllib

    from packaging.requirements import Requirement

    from edf.packaging.lock import read_lock

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"]) + [r for extra in project["optional-dependencies"].values() for r in extra]
    pins = read_lock(REPO / "requirements/dev.lock")
    missing = []
    for text in wanted:
        req = Requirement(text)
        version = pins.get(pk._norm(req.name))
        if version is None or not req.specifier.contains(version.split("+")[0], prereleases=True):
            missing.append(f"{text} (locked {version})")
    assert not missing, f"requirements/dev.lock is stale, run `make lock`: {missing}"
