"""SageMaker Processing entrypoint (GenerateForecastsEDF): demand and solar forecasts for one origin.

    python -m edf.jobs.forecast --model /opt/ml/processing/input/model \
        --features /opt/ml/processing/input/features --output /opt/ml/processing/output/forecasts \
        --run-id RUN --model-version ARN [--issue-time ISO]

``--features`` holds ``inference/`` and ``series/`` from the features job. ``inference/`` may also hold
the previous days' origins (``edf_training.calibration.window_days``): the models score those rows'
known actuals to recalibrate the interval online, and only the latest origin is written. Writes
``forecasts.parquet`` with exactly ``edf.data.outputs.FORECAST_COLUMNS``: series "consumption" for
every building, "solar" for buildings with ``pv_capacity_kw > 0`` (exactly 0 at night); each row's
``weather_source`` comes from ``weather/sources/`` of the features output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
from pathlib import Path

import pandas as pd

from edf.jobs.args import add_config_arguments
from edf.jobs.entrypoint import run_job

log = logging.getLogger("edf.jobs.forecast")
PROCESSING = Path("/opt/ml/processing")
FORECAST_FILE = "forecasts.parquet"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="EDF forecast generation (demand + solar) from a model bundle.")
    p.add_argument("--model", default=str(PROCESSING / "input" / "model"), help="folder with model.tar.gz or a bundle")
    p.add_argument("--features", default=str(PROCESSING / "input" / "features"), help="folder with inference/ and series/")
    p.add_argument("--output", default=str(PROCESSING / "output" / "forecasts"), help="output folder")
    p.add_argument("--run-id", required=True, help="workflow execution name; re-runs replace its rows downstream")
    p.add_argument("--model-version", required=True, help="model package ARN or version that produced the forecasts")
    p.add_argument("--issue-time", default=None, help="ISO time of the run (default: now, UTC)")
    add_config_arguments(p)
    return p.parse_args(argv)


def forecast_frame(models: dict, rows: pd.DataFrame, series: pd.DataFrame | None, run_id: str, model_version: str,
                   issue_time: pd.Timestamp, weather_sources: dict[str, str] | None = None) -> pd.DataFrame:
    """Predict every target in the bundle and shape the rows as FORECAST_COLUMNS.

    ``weather_sources`` (building -> label, from the features job) fills ``weather_source``: a
    building it does not list got no weather (``none``); without it (features from an older job
    image) the source is ``unknown`` rather than a guess.
    """
    from edf.data import contract as c
    from edf.data.outputs import FORECAST_COLUMNS, SERIES_OF_TARGET
    from edf.data.topology import pv_mask

    parts = []
    for target, model in models.items():
        sub = rows
        if target == c.SOLAR:
            sub = sub[pv_mask(sub)]
        if sub.empty:
            continue
        # rows of earlier origins (the features job's recalibration days) carry the recent actuals the
        # model's online recalibration scores; only the run's own origin is a forecast
        pred = model.predict(sub, series)
        keep = (pred["origin_time"] == pred["origin_time"].max()).to_numpy()
        pred = pred[keep].reset_index(drop=True)
        grid = sub["grid_area"].astype("object").to_numpy()[keep] if "grid_area" in sub.columns else None
        pred["grid_area"] = grid
        pred["series"] = SERIES_OF_TARGET[target]
        pred["strategy"] = model.strategy
        parts.append(pred)
    if not parts:
        raise ValueError("no forecasts produced: the inference features are empty")
    out = pd.concat(parts, ignore_index=True)
    out["model_version"] = model_version
    out["run_id"] = run_id
    out["issue_time"] = issue_time
    out["lead_hours"] = out["lead_hours"].astype("int32")
    out["weather_source"] = weather_source_column(out["building_id"], weather_sources)
    for col in ("timestamp_hour", "origin_time", "issue_time"):
        out[col] = pd.to_datetime(out[col], utc=True)
    for col in ("building_id", "grid_area", "series", "strategy", "model_version", "run_id", "weather_source"):
        out[col] = out[col].astype("object")
    return out[list(FORECAST_COLUMNS)]


def building_batches(features: Path, size: int) -> list[list[str]]:
    """The buildings of the inference features, sorted, in batches of ``size``.

    Every prediction (XGBoost rows, LSTM/Prophet series, the online recalibration per building and
    lead bucket) depends only on the building's own rows, so batches give the same forecasts as one
    pass while the job's memory follows the batch instead of the portfolio.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from edf.data.io import DataNotFoundError, list_files

    files = list_files(features / "inference")
    if not files:
        raise DataNotFoundError(f"no Parquet files at {features / 'inference'}: the input is empty")
    ids: set[str] = set()
    for f in files:
        ids.update(str(v) for v in pc.unique(pq.read_table(f, columns=["building_id"])["building_id"]).to_pylist())
    ordered = sorted(ids)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def read_batch(location: Path, buildings: list[str], required: bool = True) -> pd.DataFrame | None:
    """The rows of ``buildings`` from every Parquet file under ``location`` (only they are materialised)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from edf.data.io import DataNotFoundError, list_files

    files = list_files(location) if location.exists() or required else []
    if not files:
        if required:
            raise DataNotFoundError(f"no Parquet files at {location}: the input is empty")
        return None
    wanted = pa.array(buildings, type=pa.string())
    tables = [pq.read_table(f, filters=[("building_id", "in", wanted)]) for f in files]
    return pa.concat_tables(tables, promote_options="default").to_pandas()


class ForecastWriter:
    """Appends each batch's forecasts to one ``forecasts.parquet`` (the schema the loader expects)."""

    def __init__(self, path: Path) -> None:
        self.path, self.writer, self.rows = path, None, 0
        self.buildings: set[str] = set()
        self.series: dict[str, int] = {}
        self.weather_sources: dict[str, int] = {}  # buildings per weather source (batches hold disjoint buildings)

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from edf.data.io import as_microseconds

        table = pa.Table.from_pandas(as_microseconds(frame), preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(frame)
        self.buildings.update(frame["building_id"].astype(str).unique())
        for name, n in frame["series"].value_counts().items():
            self.series[name] = self.series.get(name, 0) + int(n)
        for name, n in frame.drop_duplicates("building_id")["weather_source"].value_counts().items():
            self.weather_sources[name] = self.weather_sources.get(name, 0) + int(n)

    def close(self) -> None:
        if self.writer is None:
            raise ValueError("no forecasts produced: the inference features are empty")
        self.writer.close()


def weather_source_column(buildings: pd.Series, sources: dict[str, str] | None) -> pd.Series:
    """Each row's weather source from the features job's per-building labels (see forecast_frame)."""
    from edf.data.outputs import WEATHER_SOURCE_NONE, WEATHER_SOURCE_UNKNOWN

    if sources is None:
        return pd.Series(WEATHER_SOURCE_UNKNOWN, index=buildings.index, dtype="object")
    return buildings.astype(str).map(sources).fillna(WEATHER_SOURCE_NONE).astype("object")


class BatchForecaster:
    """Forecasts one batch of buildings; built once per process (the pool's workers load the bundle
    themselves: forking a process whose XGBoost/OpenMP threads already ran can hang the child)."""

    def __init__(self, args: argparse.Namespace, issue: pd.Timestamp) -> None:
        from edf.features.weather_inputs import read_sources
        from edf.models.bundle import load_bundle

        self.args, self.issue, self.features = args, issue, Path(args.features)
        _, self.models = load_bundle(args.model)
        self.sources = read_sources(self.features)  # building -> weather source (None: an older features image)

    def __call__(self, buildings: list[str]) -> pd.DataFrame:
        from edf.models.base import utc_keys

        rows = utc_keys(read_batch(self.features / "inference", buildings))
        series = utc_keys(read_batch(self.features / "series", buildings, required=False))
        return forecast_frame(self.models, rows, series, self.args.run_id, self.args.model_version, self.issue,
                              weather_sources=self.sources)


_WORKER: BatchForecaster | None = None


def _init_worker(args: argparse.Namespace, issue: pd.Timestamp) -> None:
    global _WORKER
    _WORKER = BatchForecaster(args, issue)


def _forecast_in_worker(buildings: list[str]) -> pd.DataFrame:
    assert _WORKER is not None, "worker not initialised"
    return _WORKER(buildings)


def forecast_batches(args: argparse.Namespace, issue: pd.Timestamp, batches: list[list[str]], workers: int):
    """Each batch's forecasts, in batch order: in this process, or in ``workers`` spawned processes
    (the instance's vCPUs; most of a batch's time is single-threaded pandas and pvlib)."""
    if workers <= 1 or len(batches) <= 1:
        forecaster = BatchForecaster(args, issue)
        yield from map(forecaster, batches)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_init_worker, initargs=(args, issue)) as pool:
        yield from pool.map(_forecast_in_worker, batches)


