"""DynamoDB forecast store: one table, every read a ``Query`` (or ``GetItem``), never a ``Scan``.

Key design (``PK``/``SK`` strings; timestamps as fixed-width UTC ISO text so they sort):

======================  ===============================  ======================================
item                    PK / SK                           serves
======================  ===============================  ======================================
forecast                ``F#{building}#{series}`` /       building series: ``Query PK, SK BETWEEN``
                        ``{hour}#{issue}#{run}#{g}``      (newest issue per hour picked in code)
area aggregate          ``PA#{area}#{series}`` /          portfolio: one ``Query`` per area, ~72
                        ``{hour}#{issue}#{run}#{g}``      items per run instead of 1,000 x 72
recommendation          ``RA#{area}#{date}`` /            recommendations per area and UTC day
                        ``{hour}#{building}#...#{g}``
  GSI ``ByRun``         ``RUN#{run}`` / ``PK|SK``         re-writing a run: find its old items
building                ``B#{building}`` / ``META``       ``GetItem`` (authorization lookup)
area membership         ``A#{area}`` / ``B#{building}``   ``GET /v1/buildings``: ``Query PK``
run pointer             ``RUNPTR#{run}`` / ``RUN``        the run's committed generation ``g``
======================  ===============================  ======================================

The portfolio aggregate is computed when a run is written (per grid area, series and hour: the
building count, the sum of ``yhat``, of the bounds and of the squared half-widths) and a read takes,
for each hour, the run that covered the area with the newest origin (then issue time, then run id:
:func:`edf.storage.base.forecast_rank`). That equals the per-building newest forecast
(the PostgreSQL/Timestream semantics) whenever a run forecasts every building of its areas, which
the inference workflow does; it makes a 1,000-building portfolio read 72 small items instead of
72,000 (see ``bench/serving.py``).

Atomic loads (issue 14, item 8). Every write of a run is a new *generation* ``g`` (a random id in
every item, and in the keys of the forecast, aggregate and recommendation items, so a re-write
never overwrites the items readers use). Only when every item of the generation is written does
one conditional ``PutItem`` flip the run's pointer ``RUNPTR#{run}`` to ``g``; the items of the run's
other generations are deleted after that. Readers keep only the items of the generation their
run's pointer names (one ``BatchGetItem`` of the few runs a read window meets), so they see the old
run whole until the flip and the new run whole after it: a failure anywhere before the flip leaves
nothing visible, a failed delete leaves garbage nobody reads (the next load of the run, or TTL,
removes it). The building (``META``) and membership items are per building, not per run, and are
overwritten in place: each carries the generation that wrote it and, as ``pv``, the building's
state committed before, which readers use while that generation is not committed. A building
with no committed state (legacy items written before pointers existed included) is not visible.
Loads of one run must not overlap: the flip is refused when the pointer changed since the load began.

Topology changes (a building moving between grid areas). The building item ``B#{b}``/``META``
holds the building's *current* area and the rank (origin, issue, run) of the run that set it.
Before a run's building items are written, the committed state of its buildings is read
(``BatchGetItem`` of ``META``, resolved through the pointers): a building a newer run already
placed keeps its ``META`` and membership (a late re-run of an older day does not move it back); a
building that moved gets a "gone" membership in its old area (deleted after the flip), and the run
writes aggregate items for the old area's hours too (count 0 when no other building of the run is
there), so the old area's newest aggregate no longer counts it. Recommendation reads keep only
buildings whose current area is asked for.

Every item carries ``expires_at`` (epoch seconds, issue time + ``ttl_days``), the table's TTL
attribute, so old runs age out without a sweeper; a pointer outlives its run's items by two days.
``BatchWriteItem`` calls take 25 items and ``UnprocessedItems`` are retried with exponential
backoff; what still fails raises.

Writing streams: rows are consumed once and turned into items as they pass, ``BatchWriteItem``
calls run on ``write_threads`` threads with a bounded number in flight, and only the per-area
aggregates and per-building entries (thousands, not millions) are held until the end — so the
load's memory does not grow with the portfolio. The old generation is found through ``ByRun``
(which projects ``g``) after the flip, so the writer never holds the old run's keys either.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from edf.data.outputs import WEATHER_SOURCE_UNKNOWN
from edf.storage.base import (
    BuildingInfo,
    ForecastPoint,
    ForecastRow,
    PortfolioPoint,
    RecommendationRow,
    RunStream,
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
)

log = logging.getLogger(__name__)
BATCH = 25  # BatchWriteItem limit
GET_BATCH = 100  # BatchGetItem limit
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


def _rank(item: dict[str, Any]) -> tuple[str, str, str]:
    """An item's (origin, issue, run) as fixed-width text: compares like ``forecast_rank``."""
    return (item.get("ot", {}).get("S", ""), item.get("it", {}).get("S", ""), item.get("r", {}).get("S", ""))


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)


