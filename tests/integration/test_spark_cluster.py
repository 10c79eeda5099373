"""The feature job on a real multi-process Spark standalone cluster (master + 2 workers on 127.0.0.1).

Proves the job is cluster-ready, not only ``local[N]``-ready: its closures, pvlib/holidays and the
``edf`` package work in executor JVMs of other processes, every worker did part of the work (seen
both by the driver's executor list and in each worker's own executor logs), and the features are
frame-equal to the ``local[2]`` run on the same input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from spark_data import synthetic_inputs

from edf.data.io import read_parquet
from edf.models.base import utc_keys
from edf_local.spark_cluster import ClusterError, StandaloneCluster

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SRC = Path(__file__).resolve().parents[2] / "src"
# Small but real: 3 synthetic buildings x 16 days, one origin a day, 24 h horizon, 4 evaluation days.
OVERRIDES = {"edf_feature_eng": {"training_horizon_hours": 24, "eval_days": 4}}
KEYS = ["building_id", "origin_time", "timestamp_hour"]


def job_args(inputs: dict[str, str], output: Path) -> list[str]:
    return ["--mode", "training", "--processed", inputs["processed"], "--topology", inputs["topology"],
            "--output", str(output), "--overrides", json.dumps(OVERRIDES)]


def run_job(args: list[str], extra_env: dict[str, str], log: Path) -> dict:
    env = {**os.environ, **extra_env, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]), "EDF_SPARK_DRIVER_MEMORY": "1g"}
    with open(log, "wb") as out:
        code = subprocess.run([sys.executable, "-m", "edf.jobs.features", *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=1500).returncode
    assert code == 0, f"features job failed; log {log}:\n{log.read_text()[-3000:]}"
    return json.loads((Path(args[args.index("--output") + 1]) / "_summary.json").read_text())


def frame(folder: Path) -> pd.DataFrame:
    rows = utc_keys(read_parquet(folder))
    return rows.sort_values([k for k in KEYS if k in rows]).reset_index(drop=True)


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    inputs = synthetic_inputs(root, buildings=3, days=16)
    with StandaloneCluster(workers=2, cores_per_worker=1, worker_memory="1g", executor_memory="768m",
                           root=root / "spark") as cluster:
        assert len([w for w in cluster.state()["workers"] if w["state"] == "ALIVE"]) == 2
        summary = run_job(job_args(inputs, root / "on-cluster"), cluster.environment(), root / "cluster-job.log")
        state = cluster.state()
        worker_tasks = cluster.finished_tasks_per_worker()
    return {"root": root, "inputs": inputs, "summary": summary, "state": state, "worker_tasks": worker_tasks}


def test_both_workers_ran_tasks_of_the_feature_job(cluster_run):
    executors = {k: v for k, v in cluster_run["summary"]["executors"].items() if not k.startswith("driver@")}
    assert len(executors) == 2, cluster_run["summary"]["executors"]  # one executor per worker, no local mode
    assert all(tasks > 0 for tasks in executors.values()), executors
    # the workers' own executor logs agree: each worker finished tasks of this application
    assert set(cluster_run["worker_tasks"]) == {"worker-0", "worker-1"}
    assert all(n > 0 for n in cluster_run["worker_tasks"].values()), cluster_run["worker_tasks"]
    assert sum(cluster_run["worker_tasks"].values()) == sum(executors.values())
    apps = [a for key in ("activeapps", "completedapps") for a in cluster_run["state"].get(key, [])
            if a["name"] == "edf-features-training"]
    assert apps, "the master did not record the job as one of its applications"


def test_cluster_features_are_frame_equal_to_local_mode(cluster_run, spark):
    """The same job in this process's shared local[2] session (see conftest) gives the same frames."""
    from edf.jobs.features import parse_args, run

    assert spark.sparkContext.master == "local[2]"
    root = cluster_run["root"]
    local = run(parse_args(job_args(cluster_run["inputs"], root / "local")))
    assert set(local["executors"]) == {k for k in local["executors"] if k.startswith("driver@")}
    assert cluster_run["summary"]["train_rows"] == local["train_rows"] > 0
    assert cluster_run["summary"]["eval_rows"] == local["eval_rows"] > 0
    for part in ("train", "eval", "series"):
        pd.testing.assert_frame_equal(frame(root / "on-cluster" / part), frame(root / "local" / part),
                                      check_exact=False, rtol=1e-12)


def test_a_cluster_that_cannot_start_says_why_and_keeps_its_logs(tmp_path):
    cluster = StandaloneCluster(workers=1, worker_memory="not-a-size", root=tmp_path, start_timeout_s=60)
    with pytest.raises(ClusterError, match=r"worker-0 exited|did not register") as info:
        cluster.start()
    assert (tmp_path / "worker-0.log").is_file() and str(tmp_path) in str(info.value)
    assert all(d.process.poll() is not None for d in cluster._daemons) or not cluster._daemons
