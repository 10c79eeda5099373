"""The date-partitioned layout of ``processed_edf_data``, and reading only the days a job needs.

Layout (what the ingestion stack writes; docs/data_layout.md)::

    s3://<processed bucket>/processed_edf_data/date=YYYY-MM-DD/<any name>.parquet

``date`` is the UTC date of ``timestamp_hour``; a day may hold several files (late files, one per
feed); every row of a file must belong to its day. Files directly under the prefix (no ``date=``
folder) are the legacy layout: they are still read, whatever the window, and counted as
``unpartitioned`` so a monitor can see that pruning did not apply.

A daily inference reads its 14-day lookback, not the whole history; a training run reads its
window. :func:`select_window` lists the prefix once and keeps the days in ``[start, end)``;
:func:`fetch_window` copies them to local disk for Spark (a SageMaker job reads them with its role,
so the workflow passes the prefix, not a File-mode input that would copy everything).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from edf.data.io import list_files, s3_client, split_s3_uri, write_parquet

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)
PARTITION_COLUMN = "date"
_DAY_DIR = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})/")


def partition_dir(base: str | Path, day: dt.date) -> str:
    """``<base>/date=YYYY-MM-DD``."""
    return f"{str(base).rstrip('/')}/{PARTITION_COLUMN}={day.isoformat()}"


def write_partitioned(frame: pd.DataFrame, base: str | Path, file_name: str = "part-0.parquet") -> list[str]:
    """Write ``frame`` as one file per UTC day of ``timestamp_hour`` under ``base`` (local or s3://)."""
    import pandas as pd

    from edf.data import contract as c

    days = pd.to_datetime(frame[c.TIMESTAMP], utc=True).dt.date
    written = []
    for day, part in frame.groupby(days, sort=True):
        written.append(write_parquet(part.reset_index(drop=True), f"{partition_dir(base, day)}/{file_name}"))
    return written


@dataclass
class WindowSelection:
    """The files of a window, what was found, what was missing, and how much will be read."""

    base: str
    start: dt.date | None
    end: dt.date | None
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    days_found: list[dt.date] = field(default_factory=list)
    days_missing: list[dt.date] = field(default_factory=list)
    unpartitioned: list[str] = field(default_factory=list)
    days_skipped: int = 0  # partitions outside the window, never read

    def summary(self) -> dict:
        return {"base": self.base, "start": str(self.start or ""), "end": str(self.end or ""),
                "files": len(self.files), "bytes": self.bytes, "days_read": len(self.days_found),
                "days_missing": [d.isoformat() for d in self.days_missing[:31]],
                "days_missing_count": len(self.days_missing), "days_skipped": self.days_skipped,
                "unpartitioned_files": len(self.unpartitioned)}


def _sized_files(base: str) -> Iterator[tuple[str, int]]:
    """(file, bytes) of every Parquet file under ``base``."""
    if base.startswith("s3://"):
        bucket, prefix = split_s3_uri(base.rstrip("/") + "/")
        for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if obj["Key"].endswith(".parquet") and not name.startswith((".", "_")):
                    yield f"s3://{bucket}/{obj['Key']}", int(obj["Size"])
        return
    for f in list_files(base):
        yield f, Path(f).stat().st_size


def _in_window(day: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or day >= start) and (end is None or day < end)


def select_window(base: str | Path, start: dt.date | None = None, end: dt.date | None = None) -> WindowSelection:
    """The partition files of days in ``[start, end)`` (either bound may be open) plus legacy files."""
    base = str(base)
    sel = WindowSelection(base=base, start=start, end=end)
    found: set[dt.date] = set()
    skipped: set[dt.date] = set()
    for path, size in _sized_files(base):
        rel = path[len(base.rstrip("/")):] if path.startswith(base.rstrip("/")) else path
        match = _DAY_DIR.search(rel)
        if match is None:
            sel.unpartitioned.append(path)
        else:
            day = dt.date.fromisoformat(match.group(1))
            if not _in_window(day, start, end):
                skipped.add(day)
                continue
            found.add(day)
        sel.files.append(path)
        sel.bytes += size
    sel.days_found = sorted(found)
    sel.days_skipped = len(skipped)
    if start is not None and end is not None:
        expected = (start + dt.timedelta(days=i) for i in range((end - start).days))
        sel.days_missing = [d for d in expected if d not in found]
    if sel.unpartitioned:
        log.warning("%d file(s) under %s are not date-partitioned and are read whatever the window",
                    len(sel.unpartitioned), base)
    return sel


def fetch_window(selection: WindowSelection, dest: Path) -> Path:
    """Make the selected files readable under ``dest`` (S3 objects are downloaded, keeping ``date=``)."""
    dest.mkdir(parents=True, exist_ok=True)
    base = selection.base.rstrip("/")
    for i, path in enumerate(selection.files):
        rel = path[len(base) + 1:] if path.startswith(base + "/") else f"file-{i}.parquet"
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.startswith("s3://"):
            bucket, key = split_s3_uri(path)
            s3_client().download_file(bucket, key, str(target))
        elif Path(path).resolve() != target.resolve():
            target.symlink_to(Path(path).resolve())
    return dest


def read_window(base: str | Path, start: dt.date | None = None, end: dt.date | None = None,
                columns: list[str] | None = None) -> tuple[pd.DataFrame, WindowSelection]:
    """The rows of days in ``[start, end)`` as one pandas frame, with the selection that was read."""
    import pandas as pd

    from edf.data.io import read_one

    sel = select_window(base, start, end)
    frames = [read_one(f, columns) for f in sel.files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns or [])
    return frame, sel
