"""Small synthetic inputs for the cluster-readiness tests, written the way ingestion lays them out."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_date_partitioned(frame, root: Path) -> Path:
    """``processed_edf_data`` as Hive date partitions: ``root/date=YYYY-MM-DD/part-0.parquet``."""
    from edf.data.io import as_microseconds

    dated = as_microseconds(frame).copy()
    dated["date"] = dated["timestamp_hour"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%d")
    for day, part in dated.groupby("date", sort=True):
        folder = root / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(part.drop(columns="date"), preserve_index=False)
        pq.write_table(table, folder / "part-0.parquet")
    return root


def synthetic_inputs(root: Path, buildings: int, days: int) -> dict[str, str]:
    """Synthetic buildings (labelled ``synth-``) as date partitions plus their topology CSV."""
    from edf.data import synth

    data = synth.generate(buildings, days)
    processed = write_date_partitioned(data.processed, root / "processed_edf_data")
    topology = root / "topology.csv"
    data.topology.to_csv(topology, index=False)
    return {"processed": str(processed), "topology": str(topology)}
