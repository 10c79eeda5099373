"""A local Timestream for the store tests: moto stores the writes, DuckDB answers the queries.

moto's ``timestream-write`` accepts and stores ``WriteRecords`` calls, but ``timestream-query``
cannot run SQL. This double captures every ``WriteRecords`` request the store sends (a botocore
``before-call`` hook on the store's boto3 session, so awswrangler's real calls run unchanged and
moto still answers them), keeps the records the way Timestream does, and answers the store's
``Query`` calls by running its SQL on DuckDB over those records.

What is Timestream's and kept here:

* a record is identified by (database, table, dimensions, measure name, time); a write of the same
  record with a higher ``Version`` replaces it (upsert), a lower one is ignored; nothing is deleted;
* ``CommonAttributes`` are merged into each record; multi-measure records give one column per
  measure, typed by ``MeasureValueType`` (DOUBLE, BIGINT, VARCHAR, BOOLEAN, TIMESTAMP), dimensions
  are VARCHAR, ``time`` and ``measure_name`` are columns; a column absent from a record is NULL;
* answers come as Timestream answers them: ``ColumnInfo`` and ``Rows`` of ``ScalarValue`` text
  (timestamps as ``2026-06-01 05:00:00.000000000``), ``ArrayValue`` for arrays, ``NullValue``, and
  ``NextToken`` pages.

The SQL is the store's own text. Translated for DuckDB (and only this):

* ``ago(<n>d|h|m|s)`` becomes ``(TIMESTAMP '<clock>' - INTERVAL <n> DAY|HOUR|MINUTE|SECOND)``:
  Timestream's interval literal ``90d`` is not DuckDB syntax, and the clock is the double's (``clock``)
  so test data in a fixed year stays inside the retention window;
* ``from_iso8601_timestamp`` is a DuckDB macro (same name, same result for the ``...Z`` text the
  store produces), so that call is not rewritten at all.

Everything else (``ROW_NUMBER() OVER``, ``array_agg(DISTINCT ...)``, ``power``, ``sqrt``, CTEs, ``IN``
subqueries, quoted ``"db"."table"`` names) runs as written. DuckDB accepts some SQL Timestream
would refuse; what is checked here is that the store's queries *mean* what the contract expects.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from typing import Any

import duckdb
import pyarrow as pa

_TYPES = {"DOUBLE": pa.float64(), "BIGINT": pa.int64(), "VARCHAR": pa.string(), "BOOLEAN": pa.bool_(),
          "TIMESTAMP": pa.timestamp("us")}
_UNIT_SECONDS = {"MILLISECONDS": 1e-3, "SECONDS": 1.0, "MICROSECONDS": 1e-6, "NANOSECONDS": 1e-9}
_AGO = re.compile(r"\bago\(\s*(\d+)\s*([dhms])\s*\)")
_AGO_UNIT = {"d": "DAY", "h": "HOUR", "m": "MINUTE", "s": "SECOND"}


def _instant(value: str, unit: str) -> dt.datetime:
    seconds = int(value) * _UNIT_SECONDS[unit]
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)  # naive UTC, as DuckDB TIMESTAMP


def _value(text: str, kind: str, unit: str) -> Any:
    if kind == "DOUBLE":
        return float(text)
    if kind == "BIGINT":
        return int(text)
    if kind == "BOOLEAN":
        return text.lower() == "true"
    if kind == "TIMESTAMP":
        return _instant(text, unit)
    return text


class LocalTimestream:
    """Captured records per table and a ``timestream-query`` client (``.query_client``) over them."""

    def __init__(self, session: Any, clock: dt.datetime, page_rows: int = 1000) -> None:
        self.clock = clock.astimezone(dt.UTC).replace(tzinfo=None)
        self.page_rows = page_rows
        # (db, table) -> {(dims, measure_name, time): (version, {column: value})}
        self.tables: dict[tuple[str, str], dict[tuple, tuple[int, dict[str, Any]]]] = {}
        self.types: dict[tuple[str, str], dict[str, str]] = {}
        self.sql: list[str] = []
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()  # the store writes from a thread pool
        self._con: duckdb.DuckDBPyConnection | None = None  # rebuilt after a write
        session.events.register("before-call.timestream-write.WriteRecords", self._capture)
        self.query_client = self

    # ---------------------------------------------------------------- writes
    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"])
        key = (body["DatabaseName"], body["TableName"])
        common = body.get("CommonAttributes", {})
        with self._lock:
            for record in body["Records"]:
                self._store(key, {**common, **record,
                                  "Dimensions": [*common.get("Dimensions", []), *record.get("Dimensions", [])]})
            self._con = None
        return None  # moto answers the call

    def _store(self, key: tuple[str, str], rec: dict[str, Any]) -> None:
        unit = rec.get("TimeUnit", "MILLISECONDS")
        types = self.types.setdefault(key, {"time": _TYPES["TIMESTAMP"], "measure_name": _TYPES["VARCHAR"]})
        row: dict[str, Any] = {"time": _instant(rec["Time"], unit), "measure_name": rec["MeasureName"]}
        for d in rec["Dimensions"]:
            types.setdefault(d["Name"], _TYPES["VARCHAR"])
            row[d["Name"]] = d["Value"]
        measures = (rec["MeasureValues"] if rec.get("MeasureValueType") == "MULTI"
                    else [{"Name": rec["MeasureName"], "Value": rec["MeasureValue"], "Type": rec["MeasureValueType"]}])
        for m in measures:
            types.setdefault(m["Name"], _TYPES[m["Type"]])
            row[m["Name"]] = _value(m["Value"], m["Type"], unit)
        ident = (tuple(sorted((d["Name"], d["Value"]) for d in rec["Dimensions"])), rec["MeasureName"], row["time"])
        version = int(rec.get("Version", 1))
        stored = self.tables.setdefault(key, {}).get(ident)
        if stored is None or version > stored[0]:
            self.tables[key][ident] = (version, row)

    def rows(self, database: str, table: str) -> list[dict[str, Any]]:
        """The table's current records (after upserts), for assertions."""
        return [row for _, row in self.tables.get((database, table), {}).values()]

    # ---------------------------------------------------------------- queries
    def translate(self, sql: str) -> str:
        clock = self.clock.strftime("%Y-%m-%d %H:%M:%S")
        return _AGO.sub(lambda m: f"(TIMESTAMP '{clock}' - INTERVAL {m.group(1)} {_AGO_UNIT[m.group(2)]})", sql)

    def _engine(self) -> duckdb.DuckDBPyConnection:
        """One DuckDB database holding every table's current records (built again after writes)."""
        if self._con is not None:
            return self._con
        con = duckdb.connect()
        con.execute("CREATE MACRO from_iso8601_timestamp(s) AS CAST(strptime(s, '%Y-%m-%dT%H:%M:%SZ') AS TIMESTAMP)")
        for database in {db for db, _ in self.types}:
            con.execute(f'CREATE SCHEMA "{database}"')
        for (database, table), types in self.types.items():
            schema = pa.schema([(c, t) for c, t in types.items()])
            records = pa.Table.from_pylist(self.rows(database, table), schema=schema)  # noqa: F841 (read by DuckDB)
            con.execute(f'CREATE TABLE "{database}"."{table}" AS SELECT * FROM records')
        self._con = con
        return con

    def query(self, QueryString: str, NextToken: str | None = None, **_: Any) -> dict[str, Any]:  # noqa: N803 (boto3 names)
        if NextToken:
            return self._pages.pop(NextToken)
        with self._lock:
            self.sql.append(QueryString)
            cursor = self._engine().cursor()
            cursor.execute(self.translate(QueryString))
            names = [d[0] for d in cursor.description]
            result = cursor.fetchall()
        pages = [result[i:i + self.page_rows] for i in range(0, len(result), self.page_rows)] or [[]]
        answers = [{"ColumnInfo": [{"Name": n} for n in names], "Rows": [{"Data": [_datum(v) for v in r]} for r in p]}
                   for p in pages]
        for i in range(len(answers) - 1):
            token = f"page-{len(self.sql)}-{i + 1}"
            answers[i]["NextToken"] = token
            self._pages[token] = answers[i + 1]
        return answers[0]


def _datum(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NullValue": True}
    if isinstance(value, list):
        return {"ArrayValue": [_datum(v) for v in value]}
    if isinstance(value, dt.datetime):
        return {"ScalarValue": value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond:06d}000"}
    if isinstance(value, bool):
        return {"ScalarValue": "true" if value else "false"}
    return {"ScalarValue": repr(value) if isinstance(value, float) else str(value)}
