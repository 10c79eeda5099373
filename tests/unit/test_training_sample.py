"""Training memory is bounded: above the cap, whole (building, origin) forecasts are sampled deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from edf.data.io import write_parquet
from edf.models.sampling import read_training_rows, sample_origins


def _rows(buildings: int = 40, origins: int = 50, leads: int = 24) -> pd.DataFrame:
    b = np.repeat([f"b{i}" for i in range(buildings)], origins * leads)
    o = np.tile(np.repeat(pd.date_range("2024-01-01", periods=origins, freq="D", tz="UTC"), leads), buildings)
    return pd.DataFrame({"building_id": b, "origin_time": o, "lead_hours": np.tile(np.arange(leads), buildings * origins),
                         "x": np.arange(buildings * origins * leads, dtype=float)})


def test_below_the_cap_nothing_is_dropped():
    rows = _rows()
    kept, info = sample_origins(rows, cap=len(rows), seed=1)
    assert kept is rows and info.rows_kept == info.rows_available == len(rows) and info.fraction == 1.0
    assert sample_origins(rows, cap=None, seed=1)[1].rows_kept == len(rows)


def test_sample_keeps_whole_origins_every_building_and_is_deterministic():
    rows = _rows()
    kept, info = sample_origins(rows, cap=len(rows) // 4, seed=3)
    assert 0.2 * len(rows) < len(kept) < 0.3 * len(rows)
    per_pair = kept.groupby(["building_id", "origin_time"]).size()
    assert (per_pair == 24).all()  # all leads of a kept forecast
    assert kept["building_id"].nunique() == 40  # no building disappears
    again, _ = sample_origins(rows, cap=len(rows) // 4, seed=3)
    pd.testing.assert_frame_equal(kept, again)
    other, _ = sample_origins(rows, cap=len(rows) // 4, seed=4)
    assert not kept[["building_id", "origin_time"]].equals(other[["building_id", "origin_time"]])


@pytest.mark.parametrize("parts", [1, 3])
def test_streamed_read_matches_the_in_memory_sample(tmp_path, parts):
    rows = _rows()
    for i, chunk in enumerate(np.array_split(rows, parts)):
        write_parquet(chunk, tmp_path / f"part-{i}.parquet")
    streamed, info = read_training_rows(tmp_path, cap=len(rows) // 5, seed=9, batch_rows=1000)
    in_memory, _ = sample_origins(rows, cap=len(rows) // 5, seed=9)
    assert info.rows_available == len(rows) and info.rows_kept == len(streamed) == len(in_memory)
    pd.testing.assert_frame_equal(streamed.reset_index(drop=True), in_memory.reset_index(drop=True),
                                  check_dtype=False)
