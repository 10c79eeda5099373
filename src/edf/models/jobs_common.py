"""What the model job entrypoints share: reading channel folders (the /opt/ml root is edf.jobs.entrypoint)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from edf.models.base import ModelError, utc_keys

log = logging.getLogger(__name__)


def read_frame(path: str | Path, required: bool = True) -> pd.DataFrame | None:
    """A Parquet file or folder (e.g. Spark's part files) as pandas with UTC timestamps."""
    p = Path(path)
    files = [p] if p.is_file() else (sorted(f for f in p.rglob("*.parquet") if not f.name.startswith((".", "_")))
                                     if p.is_dir() else [])
    if not files:
        if required:
            raise ModelError(f"no Parquet data at {p}")
        return None
    frame = pd.read_parquet(p) if p.is_file() else pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return utc_keys(frame)
