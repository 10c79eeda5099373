"""``edf demo``: run what the system has end to end on the bundled real data."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="run the system locally on the bundled real data",
                       description="Validate the bundled data, then build training and inference features "
                       "with PySpark and print a summary.")
    d.add_argument("--workdir", default=None, help="keep outputs here (default: a temporary folder)")
    d.add_argument("--no-serve", action="store_true", help="exit after the summary (no local API server)")
    d.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from edf.data import bundled
    from edf.data.io import write_parquet
    from edf.data.validation import validate_processed
    from edf.jobs.features import parse_args, run

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="edf-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"EDF demo — working in {workdir}", flush=True)
    homes = bundled.load_homes()
    report = validate_processed(homes)
    print(f"[1/3] validate bundled homes: {report.rows} rows, {report.buildings} buildings, "
          f"{'valid' if report.ok else 'INVALID'}; {len(report.warnings)} warning(s)", flush=True)
    if not report.ok:
        print(report.render())
        return 1
    processed = workdir / "processed_edf_data.parquet"
    write_parquet(homes, processed)
    topology = bundled.BUNDLED_DIR / bundled.TOPOLOGY_FILE
    t0 = time.time()
    train = run(parse_args(["--mode", "training", "--processed", str(processed), "--topology", str(topology),
                            "--output", str(workdir / "features" / "training")]))
    print(f"[2/3] training features: {train['train_rows']} train rows, {train['eval_rows']} eval rows, "
          f"evaluation from {train['split_time']} ({time.time() - t0:.1f}s)", flush=True)
    t0 = time.time()
    inf = run(parse_args(["--mode", "inference", "--processed", str(processed), "--topology", str(topology),
                          "--output", str(workdir / "features" / "inference")]))
    print(f"[3/3] inference features: {inf['rows']} rows for origin {inf['origin']} and "
          f"{inf['horizon_hours']} h ({time.time() - t0:.1f}s)", flush=True)
    print(f"done. Features are under {workdir / 'features'}")
    return 0
