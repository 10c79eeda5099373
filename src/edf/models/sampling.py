"""Bounded training memory: a deterministic sample of forecast origins when a portfolio outgrows the cap.

A year of daily origins for 1,000 buildings is 25.6 million feature rows (about 12 GB in pandas); for
10,000 buildings it would be ten times that. The training job therefore reads its channel in
batches and keeps at most ``edf_training.max_training_rows`` rows, under one rule:

* the unit of sampling is a *forecast origin of a building* — all leads of a (building, origin)
  pair are kept or dropped together, so every kept example is a complete forecast;
* the choice is a hash of (building, origin, seed) below the kept fraction — the same data and seed
  always give the same sample (re-runs and the evaluation job agree), and every building and every
  season keep about the same share;
* below the cap nothing is dropped.

Memory is the kept rows plus one record batch, whatever the channel's size.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edf.data import contract as c
from edf.data.feature_names import ORIGIN

log = logging.getLogger(__name__)
_BUCKETS = 1_000_000


@dataclass(frozen=True)
class SampleInfo:
    """What the sampler did, for the job summary and the model manifest."""

    rows_available: int
    rows_kept: int
    fraction: float
    cap: int | None
    seed: int

    def to_dict(self) -> dict:
        return {"rows_available": self.rows_available, "rows_kept": self.rows_kept,
                "fraction": round(self.fraction, 6), "cap": self.cap, "seed": self.seed}


def keep_mask(frame: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """True for the rows of the (building, origin) pairs the sample keeps."""
    if fraction >= 1.0:
        return np.ones(len(frame), dtype=bool)
    keys = pd.DataFrame({"b": frame[c.BUILDING_ID].astype(str),
                         "o": pd.to_datetime(frame[ORIGIN], utc=True).dt.as_unit("ns").astype("int64")})
    hashed = pd.util.hash_pandas_object(keys, index=False, hash_key=f"{seed:016d}"[-16:]).to_numpy()
    return (hashed % _BUCKETS) < int(fraction * _BUCKETS)


def sample_origins(frame: pd.DataFrame, cap: int | None, seed: int) -> tuple[pd.DataFrame, SampleInfo]:
    """The in-memory form (backtests): ``frame`` itself when within the cap, else its origin sample."""
    fraction = 1.0 if cap is None or len(frame) <= cap else cap / len(frame)
    kept = frame if fraction >= 1.0 else frame[keep_mask(frame, fraction, seed)].reset_index(drop=True)
    return kept, SampleInfo(len(frame), len(kept), fraction, cap, seed)


def read_training_rows(location: str | Path, cap: int | None, seed: int,
                       batch_rows: int = 250_000) -> tuple[pd.DataFrame, SampleInfo]:
    """A training channel (Parquet file or folder), sampled by origin to at most about ``cap`` rows."""
    import pyarrow.parquet as pq

    from edf.data.io import DataNotFoundError, list_files

    files = list_files(location)
    if not files:
        raise DataNotFoundError(f"no Parquet files at {location}: the training channel is empty")
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    fraction = 1.0 if cap is None or total <= cap else cap / total
    parts = []
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_rows):
            frame = batch.to_pandas()
            parts.append(frame if fraction >= 1.0 else frame[keep_mask(frame, fraction, seed)])
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    info = SampleInfo(total, len(rows), fraction, cap, seed)
    if fraction < 1.0:
        log.info("training rows sampled by origin: kept %d of %d (%.1f %%; cap %d, seed %d)",
                 len(rows), total, 100 * fraction, cap, seed)
    return rows, info
