"""Hostile input, class by class (issue 9): nothing one person sends can take the map down, slow
it for everyone, leak through a table, or game the counts.

Every refusal is checked for one sentence (no newline, no traceback, ends with a full stop) and
for leaving the store exactly as it was (store.snapshot()). Limits are the settings in
layers/settings.py, lowered here where a test would otherwise need huge files.
All assets, people and files here are hand-made for the tests and say so in their names."""

from __future__ import annotations

import contextlib
import http.server
import json
import math
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from layers import areas, catalogue, cli, settings, store
from layers.analysis import consensus, local_spec
from layers.errors import BadInputError, LimitError, StorageError, TooManyAttemptsError
from layers.groups import accounts, community, importer
from layers.io import export, geojson, oruk
from layers.osm import sources
from mapping import drawing
from tests.app_tables import card_tables

PASSWORD = "a long enough password"
GROUP = "Handmade Hostile Group"
SQUARE = [[24.950, 60.170], [24.952, 60.170], [24.952, 60.171], [24.950, 60.171], [24.950, 60.170]]


# ---------------------------------------------------------------- helpers


def one_sentence(message: str) -> None:
    assert "\n" not in message.strip(), message
    assert "Traceback" not in message and "Error:" not in message.removeprefix("Error: "), message
    assert message.rstrip().endswith((".", ".)")), message
    assert len(message) < 600, message


@contextmanager
def unchanged() -> Iterator[None]:
    """The block may raise or not; either way the store must hold exactly what it held before."""
    before = store.snapshot()
    yield
    assert store.snapshot() == before, "the store changed"


def refused(call: Callable[[], Any], words: str, kind: type[Exception] = BadInputError) -> str:
    with unchanged(), pytest.raises(kind) as err:
        call()
    message = str(err.value)
    one_sentence(message)
    assert words.lower() in message.lower(), message
    return message


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_refused(capsys: pytest.CaptureFixture[str], words: str, *args: str) -> str:
    with unchanged():
        code, _out, err = run_cli(capsys, *args)
    assert code == 2, err
    one_sentence(err.strip())
    assert words.lower() in err.lower(), err
    return err


