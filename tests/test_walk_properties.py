"""Walk-time areas from random starts on the extract's streets (Hypothesis), and the 60 random
starts of benchmarks/isochrone.py: no start near a street collapses to a sliver."""

from __future__ import annotations

import os

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from benchmarks.isochrone import FLOOR_HA, random_start_areas
from layers import geodesy
from layers.analysis import access
from layers.osm import sources

EXAMPLES = int(os.environ.get("OURPATCH_HYPOTHESIS_EXAMPLES", "30"))


def _slack_m2(area: shapely.Geometry) -> float:
    """Street buffers draw arcs with 3 segments a quarter: shapes made differently agree to about
    a metre along their edges: slivers of a few square metres at each corner of a street."""
    return 50.0 + 1e-4 * geodesy.area_m2(area)


@pytest.fixture(scope="module")
def nets(helsinki: sources.Extract) -> dict[str, access.StreetNetwork]:
    return {m: access.StreetNetwork(helsinki.network, access.mode_by_id(m)) for m in ("walk", "wheelchair")}


def _on_street(net: access.StreetNetwork, pick: float, along: float) -> tuple[float, float]:
    """A point on a street of the walking network's main part (the part that reaches the city)."""
    edge = int(net.main_edges[min(int(pick * len(net.main_edges)), len(net.main_edges) - 1)])
    point = shapely.line_interpolate_point(net.lines[edge], along, normalized=True)
    lon, lat = net._to_wgs84.transform(point.x, point.y)
    return float(lon), float(lat)


starts = st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1))


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(start=starts, minutes=st.integers(2, 20), more=st.integers(1, 15))
def test_random_starts(
    nets: dict[str, access.StreetNetwork], start: tuple[float, float], minutes: int, more: int
) -> None:
    walk, chair = nets["walk"], nets["wheelchair"]
    lon, lat = _on_street(walk, *start)
    small = access.isochrone(walk, lon, lat, minutes)
    large = access.isochrone(walk, lon, lat, minutes + more)
    assert small.area.contains(Point(lon, lat))
    # more minutes never reach less
    assert geodesy.area_m2(small.area.difference(large.area)) < _slack_m2(small.area)
    # A wheelchair reaches no more than walking does; only its own straight way onto the nearest
    # street it can use (a walker's street may be steps) can lie outside the walking area. Where
    # that street is more than START_JOIN_M away (a walker would step onto it straight, too, only
    # that close), the two start from different streets and are not compared.
    x, y = chair.to_metres(lon, lat)
    snap = chair.snap(x, y)
    if snap.gap_m <= access.START_JOIN_M:
        wheel = access.isochrone(chair, lon, lat, minutes)
        way_on = shapely.shortest_line(Point(x, y), chair.lines[snap.edge]).buffer(access.STREET_BUFFER_M)
        way_on = shapely.transform(way_on, chair._unproject)
        assert geodesy.area_m2(wheel.area.difference(small.area).difference(way_on)) < _slack_m2(wheel.area)


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(start=starts)
def test_ten_minutes_from_any_street_is_never_a_sliver(
    nets: dict[str, access.StreetNetwork], start: tuple[float, float]
) -> None:
    lon, lat = _on_street(nets["walk"], *start)
    assert geodesy.area_m2(access.isochrone(nets["walk"], lon, lat, 10).area) >= FLOOR_HA * 10_000


def test_sixty_random_starts(helsinki: sources.Extract) -> None:
    hectares = random_start_areas(helsinki, starts=60)
    assert hectares.min() >= FLOOR_HA
    assert 30 <= np.median(hectares) <= 150  # about 60 ha: a 10-minute walk in a city centre
