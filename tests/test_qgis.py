"""Every export opens in QGIS (Debian's qgis_process) as a planner would open it: each layer
valid, in the CRS asked for, where the assets are. The truth is the source layer transformed with
pyproj (or, for British National Grid, Ordnance Survey's own OSTN15 test points), not a read-back
of our own files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import box

from layers.analysis import query
from layers.io import export
from layers.osm import sources
from tests.qgis_checks import layers_as_qgis_sees_them, points_as_qgis_reads_them
from tests.test_export import _os_test_points

AREA = box(24.9400, 60.1660, 24.9560, 60.1720)  # the Esplanadi and its churches, parks and libraries
KINDS = {
    "Point": "points",
    "LineString": "lines",
    "MultiLineString": "lines",
    "Polygon": "polygons",
    "MultiPolygon": "polygons",
}

pytestmark = pytest.mark.qgis


def _layer_sources(path: Path, fmt: str) -> dict[str, str]:
    """Layer name -> the source string QGIS opens it by."""
    if fmt == "shp":  # unzipped first, as QGIS 3.22's processing cannot open a layer inside a zip
        folder = path.with_suffix("")
        zipfile.ZipFile(path).extractall(folder)
        return {shp.stem: str(shp) for shp in sorted(folder.glob("*.shp"))}
    if fmt == "geojson":
        return {"all": str(path)}
    return {name: f"{path}|layername={name}" for name, _ in pyogrio.list_layers(path)}


def _expected_bounds(assets: gpd.GeoDataFrame, layer: str) -> tuple[float, float, float, float]:
    """The WGS84 extent of the source assets a layer should hold."""
    if layer != "all":  # `libraries_points`; a shapefile zip's `assets_points` holds every category
        category, kind = layer.rsplit("_", 1)
        assets = assets[assets.geom_type.map(KINDS) == kind]
        if category != "assets":
            assets = assets[assets["category"] == category]
    assert len(assets), layer
    return tuple(assets.total_bounds)  # type: ignore[return-value]


def test_qgis_opens_every_export_in_the_crs_asked_for(tmp_path: Path, helsinki: sources.Extract) -> None:
    expected = query.AssetIndex(helsinki.assets).within(AREA)
    requests = [
        ("gpkg", "EPSG:3067", "assets.gpkg"),
        ("shp", "EPSG:3067", "assets.zip"),
        ("kml", "EPSG:4326", "assets.kml"),
        ("geojson", "EPSG:4326", "assets.geojson"),
        ("gpkg", "EPSG:3857", "web.gpkg"),
    ]
    wanted: dict[str, tuple[str, tuple[float, float, float, float]]] = {}
    for fmt, crs, name in requests:
        out = tmp_path / name
        export.export_to(out, fmt, layer_ids=None, area=AREA, crs=None if crs == "EPSG:4326" else crs)
        for layer, source in _layer_sources(out, fmt).items():
            wanted[source] = (crs, _expected_bounds(expected, layer))
    assert len(wanted) >= 10

    seen = layers_as_qgis_sees_them(list(wanted), tmp_path).set_index("source")
    assert set(seen.index) == set(wanted), "QGIS could not open every layer"
    for source, (crs, bounds) in wanted.items():
        row = seen.loc[source]
        assert row["crs"] == crs, (source, row["crs"])
        # QGIS turns each layer's extent back into WGS84 itself: it lands where the assets are
        # (to ~50 m, as it reprojects the box; a swapped axis or a wrong CRS label would put it
        # hundreds of kilometres away).
        if bounds[0] == bounds[2] and bounds[1] == bounds[3]:
            continue  # one point: QGIS's extent is a zero-size box, which it writes as no polygon
        got = row["geometry"].bounds
        assert all(abs(g - w) < 1e-3 for g, w in zip(got, bounds, strict=True)), (source, got, bounds)


def test_qgis_reads_british_national_grid_exports_to_the_centimetre(tmp_path: Path) -> None:
    uk = _os_test_points()
    uk = uk[uk["id"].isin([f"TP{n:02d}" for n in range(1, 41)]) & (uk["easting"] > 0)]
    out = tmp_path / "os_test_points.gpkg"
    export.write(uk.drop(columns=["easting", "northing"]), "gpkg", out, crs="EPSG:27700")
    (source,) = _layer_sources(out, "gpkg").values()
    assert layers_as_qgis_sees_them([source], tmp_path)["crs"].tolist() == ["EPSG:27700"]
    got = points_as_qgis_reads_them(source, tmp_path).set_index("id")
    want = uk.set_index("id")
    assert set(got.index) == set(want.index) and len(got) >= 30
    east = (got["xcoord"] - want.loc[got.index, "easting"]).abs().max()
    north = (got["ycoord"] - want.loc[got.index, "northing"]).abs().max()
    assert east < 0.01 and north < 0.01, (east, north)
