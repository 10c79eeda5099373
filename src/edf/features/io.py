"""Spark-side reading and writing for the feature pipeline (the pandas side is :mod:`edf.data.io`).

Outputs are Parquet directories that pandas, pyarrow, awswrangler and Spark all read. The topology
is small and read with pandas (:func:`edf.data.topology.read_topology`).
"""

from __future__ import annotations

from pathlib import Path


def spark_read_parquet(spark, path: str | Path):
    """Spark DataFrame from a Parquet file or directory (recursively)."""
    return spark.read.option("recursiveFileLookup", "true").parquet(str(path))


def write_parquet(df, path: str | Path, partitions: int | None = None) -> None:
    """Write a Spark DataFrame as a Parquet directory, replacing what was there."""
    out = df.repartition(partitions) if partitions else df
    out.write.mode("overwrite").parquet(str(path))
