"""Every way of giving an area, and every way of getting it wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import MultiPolygon, Polygon

from layers import areas, geodesy, settings
from layers.errors import BadInputError

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[24.94, 60.16], [24.95, 60.16], [24.95, 60.17], [24.94, 60.17], [24.94, 60.16]]],
}
OTHER = {"type": "Polygon", "coordinates": [[[24.96, 60.16], [24.97, 60.16], [24.97, 60.17], [24.96, 60.16]]]}


def test_bare_geometry_feature_and_collection() -> None:
    bare = areas.parse_area(SQUARE)
    feature = areas.parse_area({"type": "Feature", "properties": {}, "geometry": SQUARE})
    coll = areas.parse_area(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": SQUARE},
                {"type": "Feature", "properties": {}, "geometry": OTHER},
                {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [24.9, 60.1]}},
            ],
        }
    )
    assert isinstance(bare, Polygon) and bare.equals(feature)
    assert isinstance(coll, MultiPolygon) and len(coll.geoms) == 2


def test_leaflet_draw_circle_becomes_a_true_circle() -> None:
    disc = areas.parse_area(
        {"type": "Feature", "properties": {"radius": 500}, "geometry": {"type": "Point", "coordinates": [24.95, 60.17]}}
    )
    # pi r^2 within 0.5%
    assert geodesy.area_m2(disc) == pytest.approx(3.14159 * 500**2, rel=0.005)


@pytest.mark.parametrize(
    ("obj", "words"),
    [
        ({}, "not GeoJSON"),
        ([], "not GeoJSON"),
        ({"type": "Point", "coordinates": [24.9, 60.1]}, "holds no polygon"),
        ({"type": "FeatureCollection", "features": []}, "holds no polygon"),
        ({"type": "FeatureCollection"}, "needs a 'features' list"),
        ({"type": "Feature", "geometry": None}, "holds no polygon"),
        ({"type": "Feature", "geometry": "POLYGON((0 0,1 0,1 1,0 0))"}, "not a GeoJSON object"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "malformed"),
        ({"type": "Polygon", "coordinates": [[["a", 0], [1, 1], [1, 0], ["a", 0]]]}, "malformed"),
        ({"type": "Polygon", "coordinates": [[[200, 0], [201, 1], [201, 0], [200, 0]]]}, "out of range"),
        ({"type": "Polygon", "coordinates": [[[0, 95], [1, 95], [1, 96], [0, 95]]]}, "out of range"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "self-intersecting"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}, "polygon"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, "NaN"], [1, 0], [0, 0]]]}, "not numbers"),
        ({"type": "Hexagon", "coordinates": []}, "unknown geometry type"),
        (
            {
                "type": "Feature",
                "properties": {"radius": -5},
                "geometry": {"type": "Point", "coordinates": [24.9, 60.1]},
            },
            "radius greater than 0",
        ),
        (
            {
                "type": "Feature",
                "properties": {"radius": "big"},
                "geometry": {"type": "Point", "coordinates": [24.9, 60.1]},
            },
            "not a number",
        ),
        (
            {
                "type": "Feature",
                "properties": {"radius": 10},
                "geometry": {"type": "Point", "coordinates": [999, 60.1]},
            },
            "out of range",
        ),
    ],
)
def test_bad_areas_get_one_clear_sentence(obj: object, words: str) -> None:
    with pytest.raises(BadInputError) as err:
        areas.parse_area(obj)
    message = str(err.value)
    assert words in message
    assert "\n" not in message and "Traceback" not in message


def test_nan_in_json_text_is_refused() -> None:
    with pytest.raises(BadInputError):
        areas.parse_area_text('{"type":"Polygon","coordinates":[[[0,0],[1,NaN],[1,0],[0,0]]]}')


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "not GeoJSON"),
        (b"not json at all", "not GeoJSON"),
        (b"[" * 100_000, "not GeoJSON"),
    ],
    ids=["empty", "binary", "text", "deeply-nested"],
)
def test_bad_area_files(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "area.geojson"
    path.write_bytes(content)
    with pytest.raises(BadInputError) as err:
        areas.read_area_file(path)
    assert words in str(err.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="No such file"):
        areas.read_area_file(tmp_path / "nope.geojson")
    with pytest.raises(BadInputError, match="folder"):
        areas.read_area_file(tmp_path)


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.geojson"
    with open(path, "wb") as fh:
        fh.truncate(settings.max_area_file_bytes + 1)
    with pytest.raises(BadInputError, match="larger than"):
        areas.read_area_file(path)


def test_too_many_vertices() -> None:
    n = settings.max_area_vertices + 10
    ring = [[24.0 + 0.5 * (i / n), 60.0 + 0.0001 * (i % 2)] for i in range(n)]
    ring = [[24.0, 59.9], *ring, [24.5, 59.9], [24.0, 59.9]]
    with pytest.raises(BadInputError, match="more than"):
        areas.parse_area({"type": "Polygon", "coordinates": [ring]})


def test_utf8_bom_file_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.geojson"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SQUARE).encode())
    assert areas.read_area_file(path).equals(areas.parse_area(SQUARE))


def test_a_named_projected_crs_is_transformed_to_wgs84() -> None:
    from pyproj import Transformer

    to_tm35 = Transformer.from_crs("EPSG:4326", "EPSG:3067", always_xy=True)  # Finland's ETRS-TM35FIN
    ring = [list(to_tm35.transform(x, y)) for x, y in SQUARE["coordinates"][0]]
    obj = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3067"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}],
    }
    area = areas.parse_area(obj)
    assert area.symmetric_difference(areas.parse_area(SQUARE)).area < 1e-10


def test_metres_without_a_crs_get_a_hint() -> None:
    with pytest.raises(BadInputError, match="projected coordinates"):
        areas.parse_area(
            {
                "type": "Polygon",
                "coordinates": [[[385000, 6672000], [386000, 6672000], [386000, 6673000], [385000, 6672000]]],
            }
        )


def test_unknown_crs_name() -> None:
    with pytest.raises(BadInputError, match="not known"):
        areas.parse_area({**SQUARE, "crs": {"type": "name", "properties": {"name": "EPSG:999999"}}})