@pytest.fixture(scope="module")
def world_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One store for the refusals of this module: people, a published asset, a saved local."""
    data = tmp_path_factory.mktemp("hostile-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OURPATCH_DATA_DIR", str(data))
        editor = accounts.add_user("Eeva Hostile Editor", "editor", PASSWORD, group=GROUP)
        moderator = accounts.add_user("Mika Hostile Moderator", "moderator", PASSWORD)
        admin = accounts.add_user("Ada Hostile Admin", "admin", PASSWORD)
        asset = community.create_asset(
            moderator, {"name": "Handmade Reading Circle", "geometry": Point(24.951, 60.17)}, group=GROUP, publish=True
        )
        token = local_spec.save("Handmade local", "{}", Polygon(SQUARE).wkt, source="ip:198.51.100.1")
        yield {"data": data, "editor": editor, "moderator": moderator, "admin": admin, "asset": asset, "token": token}


@pytest.fixture
def world(world_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(world_data["data"]))
    monkeypatch.setenv("OURPATCH_PASSWORD", PASSWORD)
    return world_data


@pytest.fixture
def files(tmp_path: Path, world: dict[str, Any]) -> Path:
    return tmp_path


def feature(geometry: dict[str, Any] | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": "Handmade Feature", **props}, "geometry": geometry}


def collection(*features: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features), **extra}


def polygon(ring: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


def ring_with(n: int, lon: float = 24.95, lat: float = 60.17, size: float = 0.01) -> list[list[float]]:
    """A valid star-free ring of n points on a circle (hand-made test geometry)."""
    pts = [
        [lon + size * math.cos(2 * math.pi * i / n), lat + size * 0.5 * math.sin(2 * math.pi * i / n)] for i in range(n)
    ]
    return [*pts, pts[0]]


def circle_feature(lon: float, lat: float, radius: float) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"radius": radius},
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
    }


# ================================================================ 1. geometry that is not finite or sane

NAN_AREAS = {
    "nan-lon": polygon([[float("nan"), 60.17], [24.952, 60.170], [24.952, 60.171], [24.950, 60.170]]),
    "inf-lat": polygon([[24.95, float("inf")], [24.952, 60.170], [24.952, 60.171], [24.95, float("inf")]]),
    "nan-height": polygon(
        [[24.950, 60.170, float("nan")], [24.952, 60.170, 1], [24.952, 60.171, 1], [24.950, 60.170, float("nan")]]
    ),
    "inf-height": polygon(
        [[24.950, 60.170, 1], [24.952, 60.170, float("-inf")], [24.952, 60.171, 1], [24.950, 60.170, 1]]
    ),
    "nan-measure": polygon(
        [
            [24.950, 60.170, 1, float("nan")],
            [24.952, 60.170, 1, 0],
            [24.952, 60.171, 1, 0],
            [24.950, 60.170, 1, float("nan")],
        ]
    ),
    "five-numbers": polygon([[24.950, 60.170, 1, 2, 3], [24.952, 60.170], [24.952, 60.171], [24.950, 60.170]]),
    "booleans": polygon([[True, False], [24.952, 60.170], [24.952, 60.171], [True, False]]),
    "text-numbers": polygon([["24.95", "60.17"], [24.952, 60.170], [24.952, 60.171], ["24.95", "60.17"]]),
    "null-position": polygon([None, [24.952, 60.170], [24.952, 60.171], None]),
    "dict-position": {"type": "Polygon", "coordinates": [[{"x": 1}, [24.952, 60.170], [24.952, 60.171]]]},
    "multipolygon-nan": {
        "type": "MultiPolygon",
        "coordinates": [[[[24.95, 60.17], [24.96, 60.17], [24.96, float("nan")], [24.95, 60.17]]]],
    },
    "circle-nan-centre": circle_feature(float("nan"), 60.17, 100),
    "circle-inf-radius": circle_feature(24.95, 60.17, float("inf")),
    "circle-nan-radius": circle_feature(24.95, 60.17, float("nan")),
    "circle-bool-radius": circle_feature(24.95, 60.17, True),
}


@pytest.mark.parametrize("name", list(NAN_AREAS))
def test_areas_with_coordinates_that_are_not_finite_numbers_are_refused(world: dict[str, Any], name: str) -> None:
    obj = NAN_AREAS[name]
    message = refused(lambda: areas.parse_area(obj), "")
    assert any(w in message for w in ("not numbers", "malformed", "radius")), message


def test_heights_in_an_area_are_dropped(world: dict[str, Any]) -> None:
    area = areas.parse_area(polygon([[x, y, 12.5] for x, y in SQUARE]))
    assert not shapely.has_z(area)
    json.dumps(shapely.geometry.mapping(area), allow_nan=False)


ASSET_GEOMETRIES = {
    "wkt-nan-height": ("place", "POINT Z (24.95 60.17 NaN)", "not numbers"),
    "wkt-inf-height": ("place", "POINT Z (24.95 60.17 Infinity)", "not numbers"),
    "wkt-nan-lon": ("place", "POINT (NaN 60.17)", "not numbers"),
    "wkt-nan-measure": ("place", "POINT M (24.95 60.17 NaN)", "not numbers"),
    "polygon-nan-height": (
        "area",
        "POLYGON Z ((24.95 60.17 NaN, 24.96 60.17 1, 24.96 60.18 1, 24.95 60.17 NaN))",
        "not numbers",
    ),
    "online-as-a-point": ("online", Point(24.95, 60.17), "not a point"),
    "area-as-a-point": ("area", Point(24.95, 60.17), "not a point"),
    "area-as-a-line": ("area", "LINESTRING (24.95 60.17, 24.96 60.18)", "not a linestring"),
    "place-as-an-area": ("place", box(24.95, 60.17, 24.96, 60.18), "one point"),
    "area-with-no-size": ("area", "POLYGON ((24.95 60.17, 24.96 60.17, 24.97 60.17, 24.95 60.17))", "valid area"),
    "huge-area": ("area", box(10, 50, 40, 70), "km²"),
    "many-vertices": ("area", Polygon(ring_with(6000)), "more than"),
    "out-of-range": ("place", Point(24.95, 95), "outside"),
    "geometry-collection": ("place", "GEOMETRYCOLLECTION (POINT (24.95 60.17))", "one point"),
    "unreadable-wkt": ("place", "POINT (24.95", "not readable"),
    "geojson-nan-point": ("place", {"type": "Point", "coordinates": [24.95, float("nan")]}, "not numbers"),
    "geojson-point-5d": ("place", {"type": "Point", "coordinates": [24.95, 60.17, 1, 2, 3]}, "malformed"),
    "geojson-multipoint-huge": (
        "place",
        {"type": "MultiPoint", "coordinates": [[24.95, 60.17]] * 6000},
        "more than 5,000 points",
    ),
    "geojson-area-nan": (
        "area",
        {"type": "Polygon", "coordinates": [[[24.95, 60.17], [24.96, float("nan")], [24.96, 60.18], [24.95, 60.17]]]},
        "not numbers",
    ),
}


@pytest.mark.parametrize("name", list(ASSET_GEOMETRIES))
def test_asset_locations_that_are_not_sane_are_refused(world: dict[str, Any], name: str) -> None:
    kind, geometry, words = ASSET_GEOMETRIES[name]
    data = {"name": "Handmade Odd Shape", "kind": kind, "geometry": geometry, "online_url": "https://example.org"}
    refused(lambda: community.create_asset(world["editor"], data), words)


def test_a_height_on_a_good_point_is_dropped_not_stored(fresh_data_dir: Path) -> None:
    editor = accounts.add_user("Eeva Editor", "editor", PASSWORD, group=GROUP)
    asset_id = community.create_asset(editor, {"name": "Handmade Tall Group", "geometry": "POINT Z (24.95 60.17 30)"})
    assert store.get_asset(asset_id).geometry.wkt == "POINT (24.95 60.17)"


def _gpkg_with(path: Path, geometries: list[Any], **columns: list[Any]) -> Path:
    frame = gpd.GeoDataFrame(
        {"name": [f"Handmade {i}" for i in range(len(geometries))], **columns}, geometry=geometries, crs="EPSG:4326"
    )
    frame.to_file(path, driver="GPKG")
    return path


IMPORTED_GEOMETRIES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "kml-nan-height.kml": (
        lambda d: _write(
            d / "kml-nan-height.kml",
            (
                '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Handmade'
                "</name><Point><coordinates>24.95,60.17,nan</coordinates></Point></Placemark></Document></kml>"
            ),
        ),
        "not numbers",
    ),
    "kml-inf-height.kml": (
        lambda d: _write(
            d / "kml-inf-height.kml",
            (
                '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Handmade'
                "</name><Point><coordinates>24.95,60.17,inf</coordinates></Point></Placemark></Document></kml>"
            ),
        ),
        "not numbers",
    ),
    "geopackage-nan-height.gpkg": (
        lambda d: _gpkg_with(d / "geopackage-nan-height.gpkg", [shapely.from_wkt("POINT Z (24.95 60.17 NaN)")]),
        "not numbers",
    ),
    "geopackage-inf-height.gpkg": (
        lambda d: _gpkg_with(d / "geopackage-inf-height.gpkg", [shapely.Point(24.95, 60.17, float("inf"))]),
        "not numbers",
    ),
    "geopackage-online-point.gpkg": (
        lambda d: _gpkg_with(
            d / "geopackage-online-point.gpkg",
            [Point(24.95, 60.17)],
            kind=["online"],
            online_url=["https://example.org"],
        ),
        "not a point",
    ),
    "geojson-area-point.geojson": (
        lambda d: _write(
            d / "geojson-area-point.geojson",
            json.dumps(collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}, kind="area"))),
        ),
        "not a point",
    ),
    "csv-online-point.csv": (
        lambda d: _write(
            d / "csv-online-point.csv",
            "name,lon,lat,kind,online_url\nHandmade Online,24.95,60.17,online,https://example.org\n",
        ),
        "not a point",
    ),
    "csv-inf.csv": (lambda d: _write(d / "csv-inf.csv", "name,lon,lat\nHandmade Inf,inf,60.17\n"), "not numbers"),
    "csv-nan.csv": (lambda d: _write(d / "csv-nan.csv", "name,lon,lat\nHandmade NaN,24.95,nan\n"), "not numbers"),
    "geojson-many-vertices.geojson": (
        lambda d: _write(
            d / "geojson-many-vertices.geojson", json.dumps(collection(feature(polygon(ring_with(6000)), kind="area")))
        ),
        "more than",
    ),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", list(IMPORTED_GEOMETRIES))
def test_imported_geometry_that_is_not_sane_is_refused(files: Path, world: dict[str, Any], name: str) -> None:
    make, words = IMPORTED_GEOMETRIES[name]
    path = make(files)
    refused(lambda: importer.import_file(world["editor"], path, group=GROUP), words)


# ================================================================ 2. one bad stored row never takes a page down

BAD_ROWS = {
    "nan-point": "POINT (NaN 60.17)",
    "nan-height": "POINT Z (24.95 60.17 NaN)",
    "inf-height-polygon": "POLYGON Z ((24.95 60.17 1, 24.96 60.17 Infinity, 24.96 60.18 1, 24.95 60.17 1))",
    "garbage": "this is not a geometry",
    "empty": "POINT EMPTY",
    "out-of-range": "POINT (24.95 95)",
    "too-many-vertices": Polygon(ring_with(6000)).wkt,
}


@pytest.fixture
def bad_world(bad_world_data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(bad_world_data["data"]))
    return bad_world_data


@pytest.fixture(scope="module")
def bad_world_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with one good published asset and one published row of each kind of damage."""
    data = tmp_path_factory.mktemp("bad-rows")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OURPATCH_DATA_DIR", str(data))
        now = "2026-01-01T00:00:00+00:00"
        ids = {}
        with store.connect() as db:
            table = db.table("community_assets")
            for name, wkt in {"good": "POINT (24.951 60.17)", **BAD_ROWS}.items():
                table.insert(
                    {
                        "name": f"Handmade {name}",
                        "category": "community_groups",
                        "geometry_wkt": wkt,
                        "kind": "place",
                        "status": "published",
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                        "last_verified": now[:10],
                    }
                )
                ids[name] = int(table.last_pk)  # type: ignore[arg-type]
            table.insert(
                {
                    "name": "Handmade unknown category",
                    "category": "casinos",
                    "geometry_wkt": "POINT (24.95 60.17)",
                    "kind": "place",
                    "status": "published",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            )
            ids["unknown-category"] = int(table.last_pk)  # type: ignore[arg-type]
        yield {"data": data, "ids": ids}


def test_the_map_layers_skip_bad_rows_and_keep_the_good_one(bad_world: dict[str, Any]) -> None:
    assets = catalogue.all_assets()
    community_ids = set(assets.loc[assets["source"] == "community", "id"])
    assert community_ids == {f"community:{bad_world['ids']['good']}"}
    json.dumps(geojson.feature_collection(assets), allow_nan=False)


@pytest.mark.parametrize("name", [*BAD_ROWS, "unknown-category"])
def test_moderators_are_told_which_row_and_why(bad_world: dict[str, Any], name: str) -> None:
    problems = {p.id: p for p in community.published_problems()}
    problem = problems[bad_world["ids"][name]]
    one_sentence(problem.reason[0].upper() + problem.reason + ".")
    assert bad_world["ids"]["good"] not in problems


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv", "kml"])
def test_exports_work_with_bad_rows_in_the_store(bad_world: dict[str, Any], tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out{export.SUFFIXES[fmt][0]}"
    export.export_to(out, fmt, layer_ids=["community_groups"], include_pending=True, everyone=True)
    assert out.exists() and out.stat().st_size > 0


def test_assets_command_and_oruk_feed_work_with_bad_rows(
    bad_world: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "assets")
    assert code == 0
    names = [f["properties"]["name"] for f in json.loads(out)["features"]]
    assert names == ["Handmade good"]
    assert "left out" in err
    services = oruk.services_page(1, 50)["contents"]
    assert [s["name"] for s in services] == ["Handmade good"]


def test_the_explore_and_moderate_pages_render_with_bad_rows(bad_world: dict[str, Any]) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    assert at.title[0].value == "Explore your patch"
    moderator = accounts.add_user("Mika Bad Rows", "moderator", PASSWORD)
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = moderator.id
    at.switch_page("views/moderate.py").run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # shown with Markdown escapes
    assert f"community:{bad_world['ids']['nan-height']}" in warnings
    assert "not shown on the map" in warnings


def test_a_damaged_saved_local_gets_a_sentence_on_the_compare_page(fresh_data_dir: Path) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    good = local_spec.save("Handmade Good", "{}", Polygon(SQUARE).wkt)
    bad = local_spec.save("Handmade Damaged", "{}", Polygon(SQUARE).wkt)
    with store.connect() as db:  # damage the SQLite file behind the app's back, as by hand (test set-up)
        db.table("saved_locals").update(bad, {"area_wkt": "POLYGON ((oops"})
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.switch_page("views/compare.py").run()
    at.text_input(key="compare_a").input(good)
    at.text_input(key="compare_b").input(bad).run()
    assert not at.exception
    assert any("cannot be read" in e.value for e in at.error)


# ================================================================ 3. size and work limits on drawings and areas


def test_the_explore_page_says_what_is_wrong_with_a_huge_drawing(world: dict[str, Any]) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["drawn"] = collection(*[circle_feature(24.95 + i * 1e-4, 60.17, 50) for i in range(3000)])
    started = time.perf_counter()
    at.run()
    assert time.perf_counter() - started < 60
    assert not at.exception
    assert any("shapes" in e.value for e in at.error)


def test_a_drawing_of_millions_of_square_kilometres_is_refused(world: dict[str, Any]) -> None:
    europe = polygon([[-10, 35], [40, 35], [40, 70], [-10, 70], [-10, 35]])
    message = refused(lambda: areas.parse_area(europe), "km²", LimitError)
    assert f"{settings.max_area_km2:,.0f} km²" in message


def test_thousands_of_circles_are_refused_before_any_is_made(world: dict[str, Any]) -> None:
    circles = collection(*[circle_feature(24.95 + i * 1e-4, 60.17, 50) for i in range(3000)])
    started = time.perf_counter()
    refused(lambda: drawing.area_from_map_output({"all_drawings": circles["features"]}), "shapes", LimitError)
    assert time.perf_counter() - started < 2.0


def test_tens_of_thousands_of_small_polygons_are_refused(world: dict[str, Any]) -> None:
    tiny = [
        feature(
            polygon(
                [
                    [24.9 + i * 1e-5, 60.1],
                    [24.9 + i * 1e-5 + 5e-6, 60.1],
                    [24.9 + i * 1e-5, 60.10001],
                    [24.9 + i * 1e-5, 60.1],
                ]
            )
        )
        for i in range(20_000)
    ]
    started = time.perf_counter()
    refused(lambda: areas.parse_area(collection(*tiny)), "shapes", LimitError)
    assert time.perf_counter() - started < 2.0


def test_a_multipolygon_counts_each_part_as_a_shape(world: dict[str, Any]) -> None:
    parts = [
        [[[24.9 + i * 1e-3, 60.1], [24.9 + i * 1e-3 + 5e-4, 60.1], [24.9 + i * 1e-3, 60.1005], [24.9 + i * 1e-3, 60.1]]]
        for i in range(settings.max_area_shapes + 1)
    ]
    refused(lambda: areas.parse_area({"type": "MultiPolygon", "coordinates": parts}), "shapes", LimitError)


def test_too_many_vertices_across_shapes_are_refused(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "max_area_vertices", 1000)
    shapes = collection(*[feature(polygon(ring_with(300, lon=24.95 + i * 0.03))) for i in range(4)])
    message = refused(lambda: areas.parse_area(shapes), "more than 1,000 points", LimitError)
    assert "simplify" in message


def test_a_million_vertex_polygon_is_refused_quickly(world: dict[str, Any]) -> None:
    big = polygon(ring_with(1_000_000))
    started = time.perf_counter()
    refused(lambda: areas.parse_area(big), "points", LimitError)
    assert time.perf_counter() - started < 3.0


@pytest.mark.parametrize("n", [0, 1, 2])
def test_circles_under_the_limit_still_work(world: dict[str, Any], n: int) -> None:
    shapes = collection(*[circle_feature(24.95 + i * 0.01, 60.17, 200) for i in range(n + 1)])
    assert areas.parse_area(shapes).area > 0


def test_within_refuses_a_huge_area(world: dict[str, Any], files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(files / "huge.geojson", json.dumps(polygon([[0, 0], [30, 0], [30, 30], [0, 30], [0, 0]])))
    cli_refused(capsys, "km²", "within", str(path))


def test_within_refuses_too_many_shapes(world: dict[str, Any], files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    many = collection(*[circle_feature(24.95, 60.17, 50) for _ in range(settings.max_area_shapes + 1)])
    path = _write(files / "many.geojson", json.dumps(many))
    cli_refused(capsys, "shapes", "within", str(path))


def test_a_saved_local_too_large_to_reopen_is_refused_when_saved(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "max_local_spec_bytes", 1000)
    spec = json.dumps({"drawn": collection(feature(polygon(ring_with(200))))})
    refused(lambda: local_spec.save("Handmade Big", spec, Polygon(SQUARE).wkt), "too large", LimitError)


def test_anonymous_locals_from_one_source_are_limited_per_day(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "max_anonymous_locals_per_source_per_day", 3)
    for _ in range(3):
        local_spec.save("Handmade Mine", "{}", Polygon(SQUARE).wkt, source="ip:203.0.113.9")
    refused(
        lambda: local_spec.save("Handmade Mine", "{}", Polygon(SQUARE).wkt, source="ip:203.0.113.9"),
        "at most 3 locals",
        LimitError,
    )
    local_spec.save("Handmade Other", "{}", Polygon(SQUARE).wkt, source="ip:203.0.113.10")  # another source
    local_spec.save("Handmade Signed In", "{}", Polygon(SQUARE).wkt, owner="user:1", source="ip:203.0.113.9")


SAVED_AREAS = {
    "millions-of-km2": (box(-10, 35, 40, 70).wkt, "km²"),
    "too-many-points": (Polygon(ring_with(60_000)).wkt, "points"),
    "a-point": ("POINT (24.95 60.17)", "polygon"),
    "garbage": ("not an area", "cannot be read"),
    "nan": ("POLYGON ((24.95 60.17, NaN 60.17, 24.96 60.18, 24.95 60.17))", "not longitude"),
    "out-of-range": ("POLYGON ((200 60, 201 60, 201 61, 200 60))", "not longitude"),
}


@pytest.mark.parametrize("name", list(SAVED_AREAS))
def test_saving_a_local_refuses_an_area_no_local_may_have(world: dict[str, Any], name: str) -> None:
    wkt, words = SAVED_AREAS[name]
    refused(lambda: local_spec.save("Handmade Saved", "{}", wkt, source="ip:203.0.113.1"), words)


SAVED_SPECS = {
    "huge-drawing": (json.dumps({"drawn": polygon([[0, 0], [30, 0], [30, 30], [0, 30], [0, 0]])}), "km²"),
    "many-shapes": (
        json.dumps({"drawn": collection(*[circle_feature(24.95, 60.17, 50) for _ in range(60)])}),
        "shapes",
    ),
    "not-json": ("{not json", "could not be read"),
    "not-an-object": ("[1, 2, 3]", "could not be read"),
    "unknown-combine": (json.dumps({"combine": "xor"}), "Unknown way"),
    "bad-walk": (json.dumps({"walk": {"lon": "x"}}), "incomplete"),
    "nan-drawing": (
        json.dumps({"drawn": polygon([[24.95, 60.17], [24.96, float("nan")], [24.96, 60.18], [24.95, 60.17]])}),
        "not numbers",
    ),
}


@pytest.mark.parametrize("name", list(SAVED_SPECS))
def test_saving_refuses_a_local_that_would_not_reopen(world: dict[str, Any], name: str) -> None:
    spec, words = SAVED_SPECS[name]
    refused(lambda: local_spec.save("Handmade Spec", spec, Polygon(SQUARE).wkt, source="ip:203.0.113.2"), words)


def test_a_saved_local_with_a_huge_drawing_does_not_open(world: dict[str, Any]) -> None:
    spec = json.dumps({"drawn": polygon([[0, 0], [30, 0], [30, 30], [0, 30], [0, 0]])})
    refused(lambda: local_spec.LocalSpec.from_json(spec), "km²", LimitError)


# ================================================================ 4. imports enforce their limits while reading


def _zip_shapefile(folder: Path, frame: gpd.GeoDataFrame, name: str = "assets") -> Path:
    shp_dir = folder / f"{name}-shp"
    shp_dir.mkdir()
    frame.to_file(shp_dir / f"{name}.shp", driver="ESRI Shapefile")
    out = folder / f"{name}.zip"
    with zipfile.ZipFile(out, "w") as archive:
        for part in shp_dir.iterdir():
            archive.write(part, part.name)
    return out


def _forge_shx(zip_path: Path, forge: Callable[[bytes], bytes]) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    shx = next(n for n in members if n.endswith(".shx"))
    members[shx] = forge(members[shx])
    out = zip_path.with_name("forged.zip")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out


def _points(n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"Handmade Point {i}" for i in range(n)]},
        geometry=[Point(24.95 + i * 1e-5, 60.17) for i in range(n)],
        crs="EPSG:4326",
    )


def _more_records(shx: bytes) -> bytes:
    return shx + b"\x00\x00\x00\x32\x00\x00\x00\x0a" * 400_000  # 400,000 more index records


def _offset_past_end(shx: bytes) -> bytes:
    return shx[:100] + (10**8).to_bytes(4, "big") + shx[104:]


def _bad_length(shx: bytes) -> bytes:
    return shx + b"\x00\x01"


IMPORT_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "header-only.csv": (lambda d: _write(d / "header-only.csv", "name,lon,lat\n"), "no rows"),
    "header-and-blank-lines.csv": (
        lambda d: _write(d / "header-and-blank-lines.csv", "name,lon,lat\n\n,,\n"),
        "no rows",
    ),
    "blank-header.csv": (lambda d: _write(d / "blank-header.csv", " \n1,2,3\n"), "no header"),
    "ragged.csv": (
        lambda d: _write(d / "ragged.csv", "name,lon,lat\nHandmade,24.95,60.17,extra,cells\n"),
        "more cells",
    ),
    "nul-byte.csv": (
        lambda d: _write(d / "nul-byte.csv", "name,lon,lat\nHand\0made,24.95,60.17\n"),
        "control characters",
    ),
    "same-column-twice.csv": (
        lambda d: _write(d / "same-column-twice.csv", "name,lon,lat,Name\nA,24.95,60.17,B\n"),
        "same name",
    ),
    "long-cell.csv": (
        lambda d: _write(
            d / "long-cell.csv",
            "name,lon,lat,description\nHandmade,24.95,60.17," + "x" * (settings.max_csv_field_chars + 5) + "\n",
        ),
        "longer than",
    ),
    "name-is-a-list.geojson": (
        lambda d: _write(
            d / "name-is-a-list.geojson",
            json.dumps(
                collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}, name=["Handmade", "List"]))
            ),
        ),
        "must be text",
    ),
    "name-is-an-object.geojson": (
        lambda d: _write(
            d / "name-is-an-object.geojson",
            json.dumps(collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}, name={"en": "Handmade"}))),
        ),
        "must be text",
    ),
    "kind-is-a-list.geojson": (
        lambda d: _write(
            d / "kind-is-a-list.geojson",
            json.dumps(collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}, kind=["place"]))),
        ),
        "Kind",
    ),
    "no-features.geojson": (lambda d: _write(d / "no-features.geojson", json.dumps(collection())), "no features"),
    "null-geometries.geojson": (
        lambda d: _write(d / "null-geometries.geojson", json.dumps(collection(feature(None)))),
        "no readable geometries",
    ),
    "forged-shx-records.zip": (lambda d: _forge_shx(_zip_shapefile(d, _points(3)), _more_records), "features"),
    "forged-shx-offset.zip": (lambda d: _forge_shx(_zip_shapefile(d, _points(3)), _offset_past_end), "index"),
    "forged-shx-length.zip": (lambda d: _forge_shx(_zip_shapefile(d, _points(3)), _bad_length), "index"),
    "link-to-nothing.csv": (
        lambda d: _write(d / "link-to-nothing.csv", "name,lon,lat,cares_for\nHandmade,24.95,60.17,osm:way/1\n"),
        "not on the loaded map",
    ),
    "link-to-no-asset.csv": (
        lambda d: _write(d / "link-to-no-asset.csv", "name,lon,lat,meets_at\nHandmade,24.95,60.17,community:999999\n"),
        "not on the loaded map",
    ),
    "duplicate-of-existing.csv": (
        lambda d: _write(d / "duplicate-of-existing.csv", "name,lon,lat\nHandmade Reading Circle,24.951,60.17\n"),
        "already on the map",
    ),
    "geopackage-attribute-table.gpkg": (
        lambda d: _gpkg_plus_table(d / "geopackage-attribute-table.gpkg"),
        "no locations",
    ),
}


