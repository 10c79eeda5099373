"""A resident's time zone: the token's ``zoneinfo`` claim, else the building's topology zone, else UTC.

The claim is input like any other: ``"A" * 300`` makes ``ZoneInfo`` raise ``OSError`` (file name
too long) and ``"America"`` ``IsADirectoryError``; unhandled, either was a 502 that paged on-call.
A claim is used only when it looks like an IANA key and loads; otherwise the building's
``timezone`` from the topology (``calendar-topology/``, the zone the features and the optimiser
already use) applies, and UTC when the topology has none. The answer says which
(:class:`ResolvedZone`), so a resident whose account carries a bad zone can be told why.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)
# IANA keys: "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+1" (at most 3 parts).
ZONE_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]{0,29}(/[A-Za-z0-9_+-]{1,30}){0,2}$")
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class ResolvedZone:
    zone: ZoneInfo
    source: str  # "token" | "topology" | "utc"
    note: str | None  # why the token's claim was not used (None when it was)


def parse_zone(name: Any) -> ZoneInfo | None:
    """The zone named ``name``, or None when it is not a loadable IANA key (never raises)."""
    if not isinstance(name, str) or not ZONE_KEY_RE.fullmatch(name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as "America"
        return None


def resolve_zone(claim: Any, building_id: str, zones: Any) -> ResolvedZone:
    """Claim -> topology -> UTC; ``zones`` has ``lookup(building_id) -> str | None`` (or is None)."""
    zone = parse_zone(claim)
    if zone is not None:
        return ResolvedZone(zone, "token", None)
    why = ("the token has no zoneinfo claim" if claim in (None, "")
           else "the token's zoneinfo claim is not a valid IANA time zone")
    topo = parse_zone(zones.lookup(building_id)) if zones is not None else None
    if topo is not None:
        return ResolvedZone(topo, "topology", f"{why}; using the building's time zone")
    return ResolvedZone(UTC, "utc", f"{why} and the building's time zone is unknown; using UTC")


class TopologyZones:
    """``building_id -> timezone`` from the topology, loaded on first use and every ``ttl`` seconds.

    ``source`` is what :func:`edf.data.topology.read_topology` reads (every CSV/Parquet file of a
    file, folder or ``s3://`` prefix, or a DataFrame). A failed load is logged and answers None (the
    caller falls back to UTC and says so); the last good table is kept.
    """

    def __init__(self, source: Any, ttl: float = 3600.0):
        self.source, self.ttl = source, ttl
        self._zones: dict[str, str] | None = None
        self._next = 0.0
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        from edf.data.topology import read_topology

        topo = read_topology(self.source)
        if "timezone" not in topo.columns:
            return {}
        rows = topo[["building_id", "timezone"]].dropna()
        return {str(b): str(z) for b, z in zip(rows["building_id"], rows["timezone"], strict=True)}

    def lookup(self, building_id: str) -> str | None:
        with self._lock:
            now = time.monotonic()
            if self._zones is None or now >= self._next:
                try:
                    self._zones, self._next = self._load(), now + self.ttl
                except Exception as exc:  # a missing topology must not fail the resident's request
                    log.warning("cannot read the topology for time zones (%s: %s)", type(exc).__name__, exc)
                    self._next = now + min(self.ttl, 60.0)
            return (self._zones or {}).get(building_id)
