"""Benchmark: training feature engineering throughput on synthetic data (PySpark).

For 100 and 1,000 synthetic buildings x 1 year (labelled synthetic, `edf.data.synth`), run the
training mode of the features job end to end — read Parquet, build origin-aware features for one
origin per day and a 72 h horizon, write train/eval/series Parquet — and report input rows per
second and output feature rows per second, plus the ratio between the two sizes (1.0 = linear
scaling). Peak memory is the driver process's RSS high-water mark (the JVM's heap is inside it).

    .venv/bin/python bench/features.py [--sizes 100 1000] [--days 365]

``--cluster`` instead runs the same job on a Spark standalone cluster on 127.0.0.1 (a master and
workers started from pyspark's launcher, ``edf_local.spark_cluster``) with 1 and then 2 workers of
one core each, on the same data (default 1,000 buildings x 90 days), and reports the throughput
ratio (2.0 = perfect scaling). The job runs as a subprocess, as on Glue; ``peak_rss_mb`` is the
largest finished child (the job's driver JVM), executors are capped by ``--executor-memory``.
The machine's load average is printed with each case: other work on the same cores depresses
the ratio.

    .venv/bin/python bench/features.py --cluster [--workers 1 2] [--cluster-size 1000] [--cluster-days 90]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_mb() -> float:
    # children = the Spark JVM; self = the Python driver
    return round(max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                     resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024, 1)


def cluster_case(workers: int, paths: dict[str, str], out: Path, size: int, days: int, executor_memory: str) -> dict:
    """One run of the training feature job on a fresh standalone cluster of ``workers`` one-core workers."""
    import os
    import subprocess

    from edf_local.spark_cluster import StandaloneCluster

    load_before = os.getloadavg()
    with StandaloneCluster(workers=workers, cores_per_worker=1, worker_memory="3g",
                           executor_memory=executor_memory) as cluster:
        env = {**os.environ, **cluster.environment()}
        command = [sys.executable, "-m", "edf.jobs.features", "--mode", "training", "--processed",
                   paths["processed_edf_data"], "--topology", paths["topology"], "--output", str(out)]
        t0 = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        worker_tasks = cluster.finished_tasks_per_worker()
    summary = json.loads((out / "_summary.json").read_text())
    input_rows = size * days * 24
    return {"bench": "features", "case": f"standalone_{workers}_worker{'s' if workers > 1 else ''}_{size}x{days}",
            "seconds": round(seconds, 2), "input_rows": input_rows,
            "feature_rows": summary["train_rows"] + summary["eval_rows"],
            "rows_per_s": round(input_rows / seconds), "peak_rss_mb": peak_mb(),
            "tasks_per_worker": worker_tasks, "load_avg_before": [round(x, 2) for x in load_before],
            "load_avg_after": [round(x, 2) for x in os.getloadavg()]}


def run_cluster(args: argparse.Namespace) -> int:
    from edf.data import synth

    results = []
    with tempfile.TemporaryDirectory(prefix="edf-bench-cluster-") as tmp:
        t0 = time.time()
        paths = synth.write(synth.generate(args.cluster_size, args.cluster_days), Path(tmp) / "data")
        print(f"synthetic data ({args.cluster_size} x {args.cluster_days} d) in {time.time() - t0:.1f}s",
              file=sys.stderr, flush=True)
        for workers in args.workers:
            row = cluster_case(workers, paths, Path(tmp) / f"out-{workers}", args.cluster_size,
                               args.cluster_days, args.executor_memory)
            print(f"[{workers} worker(s)] {row['seconds']:.1f}s, {row['rows_per_s']:,} input rows/s, "
                  f"load {row['load_avg_before']}", file=sys.stderr, flush=True)
            print(json.dumps(row), flush=True)
            results.append(row)
    if len(results) >= 2:
        ratio = results[-1]["rows_per_s"] / results[0]["rows_per_s"]
        print(json.dumps({"bench": "features", "case": f"ratio_{results[-1]['case']}_over_{results[0]['case']}",
                          "throughput_ratio": round(ratio, 3)}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--cluster", action="store_true", help="standalone cluster, 1 vs 2 one-core workers")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cluster-size", type=int, default=1000)
    parser.add_argument("--cluster-days", type=int, default=90)
    parser.add_argument("--executor-memory", default="2g")
    args = parser.parse_args()
    if args.cluster:
        return run_cluster(args)

    from edf.data import synth
    from edf.jobs.features import parse_args, run

    results = []
    with tempfile.TemporaryDirectory(prefix="edf-bench-features-") as tmp:
        # warm-up: start Spark and JIT paths on a tiny set so the first size is not charged for it
        warm = Path(tmp) / "warm"
        paths = synth.write(synth.generate(3, 20), warm)
        run(parse_args(["--mode", "training", "--processed", paths["processed_edf_data"],
                        "--topology", paths["topology"], "--output", str(warm / "features")]))
        for size in args.sizes:
            folder = Path(tmp) / f"n{size}"
            t0 = time.time()
            paths = synth.write(synth.generate(size, args.days), folder)
            gen_seconds = time.time() - t0
            print(f"[{size} buildings] synthetic data generated in {gen_seconds:.1f}s; building features ...",
                  file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            summary = run(parse_args(["--mode", "training", "--processed", paths["processed_edf_data"],
                                      "--topology", paths["topology"], "--output", str(folder / "features")]))
            seconds = time.perf_counter() - t0
            input_rows = size * args.days * 24
            feature_rows = summary["train_rows"] + summary["eval_rows"]
            results.append({"bench": "features", "case": f"{size}x{args.days}d", "seconds": round(seconds, 2),
                            "input_rows": input_rows, "feature_rows": feature_rows,
                            "input_rows_per_s": round(input_rows / seconds),
                            "feature_rows_per_s": round(feature_rows / seconds), "peak_rss_mb": peak_mb()})
            print(f"[{size} buildings] {seconds:.1f}s, {input_rows / seconds:,.0f} input rows/s, "
                  f"{feature_rows / seconds:,.0f} feature rows/s", file=sys.stderr, flush=True)
    if len(results) >= 2:
        small, large = results[0], results[-1]
        ratio = large["input_rows_per_s"] / small["input_rows_per_s"]
        print(f"throughput ratio {large['case']} / {small['case']}: {ratio:.2f} (1.0 = linear scaling)",
              file=sys.stderr)
        results.append({"bench": "features", "case": f"ratio_{large['case']}_over_{small['case']}",
                        "throughput_ratio": round(ratio, 3)})
    for row in results:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
