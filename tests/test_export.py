"""Exports read back with GDAL (pyogrio, and Debian's GDAL 3.6 tools): one geometry type per table,
counts equal `within`, attributes and non-ASCII names equal, CRS as asked, every GeoPackage passes
GDAL's validate_gpkg.py, British National Grid within 1 cm of OS's OSTN15 test points, other CRSs
within 1 cm of a pyproj transform of the source geometry."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import box, mapping

from layers.analysis import query
from layers.errors import BadInputError
from layers.io import export
from layers.osm import sources
from layers.settings import REPO_ROOT
from tests.gdal_checks import assert_valid_gpkg, ogr2ogr_to_shapefiles, ogrinfo_geometry_types, validate_gpkg

AREA = box(24.9400, 60.1660, 24.9560, 60.1720)  # takes in Pyhän Kolminaisuuden kirkko and the Esplanadi


@pytest.fixture(scope="module")
def expected(helsinki: sources.Extract) -> gpd.GeoDataFrame:
    return query.AssetIndex(helsinki.assets).within(AREA)


def _points_close(got: gpd.GeoDataFrame, want: gpd.GeoDataFrame, crs: str) -> None:
    """Every exported geometry within 1 cm of pyproj's own transform of the source geometry."""
    to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    want = want.set_index("id")
    for row in got.itertuples():
        expect = shapely.transform(
            want.loc[row.id].geometry, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1]))
        )
        assert shapely.hausdorff_distance(row.geometry, expect) < 0.01, row.id


def _gpkg_frames(path: Path) -> dict[str, gpd.GeoDataFrame]:
    return {name: pyogrio.read_dataframe(path, layer=name) for name, _ in pyogrio.list_layers(path)}


