"""Reading the feature pipeline's inputs and writing its outputs (local paths or S3 via Spark).

Inputs may be a Parquet file or a directory of Parquet files, on the local disk (SageMaker
Processing copied them there, or the job fetched them: edf.data.partitions) or at an ``s3://`` URI (the job runs on a Spark cluster
- AWS Glue, docs/spark_engine.md - and reads S3 itself). ``processed_edf_data`` laid out in Hive
date partitions (``date=YYYY-MM-DD/``, the UTC date of ``timestamp_hour``) is read with partition
pruning: only the partitions of the dates a run needs are listed and read.

Outputs are Parquet directories that pandas, pyarrow, awswrangler and Spark all read; the feature
sets are written in partitions (``origin_date=...`` for feature rows, ``date=...`` for the hourly
series) so a reader can take a subset of days without listing or opening the rest. The partition
column is not stored inside the files, so reading one file gives exactly the feature columns.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from edf.data import contract as c

DATE_PARTITION = "date"  # processed_edf_data/date=YYYY-MM-DD/ (UTC date of timestamp_hour)
ORIGIN_PARTITION = "origin_date"  # feature rows: UTC date of origin_time
_DATE_DIR = re.compile(rf"^{DATE_PARTITION}=(\d{{4}}-\d{{2}}-\d{{2}})$")


def is_uri(path: str | Path) -> bool:
    """``s3://...`` (or any ``scheme://``) rather than a local path."""
    return "://" in str(path)


def join_path(base: str | Path, *parts: str) -> str:
    """``base/part/...`` for a local path or a URI (``Path`` would collapse ``s3://`` to ``s3:/``)."""
    if is_uri(base):
        return "/".join([str(base).rstrip("/"), *parts])
    return str(Path(base, *parts))


def _fs(spark, path: str):
    jvm = spark._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    return hpath.getFileSystem(spark._jsc.hadoopConfiguration()), hpath


def spark_reads(spark, uri: str) -> bool:
    """Whether this Spark can open ``uri`` itself (Glue's S3 filesystem), not only local paths.

    Spark here (SageMaker Processing, the local runtime) has no S3 filesystem (hadoop-aws); the job
    then fetches the objects it needs with boto3 first (edf.data.partitions).
    """
    try:
        _fs(spark, uri)
    except Exception:  # noqa: BLE001 - py4j wraps Hadoop's "No FileSystem for scheme" in a generic error
        return False
    return True


def list_files(spark, path: str | Path) -> list[str]:
    """Every file under ``path`` (recursive), through Spark's Hadoop filesystem (local, s3)."""
    fs, hpath = _fs(spark, str(path))
    if not fs.exists(hpath):
        return []
    found, it = [], fs.listFiles(hpath, True)
    while it.hasNext():
        found.append(str(it.next().getPath().toString()))
    return found


def has_parquet(spark, path: str | Path | None) -> bool:
    """True when ``path`` holds at least one Parquet file (local or URI)."""
    if path is None:
        return False
    if not is_uri(path):
        p = Path(path)
        return p.is_file() or (p.exists() and any(p.rglob("*.parquet")))
    return any(f.endswith(".parquet") for f in list_files(spark, path))


def date_partitions(spark, path: str | Path) -> dict[dt.date, str]:
    """``date=YYYY-MM-DD`` sub-directories of ``path`` (one listing of the top level), by date."""
    fs, hpath = _fs(spark, str(path))
    if not fs.exists(hpath) or not fs.getFileStatus(hpath).isDirectory():
        return {}
    found = {}
    for status in fs.listStatus(hpath):
        name = status.getPath().getName()
        m = _DATE_DIR.match(name)
        if status.isDirectory() and m:
            found[dt.date.fromisoformat(m.group(1))] = join_path(str(path), name)
    return found


def read_processed(spark, path: str | Path, start: dt.datetime | None = None, end: dt.datetime | None = None):
    """``processed_edf_data`` rows with ``start <= timestamp_hour < end`` (either bound optional).

    Date-partitioned data: only the partitions of the dates in the window are passed to Spark
    (``basePath`` set, so ``date`` stays a partition column) and a filter on ``date`` keeps the
    plan's pruning explicit - a daily run lists and reads its lookback window, not the history.
    Anything else (one file, a flat folder) is read whole and filtered on the timestamp.
    """
    from pyspark.sql import functions as F

    partitions = date_partitions(spark, path)
    if partitions:
        first = start.date() if start else min(partitions)
        last = (end - dt.timedelta(microseconds=1)).date() if end else max(partitions)
        chosen = [p for d, p in sorted(partitions.items()) if first <= d <= last]
        if not chosen:
            raise ValueError(f"no date partitions of {path} between {first} and {last} "
                             f"(it has {min(partitions)} .. {max(partitions)})")
        df = spark.read.option("basePath", str(path)).parquet(*chosen)
        df = df.where((F.col(DATE_PARTITION) >= F.lit(first.isoformat()).cast("date"))
                      & (F.col(DATE_PARTITION) <= F.lit(last.isoformat()).cast("date")))
    else:
        df = spark_read_parquet(spark, path)
    if start is not None:
        df = df.where(F.col(c.TIMESTAMP) >= F.lit(start).cast("timestamp"))
    if end is not None:
        df = df.where(F.col(c.TIMESTAMP) < F.lit(end).cast("timestamp"))
    return df


def spark_read_parquet(spark, path: str | Path):
    """Spark DataFrame from a Parquet file or directory (recursively)."""
    return spark.read.option("recursiveFileLookup", "true").parquet(str(path))


def write_parquet(df, path: str | Path, partitions: int | None = None) -> None:
    """Write a Spark DataFrame as a Parquet directory, replacing what was there."""
    out = df.repartition(partitions) if partitions else df
    out.write.mode("overwrite").parquet(str(path))


def write_partitioned(df, path: str | Path, column: str, source: str) -> None:
    """Write ``df`` partitioned by the UTC date of ``source`` as ``<column>=YYYY-MM-DD/`` directories.

    Rows are first shuffled by that date so each partition directory gets one file (instead of one
    per task and date), which keeps the file count proportional to days, not days x tasks.
    """
    from pyspark.sql import functions as F

    dated = df.withColumn(column, F.to_date(F.col(source)))
    dated.repartition(column).write.mode("overwrite").partitionBy(column).parquet(str(path))
    if not has_parquet(df.sparkSession, path):
        # no rows, so no partition: keep one schema-only file, as an unpartitioned write would
        df.limit(0).write.mode("append").parquet(str(path))


def write_text(path: str | Path, text: str) -> None:
    """Write a small text file (the job summary) locally or to ``s3://``."""
    if str(path).startswith("s3://"):
        import boto3

        bucket, _, key = str(path)[5:].partition("/")
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=text.encode())
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)
