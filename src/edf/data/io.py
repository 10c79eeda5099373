"""Parquet writing that every reader in the system accepts.

pandas writes nanosecond timestamps by default, which Spark rejects
(``Illegal Parquet type: INT64 (TIMESTAMP(NANOS,true))``); Athena and awswrangler are happier
with microseconds too. Every pandas-side Parquet write goes through :func:`write_parquet`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def as_microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for name in out.columns:
        dtype = out[name].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = out[name].astype(f"datetime64[us, {dtype.tz}]")
        elif pd.api.types.is_datetime64_dtype(dtype):
            out[name] = out[name].astype("datetime64[us]")
    return out


def write_parquet(frame: pd.DataFrame, path: str | Path, **kwargs) -> None:
    """Write a DataFrame as one Parquet file with microsecond timestamps (zstd-compressed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    as_microseconds(frame).to_parquet(path, index=False, compression=kwargs.pop("compression", "zstd"), **kwargs)
