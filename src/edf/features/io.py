"""Reading the feature pipeline's inputs and writing its outputs (local paths or S3 via Spark).

Inputs may be a Parquet file, a directory of Parquet files, or a CSV (topology). Outputs are
Parquet directories that pandas, pyarrow, awswrangler and Spark all read.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pandas as pd


def read_topology(path: str | Path) -> pd.DataFrame:
    """Topology from a CSV or Parquet file, or the first such file in a directory."""
    p = Path(path)
    if p.is_dir():
        found = sorted(glob.glob(str(p / "**" / "*.csv"), recursive=True)) or sorted(
            glob.glob(str(p / "**" / "*.parquet"), recursive=True))
        if not found:
            raise FileNotFoundError(f"no topology CSV or Parquet under {p}")
        p = Path(found[0])
    if p.suffix == ".csv":
        return pd.read_csv(p, dtype={"building_id": "string", "subdivision": "string"})
    return pd.read_parquet(p)


def spark_read_parquet(spark, path: str | Path):
    """Spark DataFrame from a Parquet file or directory (recursively)."""
    return spark.read.option("recursiveFileLookup", "true").parquet(str(path))


def write_parquet(df, path: str | Path, partitions: int | None = None) -> None:
    """Write a Spark DataFrame as a Parquet directory, replacing what was there."""
    out = df.repartition(partitions) if partitions else df
    out.write.mode("overwrite").parquet(str(path))