def _gpkg_plus_table(path: Path) -> Path:
    _gpkg_with(path, [Point(24.95, 60.17)])
    pyogrio.write_dataframe(
        pd.DataFrame({"note": ["Handmade note"]}), path, layer="notes", driver="GPKG", append=True
    )  # a plain table beside the layer
    return path


@pytest.mark.parametrize("name", list(IMPORT_FILES))
def test_import_files_refused_with_one_sentence(files: Path, world: dict[str, Any], name: str) -> None:
    make, words = IMPORT_FILES[name]
    path = make(files)
    started = time.perf_counter()
    refused(lambda: importer.import_file(world["moderator"], path, group=GROUP), words)
    assert time.perf_counter() - started < 20


@pytest.mark.parametrize(
    "name",
    [
        "header-only.csv",
        "name-is-a-list.geojson",
        "forged-shx-records.zip",
        "link-to-nothing.csv",
        "duplicate-of-existing.csv",
    ],
)
def test_the_import_command_refuses_with_one_line_and_changes_nothing(
    files: Path, world: dict[str, Any], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    make, words = IMPORT_FILES[name]
    path = make(files)
    cli_refused(capsys, words, "import", str(path), "--group", GROUP, "--user", "Mika Hostile Moderator")


LIMITED: dict[str, tuple[str, int, Callable[[Path], Path], str]] = {
    "csv-rows": (
        "max_import_rows",
        50,
        lambda d: _write(
            d / "rows.csv", "name,lon,lat\n" + "".join(f"Handmade {i},24.95,{60.17 + i * 1e-5}\n" for i in range(51))
        ),
        "more than 50 rows",
    ),
    "geojson-features": (
        "max_import_rows",
        50,
        lambda d: _write(
            d / "features.geojson",
            json.dumps(
                collection(
                    *[
                        feature({"type": "Point", "coordinates": [24.95, 60.17 + i * 1e-5]}, name=f"Handmade {i}")
                        for i in range(51)
                    ]
                )
            ),
        ),
        "more than 50 features",
    ),
    "gpkg-two-layers": ("max_import_rows", 50, lambda d: _two_layer_gpkg(d, 30), "more than 50 features"),
    "shapefile-features": ("max_import_rows", 50, lambda d: _zip_shapefile(d, _points(51)), "more than 50 features"),
    "file-size": (
        "max_import_file_bytes",
        100,
        lambda d: _write(d / "size.csv", "name,lon,lat\n" + "x" * 200),
        "larger than",
    ),
    "zip-entries": ("max_zip_entries", 3, lambda d: _zip_shapefile(d, _points(2)), "more than 3 files"),
    "zip-unpacked": ("max_zip_unpacked_bytes", 200, lambda d: _zip_shapefile(d, _points(2)), "would unpack"),
    "layers": ("max_import_layers", 1, lambda d: _two_layer_gpkg(d, 1), "more than 1 layers"),
    "vertices": (
        "max_import_vertices",
        100,
        lambda d: _write(d / "vertices.geojson", json.dumps(collection(feature(polygon(ring_with(150)), kind="area")))),
        "more than 100 points",
    ),
    "csv-cell": (
        "max_csv_field_chars",
        20,
        lambda d: _write(d / "cell.csv", "name,lon,lat\n" + "x" * 30 + ",24.95,60.17\n"),
        "longer than 20",
    ),
}


def _two_layer_gpkg(folder: Path, n: int) -> Path:
    path = folder / "two-layers.gpkg"
    _points(n).to_file(path, layer="first", driver="GPKG")
    second = _points(n)
    second["name"] = second["name"] + " again"
    second.to_file(path, layer="second", driver="GPKG")
    return path


@pytest.mark.parametrize("name", list(LIMITED))
def test_import_limits_are_enforced_while_reading(
    files: Path, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    setting, value, make, words = LIMITED[name]
    path = make(files)
    monkeypatch.setattr(settings, setting, value)
    refused(lambda: importer.import_file(world["moderator"], path, group=GROUP), words)


def test_a_large_csv_is_refused_without_reading_it_all(files: Path, world: dict[str, Any]) -> None:
    import tracemalloc

    path = files / "big.csv"
    with path.open("w") as fh:
        fh.write("name,lon,lat,description\n")
        row = f",24.95,60.17,{'d' * 1000}\n"
        for i in range(settings.max_import_rows + 5000):
            fh.write(f"Handmade {i}{row}")
    tracemalloc.start()
    refused(lambda: importer.import_file(world["moderator"], path, group=GROUP), "rows", LimitError)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 3 * path.stat().st_size


def test_every_layer_of_a_geopackage_is_imported(fresh_data_dir: Path, tmp_path: Path) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    path = _two_layer_gpkg(tmp_path, 2)
    ids = importer.import_file(moderator, path, group=GROUP).ids
    assert len(ids) == 4


def test_every_folder_of_a_kml_is_imported(fresh_data_dir: Path, tmp_path: Path) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    placemark = "<Placemark><name>{}</name><Point><coordinates>{},60.17</coordinates></Point></Placemark>"
    text = (
        '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<Folder><name>One</name>{placemark.format('Handmade A', 24.95)}{placemark.format('Handmade B', 24.951)}"
        f"</Folder><Folder><name>Two</name>{placemark.format('Handmade C', 24.952)}</Folder></Document></kml>"
    )
    ids = importer.import_file(moderator, _write(tmp_path / "folders.kml", text), group=GROUP).ids
    assert len(ids) == 3


def test_two_parallel_imports_of_one_file_do_not_double_it(fresh_data_dir: Path, tmp_path: Path) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    sources.current()  # the map is loaded before the imports race each other
    path = _write(
        tmp_path / "twice.csv",
        "name,lon,lat\n" + "".join(f"Handmade Twice {i},24.95,{60.17 + i * 1e-4}\n" for i in range(200)),
    )

    def attempt() -> str:
        try:
            importer.import_file(moderator, path, group=GROUP)
            return "imported"
        except BadInputError as exc:
            one_sentence(str(exc))
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: attempt(), range(4)))
    assert results.count("imported") == 1
    assert len(store.asset_rows()) == 200