def run(args: argparse.Namespace) -> dict:
    from edf.jobs.args import job_config

    issue = pd.Timestamp(args.issue_time) if args.issue_time else pd.Timestamp(dt.datetime.now(dt.UTC))
    issue = issue.tz_localize("UTC") if issue.tzinfo is None else issue.tz_convert("UTC")
    settings = job_config(args).edf_inference
    batches = building_batches(Path(args.features), settings.forecast_batch_buildings)
    workers = min(settings.forecast_workers or (os.cpu_count() or 1), len(batches))
    out = Path(args.output)
    writer = ForecastWriter(out / FORECAST_FILE)
    for i, (buildings, frame) in enumerate(zip(batches, forecast_batches(args, issue, batches, workers),
                                               strict=True), start=1):
        writer.write(frame)
        log.info("forecast batch %d/%d: %d buildings, %d rows", i, len(batches), len(buildings), len(frame))
    writer.close()
    summary = {"rows": writer.rows, "buildings": len(writer.buildings), "series": writer.series,
               "batches": len(batches), "workers": workers, "run_id": args.run_id,
               "weather_sources": writer.weather_sources}
    (out / "_forecast_summary.json").write_text(json.dumps(summary, indent=2))
    log.info("forecasts written: %s", summary)
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_job("edf-forecast", "forecast generation", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
