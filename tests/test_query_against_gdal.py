"""What is inside an area, checked against GDAL's OSM driver reading the same extract."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import MultiPolygon, Polygon, box

from layers import areas
from layers.analysis import query
from layers.osm import sources
from tests import gdal_reference

SENATE_SQUARE_AND_ESPLANADI = Polygon([(24.9440, 60.1665), (24.9560, 60.1665), (24.9560, 60.1705), (24.9440, 60.1705)])
# Cuts through Kaisaniemen puisto (an OSM relation) and the railway-side parks.
ACROSS_KAISANIEMI = box(24.9440, 60.1735, 24.9480, 60.1775)
AROUND_OODI = areas.circle(24.9383, 60.1738, 250)
TWO_PATCHES = MultiPolygon([box(24.9500, 60.1640, 24.9530, 60.1660), box(24.9370, 60.1690, 24.9400, 60.1720)])


@pytest.fixture(scope="module")
def reference(helsinki_pbf: Path) -> list:
    return gdal_reference.osm_features(helsinki_pbf)


def _ours(index: query.AssetIndex, area) -> set[tuple[str, int]]:  # type: ignore[no-untyped-def]
    found = index.within(area)
    return set(zip(found["osm_type"], found["osm_id"].astype(int), strict=True))


def test_the_two_readers_see_the_same_features(helsinki: sources.Extract, reference: list) -> None:
    ours = set(zip(helsinki.assets["osm_type"], helsinki.assets["osm_id"].astype(int), strict=True))
    theirs = {(t, i) for t, i, _c, _g in reference}
    assert ours == theirs
    assert len(ours) > 50


@pytest.mark.parametrize(
    "area",
    [SENATE_SQUARE_AND_ESPLANADI, ACROSS_KAISANIEMI, AROUND_OODI, TWO_PATCHES],
    ids=["senate-square-esplanadi", "across-kaisaniemi", "around-oodi", "two-patches"],
)
def test_inside_matches_gdal(area, helsinki_index: query.AssetIndex, reference: list) -> None:  # type: ignore[no-untyped-def]
    expected = gdal_reference.inside(reference, area)
    assert expected, "each test area should hold something"
    assert _ours(helsinki_index, area) == expected


def test_parks_straddling_the_edge_count_with_their_share(helsinki_index: query.AssetIndex) -> None:
    summary = query.summarise(helsinki_index, ACROSS_KAISANIEMI)
    parks = summary.items[summary.items["category"] == "parks"]
    assert "Kaisaniemen puisto" in set(parks["name"])
    kaisaniemi = parks[parks["name"] == "Kaisaniemen puisto"].iloc[0]
    assert kaisaniemi["osm_type"] == "relation"
    assert 0.0 < kaisaniemi["share_inside"] < 1.0


def test_senate_square_list_names_the_cathedral_and_the_esplanade(helsinki_index: query.AssetIndex) -> None:
    summary = query.summarise(helsinki_index, SENATE_SQUARE_AND_ESPLANADI)
    names = set(summary.items["name"].dropna())
    assert {"Helsingin tuomiokirkko", "Esplanadinpuisto"} <= names
    counts = summary.counts().set_index("category")["count"]
    assert counts["worship"] >= 1 and counts["parks"] >= 1
    assert counts.sum() == len(summary.items)
    # about 0.66 km x 0.44 km
    assert 250_000 < summary.area_m2 < 350_000


def test_a_point_on_the_edge_counts(helsinki: sources.Extract, helsinki_index: query.AssetIndex) -> None:
    node = helsinki.assets[helsinki.assets["osm_type"] == "node"].iloc[0].geometry
    edge_box = box(node.x, node.y - 0.001, node.x + 0.001, node.y + 0.001)  # node on the west edge
    assert (
        helsinki.assets.iloc[helsinki_index.positions_within(edge_box)]["id"]
        .isin(helsinki.assets[helsinki.assets.geometry == node]["id"])
        .any()
    )


def test_category_filter(helsinki_index: query.AssetIndex) -> None:
    found = helsinki_index.within(SENATE_SQUARE_AND_ESPLANADI, ["worship"])
    assert len(found) >= 1
    assert set(found["category"]) == {"worship"}


def test_distance_is_from_the_area_centre(helsinki_index: query.AssetIndex) -> None:
    circle = areas.circle(24.9522, 60.1693, 400)  # centred on Senate Square
    summary = query.summarise(helsinki_index, circle)
    cathedral = summary.items[summary.items["name"] == "Helsingin tuomiokirkko"].iloc[0]
    assert cathedral["distance_m"] < 150
    assert list(summary.items["distance_m"]) == sorted(summary.items["distance_m"])
