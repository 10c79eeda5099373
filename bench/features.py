"""Benchmark: training feature engineering throughput on synthetic data (PySpark, local[2]).

For 100 and 1,000 synthetic buildings x 1 year (labelled synthetic, `edf.data.synth`), run the
training mode of the features job end to end — read Parquet, build origin-aware features for one
origin per day and a 72 h horizon, write train/eval/series Parquet — and report input rows per
second and output feature rows per second, plus the ratio between the two sizes (1.0 = linear
scaling). Peak memory is the driver process's RSS high-water mark (the JVM's heap is inside it).

    .venv/bin/python bench/features.py [--sizes 100 1000] [--days 365]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

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
