"""The portfolio a local run is given: the bundled homes, a contract file, or a labelled synthetic set.

The deployed workflows must hold for the DSO portfolios EDF is built for (10,000 buildings), so the
local runtime runs them on any portfolio, not only the 17 bundled homes. Bad input stops here,
before anything starts: a missing path, a file that breaks the data contract, a topology that does
not cover the data — each with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from edf.data import contract as c

SYNTHETIC_SPEC = re.compile(r"^(\d+)x(\d+)$")


class PortfolioError(ValueError):
    """The portfolio cannot be run (the message says why)."""


@dataclass
class Portfolio:
    """processed_edf_data rows and their topology, with where they came from."""

    processed: pd.DataFrame
    topology: pd.DataFrame
    label: str

    @property
    def buildings(self) -> int:
        return int(self.processed[c.BUILDING_ID].nunique())


def bundled(buildings: Sequence[str] | None = None) -> Portfolio:
    """The bundled CityLearn homes (all 17, or the named ones)."""
    from edf.data import bundled as data

    homes, topology = data.load_homes(), data.load_topology()
    if buildings:
        unknown = sorted(set(buildings) - set(homes[c.BUILDING_ID]))
        if unknown:
            raise PortfolioError(f"unknown bundled building(s): {', '.join(unknown)}")
        homes = homes[homes[c.BUILDING_ID].isin(buildings)]
        topology = topology[topology[c.BUILDING_ID].isin(buildings)]
    return Portfolio(homes.reset_index(drop=True), topology.reset_index(drop=True),
                     f"bundled CityLearn homes ({homes[c.BUILDING_ID].nunique()})")


def parse_synthetic(spec: str) -> tuple[int, int]:
    """``BUILDINGSxDAYS`` (e.g. ``300x45``) -> (300, 45)."""
    match = SYNTHETIC_SPEC.match(spec.strip())
    if not match:
        raise PortfolioError(f"--synthetic {spec!r}: expected BUILDINGSxDAYS, e.g. 300x45")
    buildings, days = int(match.group(1)), int(match.group(2))
    if buildings < 1 or days < 8:
        raise PortfolioError(f"--synthetic {spec!r}: at least 1 building and 8 days (features need a week of history)")
    return buildings, days


def synthetic(spec: str, start: str = "2023-01-01", seed: int = 7) -> Portfolio:
    """A labelled synthetic portfolio (ids ``synth-*``) from :mod:`edf.data.synth`."""
    from edf.data import synth

    buildings, days = parse_synthetic(spec)
    data = synth.generate(buildings, days, start=start, seed=seed)
    return Portfolio(data.processed, data.topology, f"SYNTHETIC {buildings} buildings x {days} days")


def from_files(data: str | Path, topology: str | Path | None, target: str = c.CONSUMPTION) -> Portfolio:
    """A contract Parquet file or folder and a topology CSV/Parquet, validated before anything runs."""
    from edf.data.io import DataNotFoundError, read_parquet
    from edf.data.topology import TopologyError, read_topology
    from edf.data.validation import validate_processed

    if topology is None:
        raise PortfolioError("--data needs --topology (the buildings' location, time zone and grid area)")
    for what, path in (("--data", data), ("--topology", topology)):
        if not str(path).startswith("s3://") and not Path(path).exists():
            raise PortfolioError(f"{what} {path}: no such file or directory")
    try:
        processed = read_parquet(data)
        topo = read_topology(topology)
    except (DataNotFoundError, TopologyError) as exc:
        raise PortfolioError(str(exc)) from None
    report = validate_processed(processed, target)
    if not report.ok:
        raise PortfolioError(f"{data} breaks the data contract:\n{report.render()}")
    missing = sorted(set(processed[c.BUILDING_ID].astype(str)) - set(topo[c.BUILDING_ID].astype(str)))
    if missing:
        raise PortfolioError(f"{len(missing)} building(s) of {data} have no topology row in {topology}, "
                             f"e.g. {missing[:5]}")
    return Portfolio(processed, topo, f"file {data} ({processed[c.BUILDING_ID].nunique()} buildings)")
