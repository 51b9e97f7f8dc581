"""Walk-time locals on the real street network, and on small hand-made networks where the right
answer is known by construction."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point

from layers.analysis import access, gaps, query
from layers.errors import BadInputError
from layers.osm import sources

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
        rows.append({"u": u, "v": v, "length": LineString([a, b]).length, "highway": highway, "geometry": line})
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


# ---------------------------------------------------------------- snapping to the main network

CATHEDRAL = (24.95224, 60.17048)  # Helsingin tuomiokirkko, on Senate Square's steps


def _fragment_starts(net: access.StreetNetwork) -> list[tuple[float, float]]:
    """The middle of every street that is not part of the network's main part (on the real data:
    courtyard paths, station platforms' stairs, pieces the extract's edge cut off)."""
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(net.graph, directed=True, connection="strong")
    largest = np.bincount(labels).argmax()
    cut_off = np.flatnonzero((labels[net.u] != largest) | (labels[net.v] != largest))
    mids = shapely.line_interpolate_point(net.lines[cut_off], 0.5, normalized=True)
    return [net._to_wgs84.transform(x, y) for x, y in shapely.get_coordinates(mids)]


def test_a_start_on_a_cut_off_path_still_reaches_the_city(walk: access.StreetNetwork) -> None:
    from layers import geodesy

    starts = _fragment_starts(walk)
    assert len(starts) > 50  # the extract's walking network really is in pieces
    smallest = min(geodesy.area_m2(access.isochrone(walk, lon, lat, 10).area) for lon, lat in starts)
    assert smallest > 100_000  # 10 ha: a walk from a cut-off path reaches the streets around it


def test_what_is_missing_always_has_a_route_from_a_cut_off_start(
    walk: access.StreetNetwork, helsinki_index: query.AssetIndex
) -> None:
    for lon, lat in _fragment_starts(walk)[::10]:
        area = access.isochrone(walk, lon, lat, 5).area
        summary = query.summarise(helsinki_index, area, origin=(lon, lat))
        missing = gaps.missing_with_nearest(helsinki_index, summary, (lon, lat), walk)
        assert missing and all(m.minutes is not None and m.minutes < 60 for m in missing if m.asset_id)


def test_the_time_counts_the_walk_to_the_street_and_a_far_start_is_told() -> None:
    x0, y0 = 385_000.0, 6_672_000.0
    edges = _handmade_network([((x0, y0), (x0 + 3000, y0), "footway")])
    net = access.StreetNetwork(edges, access.mode_by_id("walk"))
    near = access.isochrone(net, *_lonlat(x0 + 1500, y0 + 20), 10)
    far = access.isochrone(net, *_lonlat(x0 + 1500, y0 + 300), 10)
    assert near.note is None
    assert far.note is not None and "300 m" in far.note
    # 800 m of walking in 10 minutes: 300 m of them to reach the street leave 500 m along it
    assert far.area.intersects(Point(_lonlat(x0 + 1500 + 480, y0)))
    assert not far.area.intersects(Point(_lonlat(x0 + 1500 + 560, y0)))
    assert near.area.intersects(Point(_lonlat(x0 + 1500 + 760, y0)))
    minutes = access.travel_minutes_to(net, *_lonlat(x0 + 1500, y0 + 300), [_lonlat(x0 + 2000, y0 + 100)])[0]
    assert minutes == pytest.approx((300 + 500 + 100) / net.mode.metres_per_minute, rel=0.01)


def test_the_refusal_distance_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    x0, y0 = 385_000.0, 6_672_000.0
    net = access.StreetNetwork(_handmade_network([((x0, y0), (x0 + 3000, y0), "footway")]), access.mode_by_id("walk"))
    assert access.isochrone(net, *_lonlat(x0 + 1500, y0 + 300), 10).area.contains(Point(_lonlat(x0 + 1500, y0 + 300)))
    monkeypatch.setenv("OURPATCH_MAX_START_DISTANCE_M", "200")
    with pytest.raises(BadInputError, match=r"is 300 m from the nearest street.*within 200 m"):
        access.isochrone(net, *_lonlat(x0 + 1500, y0 + 300), 10)


def test_a_start_joins_the_main_network_not_an_island_beside_it() -> None:
    # A 40 m courtyard path (joined to nothing) 10 m from the start; the street grid 60 m away.
    x0, y0 = 385_000.0, 6_672_000.0
    grid = [((x0 + i * 100, y0), (x0 + (i + 1) * 100, y0), "footway") for i in range(-10, 10)]
    grid += [((x0, y0 + j * 100), (x0, y0 + (j + 1) * 100), "footway") for j in range(-10, 10)]
    courtyard = [((x0 + 40, y0 + 70), (x0 + 80, y0 + 70), "footway")]
    net = access.StreetNetwork(_handmade_network(grid + courtyard), access.mode_by_id("walk"))
    start = _lonlat(x0 + 60, y0 + 60)
    iso = access.isochrone(net, *start, 10)
    assert iso.start_gap_m == pytest.approx(60, abs=1)
    assert iso.area.contains(Point(_lonlat(x0 + 600, y0)))  # along the street grid


def test_distances_in_a_walk_time_local_are_from_the_start(
    walk: access.StreetNetwork, helsinki_index: query.AssetIndex
) -> None:
    area = access.isochrone(walk, *CATHEDRAL, 10).area
    summary = query.summarise(helsinki_index, area, origin=CATHEDRAL)
    cathedral = summary.items[summary.items["name"] == "Helsingin tuomiokirkko"].iloc[0]
    assert cathedral["distance_m"] < 60
    by_centre = query.summarise(helsinki_index, area)
    assert by_centre.items.set_index("id").loc[cathedral["id"], "distance_m"] != cathedral["distance_m"]


def test_a_place_mapped_twice_is_one_result(helsinki: sources.Extract, helsinki_index: query.AssetIndex) -> None:
    from layers import areas

    mapped = helsinki.assets[helsinki.assets["name"] == "Kansalliskirjasto"]
    assert set(mapped["osm_type"]) == {"node", "way"}  # the library as a node and as its building
    summary = query.summarise(helsinki_index, areas.circle(24.9500, 60.1705, 300))
    rows = summary.items[summary.items["name"] == "Kansalliskirjasto"]
    assert len(rows) == 1
    assert rows.iloc[0]["osm_type"] == "way"  # the building is kept, the node listed beside it
    node_id = mapped[mapped["osm_type"] == "node"]["id"].iloc[0]
    assert rows.iloc[0]["same_place"] == node_id
    assert (
        summary.counts().set_index("category").loc["libraries", "count"]
        == (summary.items["category"] == "libraries").sum()
    )


def test_different_places_with_one_name_stay_apart() -> None:
    from layers import schema

    frame = gpd.GeoDataFrame(
        {
            "id": ["handmade:1", "handmade:2", "handmade:3"],
            "name": ["Made-up Park", "made-up  park", "Made-up Park"],
            "category": ["parks", "parks", "parks"],
        },
        geometry=[Point(24.95, 60.17), Point(24.9502, 60.1701), Point(24.96, 60.17)],
        crs=schema.WGS84,
    )
    keep, same = query.same_place(frame)
    assert list(keep) == [0, 2]  # 2 is 15 m from 1 (one place); 3 is 550 m away (another)
    assert same == {"handmade:1": "handmade:2"}