class DynamoDBForecastStore:
    """:class:`edf.storage.base.ForecastStore` on one DynamoDB table (on-demand capacity)."""

    backend = "DYNAMODB"

    def __init__(self, table_name: str, ttl_days: int, client: Any | None = None, region: str | None = None,
                 write_threads: int = 8):
        import boto3
        from botocore.config import Config

        self.table = table_name
        self.ttl_days = ttl_days
        self.client = client or boto3.client(
            "dynamodb", region_name=region,
            config=Config(retries={"max_attempts": 10, "mode": "adaptive"}, connect_timeout=5, read_timeout=20))
        self.sleep = time.sleep  # replaced in tests
        self.write_threads = max(1, int(write_threads))

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
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["g"]}},
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

    def _forecast_item(self, r: ForecastRow, gen: str) -> dict[str, Any]:
        hour, issue = iso_z(r.timestamp_hour), iso_z(r.issue_time)
        pk, sk = f"F#{r.building_id}#{r.series}", f"{hour}#{issue}#{r.run_id}#{gen}"
        item = {
            "PK": {"S": pk}, "SK": {"S": sk},
            "RPK": {"S": f"RUN#{r.run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
            "b": {"S": r.building_id}, "a": {"S": r.grid_area}, "s": {"S": r.series},
            "th": {"S": hour}, "it": {"S": issue}, "r": {"S": r.run_id},
            "y": _n(r.yhat), "lo": _n(r.yhat_lower), "hi": _n(r.yhat_upper),
            "mv": {"S": r.model_version}, "st": {"S": r.strategy},
            "expires_at": self._expires(r.issue_time), "g": {"S": gen},
        }
        if r.lead_hours is not None:
            item["lh"] = {"N": str(int(r.lead_hours))}
        if r.origin_time is not None:
            item["ot"] = {"S": iso_z(r.origin_time)}
        item["ws"] = {"S": r.weather_source}  # weather source (issue 15)
        return item

    @staticmethod
    def _accumulate(sums: dict[tuple[str, str, dt.datetime], list[Any]], r: ForecastRow) -> None:
        """Add one forecast to its area/series/hour aggregate (count, sums, squared half-widths)."""
        acc = sums.setdefault((r.grid_area, r.series, r.timestamp_hour),
                              [0, 0.0, 0.0, 0.0, 0.0, 0.0, r.issue_time, r.run_id, r.origin_time])
        acc[0] += 1
        acc[1] += r.yhat
        acc[2] += (r.yhat - r.yhat_lower) ** 2
        acc[3] += (r.yhat_upper - r.yhat) ** 2
        acc[4] += r.yhat_lower
        acc[5] += r.yhat_upper
        acc[6] = max(acc[6], r.issue_time)
        acc[8] = _later(acc[8], r.origin_time)

    @staticmethod
    def _vacate(sums: dict[tuple[str, str, dt.datetime], list[Any]], moved: dict[str, tuple[str, str]]) -> None:
        """For buildings that left an area (building -> (old area, new area)), add the old area's hours of
        the new area with no contribution: the old area's newest aggregate then stops counting them."""
        pairs = {(old, new) for old, new in moved.values()}
        for (area, series, hour), acc in list(sums.items()):
            for old, new in pairs:
                if area == new:
                    sums.setdefault((old, series, hour), [0, 0.0, 0.0, 0.0, 0.0, 0.0, acc[6], acc[7], acc[8]])

    def _aggregate_items(self, sums: dict[tuple[str, str, dt.datetime], list[Any]], gen: str) -> Iterator[dict[str, Any]]:
        for (area, series, hour_dt), (n, y, lq, hq, ls, hs, issue_dt, run_id, origin) in sums.items():
            hour, issue = iso_z(hour_dt), iso_z(issue_dt)
            pk, sk = f"PA#{area}#{series}", f"{hour}#{issue}#{run_id}#{gen}"
            yield {"PK": {"S": pk}, "SK": {"S": sk}, "RPK": {"S": f"RUN#{run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
                   "th": {"S": hour}, "it": {"S": issue}, "r": {"S": run_id}, "n": {"N": str(n)},
                   "y": _n(y), "lq": _n(lq), "hq": _n(hq), "ls": _n(ls), "hs": _n(hs),
                   "expires_at": self._expires(issue_dt), "g": {"S": gen},
                   **({"ot": {"S": iso_z(origin)}} if origin is not None else {})}

    def _recommendation_item(self, r: RecommendationRow, gen: str) -> dict[str, Any]:
        hour = iso_z(r.timestamp_hour)
        pk, sk = f"RA#{r.grid_area}#{hour[:10]}", f"{hour}#{r.building_id}#{r.kind}#{r.action}#{r.run_id}#{gen}"
        return {
            "PK": {"S": pk}, "SK": {"S": sk},
            "RPK": {"S": f"RUN#{r.run_id}"}, "RSK": {"S": f"{pk}|{sk}"},
            "b": {"S": r.building_id}, "a": {"S": r.grid_area}, "k": {"S": r.kind}, "th": {"S": hour},
            "ac": {"S": r.action}, "kw": _n(r.kw), "red": _n(r.expected_reduction_kwh),
            "sav": _n(r.expected_saving), "r": {"S": r.run_id}, "it": {"S": iso_z(r.issue_time)},
            "expires_at": self._expires(r.issue_time), "g": {"S": gen},
        }

    @staticmethod
    def _note_building(seen: dict[tuple[str, str], list[Any]], r: ForecastRow) -> None:
        entry = seen.setdefault((r.building_id, r.grid_area), [set(), r.issue_time, r.origin_time, r.run_id])
        entry[0].add(r.series)
        entry[1] = max(entry[1], r.issue_time)
        entry[2] = _later(entry[2], r.origin_time)

    def _building_items(self, seen: dict[tuple[str, str], list[Any]], gen: str, states: dict[str, dict[str, Any]],
                        moved: dict[str, tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """``META`` + membership per building, carrying the run's rank (``ot``, ``it``, ``r``) and ``g``.

        These items are overwritten in place, so each also keeps the building's committed state as
        ``pv`` (readers use it until the pointer names ``g``). A building that moved leaves a "gone"
        membership in its old area, with the same fallback, deleted once the run is committed.
        """
        for (b, a), (ss, newest, origin, run_id) in seen.items():
            common = {"b": {"S": b}, "a": {"S": a}, "ss": {"SS": sorted(ss)}, "expires_at": self._expires(newest),
                      "it": {"S": iso_z(newest)}, "r": {"S": run_id}, "g": {"S": gen},
                      **({"ot": {"S": iso_z(origin)}} if origin is not None else {})}
            prev = states.get(b)
            yield {"PK": {"S": f"B#{b}"}, "SK": {"S": "META"}, **common, **_fallback(prev)}
            yield {"PK": {"S": f"A#{a}"}, "SK": {"S": f"B#{b}"}, **common,
                   **_fallback(prev if prev is not None and prev["a"]["S"] == a else None)}
            if b in moved:
                old = moved[b][0]
                yield {"PK": {"S": f"A#{old}"}, "SK": {"S": f"B#{b}"}, **common, "a": {"S": old},
                       "gone": {"BOOL": True}, **_fallback(prev)}

    def _get_many(self, keys: list[dict[str, Any]], consistent: bool = True) -> list[dict[str, Any]]:
        """BatchGetItem in chunks of 100, retrying UnprocessedKeys (same backoff as writes)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(keys), GET_BATCH):
            request: dict[str, Any] = {"Keys": keys[i:i + GET_BATCH], "ConsistentRead": consistent}
            for attempt in range(MAX_ATTEMPTS):
                resp = self.client.batch_get_item(RequestItems={self.table: request})
                out += resp.get("Responses", {}).get(self.table, [])
                pending = resp.get("UnprocessedKeys", {}).get(self.table)
                if not pending:
                    break
                request = pending
                self.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random() / 2))
            else:
                raise StoreError(f"DynamoDB left keys unread after {MAX_ATTEMPTS} attempts (table {self.table})")
        return out

    def _meta(self, building_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The stored ``META`` item of each building that has one (as written: resolve with :func:`_resolve`)."""
        keys = [{"PK": {"S": f"B#{b}"}, "SK": {"S": "META"}} for b in sorted(set(building_ids))]
        return {it["b"]["S"]: it for it in self._get_many(keys)}

    def _committed(self, run_ids: Iterable[str]) -> dict[str, str]:
        """Run id -> its committed generation, for the runs that have one (one BatchGetItem per 100 runs).

        A read window meets a handful of runs (one a day), so this is one small call per read.
        """
        keys = [_pointer_key(r) for r in sorted(set(run_ids))]
        return {it["run"]["S"]: it["g"]["S"] for it in self._get_many(keys)} if keys else {}

    def _states(self, items: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Committed state of each building's ``META`` (buildings with none are left out)."""
        committed = self._committed(_runs_of(items.values()))
        states = {b: _resolve(it, committed) for b, it in items.items()}
        return {b: st for b, st in states.items() if st is not None}

    def _topology(self, seen: dict[tuple[str, str], list[Any]]) -> tuple[dict[str, tuple[str, str]], dict[str, Any]]:
        """Compare the run's buildings with their committed ``META``; returns (moves, committed states).

        Entries of buildings a higher-ranking run already placed are dropped from ``seen`` (their
        ``META`` and membership stay as they are). Thousands of buildings: 1 BatchGetItem per 100.
        """
        states = self._states(self._meta(b for b, _ in seen))
        moved: dict[str, tuple[str, str]] = {}
        for (b, a), (_, issue, origin, run_id) in list(seen.items()):
            cur = states.get(b)
            if cur is None:
                continue
            mine = (iso_z(origin) if origin is not None else "", iso_z(issue), run_id)
            if _rank(cur) > mine:
                del seen[(b, a)]
            elif cur["a"]["S"] != a:
                moved[b] = (cur["a"]["S"], a)
        return moved, states

    def _send(self, requests: list[dict[str, Any]]) -> int:
        """One BatchWriteItem of <= 25 requests, retrying UnprocessedItems; returns the calls made."""
        pending = requests
        for attempt in range(MAX_ATTEMPTS):
            resp = self.client.batch_write_item(RequestItems={self.table: pending})
            pending = resp.get("UnprocessedItems", {}).get(self.table, [])
            if not pending:
                return attempt + 1
            delay = min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random() / 2)
            log.info("DynamoDB left %d item(s) unprocessed; retrying in %.2fs", len(pending), delay)
            self.sleep(delay)
        raise StoreError(f"DynamoDB left {len(pending)} item(s) unprocessed after {MAX_ATTEMPTS} "
                         f"attempts (table {self.table}); the run was not fully written")

    def _batch(self, requests: Iterable[dict[str, Any]]) -> int:
        """Send requests in batches of 25 on the writer threads; returns the calls made."""
        with BatchWriter(self._send, self.write_threads) as writer:
            for request in requests:
                writer.add(request)
        return writer.calls

    def _stale(self, run_id: str, gen: str) -> Iterator[tuple[str, str, bool]]:
        """The run's items of another generation, as (PK, SK, replaced): ``replaced`` when generation
        ``gen`` holds the same row (``ByRun`` sorts a row's generations next to each other)."""
        items = self._query(IndexName="ByRun", KeyConditionExpression="RPK = :p",
                            ExpressionAttributeValues={":p": {"S": f"RUN#{run_id}"}})
        for _, group in itertools.groupby(items, key=lambda it: it["RSK"]["S"].rsplit("#", 1)[0]):
            rows = list(group)
            replaced = any(it.get("g", {}).get("S") == gen for it in rows)
            for it in rows:
                if it.get("g", {}).get("S") != gen:
                    yield it["PK"]["S"], it["SK"]["S"], replaced

    def _pointer(self, run_id: str) -> str | None:
        """The generation the run's pointer names now (None: the run was never committed)."""
        item = self.client.get_item(TableName=self.table, Key=_pointer_key(run_id), ConsistentRead=True).get("Item")
        return item["g"]["S"] if item else None

    def _commit(self, run_id: str, gen: str, replaces: str | None, stream: RunStream, newest: dt.datetime) -> None:
        """Flip the run's pointer to ``gen``: one conditional PutItem, the moment the run changes for readers.

        The condition (the pointer still names what it named when this write began) refuses the flip
        when another load of the same run committed meanwhile; its cleanup may have removed items of
        this generation, so committing it could show a partial run.
        """
        item = {**_pointer_key(run_id), "run": {"S": run_id}, "g": {"S": gen},
                "committed_at": {"S": iso_z(dt.datetime.now(dt.UTC))}, "f": {"N": str(stream.forecasts)},
                "rc": {"N": str(stream.recommendations)},
                # outlives the run's items (issue time + ttl): a run's items never outlive its pointer
                "expires_at": {"N": str(int((newest + dt.timedelta(days=self.ttl_days + 2)).timestamp()))}}
        condition = {"ConditionExpression": "attribute_not_exists(PK)"} if replaces is None else {
            "ConditionExpression": "g = :seen", "ExpressionAttributeValues": {":seen": {"S": replaces}}}
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except self.client.exceptions.ConditionalCheckFailedException:
            raise StoreError(f"run {run_id}: another load of the run committed while this one was writing; "
                             "nothing of this load is visible (retry the load)") from None

    def write_run(self, run_id: str, forecasts: Iterable[ForecastRow],
                  recommendations: Iterable[RecommendationRow] | None = None) -> WriteResult:
        """Write the run as a new generation, flip the run's pointer to it, then delete other generations.

        Readers follow the pointer, so until the flip they see the previous commit of every item, and
        after it the new one: a failure at any point before the flip leaves the old run served whole
        (its leftovers are ignored, then removed by the next load of the run or by TTL).
        """
        stream, gen, replaces = RunStream(run_id), uuid.uuid4().hex, self._pointer(run_id)
        sums: dict[tuple[str, str, dt.datetime], list[Any]] = {}
        buildings: dict[tuple[str, str], list[Any]] = {}
        moved: dict[str, tuple[str, str]] = {}
        newest: list[dt.datetime] = []

        def items() -> Iterator[dict[str, Any]]:
            for r in stream.forecast_rows(forecasts):
                self._accumulate(sums, r)
                self._note_building(buildings, r)
                yield self._forecast_item(r, gen)
            for rec in stream.recommendation_rows(recommendations):
                yield self._recommendation_item(rec, gen)
            stream.check_duplicates()
            found, states = self._topology(buildings)  # issue 14, item 7: access follows the current topology
            moved.update(found)
            self._vacate(sums, moved)
            newest.extend(acc[6] for acc in sums.values())
            yield from self._aggregate_items(sums, gen)
            yield from self._building_items(buildings, gen, states, moved)

        calls = self._batch({"PutRequest": {"Item": it}} for it in items())
        self._commit(run_id, gen, replaces, stream, max(newest, default=dt.datetime.now(dt.UTC)))
        removed = {"F#": 0, "RA#": 0}

        def deletes() -> Iterator[dict[str, Any]]:
            for pk, sk, replaced in self._stale(run_id, gen):
                for prefix in removed:
                    removed[prefix] += pk.startswith(prefix) and not replaced
                yield {"DeleteRequest": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}}
            for b, (old, _) in sorted(moved.items()):  # the "gone" membership in the building's old area
                yield {"DeleteRequest": {"Key": {"PK": {"S": f"A#{old}"}, "SK": {"S": f"B#{b}"}}}}

        calls += 1 + self._batch(deletes())
        return WriteResult(forecasts_written=stream.forecasts, recommendations_written=stream.recommendations,
                           backend=self.backend, forecasts_removed=removed["F#"],
                           recommendations_removed=removed["RA#"], calls=calls)

    # ---------------------------------------------------------------- reads
    # Every read keeps only items of the generation their run's pointer names (one BatchGetItem of the
    # few runs it met), and reads strongly consistent: a query that lagged behind a just-flipped
    # pointer could otherwise miss the new generation's items for some hours and show an older run there.
    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table
        while True:
            resp = self.client.query(**kwargs)
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _visible(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items of committed generations."""
        items = list(items)
        committed = self._committed(_runs_of(items))
        return [it for it in items if _is_committed(it, committed)]

    def get_building(self, building_id: str) -> BuildingInfo | None:
        check_building_id(building_id)
        item = self.client.get_item(TableName=self.table, Key={"PK": {"S": f"B#{building_id}"}, "SK": {"S": "META"}},
                                    ConsistentRead=True).get("Item")
        state = self._states({building_id: item}).get(building_id) if item else None
        if state is None:
            return None
        return BuildingInfo(building_id, state["a"]["S"], tuple(sorted(state.get("ss", {}).get("SS", []))))

    def list_buildings(self, grid_areas: Iterable[str]) -> list[BuildingInfo]:
        items = []
        for area in sorted({check_grid_area(a) for a in grid_areas}):
            items += self._query(KeyConditionExpression="PK = :p AND begins_with(SK, :b)", ConsistentRead=True,
                                 ExpressionAttributeValues={":p": {"S": f"A#{area}"}, ":b": {"S": "B#"}})
        committed = self._committed(_runs_of(items))
        out = []
        for item in items:
            state = _resolve(item, committed)
            if state is not None:
                out.append(BuildingInfo(item["b"]["S"], state["a"]["S"], tuple(sorted(state["ss"]["SS"]))))
        return sorted(out, key=lambda b: b.building_id)

    @staticmethod
    def _point(item: dict[str, Any]) -> ForecastPoint:
        return ForecastPoint(
            timestamp_hour=parse_iso_z(item["th"]["S"]), yhat=float(item["y"]["N"]),
            yhat_lower=float(item["lo"]["N"]), yhat_upper=float(item["hi"]["N"]),
            issue_time=parse_iso_z(item["it"]["S"]), model_version=item["mv"]["S"], run_id=item["r"]["S"],
            origin_time=parse_iso_z(item["ot"]["S"]) if "ot" in item else None,
            weather_source=item.get("ws", {}).get("S", WEATHER_SOURCE_UNKNOWN))

    def building_series(self, building_id: str, series: str, start: dt.datetime,
                        end: dt.datetime) -> list[ForecastPoint]:
        check_building_id(building_id)
        check_series(series)
        start, end = check_range(start, end)
        items = self._query(
            KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b", ConsistentRead=True,
            ExpressionAttributeValues={":p": {"S": f"F#{building_id}#{series}"}, ":a": {"S": iso_z(start)},
                                       ":b": {"S": iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX}},
            ProjectionExpression="th, y, lo, hi, it, r, mv, ot, ws, g")
        return newest_per_hour(self._point(it) for it in self._visible(items))

    def portfolio_series(self, grid_areas: Iterable[str], series: str, start: dt.datetime,
                         end: dt.datetime) -> list[PortfolioPoint]:
        check_series(series)
        start, end = check_range(start, end)
        lo, hi = iso_z(start), iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX
        by_area = {area: list(self._query(KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b",
                                          ConsistentRead=True,
                                          ExpressionAttributeValues={":p": {"S": f"PA#{area}#{series}"},
                                                                     ":a": {"S": lo}, ":b": {"S": hi}}))
                   for area in sorted({check_grid_area(a) for a in grid_areas})}
        committed = self._committed(_runs_of(it for items in by_area.values() for it in items))
        totals: dict[str, list[float]] = {}
        for items in by_area.values():
            newest: dict[str, dict[str, Any]] = {}
            for it in items:
                cur = newest.get(it["th"]["S"])
                if _is_committed(it, committed) and (cur is None or _rank(it) > _rank(cur)):
                    newest[it["th"]["S"]] = it
            for hour, it in newest.items():
                acc = totals.setdefault(hour, [0.0] * 6)
                for i, key in enumerate(("n", "y", "lq", "hq", "ls", "hs")):
                    acc[i] += float(it[key]["N"])
        # an hour whose newest aggregates count no building (every building left the areas) is no point
        return [PortfolioPoint(timestamp_hour=parse_iso_z(h), buildings=int(n), yhat=y, yhat_lower=y - math.sqrt(lq),
                               yhat_upper=y + math.sqrt(hq), yhat_lower_comonotonic=ls, yhat_upper_comonotonic=hs)
                for h, (n, y, lq, hq, ls, hs) in sorted(totals.items()) if n > 0]

    def recommendations(self, grid_areas: Iterable[str], start: dt.datetime,
                        end: dt.datetime) -> list[RecommendationRow]:
        start, end = check_range(start, end)
        items = []
        lo, hi = iso_z(start), iso_z(end - dt.timedelta(seconds=1)) + END_SUFFIX
        for area in sorted({check_grid_area(a) for a in grid_areas}):
            for day in _days(start, end):
                items += self._query(KeyConditionExpression="PK = :p AND SK BETWEEN :a AND :b", ConsistentRead=True,
                                     ExpressionAttributeValues={":p": {"S": f"RA#{area}#{day}"},
                                                                ":a": {"S": lo}, ":b": {"S": hi}})
        # access follows the current topology: a building that left the areas takes its old rows along
        meta = self._meta(it["b"]["S"] for it in items) if items else {}
        committed = self._committed(_runs_of([*items, *meta.values()]))
        current = {b: st for b, st in ((b, _resolve(it, committed)) for b, it in meta.items()) if st is not None}
        wanted = {check_grid_area(a) for a in grid_areas}
        return newest_run_recommendations(
            RecommendationRow(
                building_id=it["b"]["S"], grid_area=it["a"]["S"], kind=it["k"]["S"],
                timestamp_hour=parse_iso_z(it["th"]["S"]), action=it["ac"]["S"], kw=float(it["kw"]["N"]),
                expected_reduction_kwh=float(it["red"]["N"]), expected_saving=float(it["sav"]["N"]),
                run_id=it["r"]["S"], issue_time=parse_iso_z(it["it"]["S"]))
            for it in items if _is_committed(it, committed)
            and it["b"]["S"] in current and current[it["b"]["S"]]["a"]["S"] in wanted)


def _pointer_key(run_id: str) -> dict[str, Any]:
    return {"PK": {"S": f"RUNPTR#{run_id}"}, "SK": {"S": "RUN"}}


def _runs_of(items: Iterable[dict[str, Any]]) -> set[str]:
    return {it["r"]["S"] for it in items if "r" in it}


def _is_committed(item: dict[str, Any], committed: dict[str, str]) -> bool:
    """The item belongs to the generation its run's pointer names (items without one never do)."""
    gen = item.get("g", {}).get("S")
    return gen is not None and committed.get(item["r"]["S"]) == gen


_STATE = ("b", "a", "ss", "it", "r", "ot", "g", "gone")


def _fallback(state: dict[str, Any] | None) -> dict[str, Any]:
    """The ``pv`` attribute: the committed state a reader uses while the new one is not committed."""
    return {"pv": {"M": {k: state[k] for k in _STATE if k in state}}} if state is not None else {}


def _resolve(item: dict[str, Any], committed: dict[str, str]) -> dict[str, Any] | None:
    """The committed state of a ``META``/membership item: itself if its generation is committed, else
    its ``pv``; None when neither exists or the state says the building left (``gone``)."""
    state = item if _is_committed(item, committed) else item.get("pv", {}).get("M")
    return None if not state or "gone" in state else state


class BatchWriter:
    """``BatchWriteItem`` batches of 25 sent by a thread pool, with a bounded number in flight.

    Real DynamoDB answers a batch in ~10-30 ms; one thread would need 10-20 minutes for a
    10,000-building run (57,600 batches), a pool of 8 a few. At most ``4 x threads`` batches wait,
    so memory stays bounded however many items stream through. The first failure stops the
    writer and is raised when it closes.
    """

    def __init__(self, send: Callable[[list[dict[str, Any]]], int], threads: int) -> None:
        self.send = send
        self.calls = 0
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ddb-write")
        self._futures: set[Future] = set()
        self._limit = 4 * threads
        self._batch: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        try:
            if exc_type is None:
                self._submit()
                self._drain(0)
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def add(self, request: dict[str, Any]) -> None:
        self._batch.append(request)
        if len(self._batch) == BATCH:
            self._submit()

    def _submit(self) -> None:
        if not self._batch:
            return
        if len(self._futures) >= self._limit:
            self._drain(self._limit // 2)
        self._futures.add(self._pool.submit(self.send, self._batch))
        self._batch = []

    def _drain(self, keep: int) -> None:
        """Wait until at most ``keep`` batches are in flight; raise the first failure."""
        while len(self._futures) > keep:
            done, _ = wait(self._futures, return_when=FIRST_EXCEPTION)
            for future in done:
                self._futures.discard(future)
                self.calls += future.result()


def table_name(cfg: Any) -> str:
    return os.environ.get("EDF_DYNAMODB_TABLE") or cfg.name(cfg.edf_storage.dynamodb_table_base)
