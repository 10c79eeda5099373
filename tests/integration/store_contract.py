"""The behaviour every ForecastStore backend must show (imported by test_store_*.py)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from edf.storage.base import RecommendationRow
from edf.storage.sample import synthetic_rows

T0 = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUE1 = T0 - dt.timedelta(hours=1)
ISSUE2 = T0 + dt.timedelta(hours=23)


def recs(run_id: str, issue: dt.datetime, buildings=("b-1", "b-2"), area="north") -> list[RecommendationRow]:
    return [RecommendationRow(b, area, "demand_response", T0 + dt.timedelta(hours=h), "curtail", 1.5, 0.4, 0.1,
                              run_id, issue) for b in buildings for h in (17, 18)]


def weather(rows, source_of: dict[str, str]):
    """Rows with the weather source the inference recorded for their building (issue 15)."""
    return [replace(r, weather_source=source_of[r.building_id]) for r in rows]


def check_store(store) -> None:
    store.ensure_schema(create=True)
    north = weather(synthetic_rows(["b-1", "b-2"], "north", "run-1", ISSUE1, T0, 48),
                    {"b-1": "forecast", "b-2": "stale:27h"})
    south = weather(synthetic_rows(["b-3"], "south", "run-1", ISSUE1, T0, 48, series=("consumption",)), {"b-3": "none"})
    res = store.write_run("run-1", north + south, recs("run-1", ISSUE1))
    assert (res.forecasts_written, res.recommendations_written) == (48 * 2 * 2 + 48, 4)

    # building read: one point per hour, in order, values as written
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=24))
    assert [p.timestamp_hour for p in pts] == [T0 + dt.timedelta(hours=h) for h in range(24)]
    expected = {r.timestamp_hour: r for r in north if r.building_id == "b-1" and r.series == "consumption"}
    assert all(abs(p.yhat - expected[p.timestamp_hour].yhat) < 1e-9 for p in pts)
    assert pts[0].issue_time == ISSUE1 and pts[0].run_id == "run-1"

    # the weather source round-trips with every point
    day = T0 + dt.timedelta(hours=24)
    assert {p.weather_source for p in pts} == {"forecast"}
    assert {p.weather_source for p in store.building_series("b-2", "solar", T0, day)} == {"stale:27h"}
    assert {p.weather_source for p in store.building_series("b-3", "consumption", T0, day)} == {"none"}

    # re-writing the same run replaces (fewer hours now): no duplicates, stale rows gone
    shorter = synthetic_rows(["b-1", "b-2"], "north", "run-1", ISSUE1, T0, 24, scale=2.0) + south
    res = store.write_run("run-1", shorter, recs("run-1", ISSUE1, buildings=("b-1",)))
    if store.backend != "TIMESTREAM":
        assert res.forecasts_removed == 48 * 2 * 2 - 24 * 2 * 2
        assert res.recommendations_removed == 2
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=48))
    assert len(pts) == 24
    assert abs(pts[3].yhat - 2 * expected[T0 + dt.timedelta(hours=3)].yhat) < 1e-9

    # a newer run overlapping hours 23..47 wins for those hours only
    newer = synthetic_rows(["b-1", "b-2"], "north", "run-2", ISSUE2, T0 + dt.timedelta(hours=23), 25, scale=3.0)
    newer = weather(newer, {"b-1": "stale:30h", "b-2": "stale:30h"})
    store.write_run("run-2", newer, recs("run-2", ISSUE2, buildings=("b-2",)))
    pts = store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=48))
    assert len(pts) == 48
    assert [p.run_id for p in pts[:23]] == ["run-1"] * 23 and {p.run_id for p in pts[23:]} == {"run-2"}
    assert {p.weather_source for p in pts[23:]} == {"stale:30h"}  # each hour carries its own run's source

    # portfolio: sums of the newest points over the area's buildings, interval rules
    agg = store.portfolio_series(["north"], "consumption", T0, T0 + dt.timedelta(hours=48))
    assert len(agg) == 48 and all(a.buildings == 2 for a in agg)
    b1 = {p.timestamp_hour: p for p in store.building_series("b-1", "consumption", T0, T0 + dt.timedelta(hours=48))}
    b2 = {p.timestamp_hour: p for p in store.building_series("b-2", "consumption", T0, T0 + dt.timedelta(hours=48))}
    for a in agg:
        p1, p2 = b1[a.timestamp_hour], b2[a.timestamp_hour]
        assert abs(a.yhat - (p1.yhat + p2.yhat)) < 1e-9
        assert abs(a.yhat_upper_comonotonic - (p1.yhat_upper + p2.yhat_upper)) < 1e-9
        half = ((p1.yhat_upper - p1.yhat) ** 2 + (p2.yhat_upper - p2.yhat) ** 2) ** 0.5
        assert abs(a.yhat_upper - (a.yhat + half)) < 1e-9
        assert a.yhat_lower_comonotonic <= a.yhat_lower <= a.yhat <= a.yhat_upper <= a.yhat_upper_comonotonic
    both = store.portfolio_series(["north", "south"], "consumption", T0, T0 + dt.timedelta(hours=24))
    assert all(a.buildings == 3 for a in both)
    assert store.portfolio_series(["nowhere"], "consumption", T0, T0 + dt.timedelta(hours=24)) == []

    # buildings and authorization lookups
    assert [b.building_id for b in store.list_buildings(["north"])] == ["b-1", "b-2"]
    info = store.get_building("b-3")
    assert info is not None and info.grid_area == "south" and info.series == ("consumption",)
    assert store.get_building("b-1").series == ("consumption", "solar")
    assert store.get_building("nope") is None

    # recommendations: newest run per building
    got = store.recommendations(["north"], T0, T0 + dt.timedelta(days=1))
    assert {(r.building_id, r.run_id) for r in got} == {("b-1", "run-1"), ("b-2", "run-2")}
    assert store.recommendations(["south"], T0, T0 + dt.timedelta(days=1)) == []


# ---------------------------------------------------------------- issue 14, item 6
D = T0 + dt.timedelta(days=1)  # day D; D-1 is T0


def _run(buildings, area, run_id, origin, issue, hours=72, scale=1.0, series=("consumption",)):
    """A daily run: 72 hours from its origin (``synthetic_rows`` sets ``origin_time`` to ``origin``)."""
    return synthetic_rows(buildings, area, run_id, issue, origin, hours, series=series, scale=scale)


def _recs(run_id, issue, buildings, area) -> list[RecommendationRow]:
    """Recommendations for 17:00 and 18:00 of day D."""
    return [RecommendationRow(b, area, "demand_response", D + dt.timedelta(hours=h), "curtail", 1.5, 0.4, 0.1,
                              run_id, issue) for b in buildings for h in (17, 18)]


def check_origin_first(store) -> None:
    """A re-run of day D-1 issued at 09:00 on D does not replace the 05:00 forecasts of day D."""
    store.ensure_schema(create=True)
    d_1 = D - dt.timedelta(days=1)
    store.write_run("run-d-1", _run(["b-1", "b-2"], "north", "run-d-1", d_1, d_1 + dt.timedelta(hours=5)))
    store.write_run("run-d", _run(["b-1", "b-2"], "north", "run-d", D, D + dt.timedelta(hours=5), scale=2.0))
    store.write_run("rerun-d-1", _run(["b-1", "b-2"], "north", "rerun-d-1", d_1, D + dt.timedelta(hours=9),
                                      scale=3.0))
    pts = store.building_series("b-1", "consumption", d_1, D + dt.timedelta(hours=48))
    assert len(pts) == 72
    # hours of D and after: the D run (origin D) wins although the re-run was issued later
    assert {p.run_id for p in pts[24:]} == {"run-d"}
    # hours only D-1 runs cover: the re-run wins over the first D-1 run (same origin, newer issue)
    assert {p.run_id for p in pts[:24]} == {"rerun-d-1"}
    agg = store.portfolio_series(["north"], "consumption", d_1, D + dt.timedelta(hours=48))
    by_hour = {a.timestamp_hour: a for a in agg}
    b2 = {p.timestamp_hour: p for p in store.building_series("b-2", "consumption", d_1, D + dt.timedelta(hours=48))}
    for p in pts:
        a = by_hour[p.timestamp_hour]
        assert a.buildings == 2 and abs(a.yhat - (p.yhat + b2[p.timestamp_hour].yhat)) < 1e-9


# ---------------------------------------------------------------- issue 14, item 7
def check_moved_building(store) -> None:
    """b-2 moves from north to south in the D run: access follows the current topology."""
    store.ensure_schema(create=True)
    d_1 = D - dt.timedelta(days=1)
    issue_d_1, issue_d = d_1 + dt.timedelta(hours=5), D + dt.timedelta(hours=5)
    run1 = _run(["b-1", "b-2"], "north", "run-d-1", d_1, issue_d_1) + _run(["b-3"], "south", "run-d-1", d_1, issue_d_1)
    store.write_run("run-d-1", run1, [*_recs("run-d-1", issue_d_1, ("b-1", "b-2"), "north"),
                                      *_recs("run-d-1", issue_d_1, ("b-3",), "south")])
    # the D run: b-2 now belongs to south; its recommendations of the D run are none
    run2 = _run(["b-1"], "north", "run-d", D, issue_d) + _run(["b-2", "b-3"], "south", "run-d", D, issue_d)
    store.write_run("run-d", run2, _recs("run-d", issue_d, ("b-1",), "north"))
    _check_current_topology(store, d_1)
    # a late re-run of D-1 (old topology: b-2 in north) must not move b-2 back
    rerun = (_run(["b-1", "b-2"], "north", "rerun-d-1", d_1, D + dt.timedelta(hours=9))
             + _run(["b-3"], "south", "rerun-d-1", d_1, D + dt.timedelta(hours=9)))
    store.write_run("rerun-d-1", rerun, _recs("rerun-d-1", D + dt.timedelta(hours=9), ("b-2",), "north"))
    _check_current_topology(store, d_1)


def _check_current_topology(store, d_1: dt.datetime) -> None:
    assert [b.building_id for b in store.list_buildings(["north"])] == ["b-1"]
    assert [b.building_id for b in store.list_buildings(["south"])] == ["b-2", "b-3"]
    assert store.get_building("b-2").grid_area == "south"
    # recommendations of the old area no longer include the building that left it
    north_recs = store.recommendations(["north"], D, D + dt.timedelta(days=1))
    assert {(r.building_id, r.run_id) for r in north_recs} == {("b-1", "run-d")}
    assert {r.building_id for r in store.recommendations(["south"], D, D + dt.timedelta(days=1))} == {"b-3"}
    # the portfolio counts every building once per hour; from D on in its current area
    end = D + dt.timedelta(hours=48)
    north = {a.timestamp_hour: a.buildings for a in store.portfolio_series(["north"], "consumption", d_1, end)}
    south = {a.timestamp_hour: a.buildings for a in store.portfolio_series(["south"], "consumption", d_1, end)}
    both = {a.timestamp_hour: a.buildings for a in store.portfolio_series(["north", "south"], "consumption", d_1, end)}
    hours = [d_1 + dt.timedelta(hours=h) for h in range(72)]
    assert all(north.get(h, 0) + south.get(h, 0) == 3 == both[h] for h in hours)
    assert all((north[h], south[h]) == (1, 2) for h in hours if h >= D)