def test_the_duplicate_check_is_not_quadratic(fresh_data_dir: Path, tmp_path: Path) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    first = _write(
        tmp_path / "first.csv",
        "name,lon,lat\n" + "".join(f"Handmade First {i},24.95,{60.16 + i * 1e-6}\n" for i in range(5000)),
    )
    importer.import_file(moderator, first, group=GROUP)
    second = _write(
        tmp_path / "second.csv",
        "name,lon,lat\n" + "".join(f"Handmade Second {i},24.95,{60.16 + i * 1e-6}\n" for i in range(5000)),
    )
    started = time.perf_counter()
    importer.import_file(moderator, second, group=GROUP)
    assert time.perf_counter() - started < 15
    assert len(store.asset_rows()) == 10_000


# ================================================================ 5. no network access while reading uploads


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server on 127.0.0.1 that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(
                b'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
                b'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
            )

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def _crs_link(url: str) -> dict[str, Any]:
    return {"type": "link", "properties": {"href": f"{url}/crs.wkt", "type": "ogcwkt"}}


NETWORK_FILES: dict[str, Callable[[Path, str], Path]] = {
    "crs-link.geojson": lambda d, url: _write(
        d / "crs-link.geojson",
        json.dumps(collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}), crs=_crs_link(url))),
    ),
    "crs-href-in-name.geojson": lambda d, url: _write(
        d / "crs-href-in-name.geojson",
        json.dumps(
            collection(
                feature({"type": "Point", "coordinates": [24.95, 60.17]}),
                crs={"type": "name", "properties": {"name": f"{url}/crs.wkt"}},
            )
        ),
    ),
    "crs-vsicurl.geojson": lambda d, url: _write(
        d / "crs-vsicurl.geojson",
        json.dumps(
            collection(
                feature({"type": "Point", "coordinates": [24.95, 60.17]}),
                crs={"type": "name", "properties": {"name": f"/vsicurl/{url}/crs.wkt"}},
            )
        ),
    ),
    "crs-link-in-a-feature.geojson": lambda d, url: _write(
        d / "crs-link-in-a-feature.geojson",
        json.dumps(collection({**feature({"type": "Point", "coordinates": [24.95, 60.17]}), "crs": _crs_link(url)})),
    ),
    "network-link.kml": lambda d, url: _write(
        d / "network-link.kml",
        (
            '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink><Link>'
            f"<href>{url}/more.kml</href></Link></NetworkLink><Placemark><name>Handmade</name><Point>"
            "<coordinates>24.95,60.17</coordinates></Point></Placemark></Document></kml>"
        ),
    ),
}


