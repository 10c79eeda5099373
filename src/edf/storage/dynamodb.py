"""DynamoDB forecast store: one table, every read a ``Query`` (or ``GetItem``), never a ``Scan``.

Key design (``PK``/``SK`` strings; timestamps as fixed-width UTC ISO text so they sort):

======================  ===============================  ======================================
item                    PK / SK                           serves
======================  ===============================  ======================================
forecast                ``F#{building}#{series}`` /       building series: ``Query PK, SK BETWEEN``
                        ``{hour}#{issue}#{run}``          (newest issue per hour picked in code)
area aggregate          ``PA#{area}#{series}`` /          portfolio: one ``Query`` per area, ~72
                        ``{hour}#{issue}#{run}``          items per run instead of 1,000 x 72
recommendation          ``RA#{area}#{date}`` /            recommendations per area and UTC day
                        ``{hour}#{building}#{kind}#...``
  GSI ``ByRun``         ``RUN#{run}`` / ``PK|SK``         re-writing a run: find its old items
building                ``B#{building}`` / ``META``       ``GetItem`` (authorization lookup)
area membership         ``A#{area}`` / ``B#{building}``   ``GET /v1/buildings``: ``Query PK``
======================  ===============================  ======================================

The portfolio aggregate is computed when a run is written (per grid area, series and hour: the
building count, the sum of ``yhat``, of the bounds and of the squared half-widths) and a read takes,
for each hour, the newest run that covered the area. That equals the per-building newest forecast
(the PostgreSQL/Timestream semantics) whenever a run forecasts every building of its areas, which
the inference workflow does; it makes a 1,000-building portfolio read 72 small items instead of
72,000 (see ``bench/serving.py``).

Every item carries ``expires_at`` (epoch seconds, issue time + ``ttl_days``), the table's TTL
attribute, so old runs age out without a sweeper. ``BatchWriteItem`` calls take 25 items and
``UnprocessedItems`` are retried with exponential backoff; what still fails raises.
Re-writing a run puts the new items first, then deletes the run's old items the new write did
not contain (found through ``ByRun``), so readers never see a half-empty run.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from edf.data.outputs import WEATHER_SOURCE_UNKNOWN
from edf.storage.base import (
    BuildingInfo,
    ForecastPoint,
    ForecastRow,
    PortfolioPoint,
    RecommendationRow,
    StoreError,
    WriteResult,
    check_building_id,
    check_grid_area,
    check_range,
    check_series,
    iso_z,
    newest_per_hour,
    newest_run_recommendations,
    parse_iso_z,
    validate_run,
)

log = logging.getLogger(__name__)
BATCH = 25  # BatchWriteItem limit
MAX_ATTEMPTS = 8
END_SUFFIX = "#~"  # sorts after every "#..." continuation of a key prefix


def _days(start: dt.datetime, end: dt.datetime) -> list[str]:
    """UTC dates touched by ``[start, end)``."""
    day, last = start.date(), (end - dt.timedelta(microseconds=1)).date()
    out = []
    while day <= last:
        out.append(day.isoformat())
        day += dt.timedelta(days=1)
    return out


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


class DynamoDBForecastStore:
    """:class:`edf.storage.base.ForecastStore` on one DynamoDB table (on-demand capacity)."""

    backend = "DYNAMODB"

    def __init__(self, table_name: str, ttl_days: int, client: Any | None = None, region: str | None = None):
        import boto3
        from botocore.config import Config

        self.table = table_name
        self.ttl_days = ttl_days
        self.client = client or boto3.client(
            "dynamodb", region_name=region,
            config=Config(retries={"max_attempts": 10, "mode": "adaptive"}, connect_timeout=5, read_timeout=20))
        self.sleep = time.sleep  # replaced in tests

    # ---------------------------------------------------------------- schema
    def ensure_schema(self, create: bool = False) -> None:
        errors = self.client.exceptions
        try:
            self.client.describe_table(TableName=self.table)
            return
        except errors.ResourceNotFoundException:
            if not create:
                raise StoreError(f"DynamoDB table {self.table!r} does not exist (Terraform creates it; "
                                 "set edf_storage.create_missing for local runs)") from None
        gsi = [
            {"IndexName": "ByRun", "KeySchema": [{"AttributeName": "RPK", "KeyType": "HASH"},
                                                 {"AttributeName": "RSK", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
        ]
        self.client.create_table(
            TableName=self.table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("PK", "SK", "RPK", "RSK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=gsi,
        )
        self.client.get_waiter("table_exists").wait(TableName=self.table)
        self.client.update_time_to_live(TableName=self.table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires_at"})
        log.info("created DynamoDB table %s", self.table)

    # ---------------------------------------------------------------- writes
    def _expires(self, issue: dt.datetime) -> dict[str, str]:
        return {"N": str(int((issue + dt.timedelta(days=self.ttl_days)).timestamp()))}

    def _forecast_item(self, r: ForecastRow) -> dict[str, Any]:
        hour, issue = iso_z(r.timestamp_hour), iso_z(r.issue_time)
        pk, sk = f"F#{r.building_id}#{r.series}", f"{hour}#{issue}#{r.run_id}"
        item = {
            "PK": {"S": pk}, "SK": {"S": sk},
            "RPK": {"S": f"RUN#{r.run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
            "b": {"S": r.building_id}, "a": {"S": r.grid_area}, "s": {"S": r.series},
            "th": {"S": hour}, "it": {"S": issue}, "r": {"S": r.run_id},
            "y": _n(r.yhat), "lo": _n(r.yhat_lower), "hi": _n(r.yhat_upper),
            "mv": {"S": r.model_version}, "st": {"S": r.strategy},
            "expires_at": self._expires(r.issue_time),
        }
        if r.lead_hours is not None:
            item["lh"] = {"N": str(int(r.lead_hours))}
        if r.origin_time is not None:
            item["ot"] = {"S": iso_z(r.origin_time)}
        item["ws"] = {"S": r.weather_source}  # weather source (issue 15)
        return item

    def _aggregate_items(self, forecasts: Sequence[ForecastRow]) -> list[dict[str, Any]]:
        sums: dict[tuple[str, str, dt.datetime], list[Any]] = {}
        for r in forecasts:
            acc = sums.setdefault((r.grid_area, r.series, r.timestamp_hour), [0, 0.0, 0.0, 0.0, 0.0, 0.0, r.issue_time, r.run_id])
            acc[0] += 1
            acc[1] += r.yhat
            acc[2] += (r.yhat - r.yhat_lower) ** 2
            acc[3] += (r.yhat_upper - r.yhat) ** 2
            acc[4] += r.yhat_lower
            acc[5] += r.yhat_upper
            acc[6] = max(acc[6], r.issue_time)
        items = []
        for (area, series, hour_dt), (n, y, lq, hq, ls, hs, issue_dt, run_id) in sums.items():
            hour, issue = iso_z(hour_dt), iso_z(issue_dt)
            pk, sk = f"PA#{area}#{series}", f"{hour}#{issue}#{run_id}"
            items.append({"PK": {"S": pk}, "SK": {"S": sk}, "RPK": {"S": f"RUN#{run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
                          "th": {"S": hour}, "it": {"S": issue}, "r": {"S": run_id}, "n": {"N": str(n)},
                          "y": _n(y), "lq": _n(lq), "hq": _n(hq), "ls": _n(ls), "hs": _n(hs),
                          "expires_at": self._expires(issue_dt)})
        return items

    def _recommendation_item(self, r: RecommendationRow) -> dict[str, Any]:
        hour = iso_z(r.timestamp_hour)
        pk, sk = f"RA#{r.grid_area}#{hour[:10]}", f"{hour}#{r.building_id}#{r.kind}#{r.action}#{r.run_id}"
        return {
            "PK": {"S": pk}, "SK": {"S": sk},
            "RPK": {"S": f"RUN#{r.run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
            "b": {"S": r.building_id}, "a": {"S": r.grid_area}, "k": {"S": r.kind}, "th": {"S": hour},
            "ac": {"S": r.action}, "kw": _n(r.kw), "red": _n(r.expected_reduction_kwh),
            "sav": _n(r.expected_saving), "r": {"S": r.run_id}, "it": {"S": iso_z(r.issue_time)},
            "expires_at": self._expires(r.issue_time),
        }

    def _building_items(self, forecasts: Sequence[ForecastRow]) -> list[dict[str, Any]]:
        series: dict[tuple[str, str], set[str]] = {}
        newest: dict[tuple[str, str], dt.datetime] = {}
        for r in forecasts:
            key = (r.building_id, r.grid_area)
            series.setdefault(key, set()).add(r.series)
            newest[key] = max(newest.get(key, r.issue_time), r.issue_time)
        items = []
        for (b, a), ss in series.items():
            common = {"b": {"S": b}, "a": {"S": a}, "ss": {"SS": sorted(ss)}, "expires_at": self._expires(newest[(b, a)])}
            items.append({"PK": {"S": f"B#{b}"}, "SK": {"S": "META"}, **common})
            items.append({"PK": {"S": f"A#{a}"}, "SK": {"S": f"B#{b}"}, **common})
        return items

    def _batch(self, requests: list[dict[str, Any]]) -> int:
        """BatchWriteItem in chunks of 25, retrying UnprocessedItems; returns the calls made."""
        calls = 0
        for i in range(0, len(requests), BATCH):
            pending = requests[i:i + BATCH]
            for attempt in range(MAX_ATTEMPTS):
                calls += 1
                resp = self.client.batch_write_item(RequestItems={self.table: pending})
                pending = resp.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
                delay = min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random() / 2)
                log.info("DynamoDB left %d item(s) unprocessed; retrying in %.2fs", len(pending), delay)
                self.sleep(delay)
            else:
                raise StoreError(f"DynamoDB left {len(pending)} item(s) unprocessed after {MAX_ATTEMPTS} "
                                 f"attempts (table {self.table}); the run was not fully written")
        return calls

    def _run_keys(self, run_id: str) -> set[tuple[str, str]]:
        keys = set()
        for item in self._query(IndexName="ByRun", KeyConditionExpression="RPK = :p",
                                ExpressionAttributeValues={":p": {"S": f"RUN#{run_id}"}}):
            keys.add((item["PK"]["S"], item["SK"]["S"]))
        return keys

    def write_run(self, run_id: str, forecasts: Sequence[ForecastRow],
                  recommendations: Sequence[RecommendationRow] | None = None) -> WriteResult:
        validate_run(run_id, forecasts, recommendations)
        old = self._run_keys(run_id)
        f_items = [self._forecast_item(r) for r in forecasts]
        r_items = [self._recommendation_item(r) for r in recommendations or ()]
        a_items = self._aggregate_items(forecasts)
        items = self._building_items(forecasts) + f_items + a_items + r_items
        calls = self._batch([{"PutRequest": {"Item": it}} for it in items])
        new = {(it["PK"]["S"], it["SK"]["S"]) for it in f_items + a_items + r_items}
        stale = sorted(old - new)
        calls += self._batch([{"DeleteRequest": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}} for pk, sk in stale])
        return WriteResult(
            forecasts_written=len(f_items), recommendations_written=len(r_items), backend=self.backend,
            forecasts_removed=sum(1 for pk, _ in stale if pk.startswith("F#")),
            recommendations_removed=sum(1 for pk, _ in stale if pk.startswith("RA#")), calls=calls)

    # ---------------------------------------------------------------- reads
    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table
        while True:
            resp = self.client.query(**kwargs)
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def get_building(self, building_id: str) -> BuildingInfo | None:
        check_building_id(building_id)
        item = self.client.get_item(TableName=self.table, Key={"PK": {"S": f"B#{building_id}"}, "SK": {"S": "META"}},
                                    ConsistentRead=False).get("Item")
        if not item:
            return None
        return BuildingInfo(item["b"]["S"], item["a"]["S"], tuple(sorted(item.get("ss", {}).get("SS", []))))

    def list_buildings(self, grid_areas: Iterable[str]) -> list[BuildingInfo]:
        out = []
        for area in sorted({check_grid_area(a) for a in grid_areas}):
            for item in self._query(KeyConditionExpression="PK = :p AND begins_with(SK, :b)",
                                    ExpressionAttributeValues={":p": {"S": f"A#{area}"}, ":b": {"S": "B#"}}):
                out.append(BuildingInfo(item["b"]["S"], item["a"]["S"], tuple(sorted(item["ss"]["SS"]))))
        return sorted(out, key=lambda b: b.building_id)

    @staticmethod
    def _point(item: dict[str, Any]) -> ForecastPoint:
        return ForecastPoint(
            timestamp_hour=parse_iso_z(item["th"]["S"]), yhat=float(item["y"]["N"]),
            yhat_lower=float(item["lo"]["N"]), yhat_upper=float(item["hi"]["N"]),
            issue_time=parse_iso_z(item["it"]["S"]), model_version=item["mv"]["S"], run_id=item["r"]["S"],
            weather_source=item.get("ws", {}).get("S", WEATHER_SOURCE_UNKNOWN))

    def building_series(self, building_id: str, series: str, start: dt.datetime,
                        end: dt.datetime) -> list[ForecastPoint]:
        check_building_id(building_id)
        check_series(series)
        start, end = check_range(start, end)
        items = self._query(
            KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b",
            ExpressionAttributeValues={":p": {"S": f"F#{building_id}#{series}"}, ":a": {"S": iso_z(start)},
                                       ":b": {"S": iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX}},
            ProjectionExpression="th, y, lo, hi, it, r, mv, ws")
        return newest_per_hour(self._point(it) for it in items)

    def portfolio_series(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                         end: dt.datetime) -> list[PortfolioPoint]:
        check_series(series)
        start, end = check_range(start, end)
        lo, hi = iso_z(start), iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX
        totals: dict[str, list[float]] = {}
        for area in sorted({check_grid_area(a) for a in grid_areas}):
            newest: dict[str, dict[str, Any]] = {}
            for it in self._query(KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b",
                                  ExpressionAttributeValues={":p": {"S": f"PA#{area}#{series}"},
                                                             ":a": {"S": lo}, ":b": {"S": hi}}):
                cur = newest.get(it["th"]["S"])
                if cur is None or (it["it"]["S"], it["r"]["S"]) > (cur["it"]["S"], cur["r"]["S"]):
                    newest[it["th"]["S"]] = it
            for hour, it in newest.items():
                acc = totals.setdefault(hour, [0.0] * 6)
                for i, key in enumerate(("n", "y", "lq", "hq", "ls", "hs")):
                    acc[i] += float(it[key]["N"])
        return [PortfolioPoint(timestamp_hour=parse_iso_z(h), buildings=int(n), yhat=y, yhat_lower=y - math.sqrt(lq),
                               yhat_upper=y + math.sqrt(hq), yhat_lower_comonotonic=ls, yhat_upper_comonotonic=hs)
                for h, (n, y, lq, hq, ls, hs) in sorted(totals.items())]

    def recommendations(self, grid_areas: Iterable[str], start: dt.datetime,
                        end: dt.datetime) -> list[RecommendationRow]:
        start, end = check_range(start, end)
        rows = []
        lo, hi = iso_z(start), iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX
        for area in sorted({check_grid_area(a) for a in grid_areas}):
            for day in _days(start, end):
                for it in self._query(KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b",
                                      ExpressionAttributeValues={":p": {"S": f"RA#{area}#{day}"},
                                                                 ":a": {"S": lo}, ":b": {"S": hi}}):
                    rows.append(RecommendationRow(
                        building_id=it["b"]["S"], grid_area=it["a"]["S"], kind=it["k"]["S"],
                        timestamp_hour=parse_iso_z(it["th"]["S"]), action=it["ac"]["S"], kw=float(it["kw"]["N"]),
                        expected_reduction_kwh=float(it["red"]["N"]), expected_saving=float(it["sav"]["N"]),
                        run_id=it["r"]["S"], issue_time=parse_iso_z(it["it"]["S"])))
        return newest_run_recommendations(rows)


def table_name(cfg: Any) -> str:
    return os.environ.get("EDF_DYNAMODB_TABLE") or cfg.name(cfg.edf_storage.dynamodb_table_base)
