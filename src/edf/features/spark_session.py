"""One local/cluster Spark session configured the way the feature code assumes.

The settings that matter for correctness live here, not in each caller: the session time zone is
UTC (timestamps in the contract are UTC instants), Parquet timestamps are written as
``TIMESTAMP_MICROS`` adjusted to UTC (so pandas/pyarrow read them back as tz-aware UTC), and the
Python workers run the same interpreter as the driver (so pyarrow/pvlib are importable).
"""

from __future__ import annotations

import os
import sys
import threading

import pandas as pd

_lock = threading.Lock()
_session = None
# EDF_SPARK_MASTER value meaning "the launcher already chose the master" (spark-submit, AWS Glue):
# the session must not override it with a local one.
SUBMITTED_MASTER = "submitted"


def cluster_settings(master: str) -> dict[str, str]:
    """Executor sizing for a standalone cluster (``spark://``), from the launcher's environment.

    ``edf_local.spark_cluster`` exports ``EDF_SPARK_EXECUTOR_CORES/_MEMORY`` and ``EDF_SPARK_CORES_MAX``
    so the application takes one executor per worker; the executors' Python workers get the
    driver's ``PYTHONPATH`` so they import the same ``edf`` code.
    """
    if not master.startswith("spark://"):
        return {}
    settings = {"spark.executor.cores": os.environ.get("EDF_SPARK_EXECUTOR_CORES", "1"),
                "spark.executor.memory": os.environ.get("EDF_SPARK_EXECUTOR_MEMORY", "1g")}
    if os.environ.get("EDF_SPARK_CORES_MAX"):
        settings["spark.cores.max"] = os.environ["EDF_SPARK_CORES_MAX"]
    if os.environ.get("PYTHONPATH"):
        settings["spark.executorEnv.PYTHONPATH"] = os.environ["PYTHONPATH"]
    return settings


def get_spark(master: str | None = None, app_name: str = "edf", shuffle_partitions: int | None = None):
    """Return the process-wide SparkSession, creating it on first use."""
    global _session
    with _lock:
        if _session is not None and not _session.sparkContext._jsc.sc().isStopped():
            return _session
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        master = master or os.environ.get("EDF_SPARK_MASTER", "local[2]")
        partitions = shuffle_partitions or int(os.environ.get("EDF_SPARK_SHUFFLE_PARTITIONS", "8"))
        builder = SparkSession.builder
        if master != SUBMITTED_MASTER:
            builder = builder.master(master)
        builder = (
            builder.appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", str(partitions))
            .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.driver.memory", os.environ.get("EDF_SPARK_DRIVER_MEMORY", "4g"))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.driver.extraJavaOptions", "-Dderby.system.home=/tmp/derby")
        )
        for key, value in cluster_settings(master).items():
            builder = builder.config(key, value)
        _session = builder.getOrCreate()
        _session.sparkContext.setLogLevel(os.environ.get("EDF_SPARK_LOG_LEVEL", "ERROR"))
        return _session


def to_pandas_utc(df) -> pd.DataFrame:
    """Collect a Spark DataFrame, restoring tz-aware UTC on every timestamp column."""
    frame = df.toPandas()
    for name, dtype in df.dtypes:
        if dtype.startswith("timestamp") and name in frame:
            col = pd.to_datetime(frame[name])
            frame[name] = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
    return frame


def from_pandas(spark, frame: pd.DataFrame):
    """Create a Spark DataFrame from pandas; tz-aware timestamps become UTC instants."""
    converted = frame.copy()
    for name in converted.columns:
        if isinstance(converted[name].dtype, pd.DatetimeTZDtype):
            converted[name] = converted[name].dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        elif pd.api.types.is_datetime64_dtype(converted[name]):
            converted[name] = converted[name].astype("datetime64[us]")
    for name in converted.columns:
        if pd.api.types.is_string_dtype(converted[name]) and not pd.api.types.is_object_dtype(converted[name]):
            converted[name] = converted[name].astype(object)
    return spark.createDataFrame(converted)


def executor_task_counts(spark) -> dict[str, int]:
    """Tasks completed per executor (``host:port`` of executor id), from the driver's status store.

    Reported in every feature job summary: on a cluster it shows how the work spread over the
    executors (a job that ran on one of them would show it here); in ``local[N]`` mode the
    driver is the only executor.
    """
    try:
        listing = spark.sparkContext._jsc.sc().statusStore().executorList(True)
        found = {}
        for i in range(listing.size()):
            summary = listing.apply(i)
            found[f"{summary.id()}@{summary.hostPort()}"] = int(summary.completedTasks())
        return found
    except Exception:  # noqa: BLE001 - diagnostics only: a Spark build without this API must not fail the job
        return {}
