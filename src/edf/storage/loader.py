"""Turn the inference workflow's Parquet outputs into store rows and load a run (LoadForecastsToDB).

This is the only storage module that uses pandas/awswrangler: it runs in the load Lambda, not in
the API Lambdas. Column schemas are ``edf.data.outputs.FORECAST_COLUMNS`` and
``RECOMMENDATION_COLUMNS``; a missing column is an error naming it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from edf.data.outputs import FORECAST_COLUMNS, RECOMMENDATION_COLUMNS, WEATHER_SOURCE_UNKNOWN
from edf.storage.base import ForecastRow, ForecastStore, InvalidValueError, RecommendationRow, WriteResult

log = logging.getLogger(__name__)
NAT = pd.NaT.value  # the int64 pandas stores for a missing timestamp


def _check_columns(df: pd.DataFrame, expected: dict[str, str], what: str) -> None:
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise InvalidValueError(f"{what} is missing column(s) {', '.join(missing)} "
                                f"(expected edf.data.outputs schema: {', '.join(expected)})")


def _utc_list(column: pd.Series) -> list[dt.datetime | None]:
    """A timestamp column as tz-aware UTC datetimes (None for missing), converted once per distinct value.

    A run has 72 target hours, one origin and one issue time: building a datetime per row (1.44 M
    rows at 10,000 buildings) would cost more than all the rest of the row's handling.
    """
    # nanoseconds whatever the file's unit (Parquet written by Spark or pyarrow holds microseconds)
    values = pd.to_datetime(column, utc=True).dt.as_unit("ns")
    known: dict[int, dt.datetime] = {}
    out: list[dt.datetime | None] = []
    for ns in values.array.asi8.tolist():
        if ns == NAT:
            out.append(None)
            continue
        when = known.get(ns)
        if when is None:
            when = known[ns] = pd.Timestamp(ns, tz="UTC").to_pydatetime()
        out.append(when)
    return out


def _text_list(column: pd.Series, default: str) -> list[str]:
    return [v if isinstance(v, str) and v else default for v in column.tolist()]


def forecast_rows(df: pd.DataFrame, run_id: str, model_version: str | None = None) -> list[ForecastRow]:
    """Rows from forecasts.parquet; rows of another run are refused, null yhat rows are an error.

    ``model_version`` (the workflow's) fills rows whose own ``model_version`` is empty. Columns are
    converted once per chunk (not per value): the load handles 1.44 M rows for 10,000 buildings.
    """
    df = _with_weather_source(df)
    _check_columns(df, FORECAST_COLUMNS, "forecasts.parquet")
    other = set(df["run_id"].astype(str)) - {run_id}
    if other:
        raise InvalidValueError(f"forecasts.parquet holds rows of run(s) {sorted(other)[:3]}, expected {run_id!r}")
    bad = df[df[["yhat", "yhat_lower", "yhat_upper"]].isna().any(axis=1)]
    if len(bad):
        raise InvalidValueError(f"{len(bad)} forecast row(s) have null yhat/yhat_lower/yhat_upper, e.g. "
                                f"{bad[['building_id', 'series', 'timestamp_hour']].head(3).to_dict('records')}")
    leads = [None if pd.isna(v) else int(v) for v in df["lead_hours"].tolist()]
    columns = zip(df["building_id"].astype(str).tolist(), df["grid_area"].astype(str).tolist(),
                  df["series"].astype(str).tolist(), _utc_list(df["timestamp_hour"]),
                  df["yhat"].astype(float).tolist(), df["yhat_lower"].astype(float).tolist(),
                  df["yhat_upper"].astype(float).tolist(), _utc_list(df["issue_time"]),
                  _text_list(df["model_version"], model_version or "unknown"), _text_list(df["strategy"], ""),
                  _utc_list(df["origin_time"]), leads, _text_list(df["weather_source"], WEATHER_SOURCE_UNKNOWN),
                  strict=True)
    return [ForecastRow(building_id=b, grid_area=a, series=s, timestamp_hour=t, yhat=y, yhat_lower=lo,
                        yhat_upper=hi, issue_time=it, run_id=run_id, model_version=mv, strategy=st,
                        origin_time=ot, lead_hours=lh, weather_source=ws)
            for b, a, s, t, y, lo, hi, it, mv, st, ot, lh, ws in columns]


def _with_weather_source(df: pd.DataFrame) -> pd.DataFrame:
    """Forecasts from a job image older than the weather_source column load as ``unknown`` (said, not guessed)."""
    if "weather_source" in df.columns:
        return df.assign(weather_source=df["weather_source"].fillna(WEATHER_SOURCE_UNKNOWN))
    log.warning("forecasts.parquet has no weather_source column (written by an older job image): rows load "
                "as %r", WEATHER_SOURCE_UNKNOWN)
    return df.assign(weather_source=WEATHER_SOURCE_UNKNOWN)


def recommendation_rows(df: pd.DataFrame, run_id: str) -> list[RecommendationRow]:
    _check_columns(df, RECOMMENDATION_COLUMNS, "recommendations.parquet")
    other = set(df["run_id"].astype(str)) - {run_id}
    if other:
        raise InvalidValueError(f"recommendations.parquet holds rows of run(s) {sorted(other)[:3]}, expected {run_id!r}")
    num = {c: df[c].fillna(0.0).astype(float).tolist() for c in ("kw", "expected_reduction_kwh", "expected_saving")}
    columns = zip(df["building_id"].astype(str).tolist(), df["grid_area"].astype(str).tolist(),
                  df["kind"].astype(str).tolist(), _utc_list(df["timestamp_hour"]), df["action"].astype(str).tolist(),
                  num["kw"], num["expected_reduction_kwh"], num["expected_saving"], _utc_list(df["issue_time"]),
                  strict=True)
    return [RecommendationRow(building_id=b, grid_area=a, kind=k, timestamp_hour=t, action=ac, kw=kw,
                              expected_reduction_kwh=red, expected_saving=sav, run_id=run_id, issue_time=it)
            for b, a, k, t, ac, kw, red, sav, it in columns]


FORECAST_KEY = ("building_id", "series", "timestamp_hour")
# columns older job images did not write: the rows load with a stated default (weather_source: unknown)
OPTIONAL_COLUMNS = ("weather_source",)
RECOMMENDATION_KEY = ("building_id", "kind", "timestamp_hour", "action")


@contextlib.contextmanager
def local_parquet(uri: str) -> Iterator[list[Path]]:
    """Local copies of the Parquet file(s) at ``uri`` (S3 objects go to a temp dir: Lambda's /tmp)."""
    from edf.data.io import DataNotFoundError, download, list_files

    files = list_files(uri)
    if not files:
        raise DataNotFoundError(f"no Parquet files at {uri}")
    with tempfile.TemporaryDirectory(prefix="edf-load-") as tmp:
        yield [download(f, Path(tmp) / str(i)) for i, f in enumerate(files)]


def precheck(paths: list[Path], run_id: str, expected: dict[str, str], key: tuple[str, ...], what: str) -> int:
    """Whole-file checks that need no row objects: columns, run id, required values, unique keys.

    Done on a few dictionary-encoded Arrow columns before anything is written (about 4 bytes per
    row and column), so a bad file is refused whole instead of failing half-way through a stream.
    Returns the row count.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    names = set(pq.read_schema(paths[0]).names)
    missing = [c for c in expected if c not in names and c not in OPTIONAL_COLUMNS]
    if missing:
        raise InvalidValueError(f"{what} is missing column(s) {', '.join(missing)} "
                                f"(expected edf.data.outputs schema: {', '.join(expected)})")
    columns = list(dict.fromkeys(["run_id", "building_id", "grid_area", *key]))
    text = [c for c in columns if expected[c] == "string"]
    table = pa_concat([pq.read_table(p, columns=columns, read_dictionary=text) for p in paths]).unify_dictionaries()
    runs = {str(v) for v in table["run_id"].unique().to_pylist()} if table.num_rows else set()
    if runs - {run_id}:
        raise InvalidValueError(f"{what} holds rows of run(s) {sorted(runs - {run_id})[:3]}, expected {run_id!r}")
    for column in ("building_id", "grid_area"):
        values = table[column].unique().to_pylist()
        nulls = pc.sum(pc.is_null(table[column])).as_py() or 0
        empty = sum(1 for v in values if v is not None and not str(v).strip() or str(v) in ("None", "nan"))
        if nulls or empty:
            raise InvalidValueError(f"{what}: {nulls} row(s) have no {column} and {empty} distinct value(s) are "
                                    "blank or 'None'/'nan'; such rows would be invisible to every tenant. Fix the "
                                    "topology or the job that wrote the file")
    repeats = duplicated_keys(table, key)
    if repeats:
        raise InvalidValueError(f"{what}: {repeats} row(s) repeat a key {key} of another row; a building, "
                                "series/kind and hour may appear once per run")
    return table.num_rows


def duplicated_keys(table: Any, key: tuple[str, ...]) -> int:
    """Rows whose key repeats an earlier row's, from integer codes (8 bytes a row, no hash table)."""
    import numpy as np
    import pyarrow as pa

    code = np.zeros(table.num_rows, dtype=np.int64)
    for column in key:
        array = table[column].combine_chunks()
        if pa.types.is_dictionary(array.type):
            values, size = array.indices.to_numpy(zero_copy_only=False).astype(np.int64), len(array.dictionary)
        else:  # timestamps: whole seconds since the first one
            raw = array.cast(pa.int64()).to_numpy(zero_copy_only=False)
            values = (raw - raw.min()) if len(raw) else raw
            size = int(values.max()) + 1 if len(values) else 1
        code = code * size + values  # exact while the product of the sizes stays below 2**63
    code.sort()
    return int(np.count_nonzero(code[1:] == code[:-1]))


def pa_concat(tables: list) -> Any:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


def frames(paths: list[Path], columns: list[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The files' rows as pandas frames of at most ``chunk_rows`` rows (Arrow record batches)."""
    import pyarrow.parquet as pq

    for path in paths:
        file = pq.ParquetFile(path)
        present = [c for c in columns if c in file.schema_arrow.names]  # optional columns may be absent
        for batch in file.iter_batches(batch_size=chunk_rows, columns=present):
            yield batch.to_pandas()


def stream_forecasts(paths: list[Path], run_id: str, model_version: str | None, chunk_rows: int) -> Iterator[ForecastRow]:
    for frame in frames(paths, list(FORECAST_COLUMNS), chunk_rows):
        yield from forecast_rows(frame, run_id, model_version)


def stream_recommendations(paths: list[Path], run_id: str, chunk_rows: int) -> Iterator[RecommendationRow]:
    for frame in frames(paths, list(RECOMMENDATION_COLUMNS), chunk_rows):
        yield from recommendation_rows(frame, run_id)


def load_run(store: ForecastStore, forecasts_uri: str, recommendations_uri: str | None, run_id: str,
             model_version: str | None = None, chunk_rows: int = 20_000) -> WriteResult:
    """Stream a run's Parquet outputs into ``store`` (idempotent per run; memory bounded by ``chunk_rows``)."""
    with contextlib.ExitStack() as stack:
        f_paths = stack.enter_context(local_parquet(forecasts_uri))
        r_paths = stack.enter_context(local_parquet(recommendations_uri)) if recommendations_uri else []
        n_f = precheck(f_paths, run_id, FORECAST_COLUMNS, FORECAST_KEY, "forecasts.parquet")
        n_r = precheck(r_paths, run_id, RECOMMENDATION_COLUMNS, RECOMMENDATION_KEY,
                       "recommendations.parquet") if r_paths else 0
        log.info("run %s: streaming %d forecasts and %d recommendations in chunks of %d rows", run_id, n_f, n_r,
                 chunk_rows)
        result = store.write_run(run_id, stream_forecasts(f_paths, run_id, model_version, chunk_rows),
                                 stream_recommendations(r_paths, run_id, chunk_rows))
    log.info("run %s: %d forecasts, %d recommendations written to %s (%d stale removed)", run_id,
             result.forecasts_written, result.recommendations_written, result.backend,
             result.forecasts_removed + result.recommendations_removed)
    return result
