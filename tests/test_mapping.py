"""The map: served offline, compact, escaped, and the drawing round trip."""

from __future__ import annotations

import re
from pathlib import Path

import folium
import geopandas as gpd
import pytest
from shapely.geometry import Point

from layers import catalogue, schema
from layers.analysis import query
from layers.osm import sources
from mapping import build, drawing, vendor
from mapping.safe_json import script_json
from tests.handmade import HOSTILE_NAME, add_published_handmade_asset

CDN = re.compile(r"https?://(?!tile\.openstreetmap\.org)[^\s\"')]+\.(?:js|css)\b")


@pytest.fixture(scope="module")
def map_data(helsinki: sources.Extract) -> build.MapData:
    return build.prepare(helsinki.assets, helsinki.basemap, helsinki.bounds)


def test_every_script_and_stylesheet_is_served_by_the_app(map_data: build.MapData) -> None:
    fmap = build.build_map(map_data)
    html = fmap.get_root().render()
    urls = build.script_urls(fmap)
    assert urls and all(u.startswith(vendor.VENDOR_URL + "/") for u in urls), urls
    assert not CDN.findall(html)
    for url in urls:
        assert (vendor.VENDOR_DIR / url.removeprefix(vendor.VENDOR_URL + "/")).is_file(), f"run `make assets`: {url}"


def test_one_layer_per_category_with_legend_symbols(map_data: build.MapData) -> None:
    html = build.build_map(map_data).get_root().render()
    assert html.count("window.ourPatch.layer(") == len(map_data.categories)
    assert "Parks and green spaces (" in html and "Places of worship (" in html
    # markers are made in the browser from the arrays (by the shared helpers), none per asset here
    assert html.count("L.marker(") == build.elements.HELPERS_JS.count("L.marker(")
    assert "© OpenStreetMap contributors" in html


def test_parks_stay_polygons(map_data: build.MapData) -> None:
    parks = next(c for c in map_data.categories if c.id == "parks")
    assert '"type":"Polygon"' in parks.shapes_json or '"type":"MultiPolygon"' in parks.shapes_json
    assert "Esplanadinpuisto" in parks.rows_json


def test_basemap_has_streets_water_and_green(map_data: build.MapData) -> None:
    for kind in ("major_street", "street", "water", "green"):
        assert f'"k":"{kind}"' in map_data.basemap_json


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"name": HOSTILE_NAME, "sep": "a\u2028b"})
    assert "<" not in text and ">" not in text and "\u2028" not in text
    import json

    assert json.loads(text)["name"] == HOSTILE_NAME


def test_hostile_names_never_reach_the_html_as_markup(fresh_data_dir: Path) -> None:
    add_published_handmade_asset(HOSTILE_NAME, Point(24.95, 60.17), website="javascript:alert(1)")
    extract = sources.current()
    assets = catalogue.all_assets(extract)
    assert HOSTILE_NAME in set(assets["name"])
    html = build.build_map(build.prepare(assets, extract.basemap, extract.bounds)).get_root().render()
    assert "<img src=x" not in html
    assert "</script><script>window.__xss" not in html
    assert "\\u003cimg src=x" in html
    # popups are built with textContent (the browser journey checks that no script runs)
    assert "innerHTML" not in build.elements.HELPERS_JS


def test_highlight_group_carries_the_found_assets(helsinki: sources.Extract, helsinki_index: query.AssetIndex) -> None:
    from layers import areas

    summary = query.summarise(helsinki_index, areas.circle(24.9522, 60.1693, 300))
    group = build.highlight_group(summary.items, helsinki.assets)
    assert isinstance(group, folium.FeatureGroup)
    html = folium.Map().add_child(group).get_root().render()
    assert html.count("[60.") >= len(summary.items)


def test_ten_thousand_assets_build_fast_and_small() -> None:
    from benchmarks.synthetic import synthetic_assets

    assets = synthetic_assets(10_000, seed=1)
    data = build.prepare(assets, gpd.GeoDataFrame({"kind": []}, geometry=[], crs=schema.WGS84))
    html = build.build_map(data).get_root().render()
    assert len(html.encode()) < 600_000


class TestDrawing:
    square = {
        "type": "Feature",
        "properties": {},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[24.94, 60.16], [24.95, 60.16], [24.95, 60.17], [24.94, 60.17], [24.94, 60.16]]],
        },
    }
    circle = {
        "type": "Feature",
        "properties": {"radius": 200},
        "geometry": {"type": "Point", "coordinates": [24.96, 60.17]},
    }

    def test_nothing_drawn(self) -> None:
        assert drawing.area_from_map_output(None) is None
        assert drawing.area_from_map_output({"all_drawings": None, "last_active_drawing": None}) is None

    def test_all_drawings_make_one_area(self) -> None:
        area = drawing.area_from_map_output(
            {"all_drawings": [self.square, self.circle], "last_active_drawing": self.circle}
        )
        assert area is not None and area.geom_type == "MultiPolygon"

    def test_last_drawing_when_the_list_is_missing(self) -> None:
        area = drawing.area_from_map_output({"all_drawings": None, "last_active_drawing": self.square})
        assert area is not None and area.geom_type == "Polygon"

    def test_deleted_shapes_clear_the_area(self) -> None:
        assert drawing.area_from_map_output({"all_drawings": [], "last_active_drawing": self.square}) is None
