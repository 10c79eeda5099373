"""The benchmarks' output convention: one JSON line per measured case on stdout, prose on stderr.

Every line carries ``bench`` and ``case`` plus the case's figures (``seconds``, ``peak_rss_mb``,
latencies, counts) and the 1-minute load average when it was taken, so a run can be piped into a
file or ``jq`` and compared with the next one; human-readable tables go to stderr
(``tests/unit/test_bench_output.py`` checks both).
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
from typing import Any


def emit(bench: str, case: str, **figures: Any) -> dict[str, Any]:
    """Print one case's record as a JSON line on stdout and return it.

    Standard JSON only: a figure that is not a number (NaN, e.g. a metric with nothing to score)
    is written as null, numpy scalars as their Python values.
    """
    record = {"bench": bench, "case": case, **{k: _plain(v) for k, v in figures.items()},
              "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(json.dumps(record, allow_nan=False), flush=True)
    return record


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalar
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def note(*parts: Any) -> None:
    """Human-readable progress and tables: stderr, so stdout stays JSON lines."""
    print(*parts, file=sys.stderr, flush=True)


def peak_rss_mb(children: bool = False) -> float:
    """This process's RSS high-water mark in MB (or its children's when larger, e.g. a Spark JVM)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if children:
        peak = max(peak, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return round(peak / 1024, 1)