def test_gpkg_one_geometry_type_per_table_and_valid(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.gpkg"
    files = export.export_to(out, "gpkg", layer_ids=None, area=AREA, crs="EPSG:3067")
    assert_valid_gpkg(out)
    want_tables = {
        f"{cat}_{'points' if kind == 'Point' else 'polygons'}"
        for cat, kind in zip(expected["category"], expected.geom_type, strict=True)
    }
    types = dict(pyogrio.list_layers(out))
    assert set(types) == want_tables
    assert all(t == ("Point" if name.endswith("_points") else "MultiPolygon") for name, t in types.items()), types
    assert ogrinfo_geometry_types(out) == {
        name: ("Point" if name.endswith("_points") else "Multi Polygon") for name in types
    }  # GDAL 3.6 reads the same
    frames = _gpkg_frames(out)
    (tmp_path / "shp").mkdir()
    converted = ogr2ogr_to_shapefiles(out, tmp_path / "shp")  # GDAL 3.6 converts every table whole
    assert converted == {name: len(frame) for name, frame in frames.items()}
    for name, frame in frames.items():
        category, group = name.rsplit("_", 1)
        assert frame.crs.to_epsg() == 3067
        assert set(frame["category"]) == {category}
        assert len(frame) == int(
            ((expected["category"] == category) & expected.geom_type.isin(export.GEOMETRY_GROUPS[group])).sum()
        )
    got = gpd.GeoDataFrame(gpd.pd.concat(frames.values(), ignore_index=True), crs="EPSG:3067")
    assert len(got) == len(expected)
    assert "Pyhän Kolminaisuuden kirkko" in set(got["name"])
    assert set(got["licence"]) == {"ODbL-1.0"}
    _points_close(got, expected, "EPSG:3067")
    info = pyogrio.read_info(out, layer=next(iter(frames)))
    assert "© OpenStreetMap contributors" in info["layer_metadata"]["DESCRIPTION"]
    meta = info["dataset_metadata"]
    assert "OpenStreetMap" in meta["LICENSE"] and "OGL-UK-3.0" in meta["LICENSE"] and meta["SOURCE"]
    assert meta["CRS"].startswith("EPSG:3067") and "TM35FIN" in meta["CRS_TRANSFORMATION"]
    assert meta["OUTSIDE_AREA_OF_USE"] == "no"
    beside = next(f for f in files if f.name.endswith("LICENSE.txt")).read_text()
    assert "TM35FIN" in beside and "EPSG:3067" in beside
    with sqlite3.connect(out) as db:  # GeoPackage 1.2, which GDAL 3.6 and ArcGIS Pro 3.1 read
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200


def test_validator_rejects_what_we_no_longer_write(tmp_path: Path) -> None:
    """The check above can fail: a GeoPackage 1.4 with mixed points and polygons in one table, as
    GDAL writes by default, is rejected by GDAL 3.6's validator."""
    mixed = gpd.GeoDataFrame(
        {"name": ["Handmade point", "Handmade square"]},
        geometry=[shapely.Point(24.95, 60.17), box(24.94, 60.16, 24.95, 60.17)],
        crs="EPSG:4326",
    )
    path = tmp_path / "mixed.gpkg"
    pyogrio.write_dataframe(mixed, path, layer="mixed", driver="GPKG")
    assert validate_gpkg(path).returncode != 0


def test_british_national_grid_refuses_data_outside_great_britain(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"outside the area EPSG:27700 .* EPSG:3067.* --outside-area-of-use"):
        export.export_to(tmp_path / "bng.gpkg", "gpkg", layer_ids=["libraries"], area=AREA, crs="EPSG:27700")
    assert not (tmp_path / "bng.gpkg").exists()
    with pytest.raises(BadInputError, match="outside the area EPSG:2154"):
        export.export_to(tmp_path / "fr.gpkg", "gpkg", layer_ids=["libraries"], area=AREA, crs="EPSG:2154")
    out = tmp_path / "anyway.gpkg"
    files = export.export_to(
        out, "gpkg", layer_ids=["libraries"], area=AREA, crs="EPSG:27700", outside_area_of_use=True
    )
    meta = pyogrio.read_info(out, layer=pyogrio.list_layers(out)[0][0])["dataset_metadata"]
    assert meta["OUTSIDE_AREA_OF_USE"] == "yes" and "WARNING" in meta["CRS_TRANSFORMATION"]
    assert "ballpark" not in meta["CRS_TRANSFORMATION"].lower() and "Helmert" not in meta["CRS_TRANSFORMATION"]
    assert "outside the area" in files[1].read_text()
    assert_valid_gpkg(out)


def _os_test_points() -> gpd.GeoDataFrame:
    """OS's OSTN15 test points (ETRS89 in, British National Grid out) as assets of a handmade layer."""
    table = gpd.pd.read_csv(REPO_ROOT / "tests" / "standards" / "ostn15" / "test_points.csv")
    n = len(table)
    frame = gpd.GeoDataFrame(
        {col: [None] * n for col in export.EXPORT_COLUMNS},
        geometry=gpd.points_from_xy(table["etrs89_lon"], table["etrs89_lat"]),
        crs="EPSG:4326",
    )
    frame["id"] = table["point_id"]
    frame["name"] = "Handmade OS test point " + table["point_id"]
    frame["category"] = "handmade_test_points"
    frame["osm_id"] = gpd.pd.array([None] * n, dtype="Int64")
    frame["easting"], frame["northing"] = table["osgb36_easting"], table["osgb36_northing"]
    return frame


def test_british_national_grid_matches_ostn15_test_points(tmp_path: Path) -> None:
    points = _os_test_points()
    inside = points[points["id"].isin([f"TP{n:02d}" for n in range(1, 41)]) & (points["easting"] > 0)]
    out = tmp_path / "uk.gpkg"
    export.write(inside.drop(columns=["easting", "northing"]), "gpkg", out, crs="EPSG:27700")
    assert_valid_gpkg(out)
    got = pyogrio.read_dataframe(out, layer="handmade_test_points_points")
    assert got.crs.to_epsg() == 27700 and len(got) == len(inside) >= 30
    want = inside.set_index("id")
    east = np.asarray(shapely.get_x(got.geometry.values)) - want.loc[got["id"], "easting"].to_numpy()
    north = np.asarray(shapely.get_y(got.geometry.values)) - want.loc[got["id"], "northing"].to_numpy()
    assert np.abs(east).max() < 0.01 and np.abs(north).max() < 0.01, (east, north)
    meta = pyogrio.read_info(out, layer="handmade_test_points_points")["dataset_metadata"]
    assert "OSTN15" in meta["CRS_TRANSFORMATION"] and meta["OUTSIDE_AREA_OF_USE"] == "no"
    # pyproj's own choice (a Helmert without the OSTN15 grid) misses them by metres: the check above can fail.
    helmert = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    e2, n2 = helmert.transform(inside["geometry"].x.to_numpy(), inside["geometry"].y.to_numpy())
    assert np.hypot(e2 - inside["easting"].to_numpy(), n2 - inside["northing"].to_numpy()).max() > 1.0


def test_shapefile_zip(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.zip"
    export.export_to(out, "shp", layer_ids=None, area=AREA, crs="EPSG:3067")
    names = zipfile.ZipFile(out).namelist()
    assert {"LICENSE.txt", "FIELDS.txt", "assets_points.prj", "assets_polygons.prj"} <= set(names)
    assert "TM35FIN" in zipfile.ZipFile(out).read("LICENSE.txt").decode()
    fields = zipfile.ZipFile(out).read("FIELDS.txt").decode()
    assert "opening_ho\topening_hours" in fields
    types = {n: pyogrio.read_info(f"/vsizip/{out}/{n}")["geometry_type"] for n in names if n.endswith(".shp")}
    assert types == {"assets_points.shp": "Point", "assets_polygons.shp": "Polygon"}  # a shapefile's polygons are multi
    parts = [pyogrio.read_dataframe(f"/vsizip/{out}/{n}") for n in types]
    assert all(p.crs.to_epsg() == 3067 for p in parts)
    # the .prj itself names EPSG:3067 as PROJ (and so QGIS) recognises it at full confidence
    assert all(
        CRS.from_wkt(zipfile.ZipFile(out).read(n).decode()).to_epsg() == 3067 for n in names if n.endswith(".prj")
    )
    got = gpd.GeoDataFrame(gpd.pd.concat(parts, ignore_index=True), crs="EPSG:3067")
    assert len(got) == len(expected)
    assert "Pyhän Kolminaisuuden kirkko" in set(got["name"])
    assert all(len(c) <= 10 for c in got.columns)


def test_csv_zip_one_file_per_geometry_type(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.zip"
    export.export_to(out, "csv", layer_ids=["worship", "parks", "libraries"], area=AREA, crs="EPSG:3067")
    names = set(zipfile.ZipFile(out).namelist())
    assert {
        "assets_points.csv",
        "assets_points.csvt",
        "assets_points.prj",
        "assets_polygons.csv",
        "assets_polygons.csvt",
        "assets_polygons.prj",
        "LICENSE.txt",
        "README.txt",
    } == names
    assert "EPSG:3067" in zipfile.ZipFile(out).read("README.txt").decode()
    chosen = expected[expected["category"].isin(["worship", "parks", "libraries"])]
    total = 0
    for group, gtype in (("points", "Point"), ("polygons", "MultiPolygon")):
        path = f"/vsizip/{out}/assets_{group}.csv"
        frame = pyogrio.read_dataframe(path)  # GDAL reads the geometry (csvt: WKT) and the CRS (.prj)
        assert frame.crs.to_epsg() == 3067
        assert set(frame.geom_type) == {gtype}
        assert set(frame["crs"]) == {"EPSG:3067"}
        assert {"easting", "northing", "licence"} <= set(frame.columns)
        assert len(frame) == int(chosen.geom_type.isin(export.GEOMETRY_GROUPS[group]).sum())
        total += len(frame)
    assert total == len(chosen)
    with pytest.raises(BadInputError, match=r"name the output \.zip"):
        export.export_to(tmp_path / "assets.csv", "csv", layer_ids=["worship"], area=AREA)
    wgs = export.export_to(tmp_path / "wgs.zip", "csv", layer_ids=["worship"], area=AREA)
    assert {"lon", "lat"} <= set(pyogrio.read_dataframe(f"/vsizip/{wgs[0]}/wgs_polygons.csv").columns)


def test_geojson_and_kml_are_wgs84(tmp_path: Path, expected: gpd.GeoDataFrame) -> None:
    out = tmp_path / "assets.geojson"
    export.export_to(out, "geojson", layer_ids=None, area=AREA)
    got = pyogrio.read_dataframe(out)
    assert len(got) == len(expected) and got.crs.to_epsg() == 4326
    assert json.loads(out.read_text())["features"][0]["properties"]["licence"]
    with pytest.raises(BadInputError, match="always WGS84"):
        export.export_to(tmp_path / "x.geojson", "geojson", layer_ids=None, area=AREA, crs="EPSG:27700")
    kml = tmp_path / "assets.kml"
    export.export_to(kml, "kml", layer_ids=None, area=AREA)
    folders = [name for name, _ in pyogrio.list_layers(kml)]
    assert len(folders) == len(set(folders))
    assert set(folders) == {
        f"{cat}_{'points' if kind == 'Point' else 'polygons'}"
        for cat, kind in zip(expected["category"], expected.geom_type, strict=True)
    }
    for name in folders:
        assert len(set(pyogrio.read_dataframe(kml, layer=name).geom_type)) == 1
    assert sum(len(pyogrio.read_dataframe(kml, layer=n)) for n in folders) == len(expected)


def test_boundary_with_many_wards(tmp_path: Path) -> None:
    wards = gpd.GeoDataFrame(
        {"name": ["Handmade Ward A", "Handmade Ward B"]},
        geometry=[AREA, box(24.9400, 60.1720, 24.9560, 60.1780)],
        crs="EPSG:4326",
    ).to_crs("EPSG:3067")
    path = tmp_path / "wards.gpkg"
    wards.to_file(path, driver="GPKG")
    with pytest.raises(BadInputError, match="holds 2 areas"):
        export.read_boundary(path)
    ward = export.read_boundary(path, field="name", value="Handmade Ward A")
    assert ward.symmetric_difference(AREA).area < 1e-9
    with pytest.raises(BadInputError, match="no area has"):
        export.read_boundary(path, field="name", value="Nowhere")


def _cli(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OURPATCH_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "layers", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_cli_export_and_bad_requests(tmp_path: Path) -> None:
    data = tmp_path / "data"
    area = tmp_path / "area.geojson"
    area.write_text(json.dumps(mapping(AREA)))
    out = tmp_path / "ward.gpkg"
    ok = _cli(
        "export",
        "--layer",
        "libraries",
        "--layer",
        "parks",
        "--format",
        "gpkg",
        "--crs",
        "EPSG:3067",
        "--area",
        str(area),
        "-o",
        str(out),
        data=data,
    )
    assert ok.returncode == 0, ok.stderr
    within = json.loads(_cli("within", str(area), "--category", "libraries", "--category", "parks", data=data).stdout)
    total = sum(len(pyogrio.read_dataframe(out, layer=name)) for name, _ in pyogrio.list_layers(out))
    assert total == len(within["features"])
    for args, words in [
        (["--layer", "pubs", "--format", "gpkg"], "Unknown category"),
        (["--all", "--format", "gpkg", "--crs", "EPSG:999999"], "Unknown coordinate system"),
        (["--all", "--format", "geojson", "--crs", "EPSG:27700"], "always WGS84"),
        (["--all", "--format", "gpkg", "--area", str(tmp_path / "missing.geojson")], "No such file"),
        (["--all", "--format", "gpkg", "--crs", "EPSG:27700"], "--outside-area-of-use"),
    ]:
        bad = _cli("export", *args, "-o", str(tmp_path / "x.gpkg"), data=data)
        assert bad.returncode == 2 and words in bad.stderr, (args, bad.stderr)
    far = tmp_path / "far.geojson"
    far.write_text(json.dumps(mapping(box(0, 0, 0.01, 0.01))))
    empty = _cli("export", "--all", "--format", "gpkg", "--area", str(far), "-o", str(tmp_path / "y.gpkg"), data=data)
    assert empty.returncode == 2 and "Nothing to export" in empty.stderr
    unwritable = _cli("export", "--all", "--format", "gpkg", "-o", str(tmp_path / "no" / "such" / "x.gpkg"), data=data)
    assert unwritable.returncode == 2 and "does not exist" in unwritable.stderr


def test_area_from_a_saved_local_link(tmp_path: Path) -> None:
    from layers.analysis import local_spec

    os.environ["OURPATCH_DATA_DIR"], old = str(tmp_path / "data"), os.environ["OURPATCH_DATA_DIR"]
    try:
        token = local_spec.save("Handmade local", local_spec.LocalSpec().to_json(), AREA.wkt)
    finally:
        os.environ["OURPATCH_DATA_DIR"] = old
    out = tmp_path / "mine.zip"
    ok = _cli(
        "export",
        "--all",
        "--format",
        "csv",
        "--area",
        f"http://localhost:8501/?local={token}",
        "-o",
        str(out),
        data=tmp_path / "data",
    )
    assert ok.returncode == 0, ok.stderr
    with zipfile.ZipFile(out) as archive:
        rows = sum(len(gpd.pd.read_csv(archive.open(n))) for n in archive.namelist() if n.endswith(".csv"))
    assert rows == len(query.AssetIndex(sources.current().assets).within(AREA))


def _read_back(path: Path, fmt: str) -> gpd.GeoDataFrame:
    if fmt == "gpkg" or fmt == "kml":
        frame = gpd.GeoDataFrame(
            gpd.pd.concat(
                [pyogrio.read_dataframe(path, layer=n) for n, _ in pyogrio.list_layers(path)], ignore_index=True
            )
        )
        return frame.rename(columns={"Name": "name"})
    if fmt == "shp":
        names = [n for n in zipfile.ZipFile(path).namelist() if n.endswith(".shp")]
        return gpd.GeoDataFrame(
            gpd.pd.concat([pyogrio.read_dataframe(f"/vsizip/{path}/{n}") for n in names], ignore_index=True)
        )
    if fmt == "csv":
        archive = zipfile.ZipFile(path)
        table = gpd.pd.concat(
            [
                gpd.pd.read_csv(archive.open(n), dtype={"osm_id": "Int64"})
                for n in archive.namelist()
                if n.endswith(".csv")
            ],
            ignore_index=True,
        )
        return gpd.GeoDataFrame(table, geometry=gpd.GeoSeries.from_wkt(table["wkt"]))
    return pyogrio.read_dataframe(path)


@pytest.mark.parametrize(
    ("fmt", "crs"),
    [("geojson", None), ("gpkg", "EPSG:3067"), ("shp", "EPSG:3067"), ("csv", "EPSG:3857"), ("kml", None)],
)
def test_every_format_reads_back_the_same_assets(
    tmp_path: Path, expected: gpd.GeoDataFrame, fmt: str, crs: str | None
) -> None:
    out = tmp_path / f"assets.{'zip' if fmt in ('shp', 'csv') else fmt}"
    export.export_to(out, fmt, layer_ids=None, area=AREA, crs=crs)
    got = _read_back(out, fmt)
    assert len(got) == len(expected)
    if fmt == "kml":  # KML keeps names and geometry; ids live in its extended data
        assert sorted(got["name"].fillna("")) == sorted(expected["name"].fillna(""))
        return
    got = got.set_index("id")
    want = expected.set_index("id")
    assert set(got.index) == set(want.index)
    for asset_id, row in want.iterrows():
        name = got.loc[asset_id, "name"]
        assert (name if isinstance(name, str) and name else None) == (
            row["name"] if isinstance(row["name"], str) else None
        )
        assert got.loc[asset_id, "category"] == row["category"]
        assert int(got.loc[asset_id, "osm_id"]) == int(row["osm_id"])
    if crs:
        to = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        for asset_id, row in want.iterrows():
            expect = shapely.transform(row.geometry, lambda xy: np.column_stack(to.transform(xy[:, 0], xy[:, 1])))
            assert shapely.hausdorff_distance(got.loc[asset_id, "geometry"], expect) < 0.01, asset_id


def test_derived_layers_honour_the_chosen_crs(tmp_path: Path, helsinki: sources.Extract) -> None:
    """The coverage-gaps and consensus downloads: a GeoPackage 1.2 in the CRS asked for."""
    frame = gpd.GeoDataFrame({"category": ["libraries"], "share": [0.5]}, geometry=[AREA], crs="EPSG:4326")
    out = tmp_path / "gap.gpkg"
    export.write_layer(frame, "gpkg", out, layer="gap", crs="EPSG:3067", licence=export.licence_text())
    assert_valid_gpkg(out)
    got = pyogrio.read_dataframe(out)
    assert got.crs.to_epsg() == 3067 and got.geom_type.tolist() == ["MultiPolygon"]
    _points_close(got.assign(id="a"), frame.assign(id="a"), "EPSG:3067")
    with pytest.raises(BadInputError, match="--outside-area-of-use"):
        export.write_layer(frame, "gpkg", tmp_path / "bng.gpkg", layer="gap", crs="EPSG:27700")


def test_the_crs_proposed_is_one_whose_area_of_use_holds_the_data(helsinki: sources.Extract) -> None:
    from layers.io import projection

    assert projection.suggest_crs_for_bounds(helsinki.bounds) == "EPSG:3067"
    assert projection.suggest_crs_for_bounds((-3.25, 55.9, -3.1, 56.0)) == "EPSG:27700"  # Edinburgh
    assert projection.suggest_crs_for_bounds((-74.05, 40.6, -73.9, 40.8)) == "EPSG:32618"  # New York: UTM 18N
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(24.95, 60.17)], crs="EPSG:4326")
    for code in ("EPSG:3067", "EPSG:3857", "EPSG:32635"):
        method = projection.project(frame, code).method
        assert "ballpark" not in method.lower() and "WARNING" not in method, method
