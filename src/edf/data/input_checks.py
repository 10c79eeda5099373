"""Checks of the daily inference inputs: is the history fresh, is the topology complete?

The contract validation (:mod:`edf.data.validation`) says whether rows are well formed; these
checks say whether the inputs are fit for *today's* forecast. They are pure functions over small
summaries (the newest hour per building, the topology frame) so the Spark job computes the
summaries and this module decides, and the same decision is unit-tested without Spark.

Each check returns an :class:`InputCheck`; :func:`apply_policy` turns the configured policy
(``fail`` or ``degrade``, ``edf_inference.input_checks`` in the config) into a status per check.
A failed check raises :class:`StaleInputError` naming every problem; a degraded one lets the run
go on and is recorded in the job summary (``_summary.json`` → ``input_checks``), so a forecast
made from stale or incomplete inputs is never indistinguishable from a normal one.
Weather-forecast freshness is checked where the weather feed is read, not here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from edf.data import contract as c

Policy = Literal["fail", "degrade"]
MAX_EXAMPLES = 5


@dataclass
class InputCheck:
    """One check's verdict. ``problem`` is True when the input is stale or incomplete."""

    name: str
    problem: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | degraded | failed, set by apply_policy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class StaleInputError(RuntimeError):
    """An input check whose policy is ``fail`` found a problem; the message names each one."""

    def __init__(self, checks: list[InputCheck]):
        failed = [ch for ch in checks if ch.status == "failed"]
        super().__init__("inference inputs rejected: " + "; ".join(f"[{ch.name}] {ch.message}" for ch in failed))
        self.checks = checks


def _utc_naive(value: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def check_history_freshness(newest_by_building: Mapping[str, Any], origin: dt.datetime,
                            max_age_hours: float) -> InputCheck:
    """Is the newest processed hour recent enough for a forecast at ``origin``?

    Age is the time between the end of the newest measured hour and the origin (0 when the data
    runs up to the origin). The feed is stale when even its newest hour is older than
    ``max_age_hours``; single buildings whose own newest hour is that old are listed as stale
    meters (a dead meter among thousands degrades, it does not decide the feed's policy).
    """
    origin_ts = _utc_naive(origin)
    newest = {str(b): _utc_naive(t) for b, t in newest_by_building.items() if t is not None and not pd.isna(t)}
    if not newest:
        return InputCheck("history_freshness", True, "no processed history at all before the origin",
                          {"origin": origin_ts.isoformat() + "Z", "max_age_hours": max_age_hours, "buildings": 0})
    ages = {b: (origin_ts - (t + pd.Timedelta(hours=1))) / pd.Timedelta(hours=1) for b, t in newest.items()}
    feed_age = min(ages.values())
    stale = sorted((b for b, a in ages.items() if a > max_age_hours), key=lambda b: -ages[b])
    details = {
        "origin": origin_ts.isoformat() + "Z", "newest_hour": max(newest.values()).isoformat() + "Z",
        "age_hours": round(feed_age, 2), "max_age_hours": max_age_hours, "buildings": len(newest),
        "stale_buildings": len(stale),
        "stale_examples": [{"building_id": b, "age_hours": round(ages[b], 2)} for b in stale[:MAX_EXAMPLES]],
    }
    if feed_age > max_age_hours:
        msg = f"newest processed hour is {feed_age:.1f} h old at the origin (max {max_age_hours:g} h)"
        return InputCheck("history_freshness", True, msg, details)
    if stale:
        msg = f"{len(stale)} of {len(newest)} building(s) have no data in the last {max_age_hours:g} h"
        return InputCheck("history_freshness", False, msg, {**details, "stale_meters": True})
    return InputCheck("history_freshness", False, f"history is {feed_age:.1f} h old (max {max_age_hours:g} h)", details)


def check_topology_completeness(history_buildings: Iterable[str], topology: pd.DataFrame,
                                required_fields: Iterable[str]) -> InputCheck:
    """Does every building with history have a topology row with the fields the features need?

    A building without a row gets a UTC calendar, no holidays and no solar geometry; a row with a
    null time zone or coordinates loses the same features silently. Both are counted here.
    """
    fields = list(required_fields)
    buildings = sorted({str(b) for b in history_buildings})
    absent_cols = [f for f in fields if f not in topology.columns]
    topo = topology.assign(**{c.BUILDING_ID: topology[c.BUILDING_ID].astype("string")}) \
        if c.BUILDING_ID in topology.columns else pd.DataFrame({c.BUILDING_ID: pd.Series([], dtype="string")})
    known = topo.drop_duplicates(c.BUILDING_ID, keep="last").set_index(c.BUILDING_ID)
    missing_rows = [b for b in buildings if b not in known.index]
    present = known.loc[known.index.isin(buildings)]
    null_fields = {f: sorted(present.index[present[f].isna()].astype(str))
                   for f in fields if f in present.columns and present[f].isna().any()}
    incomplete = sorted({b for ids in null_fields.values() for b in ids})
    details = {
        "buildings": len(buildings), "required_fields": fields, "missing_columns": absent_cols,
        "without_topology": len(missing_rows), "without_topology_examples": missing_rows[:MAX_EXAMPLES],
        "incomplete": len(incomplete),
        "null_fields": {f: {"count": len(ids), "examples": ids[:MAX_EXAMPLES]} for f, ids in null_fields.items()},
    }
    problems = []
    if absent_cols:
        problems.append(f"topology lacks column(s) {', '.join(absent_cols)}")
    if missing_rows:
        problems.append(f"{len(missing_rows)} of {len(buildings)} building(s) with history have no topology row")
    if incomplete:
        problems.append(f"{len(incomplete)} building(s) have nulls in {', '.join(sorted(null_fields))}")
    if problems:
        return InputCheck("topology_completeness", True, "; ".join(problems), details)
    return InputCheck("topology_completeness", False, f"all {len(buildings)} building(s) have complete topology", details)


def apply_policy(checks: list[InputCheck], policies: Mapping[str, Policy]) -> dict[str, Any]:
    """Set each check's status from its policy; raise :class:`StaleInputError` if any failed.

    Returns the record written into the job summary: ``{"status": worst, "checks": {...}}``.
    A check without a policy entry fails (a new check must be configured, never ignored).
    """
    for ch in checks:
        if ch.problem:
            ch.status = "degraded" if policies.get(ch.name, "fail") == "degrade" else "failed"
        elif ch.details.get("stale_meters"):
            ch.status = "degraded"
        else:
            ch.status = "ok"
    order = {"ok": 0, "degraded": 1, "failed": 2}
    worst = max((ch.status for ch in checks), key=order.__getitem__, default="ok")
    record = {"status": worst, "checks": {ch.name: ch.to_dict() for ch in checks}}
    if worst == "failed":
        raise StaleInputError(checks)
    return record
