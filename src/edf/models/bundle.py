"""The model bundle one training run produces: a demand model and a solar model.

Layout (what SageMaker tars into ``model.tar.gz``)::

    bundle.json                 strategy per target, training window, config hash
    consumption_kwh/            a saved ForecastModel (model_metadata.json + artifact)
    solar_generation_kwh/       present when the training data had PV readings
"""

from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

from edf.models import ForecastModel, ModelError, load_model

BUNDLE_FILE = "bundle.json"


def save_bundle(directory: str | Path, models: dict[str, ForecastModel], config_hash: str, extra: dict | None = None) -> dict:
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    manifest = {"config_hash": config_hash, "targets": {}, **(extra or {})}
    for target, model in models.items():
        model.save(root / target)
        manifest["targets"][target] = {"strategy": model.strategy, "training_window": model.training_window,
                                       "path": target}
    (root / BUNDLE_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


def locate_bundle(path: str | Path) -> Path:
    """The extracted bundle directory for a folder that holds bundle.json or a model.tar.gz."""
    root = Path(path)
    if root.is_file() and root.name.endswith(".tar.gz"):
        tarball = root
    elif (root / BUNDLE_FILE).is_file():
        return root
    else:
        found = sorted(root.rglob("model.tar.gz")) if root.is_dir() else []
        if not found:
            nested = sorted(root.rglob(BUNDLE_FILE)) if root.is_dir() else []
            if nested:
                return nested[0].parent
            raise ModelError(f"{path} holds neither {BUNDLE_FILE} nor model.tar.gz")
        tarball = found[0]
    target = Path(tempfile.mkdtemp(prefix="edf-model-"))
    with tarfile.open(tarball, "r:gz") as tar:
        tar.extractall(target, filter="data")
    if not (target / BUNDLE_FILE).is_file():
        nested = sorted(target.rglob(BUNDLE_FILE))
        if not nested:
            raise ModelError(f"{tarball} does not contain {BUNDLE_FILE}")
        return nested[0].parent
    return target


def load_bundle(path: str | Path) -> tuple[dict, dict[str, ForecastModel]]:
    root = locate_bundle(path)
    manifest = json.loads((root / BUNDLE_FILE).read_text())
    models = {target: load_model(root / spec["path"]) for target, spec in manifest["targets"].items()}
    return manifest, models


def fetch_bundle(location: str | Path) -> tuple[dict, dict[str, ForecastModel]]:
    """:func:`load_bundle` for a local path or an ``s3://`` URI of a ``model.tar.gz`` (downloaded first)."""
    text = str(location)
    if not text.startswith("s3://"):
        return load_bundle(text)
    from edf.data.io import download

    with tempfile.TemporaryDirectory(prefix="edf-bundle-") as tmp:
        return load_bundle(download(text, Path(tmp)))


def make_tarball(model_dir: str | Path, tarball: str | Path) -> Path:
    """Tar a model directory the way SageMaker does (contents at the archive root)."""
    model_dir, tarball = Path(model_dir), Path(tarball)
    tarball.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "w:gz") as tar:
        for item in sorted(model_dir.iterdir()):
            tar.add(item, arcname=item.name)
    return tarball
