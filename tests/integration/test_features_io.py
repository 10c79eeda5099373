"""Cluster-ready I/O of the feature job: partition-pruned reads, partitioned writes, URIs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from spark_data import synthetic_inputs

from edf.features.io import (
    date_partitions,
    join_path,
    read_processed,
    spark_read_parquet,
    write_partitioned,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return synthetic_inputs(tmp_path_factory.mktemp("io"), buildings=2, days=10)


def test_read_processed_lists_and_reads_only_the_window_dates(spark, inputs):
    root = inputs["processed"]
    assert len(date_partitions(spark, root)) == 10
    start, end = dt.datetime(2023, 1, 4), dt.datetime(2023, 1, 6)
    df = read_processed(spark, root, start, end)
    files = df.inputFiles()
    read_dates = sorted({f.split("date=")[1][:10] for f in files})
    assert read_dates == ["2023-01-04", "2023-01-05"]  # not the other eight days
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters" in plan and "date" in plan  # the filter is on the partition column
    rows = df.select("timestamp_hour").toPandas()["timestamp_hour"]
    assert rows.min() == pd.Timestamp("2023-01-04") and rows.max() == pd.Timestamp("2023-01-05 23:00")
    assert len(rows) == 2 * 48


def test_read_processed_open_window_reads_every_partition_and_a_flat_file_still_works(spark, inputs, tmp_path):
    everything = read_processed(spark, inputs["processed"])
    assert everything.count() == 2 * 10 * 24
    flat = tmp_path / "flat"
    everything.drop("date").coalesce(1).write.parquet(str(flat))  # one folder, no date partitions
    windowed = read_processed(spark, str(flat), dt.datetime(2023, 1, 2), dt.datetime(2023, 1, 3))
    assert windowed.count() == 2 * 24


def test_window_outside_the_data_is_a_clear_error(spark, inputs):
    with pytest.raises(ValueError, match="no date partitions .* between 2030-01-01"):
        read_processed(spark, inputs["processed"], dt.datetime(2030, 1, 1), dt.datetime(2030, 1, 2))


def test_write_partitioned_one_folder_per_day_without_the_column_in_the_files(spark, inputs, tmp_path):
    import pyarrow.parquet as pq

    df = read_processed(spark, inputs["processed"]).drop("date")
    out = tmp_path / "series"
    write_partitioned(df, out, "date", "timestamp_hour")
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [f"date=2023-01-{d:02d}" for d in range(1, 11)]
    files = list(out.rglob("*.parquet"))
    assert len(files) == 10  # shuffled by day: one file per partition
    assert "date" not in pq.read_schema(files[0]).names
    assert spark_read_parquet(spark, out).count() == df.count()


def test_write_partitioned_empty_frame_keeps_a_schema_file(spark, inputs, tmp_path):
    df = read_processed(spark, inputs["processed"]).drop("date").limit(0)
    out = tmp_path / "empty"
    write_partitioned(df, out, "date", "timestamp_hour")
    assert spark_read_parquet(spark, out).columns == df.columns


def test_join_path_keeps_uri_schemes_and_spark_here_has_no_s3(spark, inputs):
    from edf.features.io import spark_reads

    assert join_path("s3://bucket/features/x", "train") == "s3://bucket/features/x/train"
    assert join_path("s3://bucket/features/x/", "train") == "s3://bucket/features/x/train"
    assert spark_reads(spark, "file://" + str(inputs["topology"]))
    # no hadoop-aws here: the job fetches the partitions it needs with boto3 instead (edf.data.partitions)
    assert not spark_reads(spark, "s3://bucket/processed_edf_data/")
