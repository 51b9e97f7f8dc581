"""Walk-time locals on the real street network, and on small hand-made networks where the right
answer is known by construction."""

from __future__ import annotations

import geopandas as gpd
import pytest
from pyproj import Transformer
from shapely.geometry import LineString, Point

from layers import access, sources
from layers.errors import BadInputError

NEAR_KAISANIEMI = (24.9470, 60.1735)


@pytest.fixture(scope="module")
def walk(helsinki: sources.Extract) -> access.StreetNetwork:
    return access.StreetNetwork(helsinki.network, access.mode_by_id("walk"))


@pytest.fixture(scope="module")
def wheelchair(helsinki: sources.Extract) -> access.StreetNetwork:
    return access.StreetNetwork(helsinki.network, access.mode_by_id("wheelchair"))


def test_areas_grow_with_minutes_and_hold_the_start(walk: access.StreetNetwork) -> None:
    ten = access.isochrone(walk, *NEAR_KAISANIEMI, 10).area
    twenty = access.isochrone(walk, *NEAR_KAISANIEMI, 20).area
    assert ten.area < twenty.area
    assert ten.difference(twenty.buffer(1e-7)).area == pytest.approx(0, abs=1e-12)
    assert ten.contains(Point(NEAR_KAISANIEMI))


def test_walk_area_is_shaped_by_streets_not_a_circle(walk: access.StreetNetwork) -> None:
    from layers import areas, geodesy

    area = access.isochrone(walk, *NEAR_KAISANIEMI, 10).area
    crow_flies = areas.circle(*NEAR_KAISANIEMI, 10 * walk.mode.metres_per_minute)
    assert geodesy.area_m2(area) < 0.9 * geodesy.area_m2(crow_flies)


def test_wheelchair_network_has_no_steps(wheelchair: access.StreetNetwork, walk: access.StreetNetwork) -> None:
    assert (walk.edges["highway"] == "steps").any()
    assert not (wheelchair.edges["highway"] == "steps").any()
    reach = access.isochrone(wheelchair, *NEAR_KAISANIEMI, 30)
    assert reach.area.contains(Point(NEAR_KAISANIEMI))


def test_start_far_from_streets_or_outside_the_map(walk: access.StreetNetwork) -> None:
    with pytest.raises(BadInputError, match="outside the loaded map"):
        access.isochrone(walk, 25.5, 60.17, 10)
    with pytest.raises(BadInputError, match="Minutes must be"):
        access.isochrone(walk, *NEAR_KAISANIEMI, 0)
    with pytest.raises(BadInputError, match="Minutes must be"):
        access.isochrone(walk, *NEAR_KAISANIEMI, float("nan"))


# ---------------------------------------------------------------- hand-made networks

TO_TM35 = Transformer.from_crs("EPSG:3067", "EPSG:4326", always_xy=True)


def _handmade_network(segments: list[tuple[tuple[float, float], tuple[float, float], str]]) -> gpd.GeoDataFrame:
    """Edges from metre coordinates (ETRS-TM35FIN near Helsinki); made up for tests."""
    ids: dict[tuple[float, float], int] = {}
    rows = []
    for a, b, highway in segments:
        u, v = (ids.setdefault(p, len(ids) + 1) for p in (a, b))
        line = LineString([TO_TM35.transform(*a), TO_TM35.transform(*b)])
        rows.append({"u": u, "v": v, "length": LineString([a, b]).length, "highway": highway, "surface": None,
                     "wheelchair": None, "smoothness": None, "oneway": "None", "oneway_bicycle": "None",
                     "walk": True, "cycle": highway != "steps", "geometry": line})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _lonlat(x: float, y: float) -> tuple[float, float]:
    lon, lat = TO_TM35.transform(x, y)
    return float(lon), float(lat)


def test_water_without_a_bridge_is_never_crossed() -> None:
    # Two banks of a 150 m wide river, each with a 2 km street; no bridge in the data.
    x0, y0 = 385_000.0, 6_672_000.0
    south = [((x0 + i * 100, y0), (x0 + (i + 1) * 100, y0), "footway") for i in range(20)]
    north = [((x0 + i * 100, y0 + 150), (x0 + (i + 1) * 100, y0 + 150), "footway") for i in range(20)]
    net = access.StreetNetwork(_handmade_network(south + north), access.mode_by_id("walk"))
    area = access.isochrone(net, *_lonlat(x0 + 1000, y0), 30).area
    assert area.contains(Point(_lonlat(x0 + 1900, y0)))
    assert not area.intersects(Point(_lonlat(x0 + 1000, y0 + 150)))
    assert not area.intersects(Point(_lonlat(x0 + 100, y0 + 150)))


def test_wheelchair_route_never_uses_steps() -> None:
    # A square of footways where one side is steps: the far corner is 200 m away past the steps,
    # 400 m the long way round.
    x0, y0 = 385_000.0, 6_672_000.0
    a, b, c, d = (x0, y0), (x0 + 100, y0), (x0 + 100, y0 + 100), (x0, y0 + 100)
    edges = _handmade_network([(a, b, "steps"), (b, c, "footway"), (a, d, "footway"), (d, c, "footway")])
    walk = access.StreetNetwork(edges, access.mode_by_id("walk"))
    chair = access.StreetNetwork(edges, access.mode_by_id("wheelchair"))
    point_b = Point(_lonlat(*b))
    # 150 m of walking reaches B up the steps; in a wheelchair B is 300 m away round the square.
    assert access.isochrone(walk, *_lonlat(*a), 150 / walk.mode.metres_per_minute).area.intersects(point_b)
    assert not access.isochrone(chair, *_lonlat(*a), 150 / chair.mode.metres_per_minute).area.intersects(point_b)
    minutes = access.travel_minutes_to(chair, *_lonlat(*a), [_lonlat(*b)])[0]
    assert minutes == pytest.approx(300 / chair.mode.metres_per_minute, rel=0.01)


def test_start_more_than_500_m_from_a_street() -> None:
    x0, y0 = 385_000.0, 6_672_000.0
    edges = _handmade_network([((x0, y0), (x0 + 3000, y0), "footway"), ((x0, y0), (x0, y0 + 3000), "footway")])
    net = access.StreetNetwork(edges, access.mode_by_id("walk"))
    with pytest.raises(BadInputError, match="from the nearest street"):
        access.isochrone(net, *_lonlat(x0 + 1500, y0 + 600), 10)
    # 400 m off the middle of a long street is fine: the nearest street counts, not its ends
    assert access.isochrone(net, *_lonlat(x0 + 1500, y0 + 400), 10).area.contains(Point(_lonlat(x0 + 1500, y0)))


def test_the_start_is_inside_even_off_the_street() -> None:
    x0, y0 = 385_000.0, 6_672_000.0
    edges = _handmade_network([((x0, y0), (x0 + 3000, y0), "footway"), ((x0, y0), (x0, y0 + 3000), "footway")])
    net = access.StreetNetwork(edges, access.mode_by_id("walk"))
    start = _lonlat(x0 + 1500, y0 + 300)
    assert access.isochrone(net, *start, 5).area.contains(Point(start))
