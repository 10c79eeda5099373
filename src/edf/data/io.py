"""The one place pandas reads and writes Parquet (and topology) files: local paths or ``s3://`` URIs.

Writing: pandas writes nanosecond timestamps by default, which Spark rejects
(``Illegal Parquet type: INT64 (TIMESTAMP(NANOS,true))``); Athena and awswrangler are happier
with microseconds too. Every pandas-side Parquet write goes through :func:`write_parquet`.

Reading: a *location* is a Parquet file, a folder of them (searched recursively; Spark's
``_SUCCESS``/``.crc`` side files are skipped) or an ``s3://`` prefix. S3 goes through boto3, so
``AWS_ENDPOINT_URL`` (the local runtime's emulated S3) works unchanged. Every job, the load Lambda,
monitoring and the CLI read through here, so "what counts as the data under a path" is decided once.
"""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where it is used: Lambdas without the pandas layer import this module
    import pandas as pd


class DataNotFoundError(FileNotFoundError):
    """A location holds no readable data (missing path, empty prefix, no Parquet files)."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError for anything else."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"malformed S3 URI {uri!r}; expected s3://bucket/key")
    return bucket, key


def s3_client() -> Any:
    """A boto3 S3 client (imported lazily: the API Lambdas import this module on their hot path)."""
    import boto3

    return boto3.client("s3")


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


def _list_s3(uri: str, suffixes: tuple[str, ...], modified_after: dt.datetime | None) -> Iterator[str]:
    bucket, prefix = split_s3_uri(uri)
    if prefix and not prefix.endswith(suffixes) and not prefix.endswith("/"):
        prefix += "/"
    for page in s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if not key.endswith(suffixes) or not _visible(key.rsplit("/", 1)[-1]):
                continue
            if modified_after is not None and obj["LastModified"] < modified_after:
                continue
            yield f"s3://{bucket}/{key}"


def list_files(location: str | Path, *, suffixes: tuple[str, ...] = (".parquet",), name: str | None = None,
               modified_after: dt.datetime | None = None) -> list[str]:
    """Data files at a file path, under a folder (recursive) or under an S3 prefix, sorted.

    ``name`` keeps only files of that exact name; ``modified_after`` only newer ones. A missing
    local path raises :class:`DataNotFoundError`; an empty folder or prefix gives ``[]``.
    """
    text = str(location)
    if text.startswith("s3://"):
        files = sorted(_list_s3(text, suffixes, modified_after))
    else:
        path = Path(text)
        if path.is_file():
            files = [str(path)]
        elif path.is_dir():
            files = sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix in suffixes
                           and _visible(p.name))
        else:
            raise DataNotFoundError(f"{path}: no such file or directory")
        if modified_after is not None:
            files = [f for f in files if Path(f).stat().st_mtime >= modified_after.timestamp()]
    return [f for f in files if f.rsplit("/", 1)[-1] == name] if name else files


def read_one(location: str, columns: list[str] | None = None) -> pd.DataFrame:
    """One Parquet or CSV file, local or on S3."""
    import pandas as pd

    if location.startswith("s3://"):
        bucket, key = split_s3_uri(location)
        body = io.BytesIO(s3_client().get_object(Bucket=bucket, Key=key)["Body"].read())
        source: Any = body
    else:
        source = location
    if location.endswith(".csv"):
        # ids and region codes stay text: "0042" must not become 42
        return pd.read_csv(source, dtype={"building_id": "string", "subdivision": "string"}, usecols=columns)
    return pd.read_parquet(source, columns=columns)


def read_parquet(location: str | Path, *, columns: list[str] | None = None, required: bool = True,
                 name: str | None = None) -> pd.DataFrame | None:
    """Every Parquet file at ``location`` as one frame (``None`` when empty and not ``required``)."""
    files = list_files(location, name=name)
    if not files:
        if required:
            raise DataNotFoundError(f"no Parquet files at {location}: the input is empty")
        return None
    import pandas as pd

    frames = [read_one(f, columns) for f in files]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def download(location: str, dest: Path) -> Path:
    """A local copy of one file (S3 objects are downloaded into ``dest``; local paths returned as is)."""
    if not location.startswith("s3://"):
        return Path(location)
    bucket, key = split_s3_uri(location)
    target = dest / key.rsplit("/", 1)[-1]
    dest.mkdir(parents=True, exist_ok=True)
    s3_client().download_file(bucket, key, str(target))
    return target


def as_microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        dtype = out[name].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[name] = out[name].astype(f"datetime64[us, {dtype.tz}]")
        elif pd.api.types.is_datetime64_dtype(dtype):
            out[name] = out[name].astype("datetime64[us]")
    return out


def write_parquet(frame: pd.DataFrame, path: str | Path, **kwargs) -> str:
    """Write a DataFrame as one Parquet file with microsecond timestamps (zstd), locally or to S3."""
    text = str(path)
    compression = kwargs.pop("compression", "zstd")
    if text.startswith("s3://"):
        bucket, key = split_s3_uri(text)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "part.parquet"
            as_microseconds(frame).to_parquet(local, index=False, compression=compression, **kwargs)
            s3_client().upload_file(str(local), bucket, key)
        return text
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    as_microseconds(frame).to_parquet(path, index=False, compression=compression, **kwargs)
    return text