@pytest.mark.parametrize("name", list(NETWORK_FILES))
def test_uploads_that_name_something_to_fetch_are_refused_and_nothing_is_fetched(
    files: Path, world: dict[str, Any], recorder: tuple[str, list[str]], name: str
) -> None:
    url, hits = recorder
    path = NETWORK_FILES[name](files, url)
    refused(lambda: importer.import_file(world["moderator"], path, group=GROUP), "fetch")
    assert hits == []


@pytest.mark.parametrize("name", ["crs-link.geojson", "crs-href-in-name.geojson", "crs-vsicurl.geojson"])
def test_area_files_that_name_something_to_fetch_are_refused(
    files: Path, world: dict[str, Any], recorder: tuple[str, list[str]], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    url, hits = recorder
    obj = json.loads(NETWORK_FILES[name](files, url).read_text())
    obj["features"][0]["geometry"] = polygon(SQUARE)
    area = _write(files / "area.geojson", json.dumps(obj))
    cli_refused(capsys, "fetch", "within", str(area))
    assert hits == []


def test_gdal_itself_does_not_fetch_while_reading(
    world: dict[str, Any], files: Path, recorder: tuple[str, list[str]]
) -> None:
    """The second guard: even a read that reached GDAL cannot use the network."""
    url, hits = recorder
    path = _write(
        files / "direct.geojson",
        json.dumps(collection(feature({"type": "Point", "coordinates": [24.95, 60.17]}), crs=_crs_link(url))),
    )
    assert importer.NO_NETWORK  # set when the importer is loaded
    with contextlib.suppress(Exception):  # whether GDAL reads it or fails, what matters is below
        pyogrio.read_dataframe(path)
    with pytest.raises(Exception):  # noqa: B017 - GDAL's own error type
        pyogrio.read_info(f"/vsicurl/{url}/remote.geojson")
    assert hits == []


# ================================================================ 6. text is text everywhere

HOSTILE_TEXT = [
    "![tracker](http://198.51.100.7/pixel.png)",
    "# APPROVE ME",
    "[click me](javascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    "**bold** _italic_ `code`",
    "| a | b |\n|---|---|",
    "$\\LaTeX$ and :red[colour]",
    "> quoted\n- listed",
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_table_cells_and_headings_are_inert_markdown(text: str) -> None:
    import markdown_it

    from views.common import safe_table

    frame = safe_table(pd.DataFrame({text: [text, 12], "Count": [3, 4]}))
    rendered = markdown_it.MarkdownIt("commonmark").enable("table")
    for cell in [*frame.columns, frame.iloc[0, 0]]:
        html = rendered.render(str(cell))
        assert "<img" not in html and "<h1" not in html and "<a " not in html and "<strong" not in html, html
        assert "<blockquote" not in html and "<table" not in html and "<code" not in html, html
    assert frame.iloc[1, 0] == 12 and list(frame["Count"]) == [3, 4]  # numbers are left alone


# folium renders an element's script, then reads the result as a Jinja template again: text that
# reached a map as Jinja would run on the server ("{{ cycler.__init__.__globals__.os … }}").
# Each: the text, and what it would have become had Jinja read it.
TEMPLATE_TEXT = [
    ("{{ 6*7 }} Handmade Template Group", "42 Handmade Template Group"),
    ("{% if true %}EVALUATED{% endif %} Handmade Template Group", "EVALUATED Handmade Template Group"),
    ("{# hidden #}Handmade Template Group", '"Handmade Template Group'),
    ("{{ cycler.__init__.__globals__.os.getcwd() }} Handmade Template Group", f"{Path.cwd()} Handmade"),
]


@pytest.mark.parametrize(("text", "evaluated"), TEMPLATE_TEXT)
def test_template_syntax_in_a_name_reaches_the_map_as_text(fresh_data_dir: Path, text: str, evaluated: str) -> None:
    """A group's asset (name, address, note) with Jinja syntax, published, on every map the pages
    build: with its data inside the map (planners, compare, group, moderate) and served (explore)."""
    from streamlit_folium import _get_header, _get_html, generate_leaflet_string

    from mapping import build
    from mapping.safe_json import script_json

    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    community.create_asset(
        moderator,
        {"name": text, "geometry": Point(24.95, 60.17), "address": text, "note": text},
        group=GROUP,
        publish=True,
    )
    extract = sources.current()
    data = build.prepare(catalogue.all_assets(extract), extract.basemap, extract.bounds)
    rows = [row for payload in data.categories for row in json.loads(payload.rows_json) if text in row]
    assert rows and rows[0][2] == text and text in rows[0][4:]  # as typed, for the popup to show
    served = build.publish(data, folder=fresh_data_dir / "served")
    for fmap in (build.build_map(data), build.build_map(data, served_url=served)):
        page = fmap.get_root().render()  # what st_folium does, then the pieces it sends
        fmap.render()
        sent = page + _get_html(fmap) + _get_header(fmap) + generate_leaflet_string(fmap)
        assert evaluated not in sent
    assert script_json(text) in build.build_map(data).get_root().render()  # the text itself, as JSON


FORMULAS = [
    '=HYPERLINK("http://198.51.100.7","click")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_exports_neutralise_formulas(fresh_data_dir: Path, tmp_path: Path, text: str) -> None:
    import csv

    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    asset_id = community.create_asset(
        moderator,
        {"name": "Handmade Formula Group", "geometry": Point(24.95, 60.17), "address": text.strip() or text},
        group=GROUP,
        publish=True,
    )
    stored = store.get_asset(asset_id).address
    import io
    import zipfile

    out = tmp_path / "out.zip"
    export.export_to(out, "csv", layer_ids=["community_groups"])
    with zipfile.ZipFile(out) as archive:
        text = archive.read("out_points.csv").decode("utf-8")
    row = next(r for r in csv.DictReader(io.StringIO(text, newline="")) if r["name"] == "Handmade Formula Group")
    assert row["address"] == "'" + stored
    assert not row["address"].startswith(tuple(export.FORMULA_START))


def test_kml_descriptions_hold_text_not_html(fresh_data_dir: Path, tmp_path: Path) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    community.create_asset(
        moderator,
        {
            "name": "Handmade KML Group",
            "geometry": Point(24.95, 60.17),
            "schedule": "<img src=http://198.51.100.7/x.png> <b>Mondays</b>",
        },
        group=GROUP,
        publish=True,
    )
    out = tmp_path / "out.kml"
    export.export_to(out, "kml", layer_ids=["community_groups"])
    text = out.read_text(encoding="utf-8")
    assert "<img" not in text and "&lt;img" not in text.replace("&amp;lt;img", "")
    assert "&amp;lt;img src=http://198.51.100.7/x.png&amp;gt;" in text or "&amp;lt;img" in text


@pytest.mark.parametrize("page", ["views/find.py", "views/moderate.py", "views/group.py", "views/people.py"])
def test_pages_show_hostile_names_escaped_in_tables(fresh_data_dir: Path, page: str) -> None:
    from streamlit.testing.v1 import AppTest

    from layers.settings import REPO_ROOT

    hostile = "![x](http://198.51.100.7/p.png) # APPROVE ME"
    admin = accounts.add_user("Ada Admin", "admin", PASSWORD, group=None)
    editor = accounts.add_user("Eeva Editor", "editor", PASSWORD, group=GROUP)
    community.create_asset(editor, {"name": hostile, "geometry": Point(24.95, 60.17)})
    community.create_asset(
        admin, {"name": hostile + " published", "geometry": Point(24.951, 60.17)}, group=GROUP, publish=True
    )
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.session_state["user_id"] = editor.id if page == "views/group.py" else admin.id
    if page == "views/find.py":
        at.session_state["find_text"] = "APPROVE"
    at.switch_page(page).run()
    assert not at.exception
    cells = [str(v) for t in at.table for v in [*t.value.columns, *t.value.to_numpy().ravel()]]
    # st.table renders Markdown: its cells carry the name escaped for Markdown
    assert not any("![x](" in c or c.startswith("#") for c in cells), cells
    # card tables are HTML: the name is text in a cell (no tag made from it), exactly as typed
    cards = [str(v) for t in card_tables(at) for v in t.to_numpy().ravel()]
    assert not any("<img" in h.value or "<a " in h.value for h in at.html)
    assert cells or cards
    if page != "views/people.py":
        assert any("\\!\\[x\\]" in c for c in cells) or any(c.startswith(hostile) for c in cards), (cells, cards)


# ================================================================ 7. the privacy threshold counts people


def _local(owner: str | None = None, source: str | None = None, lon: float = 24.95) -> None:
    local_spec.save("Handmade local", "{}", areas.circle(lon, 60.17, 300).wkt, owner=owner, source=source)


def test_one_person_saving_five_links_makes_no_cell(fresh_data_dir: Path) -> None:
    for _ in range(5):
        _local(owner="user:1")
    assert len(consensus.consensus_cells()) == 0


def test_one_browser_saving_five_anonymous_links_makes_no_cell(fresh_data_dir: Path) -> None:
    for _ in range(5):
        _local(source="ip:203.0.113.5")
    assert len(consensus.consensus_cells()) == 0


def test_four_links_of_an_attacker_and_one_of_a_victim_reveal_nothing(fresh_data_dir: Path) -> None:
    for _ in range(4):
        _local(source="ip:203.0.113.66")
    _local(source="ip:198.51.100.20", lon=24.951)
    assert len(consensus.consensus_cells()) == 0


def test_an_account_and_its_browser_are_one_resident(fresh_data_dir: Path) -> None:
    for n in range(3):
        _local(owner=f"user:{n}", source=f"ip:192.0.2.{n}")
    _local(owner="user:9", source="ip:203.0.113.77")
    _local(source="ip:203.0.113.77")  # the same person, without signing in
    assert len(consensus.consensus_cells()) == 0
    _local(source="ip:203.0.113.78")
    cells = consensus.consensus_cells()
    assert len(cells) > 0 and (cells["residents"] == 5).all()


def test_locals_without_a_source_count_as_one_resident(fresh_data_dir: Path) -> None:
    for _ in range(6):
        _local()
    assert len(consensus.consensus_cells()) == 0


def test_five_different_people_do_make_cells(fresh_data_dir: Path) -> None:
    for n in range(5):
        _local(source=f"ip:192.0.2.{n}")
    cells = consensus.consensus_cells()
    assert len(cells) > 0 and set(cells["residents"]) == {5}


def test_the_consensus_layer_is_cached_until_a_local_is_saved(fresh_data_dir: Path) -> None:
    for n in range(5):
        _local(source=f"ip:192.0.2.{n}")
    first = consensus.consensus_cells()
    started = time.perf_counter()
    again = consensus.consensus_cells()
    assert time.perf_counter() - started < 0.05
    assert again.equals(first)
    _local(source="ip:192.0.2.99")
    assert set(consensus.consensus_cells()["residents"]) == {6}


def test_a_local_too_large_to_grid_is_skipped_in_bounded_time(
    fresh_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "max_consensus_cells_per_local", 1000)
    for n in range(5):
        _local(source=f"ip:192.0.2.{n}")
    with store.connect() as db:  # a row saved before today's limits (test set-up)
        db.table("saved_locals").insert(
            {
                "token": "handmade-old-huge-local-token",
                "name": "Handmade huge",
                "spec_json": "{}",
                "area_wkt": box(20, 55, 30, 65).wkt,
                "source": "ip:192.0.2.200",
                "created_at": "2025-01-01T00:00:00+00:00",
            }
        )
    started = time.perf_counter()
    cells = consensus.consensus_cells()
    assert time.perf_counter() - started < 5
    assert set(cells["residents"]) == {5}


# ================================================================ 8. sign-in abuse


@pytest.mark.usefixtures("each_store")
def test_parallel_guesses_cannot_get_more_checks_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    accounts.add_user("Ada Admin", "admin", PASSWORD)
    now = time.time()  # all at once, however slowly this machine hashes passwords

    def guess(n: int) -> str:
        try:
            accounts.authenticate("Ada Admin", f"wrong guess {n}", source=f"ip:198.51.100.{n}", now=now)
            return "checked"
        except TooManyAttemptsError as exc:
            one_sentence(str(exc))
            return "delayed"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(guess, range(64)))
    assert results.count("checked") <= settings.sign_in_free_failures_per_name
    assert results.count("delayed") >= 64 - settings.sign_in_free_failures_per_name


@pytest.mark.usefixtures("each_store")
def test_guessing_at_one_name_delays_it_only_for_a_short_capped_time() -> None:
    accounts.add_user("Ada Admin", "admin", PASSWORD)
    waits = []
    now = time.time()
    for n in range(40):  # an attacker from many addresses, each guess as soon as the name's delay has passed
        try:
            accounts.authenticate("Ada Admin", "wrong guess", source=f"ip:198.51.100.{n}", now=now)
        except TooManyAttemptsError as exc:
            waits.append(exc.wait_s)
        [row] = [r for r in store.table_rows("sign_in_attempts") if r["key"] == "name:ada admin"]
        now = max(now, row["next_allowed"])
    wait = row["next_allowed"] - row["last_failure"]
    assert wait <= settings.sign_in_max_delay_name_s
    assert accounts.authenticate("Someone Else", "wrong guess", source="ip:192.0.2.50") is None  # others unaffected


@pytest.mark.usefixtures("each_store")
def test_old_attempts_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(30):
        accounts.authenticate(f"Sprayed Name {n}", "wrong guess", source=f"ip:198.51.100.{n}")
    monkeypatch.setattr(settings, "sign_in_window_s", 0.0)
    time.sleep(0.01)
    accounts.authenticate("One More", "wrong guess", source="ip:198.51.100.200")
    assert len(store.table_rows("sign_in_attempts")) <= 2


@pytest.mark.usefixtures("each_store")
def test_delays_grow() -> None:
    accounts.add_user("Ada Admin", "admin", PASSWORD)
    delays = []
    now = time.time()
    for _ in range(settings.sign_in_free_failures_per_name + 4):
        accounts.authenticate("Ada Admin", "wrong guess", source="ip:192.0.2.1", now=now)
        rows = {r["key"]: r for r in store.table_rows("sign_in_attempts")}
        row = rows["name:ada admin"]
        delays.append(row["next_allowed"] - row["last_failure"])
        now = max(r["next_allowed"] for r in rows.values())  # the next guess once every delay has passed
    growing = delays[settings.sign_in_free_failures_per_name - 1 :]
    assert growing == sorted(growing) and growing[-1] > growing[0] > 0


def test_one_source_guessing_many_names_is_delayed(fresh_data_dir: Path) -> None:
    message = None
    for n in range(settings.sign_in_free_failures_per_source + 2):
        try:
            accounts.authenticate(f"Nobody {n}", "wrong guess", source="ip:203.0.113.200")
        except TooManyAttemptsError as exc:
            message = str(exc)
            break
    assert message is not None and "from your connection" in message
    one_sentence(message)


def test_a_right_password_after_wrong_ones_clears_the_name(fresh_data_dir: Path) -> None:
    accounts.add_user("Ada Admin", "admin", PASSWORD)
    for _ in range(settings.sign_in_free_failures_per_name - 1):
        assert accounts.authenticate("Ada Admin", "wrong guess", source="ip:192.0.2.1") is None
    assert accounts.authenticate("Ada Admin", PASSWORD, source="ip:192.0.2.1") is not None
    for _ in range(settings.sign_in_free_failures_per_name - 1):
        assert accounts.authenticate("Ada Admin", "wrong guess", source="ip:192.0.2.1") is None


WEAK_PASSWORDS = [
    "short pw",
    "password1234",
    "123456789012",
    "aaaaaaaaaaaa",
    "qwertyuiopas",
    "iloveyou1234",
    "Password1234!",
    "abcdefghijkl",
    "111111111111",
    "letmeinletmein",
    "Hostile Admin1",
]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_weak_passwords_are_refused(world: dict[str, Any], password: str) -> None:
    message = refused(lambda: accounts.add_user("Hostile Admin", "admin", password), "password")
    assert "12" in message or "common" in message or "guess" in message


LOOK_ALIKES = [
    "Ada Hostile Аdmin",  # Cyrillic А
    "Ada H0stile Admin",  # digit zero
    "Ada HostiIe Admin",  # capital I for l
    "ada hostile admin",  # case
    "Ada  Hostile_Admin",  # separators
    "AdaHostileAdmin",
    "Ada Hostile Admín",  # accent
    "Ａda Hostile Admin",  # fullwidth A
    "Ada Hostile Adrnin",
]  # rn for m


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_look_alike_names_are_refused(world: dict[str, Any], name: str) -> None:
    refused(lambda: accounts.add_user(name, "admin", PASSWORD), "")


def test_an_invisible_character_does_not_make_a_new_name(world: dict[str, Any]) -> None:
    refused(lambda: accounts.add_user("Ada Hostile\u200b Admin", "admin", PASSWORD), "")


@pytest.mark.parametrize(
    "group",
    [
        "Handmade Hоstile Group",  # Cyrillic о
        "Handmade Hostile Gr0up",
        "Ηandmade Hostile Group",
        "Handmade_Hostile_Group",
    ],
)
def test_look_alike_group_names_are_refused(world: dict[str, Any], group: str) -> None:
    refused(lambda: accounts.add_user("Olli Other Editor", "editor", PASSWORD, group=group), "looks too much like")
    refused(
        lambda: community.create_asset(
            world["moderator"], {"name": "Handmade Fake", "geometry": Point(24.95, 60.17)}, group=group
        ),
        "looks too much like",
    )


def test_different_names_are_fine(fresh_data_dir: Path) -> None:
    accounts.add_user("Ada Admin", "admin", PASSWORD)
    accounts.add_user("Aino Admin", "admin", PASSWORD)
    accounts.add_user("Ada Adminson", "admin", PASSWORD)


# ================================================================ 9. storage faults


def test_a_read_only_store_says_so_and_loses_nothing(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    before = store.snapshot()
    monkeypatch.setattr(settings, "sqlite_extra_pragmas", ["query_only = 1"])
    message = refused(lambda: local_spec.save("Handmade", "{}", Polygon(SQUARE).wkt), "read-only", StorageError)
    assert "readonly" in message  # SQLite's own words: the real cause
    refused(
        lambda: community.create_asset(world["editor"], {"name": "Handmade RO", "geometry": Point(24.95, 60.17)}),
        "read-only",
        StorageError,
    )
    monkeypatch.setattr(settings, "sqlite_extra_pragmas", [])
    assert store.snapshot() == before


def test_a_full_disk_says_so_and_loses_nothing(
    world: dict[str, Any], files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.snapshot()
    with store.connect() as db:
        pages = db.execute("pragma page_count").fetchone()[0]
    monkeypatch.setattr(settings, "sqlite_extra_pragmas", [f"max_page_count = {pages + 2}"])
    path = _write(
        files / "fills.csv",
        "name,lon,lat,description\n"
        + "".join(f"Handmade Full {i},24.95,{60.17 + i * 1e-5},{'x' * 1500}\n" for i in range(300)),
    )
    message = refused(lambda: importer.import_file(world["moderator"], path, group=GROUP), "full", StorageError)
    assert "database or disk is full" in message
    monkeypatch.setattr(settings, "sqlite_extra_pragmas", [])
    assert store.snapshot() == before


def test_a_damaged_database_says_so(fresh_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local_spec.save("Handmade", "{}", Polygon(SQUARE).wkt)
    damaged = store.db_path().read_bytes()
    store.db_path().write_bytes(b"this is not a database" * 1000)
    for name in ("ourpatch.db-wal", "ourpatch.db-shm"):
        (fresh_data_dir / name).unlink(missing_ok=True)
    with pytest.raises(StorageError) as err:
        store.get_local("x" * 24)
    message = str(err.value)
    one_sentence(message)
    assert "damaged" in message and "not a database" in message
    code, _out, err = run_cli(capsys, "assets")
    assert code == 2 and "damaged" in err
    one_sentence(err.strip())
    assert store.db_path().read_bytes() == b"this is not a database" * 1000  # nothing overwritten
    assert damaged  # the original was a database


def test_a_data_folder_that_cannot_be_made_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("OURPATCH_DATA_DIR", str(blocker / "data"))
    with pytest.raises(StorageError) as err:
        store.get_local("x" * 24)
    one_sentence(str(err.value))


def test_a_failing_commit_is_reported_not_the_rollback(world: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "sqlite_extra_pragmas", ["query_only = 1"])
    with pytest.raises(StorageError) as err:
        store.set_password_hash(world["admin"].id, "x")
    assert "rollback" not in str(err.value).lower() and "readonly" in str(err.value)


# ================================================================ 10. smaller ones


def test_export_does_not_overwrite_without_force(
    world: dict[str, Any], files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _write(files / "mine.gpkg", "precious")
    cli_refused(capsys, "--force", "export", "--layer", "libraries", "--format", "gpkg", "-o", str(out))
    assert out.read_text() == "precious"
    code, _out, err = run_cli(capsys, "export", "--layer", "libraries", "--format", "gpkg", "-o", str(out), "--force")
    assert code == 0, err
    assert out.read_bytes()[:16] == b"SQLite format 3\x00"


@pytest.mark.parametrize(
    "command",
    [
        ["consensus"],
        ["gaps", "--category", "libraries", "--minutes", "5"],
        ["export", "--format", "oruk"],
        ["export", "--all", "--format", "csv"],
    ],
)
def test_other_outputs_do_not_overwrite_without_force(
    world: dict[str, Any], files: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    out = _write(files / "mine.out", "precious")
    cli_refused(capsys, "--force", *command, "-o", str(out))
    assert out.read_text() == "precious"


@pytest.mark.parametrize("crs", ["EPSG:4978", "EPSG:5701", "EPSG:27700+5701", "EPSG:4979"])
def test_coordinate_systems_that_are_not_2d_are_refused(
    world: dict[str, Any], files: Path, capsys: pytest.CaptureFixture[str], crs: str
) -> None:
    cli_refused(
        capsys, "two-dimensional", "export", "--all", "--format", "gpkg", "--crs", crs, "-o", str(files / "x.gpkg")
    )
    assert not (files / "x.gpkg").exists()


def test_shapefile_text_cut_short_is_reported(
    fresh_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moderator = accounts.add_user("Mika Moderator", "moderator", PASSWORD)
    community.create_asset(
        moderator,
        {"name": "Handmade Long Hours", "geometry": Point(24.95, 60.17), "address": "Ä" * 190},
        group=GROUP,
        publish=True,
    )
    code, _out, err = run_cli(
        capsys, "export", "--layer", "community_groups", "--format", "shp", "-o", str(tmp_path / "x.zip")
    )
    assert code == 0
    assert "254 bytes" in err and "address" in err and "GeoPackage" in err


def test_standard_input_is_held_to_the_area_limit(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    monkeypatch.setattr(settings, "max_area_file_bytes", 1000)
    body = json.dumps(polygon(SQUARE)) + " " * 2000
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(body.encode())))
    cli_refused(capsys, "larger than", "within", "-")


def test_standard_input_within_the_limit_works(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(polygon(SQUARE)).encode())))
    code, out, _err = run_cli(capsys, "within", "-")
    assert code == 0 and json.loads(out)["type"] == "FeatureCollection"


def test_no_json_output_holds_nan(world: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(capsys, "assets")
    assert code == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in the output"))
